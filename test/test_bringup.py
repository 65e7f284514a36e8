"""``neuroloco ros``: the robot's graph composed in one process, as launch would start it."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import rclpy
from rclpy.context import Context
from sensor_msgs.msg import Imu, JointState

from locomotion_sim.body import read_urdf
from neuro_locomotion.bringup import compose
from neuro_locomotion.graph import build_graph, namespaced_params_file
from neuro_locomotion.params import ConfigError
from neuro_locomotion.paths import config_file, urdf_file
from ros_client import ROOT, ros_env

pytestmark = pytest.mark.timeout(120)


def neuroloco(*args, timeout=60):
    return subprocess.run([sys.executable, '-m', 'neuro_locomotion.cli', *args],
                          capture_output=True, text=True, timeout=timeout, env=ros_env(),
                          cwd=ROOT)


def test_neuroloco_ros_runs_and_records_a_readable_mcap(tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    out = tmp_path / 'run.mcap'
    # 6 s: the lock-step graph holds sim time at 0 until cpg_node answers (2 s to build on an
    # idle machine with numba's cache cold, as in a fresh clone; longer under load)
    proc = neuroloco('ros', 'quadruped', '--duration', '6', '--record', str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '/sim_node' in proc.stdout
    assert out.is_file() and not list(tmp_path.glob('.*.part'))
    counts, types, last = {}, {}, {}
    with open(out, 'rb') as f:
        for schema, channel, _, msg in make_reader(
                f, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            types[channel.topic] = schema.name
            last[channel.topic] = msg
    assert types['/joint_states'] == 'sensor_msgs/msg/JointState'
    assert types['/clock'] == 'rosgraph_msgs/msg/Clock'
    assert types['/robot_description'] == 'std_msgs/msg/String'
    assert {'/imu', '/foot_contacts', '/sim_node/diagnostics'} <= set(counts)
    # every state sim_node published, but those of the recorder's first ~0.2 s (DDS discovery)
    import re
    published = int(re.search(r'/sim_node: sim_time \S+ s, published (\d+)', proc.stdout).group(1))
    assert published > 20
    assert published - 60 <= counts['/joint_states'] <= published
    assert list(last['/joint_states'].name) == list(read_urdf(urdf_file('quadruped')).joint_names)


def test_neuroloco_ros_refuses_a_bad_namespace_in_one_line():
    proc = neuroloco('ros', 'quadruped', '--namespace', '1q', '--duration', '1')
    assert proc.returncode == 2
    assert proc.stderr.count('\n') == 1 and 'invalid namespace' in proc.stderr


def test_namespaced_parameter_file_applies_to_the_namespaced_node(tmp_path):
    path = namespaced_params_file(config_file('human'), '/h1', tmp_path)
    from rclpy.parameter import parameter_dict_from_yaml_file
    params = parameter_dict_from_yaml_file(str(path), use_wildcard=True,
                                           target_nodes=['/h1/sim_node'])
    assert params['robot'].value.string_value == 'human'
    assert namespaced_params_file(config_file('human'), '/h1', tmp_path) == path   # cached
    with pytest.raises(ConfigError):
        build_graph('human', 'a b')


def test_composed_human_graph_in_a_namespace(tmp_path):
    """The human's graph under /h1 in this process: params file, namespace and passive joints."""
    from neuro_locomotion.ros_convert import stamp_to_seconds
    specs = build_graph('human', 'h1', arena='flat', params_dir=tmp_path)
    context = Context()
    rclpy.init(context=context)
    nodes = []
    try:
        executor, nodes = compose(specs, context)
        sim = nodes[0]
        assert sim.get_fully_qualified_name() == '/h1/sim_node'
        assert sim.get_parameter('robot').value == 'human'
        assert sim.get_parameter('use_sim_time').value is True
        client = rclpy.create_node('client', context=context)
        executor.add_node(client)
        states, imus = [], []
        client.create_subscription(JointState, '/h1/joint_states', states.append, 10)
        client.create_subscription(Imu, '/h1/imu', imus.append, 10)
        import time
        end = time.monotonic() + 15
        while (len(states) < 3 or not imus) and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        assert len(states) >= 3 and imus, 'no joint_states/imu under /h1'
        names = list(states[-1].name)
        actuated = list(read_urdf(urdf_file('human')).joint_names)
        assert names == actuated + ['root_x', 'root_z', 'root_pitch']
        assert len(states[-1].position) == len(names)
        assert states[-1].position[len(actuated) + 1] == pytest.approx(1.02, abs=0.1)   # root_z
        assert imus[-1].header.frame_id == 'hat'
        stamps = [stamp_to_seconds(s.header.stamp) for s in states]
        assert stamps == sorted(stamps)
        client.destroy_node()
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.mark.parametrize('delay_s', [0.0, 0.0, 0.0, 0.3])
def test_neuroloco_ros_stops_cleanly_on_sigterm(delay_s):
    """SIGTERM at any moment (the first ones arrive while cpg_node still waits for
    robot_description, which used to abort the process in the EventsExecutor's destructor)."""
    import time
    proc = subprocess.Popen([sys.executable, '-m', 'neuro_locomotion.cli', 'ros', 'quadruped'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ros_env(), cwd=ROOT)
    try:
        first = proc.stdout.readline()          # printed once every node is up
        assert first.startswith('neuroloco ros quadruped: /sim_node'), proc.stderr.read()
        time.sleep(delay_s)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert 'sim_time' in out and 'Traceback' not in err


def test_a_diverged_simulation_is_reset_and_never_published():
    """NaN in PyBullet's state (a physics blow-up) resets the world; no NaN is published."""
    import math
    import time

    import pybullet as pb
    specs = build_graph('quadruped')
    context = Context()
    rclpy.init(context=context)
    nodes = []
    try:
        executor, nodes = compose(specs, context)
        sim = nodes[0]
        client = rclpy.create_node('client', context=context)
        executor.add_node(client)
        states = []
        client.create_subscription(JointState, '/joint_states', states.append, 10)

        def spin_until(predicate, timeout=15):
            end = time.monotonic() + timeout
            while not predicate() and time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
            return predicate()

        assert spin_until(lambda: len(states) >= 3)
        # the graph's sim_node is lock-step: physics (and its divergence check) runs once the
        # cpg_node answers, after its controller build (a cold numba cache: tens of s under load)
        assert spin_until(lambda: sim.diagnostics()['lockstep_answered'] >= 3, timeout=180)
        with sim._lock:
            w = sim.world
            pb.resetJointState(w.body, w.joint_index[1], math.nan, 0.0, physicsClientId=w.client)
        assert spin_until(lambda: sim.diagnostics()['divergence_resets'] == 1)
        count = len(states)
        assert spin_until(lambda: len(states) >= count + 5)
        assert all(all(math.isfinite(q) for q in s.position) for s in states)
        client.destroy_node()
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_a_dead_physics_thread_ends_the_graph():
    """If stepping fails, the node does not stay up with a frozen body: the context shuts down."""
    from rclpy.executors import ExternalShutdownException

    from locomotion_sim.node import spin
    context = Context()
    rclpy.init(context=context)
    nodes = []
    try:
        executor, nodes = compose(build_graph('quadruped'), context)
        sim = nodes[0]

        def broken_step(n=1):
            raise RuntimeError('physics engine lost')
        with sim._lock:
            sim.world.step = broken_step
        with pytest.raises(ExternalShutdownException):
            spin(executor, context, 15.0)
        assert sim.failure == "physics thread stopped: RuntimeError('physics engine lost')"
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
