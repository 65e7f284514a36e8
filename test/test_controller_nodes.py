"""cpg_node and reflex_node over DDS: sim_node and the controller node each in its own process,
the test process as the client. Runs on sim time (every stamp is the simulator's)."""
from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip('rclpy')

from rcl_interfaces.msg import SetParametersResult  # noqa: E402,F401
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from neuro_locomotion.paths import config_file  # noqa: E402

from ros_client import ROOT, Diagnostics, RosClient, SimProcess, ros_env  # noqa: E402


class NodeProcess(SimProcess):
    """``python -m <module> --ros-args ...`` (the console script's main) in a child process."""

    def __init__(self, module: str, ros_args: list[str], log_path):
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.proc = subprocess.Popen([sys.executable, '-m', module, '--ros-args', *ros_args],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=ros_env(),
                                     cwd=ROOT)


def _list(values) -> str:
    return '[' + ', '.join(repr(float(v)) for v in values) + ']'


def _contact_legs(box, legs: dict, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(sim times, in-contact per leg) from collected foot_contacts messages."""
    labels = box[0][1].layout.dim[0].label.split(',')
    t, on = [], []
    for _, msg in box:
        f = np.asarray(msg.data)
        on.append([sum(f[labels.index(n)] for n in names) > threshold
                   for names in legs.values()])
    return np.asarray(on), t


def _touchdowns(on: np.ndarray, min_samples: int = 4) -> list[int]:
    """Rising edges per column, debounced (a contact must last ``min_samples`` messages)."""
    counts = []
    for col in on.T:
        n, state, run = 0, bool(col[0]), 0
        for v in col[1:]:
            run = run + 1 if v != state else 0
            if run >= min_samples:
                state, run = bool(v), 0
                n += state
        counts.append(n)
    return counts


def _stamp(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


@pytest.fixture
def client():
    c = RosClient('controller_nodes_test')
    yield c
    c.close()


def _sim_time(client, box) -> float:
    return _stamp(box[-1][1]) if box else -1.0


def test_quadruped_cpg_node_walks_and_switches_gait(client, tmp_path):
    cfg = str(config_file('quadruped'))
    sim = SimProcess(['--params-file', cfg, '-p', 'use_sim_time:=true',
                      '-p', 'real_time_factor:=0.5', '-p', 'command_timeout:=3.0',
                      '-p', 'publish_rate:=200.0'],
                     tmp_path / 'sim.log')
    ctrl = NodeProcess('cpg_controller.node', ['-r', '__node:=cpg_node', '--params-file', cfg,
                                               '-p', 'use_sim_time:=true',
                                               '-p', 'servo.mode:=position'],
                       tmp_path / 'cpg.log')
    try:
        joints = client.collect(JointState, '/joint_states')
        contacts = client.collect(Float64MultiArray, '/foot_contacts')
        state = client.collect(Float64MultiArray, '/cpg_node/state')
        poses = client.collect(PoseStamped, '/base_pose')
        commands = client.collect(Float64MultiArray, '/forward_position_controller/commands')
        diag = Diagnostics(client)
        client.wait_for(lambda: len(commands) > 20, 60, 'cpg_node commands')
        t0 = _sim_time(client, joints)
        contacts.clear()
        client.wait_for(lambda: poses, 10, '/base_pose')
        start_pose = poses[-1][1]
        client.wait_for(lambda: _sim_time(client, joints) > t0 + 4.0, 40, '4 s of sim time')
        end_pose = poses[-1][1]
        dt = _stamp(end_pose) - _stamp(start_pose)
        a, b = start_pose.pose.position, end_pose.pose.position
        dx, dy = b.x - a.x, b.y - a.y
        print(f'base_pose: dx {dx:.3f} m, dy {dy:.3f} m in {dt:.2f} sim s '
              f'({dx / dt:.3f} m/s), z {b.z:.3f} m')
        # forward (+x) progress from sim_node's ground-truth base_pose over the 4 sim s; measured
        # 2.03, 1.90, 2.03 m (0.47-0.51 m/s, |dy| <= 0.12 m): the floor is about half of that
        assert dt > 3.5 and dx >= 0.9, (dx, dy, dt)
        on, _ = _contact_legs(contacts, {f: [f] for f in ('lf_foot', 'rf_foot', 'lh_foot',
                                                          'rh_foot')}, 5.0)
        tds = _touchdowns(on)
        print('contact fraction', on.mean(axis=0), len(on), 'state msgs', len(state))
        d = diag.wait(lambda d: d['sim_time'] > t0 + 4.0, 10)
        print('touchdowns per foot in 4 s:', tds, 'accepted', d['accepted'], 'refused',
              d['refused_total'], 'fallen', d['fallen'])
        # every foot steps; over ROS the contact pattern is noisier than in lock-step (open
        # problem, docs/ros.md), hence a loose floor: lock-step gives ~10 per foot in 4 s
        assert min(tds) >= 1 and sum(tds) >= 8, tds
        assert not d['fallen'] and d['refused_total'] == 0 and d['state'] == 'active'

        # the commanded pattern: LF vs LH phase (trot: antiphase, pace: in phase)
        def lf_lh(n=100):
            labels = state[-1][1].layout.dim[0].label.split(',')
            i, k = labels.index('phase[0]'), labels.index('phase[2]')
            return float(np.mean([math.cos(m.data[i] - m.data[k]) for _, m in state[-n:]]))
        trot = lf_lh()
        result = client.set_parameters('/cpg_node', gait='pace')
        assert result[0].successful, result[0].reason
        assert client.get_parameters('/cpg_node', 'gait') == ['pace']
        t1 = _sim_time(client, joints)
        client.wait_for(lambda: _sim_time(client, joints) > t1 + 3.0, 40, '3 s after the switch')
        pace = lf_lh()
        print(f'cos(LF - LH phase): trot {trot:.2f}, pace {pace:.2f}')
        assert trot < -0.7 and pace > 0.7

        # invalid drives: refused with a reason, nothing applied
        for bad in (math.nan, 1e3, 99.0):
            r = client.set_parameters('/cpg_node', drive=bad)[0]
            print(f'drive {bad}: refused: {r.reason}')
            assert not r.successful and r.reason
        assert client.get_parameters('/cpg_node', 'drive', 'gait') == [0.0, 'pace']
        r = client.set_parameters('/cpg_node', gait='moonwalk')[0]
        assert not r.successful and 'moonwalk' in r.reason
        n = len(commands)
        client.wait_for(lambda: len(commands) > n + 20, 20, 'commands after the refusals')
    finally:
        rc_ctrl = ctrl.stop()
        rc_sim = sim.stop()
        print(ctrl.log()[-2000:])
    assert rc_ctrl == 0 and rc_sim == 0


@pytest.mark.xfail(reason='open problem: over DDS at 200 Hz joint_states (5 ms zero-order hold '
                   'of the torques) the reflex walker falls within ~1 s; lock-step at 1 kHz walks '
                   '20 s (docs/ros.md)', strict=True)
def test_human_reflex_node_stands_and_steps(client, tmp_path):
    from neuro_locomotion.controller_node import body_from_urdf, build_controller
    cfg = str(config_file('human'))
    start = build_controller('reflex', body_from_urdf('human'), '', 0.0, {}).initial_state()
    # The controller first (robot from the share, so it needs no robot_description), then the
    # simulator: the walker's start state (moving at 0.7 m/s) must not wait for the controller.
    ctrl = NodeProcess('reflex_modules.node', ['-r', '__node:=reflex_node', '--params-file', cfg,
                                               '-p', 'use_sim_time:=true', '-p', 'robot:=human'],
                       tmp_path / 'rx.log')
    client.wait_for(lambda: any(i.node_name == 'reflex_node' for i in
                                client.node.get_subscriptions_info_by_topic('/joint_states')),
                    60, 'reflex_node subscribed to /joint_states')
    sim = SimProcess(['--params-file', cfg, '-p', 'use_sim_time:=true',
                      '-p', 'real_time_factor:=1.0', '-p', 'command_timeout:=2.0',
                      *[a for k, v in start.items() for a in ('-p', f'{k}:={_list(v)}')]],
                     tmp_path / 'sim.log')
    try:
        joints = client.collect(JointState, '/joint_states')
        contacts = client.collect(Float64MultiArray, '/foot_contacts')
        commands = client.collect(Float64MultiArray, '/forward_effort_controller/commands')
        diag = Diagnostics(client)
        client.wait_for(lambda: len(commands) > 5, 60, 'reflex_node commands')
        t0 = _sim_time(client, joints)
        client.wait_for(lambda: _sim_time(client, joints) > t0 + 6.0, 40, '6 s of sim time')
        on, _ = _contact_legs(contacts, {'left': ['l_heel', 'l_ball'],
                                         'right': ['r_heel', 'r_ball']}, 50.0)
        tds = _touchdowns(on)
        d = diag.wait(lambda d: d['sim_time'] > t0 + 6.0, 10)
        names = list(joints[-1][1].name)
        x = joints[-1][1].position[names.index('root_x')]
        z = joints[-1][1].position[names.index('root_z')]
        print('touchdowns (left, right) in 6 s:', tds, 'root x', x, 'z', z, 'fallen',
              d['fallen'], 'accepted', d['accepted'], 'refused', d['refused_total'])
        assert not d['fallen'] and z > 0.8
        assert min(tds) >= 2, tds
        assert d['refused_total'] == 0
    finally:
        rc_ctrl = ctrl.stop()
        rc_sim = sim.stop()
        print(ctrl.log()[-2000:])
    assert rc_ctrl == 0 and rc_sim == 0
