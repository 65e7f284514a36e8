"""MCAP recording (McapRecorder, RunRecorder, live GraphRecorder) and ROS message conversions."""
import json
import math
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.reader import read_ros2_messages

from neuro_locomotion import ros_convert as rc
from neuro_locomotion.recording import (
    SEPARATOR, McapRecorder, RunRecorder, message_definition, msg_dependencies, type_hash,
    type_name_of)
from neuro_locomotion.safety import CommandGuard
from neuro_locomotion.types import EFFORT, POSITION, Command, Observation

REPO = Path(__file__).resolve().parents[1]
JOINTS = tuple(f'{leg}_{j}' for leg in ('lf', 'rf', 'lh', 'rh') for j in ('hip', 'thigh', 'knee'))
FEET = ('lf_foot', 'rf_foot', 'lh_foot', 'rh_foot')
DT = 0.001


def make_obs(k: int) -> Observation:
    t = k * DT
    base = np.arange(12, dtype=float)
    return Observation(
        time=t, joint_names=JOINTS,
        position=base * 0.01 + t, velocity=base * 0.1 - t, effort=base + 1000 * t,
        base_position=np.array([t, 0.0, 0.3]), base_orientation=np.array([0.0, 0.0, 0.0, 1.0]),
        base_linear_velocity=np.zeros(3), base_angular_velocity=np.zeros(3),
        foot_names=FEET, foot_forces=np.array([10.0, 20.0, 30.0, 40.0]) + k,
        imu_angular_velocity=np.array([0.1, 0.2, 0.3]),
        imu_linear_acceleration=np.array([0.0, 0.0, 9.81]))


def command_for(k: int):
    if k == 0:
        return None                          # no valid command yet
    if k < 60:
        return Command(POSITION, np.full(12, 0.001 * k))
    return Command(EFFORT, np.full(12, -0.5 * k))


N_STEPS = 100


@pytest.fixture(scope='module')
def run_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('rec') / 'run.mcap'
    with RunRecorder(path, JOINTS, FEET) as rec:
        for k in range(N_STEPS):
            state = {'phase': np.array([k, k + 0.25, k + 0.5, k + 0.75]), 'amplitude': 0.5 * k}
            rec.record(make_obs(k), command_for(k), state if k % 2 == 0 else None)
    assert path.is_file()
    return path


def summary(path):
    with open(path, 'rb') as f:
        reader = make_reader(f)
        header = reader.get_header()
        s = reader.get_summary()
        metadata = list(reader.iter_metadata())
    return header, s, metadata


def by_topic(path):
    out = {}
    for m in read_ros2_messages(str(path)):
        out.setdefault(m.channel.topic, []).append(m)
    return out


# ---------------------------------------------------------------- RunRecorder
def test_run_recorder_topics_types_counts(run_file):
    _, s, _ = summary(run_file)
    channels = {c.topic: c for c in s.channels.values()}
    types = {t: s.schemas[c.schema_id].name for t, c in channels.items()}
    assert types == {
        '/clock': 'rosgraph_msgs/msg/Clock',
        '/joint_states': 'sensor_msgs/msg/JointState',
        '/imu': 'sensor_msgs/msg/Imu',
        '/foot_contacts': 'std_msgs/msg/Float64MultiArray',
        '/forward_position_controller/commands': 'std_msgs/msg/Float64MultiArray',
        '/forward_effort_controller/commands': 'std_msgs/msg/Float64MultiArray',
        '/controller_state/phase': 'std_msgs/msg/Float64MultiArray',
        '/controller_state/amplitude': 'std_msgs/msg/Float64MultiArray',
    }
    counts = {c.topic: s.statistics.channel_message_counts[cid] for cid, c in s.channels.items()}
    assert counts == {
        '/clock': N_STEPS, '/joint_states': N_STEPS, '/imu': N_STEPS, '/foot_contacts': N_STEPS,
        '/forward_position_controller/commands': 59, '/forward_effort_controller/commands': 40,
        '/controller_state/phase': 50, '/controller_state/amplitude': 50}
    assert s.statistics.message_count == sum(counts.values())
    assert s.statistics.message_start_time == 0
    assert s.statistics.message_end_time == round((N_STEPS - 1) * DT * 1e9)


