"""The installed package carries every data file the source tree has: an installed
``neuro_locomotion`` (pip, colcon; ``make`` installs it non-editable into the venv) resolves
configs, networks, gait tables, reflex parameter files and URDFs under share/neuro_locomotion."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARE = Path(sys.prefix) / 'share' / 'neuro_locomotion'


def source_data_files() -> list[Path]:
    files = [p for p in (ROOT / 'config').rglob('*.yaml')]
    files += [p for pattern in ('*.urdf', '*.xacro') for p in (ROOT / 'urdf').glob(pattern)]
    files += list((ROOT / 'launch').glob('*.launch.py'))
    return sorted(p.relative_to(ROOT) for p in files)


@pytest.mark.skipif(not SHARE.is_dir(), reason='the package is not installed in this interpreter '
                    '(make install puts it in .venv)')
def test_installed_share_has_every_source_data_file():
    files = source_data_files()
    assert any(f.parts[:2] == ('config', 'reflex') for f in files)
    missing = [str(f) for f in files if not (SHARE / f).is_file()]
    assert not missing, f'not installed under {SHARE}: {missing}'
