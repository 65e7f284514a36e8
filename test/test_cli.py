"""`neuroloco` as a user runs it: metrics JSON, plot, and one-line errors with exit status 2."""
import json
import subprocess
import sys

import pytest

from neuro_locomotion.paths import config_file


def neuroloco(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'neuro_locomotion.cli', *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_run_writes_metrics_and_plot(tmp_path):
    metrics, plot = tmp_path / 'm.json', tmp_path / 'p.png'
    proc = neuroloco('run', 'quadruped', '--duration', '1', '--metrics-json', str(metrics),
                     '--plot', str(plot))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(metrics.read_text())
    for key in ('robot', 'controller', 'sim_time_s', 'wall_time_s', 'real_time_factor',
                'distance_m', 'speed_mps', 'fell'):
        assert key in data
    assert data['robot'] == 'quadruped' and data['controller'] == 'hold'
    assert data['sim_time_s'] == pytest.approx(1.0)
    assert data['fell'] is False and data['real_time_factor'] > 0
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'real_time_factor' in proc.stdout


def _malformed_yaml(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('sim_node: [ros__parameters\n')
    return str(path)


def _out_of_range_yaml(tmp_path):
    text = config_file('quadruped').read_text().replace('physics_rate_hz: 1000.0', 'physics_rate_hz: .nan')
    path = tmp_path / 'nan.yaml'
    path.write_text(text)
    return str(path)


def _malformed_urdf_yaml(tmp_path):
    (tmp_path / 'urdf').mkdir()
    text = config_file('quadruped').read_text().replace('urdf: quadruped.urdf', 'urdf: /nonexistent/x.urdf')
    path = tmp_path / 'u.yaml'
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('make_args,words', [
    (lambda t: ['run', 'octopus'], "invalid choice: 'octopus'"),
    (lambda t: ['run', 'quadruped', '--controller', 'nope'], "unknown controller 'nope'"),
    (lambda t: ['run', 'quadruped', '--duration', '-1'], 'positive number of seconds'),
    (lambda t: ['run', 'quadruped', '--duration', 'nan'], 'positive number of seconds'),
    (lambda t: ['run', 'quadruped', '--config', str(t / 'missing.yaml')], 'file not found'),
    (lambda t: ['run', 'quadruped', '--config', _malformed_yaml(t)], 'invalid YAML'),
    (lambda t: ['run', 'quadruped', '--config', _out_of_range_yaml(t)], 'physics_rate_hz'),
    (lambda t: ['run', 'quadruped', '--config', _malformed_urdf_yaml(t)], 'URDF not found'),
    (lambda t: ['run', 'quadruped', '--arena', 'lava'], "invalid choice: 'lava'"),
    (lambda t: ['run', 'quadruped', '--drive', 'inf'], 'must be finite'),
    (lambda t: ['run', 'quadruped', '--gait', 'trot'], 'takes no options'),
    (lambda t: ['run', 'quadruped', '--params', str(t / 'nope.yaml')], 'file not found'),
    (lambda t: ['run', 'quadruped', '--controller', 'cpg', '--schedule', '0:walk,5'], 'TIME:GAIT'),
    (lambda t: ['run', 'quadruped', '--controller', 'cpg', '--schedule', '2:walk'],
     'start at time 0'),
    (lambda t: ['run', 'quadruped', '--controller', 'cpg', '--schedule', '0:walk,5:trot,3:bound'],
     'increase'),
    (lambda t: ['run', 'quadruped', '--controller', 'cpg', '--schedule', '0:walk,5:canter'],
     "unknown gait 'canter'"),
    (lambda t: ['run', 'salamander', '--controller', 'cpg', '--schedule', '0:walk,5:trot'],
     "unknown gait 'trot'"),
])
def test_errors_are_one_line_with_exit_2_and_nothing_written(tmp_path, make_args, words):
    metrics = tmp_path / 'out' / 'm.json'
    proc = neuroloco(*make_args(tmp_path), '--metrics-json', str(metrics))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('neuroloco: error:'), proc.stderr
    assert words in lines[0]
    assert not metrics.exists()


def test_run_records_ros2_messages_to_mcap(tmp_path):
    from mcap_ros2.reader import read_ros2_messages
    path = tmp_path / 'run.mcap'
    proc = neuroloco('run', 'quadruped', '--duration', '0.5', '--record', str(path))
    assert proc.returncode == 0, proc.stderr
    counts, last = {}, {}
    for message in read_ros2_messages(str(path)):
        topic = message.channel.topic
        counts[topic] = counts.get(topic, 0) + 1
        last[topic] = message.ros_msg
    for topic in ('/clock', '/joint_states', '/foot_contacts', '/forward_position_controller/commands'):
        assert counts[topic] == 250, (topic, counts)             # 500 Hz over 0.5 s
    assert counts['/robot_description'] == 1
    joint_state = last['/joint_states']
    assert len(joint_state.name) == 12 and joint_state.name[0] == 'lf_hip_abad'
    assert abs(joint_state.header.stamp.sec + joint_state.header.stamp.nanosec * 1e-9 - 0.498) < 1e-6