def test_run_recorder_values_and_stamps(run_file):
    msgs = by_topic(run_file)
    for k, m in enumerate(msgs['/joint_states']):
        obs = make_obs(k)
        t_ns = round(obs.time * 1e9)
        assert m.log_time_ns == t_ns and m.publish_time_ns == t_ns
        js = m.ros_msg
        assert js.header.stamp.sec * 10 ** 9 + js.header.stamp.nanosec == t_ns
        assert list(js.name) == list(JOINTS)             # PlotJuggler needs every name
        np.testing.assert_array_equal(js.position, obs.position)
        np.testing.assert_array_equal(js.velocity, obs.velocity)
        np.testing.assert_array_equal(js.effort, obs.effort)
        assert m.sequence_count == k
    for k, m in enumerate(msgs['/clock']):
        assert m.ros_msg.clock.sec * 10 ** 9 + m.ros_msg.clock.nanosec == m.log_time_ns \
            == round(k * DT * 1e9)
    imu = msgs['/imu'][5].ros_msg
    assert (imu.orientation.w, imu.angular_velocity.z, imu.linear_acceleration.z) == \
        (1.0, 0.3, 9.81)
    assert imu.header.frame_id == 'base_link'
    feet = msgs['/foot_contacts'][7].ros_msg
    assert feet.layout.dim[0].label == ','.join(FEET)
    assert feet.layout.dim[0].size == 4 and feet.layout.dim[0].stride == 4
    np.testing.assert_array_equal(feet.data, [17.0, 27.0, 37.0, 47.0])
    pos = msgs['/forward_position_controller/commands']
    assert pos[0].log_time_ns == round(1 * DT * 1e9)    # step 0 had no command
    assert pos[0].ros_msg.layout.dim[0].label == ','.join(JOINTS)
    np.testing.assert_array_equal(pos[-1].ros_msg.data, np.full(12, 0.001 * 59))
    eff = msgs['/forward_effort_controller/commands']
    assert eff[0].log_time_ns == round(60 * DT * 1e9)
    np.testing.assert_array_equal(eff[0].ros_msg.data, np.full(12, -30.0))
    phase = msgs['/controller_state/phase']
    assert phase[1].ros_msg.layout.dim[0].label == 'phase'
    np.testing.assert_array_equal(phase[1].ros_msg.data, [2.0, 2.25, 2.5, 2.75])
    np.testing.assert_array_equal(msgs['/controller_state/amplitude'][3].ros_msg.data, [3.0])


def test_profile_and_encodings(run_file):
    header, s, metadata = summary(run_file)
    assert header.profile == 'ros2'
    assert {sc.encoding for sc in s.schemas.values()} == {'ros2msg'}
    assert {c.message_encoding for c in s.channels.values()} == {'cdr'}
    assert s.statistics is not None and s.chunk_indexes        # summary with indexes
    for c in s.channels.values():
        profiles = yaml.safe_load(c.metadata['offered_qos_profiles'])
        assert isinstance(profiles, list) and len(profiles) == 1
        p = profiles[0]
        assert set(p) == {'history', 'depth', 'reliability', 'durability', 'deadline',
                          'lifespan', 'liveliness', 'liveliness_lease_duration',
                          'avoid_ros_namespace_conventions'}
        assert p['reliability'] == 1                                   # reliable
        assert p['durability'] == (1 if c.topic == '/clock' else 2)    # transient_local / volatile
        assert c.metadata['topic_type_hash'].startswith('RIHS01_')
    # the rosbag2 metadata record: every key rosbag2's YAML decoder reads at version 8
    (md,) = [m for m in metadata if m.name == 'rosbag2']
    meta = yaml.safe_load(md.metadata['serialized_metadata'])
    assert meta['version'] == 8 and meta['storage_identifier'] == 'mcap'
    for key in ('duration', 'starting_time', 'message_count', 'topics_with_message_count',
                'relative_file_paths', 'compression_format', 'compression_mode', 'files',
                'custom_data', 'ros_distro'):
        assert key in meta
    assert meta['message_count'] == s.statistics.message_count
    assert meta['relative_file_paths'] == ['run.mcap']
    topics = {t['topic_metadata']['name']: t for t in meta['topics_with_message_count']}
    assert topics['/joint_states']['message_count'] == N_STEPS
    assert topics['/joint_states']['topic_metadata']['type'] == 'sensor_msgs/msg/JointState'


