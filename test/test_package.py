"""The repository is a real ament_python package: colcon builds it into lib/ and share/."""
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from neuro_locomotion.params import read_ros_params
from neuro_locomotion.paths import ROBOTS

ROOT = Path(__file__).resolve().parent.parent
COLCON = Path(sys.executable).parent / 'colcon'


def console_scripts() -> set:
    return {ep.name for ep in entry_points(group='console_scripts')
            if ep.dist is not None and ep.dist.name.replace('-', '_') == 'neuro_locomotion'}


def _copy_sources(dest: Path) -> None:
    listed = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns('.venv', 'build', 'install', 'log'))
        return
    for name in listed.stdout.splitlines():
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.fixture(scope='module')
def colcon_install(tmp_path_factory):
    if not COLCON.exists():
        pytest.fail(f'colcon is not installed at {COLCON} (requirements-dev.txt installs it)')
    ws = tmp_path_factory.mktemp('ws')
    _copy_sources(ws / 'src' / 'neuro_locomotion')
    proc = subprocess.run([str(COLCON), 'build', '--base-paths', 'src'], cwd=ws, capture_output=True,
                          text=True, timeout=300, env={**os.environ, 'COLCON_HOME': str(ws / '.colcon')})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return ws / 'install' / 'neuro_locomotion'


def test_console_scripts_are_declared():
    assert 'neuroloco' in console_scripts()


def test_colcon_puts_executables_in_lib(colcon_install):
    lib = colcon_install / 'lib' / 'neuro_locomotion'
    for script in console_scripts():
        assert (lib / script).is_file(), f'{script} missing from {lib}'
        assert os.access(lib / script, os.X_OK)


def test_colcon_puts_data_in_share(colcon_install):
    share = colcon_install / 'share' / 'neuro_locomotion'
    assert (share / 'package.xml').is_file()
    assert (colcon_install / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'neuro_locomotion').is_file()
    for robot in ROBOTS:
        assert (share / 'config' / f'{robot}.yaml').is_file()
        assert 'sim_node' in read_ros_params(share / 'config' / f'{robot}.yaml')
        assert (share / 'urdf' / f'{robot}.urdf').is_file()
    for launch in sorted((ROOT / 'launch').glob('*.launch.py')):
        assert (share / 'launch' / launch.name).is_file()


def test_package_xml_declares_the_ros_dependencies():
    text = (ROOT / 'package.xml').read_text()
    assert '<package format="3">' in text
    for dep in ('rclpy', 'std_msgs', 'sensor_msgs', 'trajectory_msgs', 'rosgraph_msgs', 'std_srvs',
                'diagnostic_msgs', 'launch', 'launch_ros', 'python3-pybullet-pip'):
        assert f'<exec_depend>{dep}</exec_depend>' in text
    assert '<build_type>ament_python</build_type>' in text