def test_schema_text_has_dependency_sections(run_file):
    _, s, _ = summary(run_file)
    schemas = {sc.name: sc.data.decode() for sc in s.schemas.values()}
    js = schemas['sensor_msgs/msg/JointState']
    assert js.startswith(Path(os.environ.get('AMENT_PREFIX_PATH', sys.prefix).split(':')[0],
                              'share/sensor_msgs/msg/JointState.msg').read_text())
    for dep in ('std_msgs/Header', 'builtin_interfaces/Time'):
        assert js.count(f'\n{SEPARATOR}\nMSG: {dep}\n') == 1
    assert 'std_msgs/Header header' in js and 'uint32 nanosec' in js
    imu = schemas['sensor_msgs/msg/Imu']
    for dep in ('geometry_msgs/Quaternion', 'geometry_msgs/Vector3', 'std_msgs/Header',
                'builtin_interfaces/Time'):
        assert imu.count(f'MSG: {dep}\n') == 1
    arr = schemas['std_msgs/msg/Float64MultiArray']
    assert 'MSG: std_msgs/MultiArrayLayout' in arr and 'MSG: std_msgs/MultiArrayDimension' in arr


def test_message_definition_helpers():
    assert msg_dependencies('Header header\nfoo_msgs/Bar[] bars  # c\nuint8 X=1\n'
                            'string<=5 s\nint32[<=3] a\n# geometry_msgs/Point p\n',
                            'std_msgs') == ['foo_msgs/Bar', 'std_msgs/Header']
    assert message_definition('std_msgs/String') == message_definition('std_msgs/msg/String')
    assert type_hash('sensor_msgs/msg/JointState').startswith('RIHS01_')
    with pytest.raises(LookupError):
        message_definition('std_msgs/msg/NoSuchType')
    from sensor_msgs.msg import JointState
    assert type_name_of(JointState) == type_name_of(JointState()) == 'sensor_msgs/msg/JointState'
    with pytest.raises(TypeError):
        type_name_of(42)


def test_run_recorder_period_and_namespace(tmp_path):
    path = tmp_path / 'dec.mcap'
    with RunRecorder(path, JOINTS, FEET, namespace='q1', period=0.01,
                     robot_description='<robot name="x"/>') as rec:
        written = [rec.record(make_obs(k)) for k in range(100)]
    assert sum(written) == 10
    msgs = by_topic(path)
    assert len(msgs['/q1/joint_states']) == 10 and len(msgs['/clock']) == 10
    assert [m.log_time_ns for m in msgs['/clock']] == [round(k * 0.01 * 1e9) for k in range(10)]
    (desc,) = msgs['/q1/robot_description']
    assert desc.ros_msg.data == '<robot name="x"/>'
    assert yaml.safe_load(desc.channel.metadata['offered_qos_profiles'])[0]['durability'] == 1


def test_run_recorder_tolerates_odd_inputs(tmp_path):
    path = tmp_path / 'odd.mcap'
    with RunRecorder(path, JOINTS, FEET) as rec:
        obs = make_obs(1)
        obs.foot_forces = np.zeros(2)                    # fewer contacts than feet: unlabelled
        rec.record(obs, Command(POSITION, np.zeros(12)), {'gait': 'trot', 'drive': 2})
        assert rec.skipped_state == 1
    msgs = by_topic(path)
    assert msgs['/foot_contacts'][0].ros_msg.layout.dim[0].label == ''
    assert list(msgs['/controller_state/drive'][0].ros_msg.data) == [2.0]
    assert '/controller_state/gait' not in msgs


# ---------------------------------------------------------------- McapRecorder
def test_mcap_recorder_any_message_and_round_trip(tmp_path):
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    path = tmp_path / 'any.mcap'
    js = rc.joint_state(make_obs(3))
    with McapRecorder(path) as rec:
        rec.write('/chatter', String(data='hello'), 5)
        rec.write('/joint_states', js, 10, publish_time_ns=7)
        rec.write_serialized('/joint_states', 'sensor_msgs/JointState', serialize_message(js), 20)
        with pytest.raises(ValueError, match='recorded as std_msgs/msg/String'):
            rec.write('/chatter', js, 30)
        with pytest.raises(ValueError, match='unsigned'):
            rec.write('/chatter', String(), -1)
        assert rec.counts() == {'/chatter': 1, '/joint_states': 2}
    with pytest.raises(ValueError, match='closed'):
        rec.write('/chatter', String(), 40)
    msgs = by_topic(path)
    assert msgs['/chatter'][0].ros_msg.data == 'hello'
    assert [m.publish_time_ns for m in msgs['/joint_states']] == [7, 20]
    # the payload decodes with rclpy too, to the same message
    with open(path, 'rb') as f:
        raw = [m for _, c, m in make_reader(f).iter_messages(topics=['/joint_states'])]
    assert deserialize_message(raw[0].data, JointState) == js


def test_final_file_has_normal_permissions(tmp_path):
    path = tmp_path / 'perm.mcap'
    old = os.umask(0o022)
    try:
        McapRecorder(path).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not list(tmp_path.glob('.*.part'))


def test_abort_and_error_leave_nothing_at_final_path(tmp_path):
    from std_msgs.msg import String
    path = tmp_path / 'aborted.mcap'
    rec = McapRecorder(path)
    rec.write('/a', String(data='x'), 1)
    rec.abort()
    assert not path.exists() and not list(tmp_path.iterdir())
    with pytest.raises(RuntimeError):
        with McapRecorder(path, keep_on_error=False) as rec:
            rec.write('/a', String(data='x'), 1)
            raise RuntimeError('controller crashed')
    assert not path.exists() and not list(tmp_path.iterdir())
    # by default an error inside the block still finishes the file (the data before the error)
    with pytest.raises(RuntimeError):
        with McapRecorder(path) as rec:
            rec.write('/a', String(data='x'), 1)
            raise RuntimeError('controller crashed')
    assert [m.ros_msg.data for m in read_ros2_messages(str(path))] == ['x']


def test_killed_writer_leaves_no_file_at_final_path(tmp_path):
    """A process that dies mid-recording (no close) leaves only a hidden .part file."""
    path = tmp_path / 'killed.mcap'
    code = textwrap.dedent(f'''
        import os, numpy as np, rclpy
        from neuro_locomotion.recording import RunRecorder
        from test_recording import make_obs, JOINTS, FEET, command_for
        rec = RunRecorder({str(path)!r}, JOINTS, FEET)
        for k in range(3000):
            rec.record(make_obs(k), command_for(k))
        assert not rclpy.ok()           # serialization needed no rclpy.init()
        print('written', rec.recorder.message_count, flush=True)
        os._exit(3)                     # die without close(), like SIGKILL
    ''')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / 'test')]))
    proc = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert 'written 14999' in proc.stdout     # 5 topics x 3000 steps, no command at step 0
    assert not path.exists()
    parts = list(tmp_path.glob('.killed.mcap.*.part'))
    assert len(parts) == 1 and parts[0].stat().st_size > 0


def test_recorder_refuses_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        McapRecorder(tmp_path)


# ---------------------------------------------------------------- live graph recorder
def test_graph_recorder_records_live_topics(tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import JointState

    from neuro_locomotion.ros_diagnostics import diagnostic_array, diagnostic_status

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(os.environ['ROS_DOMAIN_ID']))
    path = tmp_path / 'live.mcap'
    ns = f'/rec{os.getpid()}'          # unique even if another process shares the domain
    try:
        talker = rclpy.create_node('talker', namespace=ns, context=context)
        pub = talker.create_publisher(JointState, 'joint_states', 10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        clock_pub = talker.create_publisher(Clock, '/clock', latched)
        other = talker.create_publisher(JointState, '/other/joint_states', 10)
        from diagnostic_msgs.msg import DiagnosticArray
        diag_pub = talker.create_publisher(DiagnosticArray, '/diagnostics', 10)
        graph = McapRecorder.for_graph(path, context=context, namespace=ns,
                                       discovery_period=0.05)
        ex = SingleThreadedExecutor(context=context)
        ex.add_node(talker)
        ex.add_node(graph.node)
        deadline = time.monotonic() + 20.0
        while (len(graph.topics) < 3 or pub.get_subscription_count() < 1
               or clock_pub.get_subscription_count() < 1
               or diag_pub.get_subscription_count() < 1) and time.monotonic() < deadline:
            ex.spin_once(timeout_sec=0.05)
        assert graph.topics == ['/clock', '/diagnostics', f'{ns}/joint_states']
        sent = 0
        obs = make_obs(1)
        while graph.recorder.counts().get(f'{ns}/joint_states', 0) < 20 \
                and time.monotonic() < deadline:
            if sent < 20:
                pub.publish(rc.joint_state(obs, stamp=sent * 0.01))
                clock_pub.publish(rc.clock(sent * 0.01))
                other.publish(rc.joint_state(obs))
                if sent == 0:
                    diag_pub.publish(diagnostic_array([diagnostic_status(
                        f'{ns}/talker', {'level': 0, 'state': 'active'})]))
                sent += 1
            ex.spin_once(timeout_sec=0.02)
        graph.close()
        ex.shutdown()
        talker.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    msgs = by_topic(path)
    assert set(msgs) == {'/clock', '/diagnostics', f'{ns}/joint_states'}
    assert [s.name for m in msgs['/diagnostics'] for s in m.ros_msg.status
            if s.name.startswith(ns)] == [f'{ns}/talker']
    assert len(msgs[f'{ns}/joint_states']) == 20
    assert [m.ros_msg.header.stamp.nanosec for m in msgs[f'{ns}/joint_states']] == \
        [k * 10_000_000 for k in range(20)]
    qos = yaml.safe_load(msgs['/clock'][0].channel.metadata['offered_qos_profiles'])
    assert qos[0]['durability'] == 1 and qos[0]['reliability'] == 1


# ---------------------------------------------------------------- ros_convert
def test_time_conversions():
    assert rc.stamp_to_ns(rc.to_stamp(1.25)) == 1_250_000_000
    s = rc.to_stamp(-0.5)
    assert (s.sec, s.nanosec) == (-1, 500_000_000)
    s = rc.to_stamp(1.9999999999)
    assert (s.sec, s.nanosec) == (2, 0)
    for t in (0.0, 0.001, 123.456789012, 1e6 + 0.25):
        assert abs(rc.stamp_to_seconds(rc.to_stamp(t)) - t) < 1e-9 * max(1.0, t * 1e-6)
    with pytest.raises(ValueError):
        rc.to_stamp(math.nan)


def test_observation_messages_round_trip():
    obs = make_obs(42)
    js = rc.joint_state(obs)
    assert list(js.name) == list(JOINTS) and len(js.position) == 12
    with pytest.raises(ValueError):
        rc.joint_state(Observation(**{**obs.__dict__, 'position': np.zeros(3)}))
    back = rc.observation_from_msgs(JOINTS, js, rc.imu(obs), rc.foot_contacts(obs), FEET)
    assert back.time == pytest.approx(obs.time)
    for field in ('position', 'velocity', 'effort', 'foot_forces', 'base_orientation',
                  'imu_angular_velocity', 'imu_linear_acceleration'):
        np.testing.assert_array_equal(getattr(back, field), getattr(obs, field))
    # joint states of a real robot may come in another order, with extra joints
    shuffled = rc.joint_state(obs)
    order = list(range(11, -1, -1))
    shuffled.name = [JOINTS[i] for i in order] + ['gripper']
    shuffled.position = [float(obs.position[i]) for i in order] + [9.0]
    shuffled.velocity = []
    shuffled.effort = []
    p, v, e = rc.joint_state_arrays(shuffled, JOINTS)
    np.testing.assert_array_equal(p, obs.position)
    assert np.isnan(v).all() and np.isnan(e).all()
    with pytest.raises(ValueError, match='lacks'):
        rc.joint_state_arrays(shuffled, JOINTS + ('tail',))
    # contacts reordered by label
    np.testing.assert_array_equal(rc.contact_forces(rc.foot_contacts(obs), FEET[::-1]),
                                  obs.foot_forces[::-1])


def test_labelled_layout():
    msg = rc.labelled_array([1.0, 2.0], ['a', 'b'])
    assert rc.array_labels(msg) == ['a', 'b']
    assert msg.layout.data_offset == 0
    assert rc.array_labels(rc.labelled_array([1.0, 2.0], label='phase')) is None
    with pytest.raises(ValueError):
        rc.labelled_array([1.0], ['a', 'b'])
    with pytest.raises(ValueError):
        rc.labelled_array([1.0], ['a,b'])


def make_guard():
    return CommandGuard(JOINTS, np.full(12, -1.0), np.full(12, 1.0), np.full(12, 10.0), 0.1)


def test_command_message_validation_through_guard():
    from std_msgs.msg import Float64MultiArray
    g = make_guard()
    # unlabelled (what a ros2_control publisher sends) and labelled in the right order: accepted
    assert rc.offer_command_msg(g, POSITION, Float64MultiArray(data=[0.1] * 12), 0.0).accepted
    assert rc.offer_command_msg(g, POSITION, rc.command_msg(np.zeros(12), JOINTS), 0.0).accepted
    # NaN, wrong length: refused by the guard with its reasons
    bad = Float64MultiArray(data=[0.0] * 12)
    bad.data[3] = math.nan
    v = rc.offer_command_msg(g, POSITION, bad, 0.0)
    assert v.category == 'non_finite'
    assert v.reason.startswith('non-finite value at index 3 (rf_hip)')
    v = rc.offer_command_msg(g, POSITION, Float64MultiArray(data=[0.0] * 11), 0.0)
    assert v.reason == 'command size 11 does not match 12 joints'
    # labelled with another joint order or foreign joints: refused (ros2_control would not see it)
    v = rc.offer_command_msg(g, POSITION, rc.command_msg(np.zeros(12), JOINTS[::-1]), 0.0)
    assert v.category == 'joint_names' and 'rh_knee instead of lf_hip' in v.reason
    names = list(JOINTS)
    names[5] = 'tail'
    v = rc.offer_command_msg(g, EFFORT, rc.command_msg(np.zeros(12), names), 0.0)
    assert v.category == 'joint_names' and "'tail'" in v.reason and v.mode == EFFORT
    off = Float64MultiArray(data=[0.0] * 12)
    off.layout.data_offset = 2
    assert rc.offer_command_msg(g, POSITION, off, 0.0).category == 'malformed'
    d = g.diagnostics()
    assert d['accepted'] == 2 and d['refused_total'] == 5
    assert d['refused']['joint_names'] == 2


def test_diagnostics_messages():
    g = make_guard()
    g.offer(POSITION, np.full(12, 5.0), 0.0)
    d = g.diagnostics(now=0.5)
    d['weird'] = {'nan': math.nan, 'np': np.float32(1.5), 'arr': np.arange(2), 'flag': np.bool_(1)}
    msg = rc.diagnostics_msg(d)
    back = rc.diagnostics_from_msg(msg)
    assert back['clamped_values'] == 12 and back['max_excess'] == 4.0
    assert back['weird'] == {'nan': None, 'np': 1.5, 'arr': [0, 1], 'flag': True}
    assert json.loads(msg.data) == back
    arr = rc.diagnostics_array(g.diagnostics())
    labels = rc.array_labels(arr)
    values = dict(zip(labels, arr.data))
    assert values['refused.non_finite'] == 0 and values['clamped_commands'] == 1
    assert math.isnan(values['watchdog_engaged_at'])        # None -> NaN keeps the layout stable
    g.current(1.0)
    assert rc.array_labels(rc.diagnostics_array(g.diagnostics())) == labels


def test_info_lists_channels_without_messages(tmp_path):
    """A channel registered but never written (e.g. an unused command topic) is listed with 0."""
    from std_msgs.msg import String

    from neuro_locomotion.recording import McapRecorder, _info
    path = tmp_path / 'empty_channel.mcap'
    with McapRecorder(path) as recorder:
        recorder.channel('/unused', 'std_msgs/msg/Float64MultiArray')
        recorder.write('/text', String(data='x'), 1)
    text = _info(path)
    assert '/unused' in text and '/text' in text
    unused = next(line for line in text.splitlines() if '/unused' in line)
    assert ' 0 ' in unused
