"""sim_node over real DDS: one sim_node process for the module, the test process as the client.

The node runs the quadruped at real_time_factor 1, publishing at 100 Hz, command_timeout 0.5 s.
Tests that change the body's state start with ``~/reset``.
"""
from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension, String
from std_srvs.srv import Trigger

from locomotion_sim.body import read_urdf
from neuro_locomotion.paths import config_file, urdf_file
from ros_client import LATCHED, ROOT, Diagnostics, RosClient, SimProcess, ros_env

pytestmark = pytest.mark.timeout(120)

PUBLISH_RATE = 100.0
COMMAND_TIMEOUT = 0.5
NODE = '/sim_node'
LIMITS = read_urdf(urdf_file('quadruped')).actuated
NAMES = list(LIMITS.names)
N = len(NAMES)
Q0 = np.array([0.0, 0.8, -1.5] * 4)
# rad past a URDF limit that counts as leaving it. Commands are clamped exactly; what remains is
# PyBullet's soft joint-limit constraint when a joint hits its stop at speed or is pushed into it
# at the full effort limit. Measured in-process over 3 seeds x 3 s: 0.063 rad with targets at the
# limits, 0.080 rad with every joint at +effort limit, 0.098 rad with alternating +/- effort limits.
POSITION_TOL = 0.10
EFFORT_TOL = 0.15


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    log = tmp_path_factory.mktemp('sim_node') / 'sim_node.log'
    proc = SimProcess(['-r', '__node:=sim_node', '--params-file', str(config_file('quadruped')),
                       '-p', 'use_sim_time:=true', '-p', f'publish_rate:={PUBLISH_RATE}',
                       '-p', 'real_time_factor:=1.0', '-p', f'command_timeout:={COMMAND_TIMEOUT}',
                       '-p', 'diagnostics_period:=0.1'], log)
    yield proc
    assert proc.alive(), 'sim_node died during the tests:\n' + proc.log()[-3000:]
    code = proc.stop()          # SIGINT: rclpy shuts the context down, the node exits cleanly
    assert code == 0, f'sim_node exited with {code} on SIGINT:\n' + proc.log()[-3000:]


@pytest.fixture
def ros(sim):
    client = RosClient()
    yield client
    client.close()
    assert sim.alive(), 'sim_node died:\n' + sim.log()[-3000:]


def reset(ros) -> None:
    assert ros.call(Trigger, f'{NODE}/reset').success


def command(values) -> Float64MultiArray:
    return Float64MultiArray(data=[float(v) for v in values])


def positions(box) -> np.ndarray:
    return np.array([m.position for _, m in box])


def limit_excess(box) -> float:
    """Largest distance (rad) by which any joint was beyond its URDF limits."""
    q = positions(box)[:, :N]
    return float(np.maximum(q - LIMITS.upper, LIMITS.lower - q).max())


def publish_until(ros, pub, msg, predicate, timeout=5.0, period=0.02, what='condition'):
    """Publish ``msg`` every ``period`` s until ``predicate()`` (as a controller would)."""
    import time
    end, next_send = time.monotonic() + timeout, 0.0
    while True:
        if time.monotonic() >= next_send:
            pub.publish(msg)
            next_send = time.monotonic() + period
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}')
        ros.executor.spin_once(timeout_sec=0.005)


def test_clock_advances_with_wall_time(ros):
    clocks = ros.collect(Clock, '/clock', LATCHED)
    ros.wait_for(lambda: len(clocks) >= 1, 15, '/clock')
    first_wall, first = clocks[-1][0], clocks[-1][1].clock
    ros.spin_for(1.0)
    last_wall, last = clocks[-1][0], clocks[-1][1].clock
    sim_dt = (last.sec - first.sec) + (last.nanosec - first.nanosec) * 1e-9
    assert sim_dt > 0.0
    assert sim_dt == pytest.approx(last_wall - first_wall, rel=0.25)   # real_time_factor 1
    stamps = [m.clock.sec + m.clock.nanosec * 1e-9 for _, m in clocks]
    bad = [(a, b) for a, b in zip(stamps, stamps[1:]) if b <= a]
    assert not bad, (bad[:5], len(stamps))


def test_joint_states_name_every_joint_at_the_publish_rate(ros):
    states = ros.collect(JointState, '/joint_states')
    ros.wait_for(lambda: len(states) >= 5, 15, '/joint_states')
    start = len(states)
    t0 = states[-1][0]
    ros.spin_for(1.5)
    window = states[start:]
    rate = len(window) / (window[-1][0] - t0)
    assert rate == pytest.approx(PUBLISH_RATE, rel=0.2)
    msg = window[-1][1]
    assert list(msg.name) == NAMES          # quadruped: no passive joints
    assert len(msg.position) == len(msg.velocity) == len(msg.effort) == N
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in window]
    steps = np.diff(stamps)
    assert np.all(steps > 0)
    assert np.median(steps) == pytest.approx(1.0 / PUBLISH_RATE, rel=0.05)   # simulated seconds


def test_imu_and_foot_contacts(ros):
    reset(ros)
    imus = ros.collect(Imu, '/imu')
    contacts = ros.collect(Float64MultiArray, '/foot_contacts')
    ros.wait_for(lambda: len(imus) >= 3 and len(contacts) >= 3, 15, '/imu and /foot_contacts')
    imu = imus[-1][1]
    q = imu.orientation
    assert math.isclose(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2, 1.0, rel_tol=1e-6)
    assert imu.header.frame_id
    contact = contacts[-1][1]
    labels = [d.label for d in contact.layout.dim]
    assert any('lf_foot' in label for label in labels) or 'lf_foot' in ' '.join(labels)
    assert len(contact.data) == 4


def test_base_pose_is_the_body_start_pose_in_world(ros):
    reset(ros)
    poses = ros.collect(PoseStamped, '/base_pose')
    states = ros.collect(JointState, '/joint_states')
    ros.wait_for(lambda: len(poses) >= 5 and len(states) >= 5, 15, '/base_pose')
    start = len(poses)
    t0 = poses[-1][0]
    ros.spin_for(1.0)
    window = poses[start:]
    assert len(window) / (window[-1][0] - t0) == pytest.approx(PUBLISH_RATE, rel=0.2)
    msg = window[-1][1]
    assert msg.header.frame_id == 'world'
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in window]
    assert np.all(np.diff(stamps) > 0)
    assert np.median(np.diff(stamps)) == pytest.approx(1.0 / PUBLISH_RATE, rel=0.05)
    # the same sim-time stamps as joint_states (published together)
    mid = window[len(window) // 2][1].header.stamp
    assert (mid.sec, mid.nanosec) in {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in states}
    # no command since the reset: the body stands where config/quadruped.yaml puts it
    # (base_start_position [0, 0, 0.30]; it settles onto its feet, so z is only roughly 0.3)
    p, q = msg.pose.position, msg.pose.orientation
    assert abs(p.x) < 0.05 and abs(p.y) < 0.05, (p.x, p.y)
    assert 0.1 < p.z < 0.35, p.z
    assert math.isclose(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2, 1.0, rel_tol=1e-6)
    assert abs(q.w) > 0.99                      # upright, facing +x


def test_robot_description_reaches_a_late_subscriber(ros):
    # The node published its URDF once, at start-up, long before this subscription existed.
    box = ros.collect(String, '/robot_description', LATCHED)
    ros.wait_for(lambda: box, 15, '/robot_description')
    text = box[0][1].data
    assert '<robot' in text and '<ros2_control' in text
    assert all(f'name="{n}"' in text for n in NAMES)


def test_position_command_moves_a_joint(ros):
    reset(ros)
    states = ros.collect(JointState, '/joint_states')
    pub = ros.publisher(Float64MultiArray, '/forward_position_controller/commands')
    target = Q0.copy()
    target[0] = 0.3                              # lf_hip_abad
    publish_until(ros, pub, command(target),
                  lambda: states and abs(states[-1][1].position[0] - 0.3) < 0.03,
                  timeout=5.0, what='lf_hip_abad to reach 0.3 rad')


def test_effort_command_accelerates_a_joint(ros):
    reset(ros)
    states = ros.collect(JointState, '/joint_states')
    pub = ros.publisher(Float64MultiArray, '/forward_effort_controller/commands')
    effort = np.zeros(N)
    effort[0] = 0.5 * LIMITS.effort[0]           # lf_hip_abad, positive torque
    start = len(states)

    def accelerated():
        window = states[start:]
        return any(m.velocity[0] > 1.0 for _, m in window) and window[-1][1].effort[0] > 0

    publish_until(ros, pub, command(effort), accelerated, timeout=5.0,
                  what='lf_hip_abad to accelerate under torque')
    reset(ros)


def test_bad_commands_are_refused_and_limits_hold(ros, sim):
    reset(ros)
    diag = Diagnostics(ros)
    diag.wait(lambda d: d['accepted'] == 0 and d['refused_total'] == 0, what='fresh counters')
    states = ros.collect(JointState, '/joint_states')
    pos = ros.publisher(Float64MultiArray, '/forward_position_controller/commands')
    eff = ros.publisher(Float64MultiArray, '/forward_effort_controller/commands')
    ros.wait_for(lambda: states, 10, '/joint_states')
    nan, inf = Q0.copy(), Q0.copy()
    nan[1], inf[2] = math.nan, math.inf
    bad = [(pos, nan), (pos, inf), (eff, -inf), (pos, Q0[:5]), (pos, np.r_[Q0, 0.0]),
           (eff, []), (eff, [math.nan] * N)]
    for pub, values in bad:
        pub.publish(command(values))
    d = diag.wait(lambda d: d['refused_total'] >= len(bad), what='7 refusals')
    assert d['refused']['non_finite'] == 4 and d['refused']['wrong_length'] == 3
    assert d['accepted'] == 0
    # Huge values are clamped to the URDF limits, never passed on.
    huge = np.where(np.arange(N) % 2 == 0, 1e9, -1e300)
    publish_until(ros, pos, command(huge), lambda: (diag.latest or {}).get('clamped_commands', 0) >= 1,
                  what='a clamped command')
    ros.spin_for(1.0)
    position_phase = len(states)
    eff.publish(command(np.full(N, 1e12)))
    ros.spin_for(1.0)
    d = diag.wait(lambda d: d['accepted'] >= 2 and d['clamped_commands'] >= 2, what='accepted commands')
    assert d['max_excess'] > 1e8
    assert len(states) > 100
    position_excess = limit_excess(states[:position_phase])
    effort_excess = limit_excess(states[position_phase:])
    # The command is clamped exactly; what remains is PyBullet's soft joint-limit constraint.
    assert position_excess <= POSITION_TOL, f'position mode: {position_excess} rad past a limit'
    assert effort_excess <= EFFORT_TOL, f'effort mode: {effort_excess} rad past a limit'
    efforts = np.array([m.effort for _, m in states[-5:]])
    assert np.all(np.abs(efforts) <= LIMITS.effort + 1e-9)
    assert all(np.isfinite(m.position).all() for _, m in states)
    log = sim.log()
    assert re.search(r'refused: non-finite value at index \d', log), log[-2000:]
    assert 'command size 5 does not match 12 joints' in log
    reset(ros)


def test_standard_diagnostics_name_a_refused_nan_command(ros):
    """/diagnostics (diagnostic_msgs/DiagnosticArray): one status named /sim_node, hardware_id
    quadruped, whose values and message name a refused NaN command."""
    from diagnostic_msgs.msg import DiagnosticArray

    from neuro_locomotion.ros_diagnostics import status_to_dict
    reset(ros)
    arrays = ros.collect(DiagnosticArray, '/diagnostics')

    def ours():
        found = [s for _, m in arrays for s in m.status if s.name == NODE]
        return status_to_dict(found[-1]) if found else None
    before = ros.wait_for(ours, 10, '/diagnostics from sim_node')
    n0 = int(before['refused.non_finite'])
    pos = ros.publisher(Float64MultiArray, '/forward_position_controller/commands')
    nan = Q0.copy()
    nan[4] = math.nan
    pos.publish(command(nan))
    d = ros.wait_for(lambda: (ours() or {}).get('refused.non_finite') == str(n0 + 1) and ours(),
                     10, 'the NaN refusal on /diagnostics')
    status = [s for _, m in arrays for s in m.status if s.name == NODE][-1]
    print(status)
    assert status.hardware_id == 'quadruped'
    assert 'non-finite value at index 4' in d['last_refusal_reason']
    assert 'commands refused' in d['_message'] and 'non-finite' in d['_message']
    assert d['_level'] in (0, 1) and float(d['sim_time']) > 0
    stamp = arrays[-1][1].header.stamp
    assert stamp.sec + stamp.nanosec * 1e-9 > 0          # sim time, as every other message
    reset(ros)


def test_watchdog_holds_posture_then_goes_limp(ros):
    reset(ros)
    diag = Diagnostics(ros)
    states = ros.collect(JointState, '/joint_states')
    pos = ros.publisher(Float64MultiArray, '/forward_position_controller/commands')
    target = Q0.copy()
    target[0] = 0.2
    publish_until(ros, pos, command(target), lambda: (diag.latest or {}).get('state') == 'active',
                  what='an active command')
    d = diag.wait(lambda d: d['state'] == 'watchdog', timeout=5, what='the watchdog')
    assert d['mode'] == 'position' and d['watchdog_engagements'] >= 1
    engaged_after = d['watchdog_engaged_at'] - d['last_command_time']
    assert COMMAND_TIMEOUT < engaged_after < COMMAND_TIMEOUT + 0.05   # simulated seconds
    held = positions(states[-3:])
    ros.spin_for(0.5)
    assert np.allclose(positions(states[-3:]), held, atol=0.02)       # holds its posture

    eff = ros.publisher(Float64MultiArray, '/forward_effort_controller/commands')
    publish_until(ros, eff, command(np.full(N, 1.0)),
                  lambda: (diag.latest or {}).get('mode') == 'effort'
                  and diag.latest['state'] == 'active', what='an active effort command')
    d = diag.wait(lambda d: d['state'] == 'watchdog', timeout=5, what='the effort watchdog')
    assert d['mode'] == 'effort'
    ros.spin_for(0.2)
    assert np.all(np.array(states[-1][1].effort) == 0.0)                 # limp
    reset(ros)


def test_estop_refuses_commands_until_resume(ros):
    reset(ros)
    diag = Diagnostics(ros)
    states = ros.collect(JointState, '/joint_states')
    pos = ros.publisher(Float64MultiArray, '/forward_position_controller/commands')
    answer = ros.call(Trigger, f'{NODE}/estop')
    assert answer.success
    diag.wait(lambda d: d['estop'] and d['state'] == 'estop', what='e-stop state')
    target = Q0.copy()
    target[0] = 0.3
    publish_until(ros, pos, command(target),
                  lambda: diag.latest['refused']['estop'] >= 3, what='refusals during e-stop')
    assert abs(states[-1][1].position[0]) < 0.05            # did not move
    assert ros.call(Trigger, f'{NODE}/resume').success
    diag.wait(lambda d: not d['estop'], what='resume')
    publish_until(ros, pos, command(target),
                  lambda: abs(states[-1][1].position[0] - 0.3) < 0.03, what='moving after resume')
    reset(ros)


def test_publish_rate_is_live_and_bad_values_are_refused(ros):
    states = ros.collect(JointState, '/joint_states')
    ros.wait_for(lambda: states, 15, '/joint_states')
    try:
        result, = ros.set_parameters(NODE, publish_rate=40.0)
        assert result.successful, result.reason
        ros.spin_for(0.3)
        start = len(states)
        ros.spin_for(1.5)
        window = states[start:]
        rate = (len(window) - 1) / (window[-1][0] - window[0][0])
        assert rate == pytest.approx(40.0, rel=0.2)
        for bad in (math.nan, 5000.0, 0.0, -1.0):
            result, = ros.set_parameters(NODE, publish_rate=bad)
            assert not result.successful
            assert result.reason
        result, = ros.set_parameters(NODE, robot='human')
        assert not result.successful and 'read-only' in result.reason.lower()
        result, = ros.set_parameters(NODE, publish_rate='fast')
        assert not result.successful
        assert ros.get_parameters(NODE, 'publish_rate') == [40.0]
        # The other live parameters, as one atomic batch (same values: no effect on other tests).
        results = ros.set_parameters(NODE, position_gain=0.3, velocity_gain=1.0,
                                     command_timeout=COMMAND_TIMEOUT, real_time_factor=1.0)
        assert all(r.successful for r in results), [r.reason for r in results]
    finally:
        result, = ros.set_parameters(NODE, publish_rate=PUBLISH_RATE)
        assert result.successful


def test_clock_rate_is_live_and_decoupled_from_joint_states(ros):
    clocks = ros.collect(Clock, '/clock', LATCHED)
    states = ros.collect(JointState, '/joint_states')
    try:
        result, = ros.set_parameters(NODE, clock_rate=20.0)
        assert result.successful, result.reason
        ros.spin_for(0.3)
        c0, s0 = len(clocks), len(states)
        ros.spin_for(1.5)
        t = [m.clock.sec + m.clock.nanosec * 1e-9 for _, m in clocks[c0:]]
        clock_hz = (len(t) - 1) / (t[-1] - t[0])
        state_hz = (len(states) - s0) / 1.5
        print(f'/clock {clock_hz:.1f} Hz (sim), joint_states {state_hz:.1f} Hz (wall)')
        assert clock_hz == pytest.approx(20.0, rel=0.1)
        assert state_hz == pytest.approx(PUBLISH_RATE, rel=0.2)
        result, = ros.set_parameters(NODE, clock_rate=-1.0)
        assert not result.successful and result.reason
    finally:
        result, = ros.set_parameters(NODE, clock_rate=0.0)
        assert result.successful


def _stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


class _Answerer:
    """The test as a lock-step controller: answers each joint_states with a position command
    (``stamped``: echoing the stamp in layout.dim[0].label, as the controller nodes do; else an
    unlabelled ros2_control-style command; ``values`` may be NaN). ``on`` False: stays silent."""

    def __init__(self, ros, stamped=True):
        self.on, self.stamped, self.values = True, stamped, Q0
        self.stamps = []
        self.pub = ros.publisher(Float64MultiArray, '/forward_position_controller/commands')
        self.sub = ros.node.create_subscription(JointState, '/joint_states', self._answer, 10)

    def _answer(self, msg) -> None:
        self.stamps.append(_stamp_ns(msg))
        if self.on:
            out = command(self.values)
            if self.stamped:
                out.layout.dim = [MultiArrayDimension(label=str(_stamp_ns(msg)), size=N,
                                                      stride=N)]
            self.pub.publish(out)


def test_lockstep_waits_for_each_answer(ros):
    """lockstep on (live): each state is answered before the physics steps on; silence stalls
    the clock for lockstep_timeout_s, then one miss is counted and the body runs free."""
    reset(ros)
    diag = Diagnostics(ros)
    ctrl = _Answerer(ros)
    timeout = 0.4
    try:
        results = ros.set_parameters(NODE, lockstep=True, lockstep_timeout_s=timeout)
        assert all(r.successful for r in results), [r.reason for r in results]
        d0 = diag.wait(lambda d: d['lockstep'] and d['lockstep_answered'] > 0, what='lock-step')
        ros.spin_for(1.0)
        d1 = diag.wait(lambda d: d['lockstep_answered'] > d0['lockstep_answered'] + 50)
        # 100 Hz states, each 10 ms of sim time after the last: none skipped, none missed
        steps = np.diff(ctrl.stamps[-60:])
        assert np.all(steps == 10_000_000), steps
        assert d1['lockstep_misses'] == d0['lockstep_misses'] and d1['refused_total'] == 0
        assert d1['lockstep_wait_ms']['p50'] < 50.0

        # a refused answer (NaN) still answers: counted as refused, no miss, the body holds
        ctrl.values = np.full(N, math.nan)
        ros.spin_for(0.5)
        d2 = diag.wait(lambda d: d['refused']['non_finite'] >= 20)
        assert d2['lockstep_misses'] == d1['lockstep_misses']

        # a plain (unlabelled) command is an answer too: a ros2_control controller in lock-step
        ctrl.values, ctrl.stamped = Q0, False
        n = len(ctrl.stamps)
        ros.spin_for(0.5)
        assert len(ctrl.stamps) - n >= 20
        assert diag.wait()['lockstep_misses'] == d1['lockstep_misses']

        # silence: the clock stops (one state, no step) until the timeout, then a miss and free run
        ctrl.on = False
        silent_from = len(ctrl.stamps)
        ros.wait_for(lambda: len(ctrl.stamps) > silent_from, 5, 'an unanswered state')
        ros.spin_for(0.8 * timeout)
        assert len(ctrl.stamps) - silent_from <= 2, np.diff(ctrl.stamps[silent_from - 1:])
        d3 = diag.wait(lambda d: d['lockstep_misses'] == d1['lockstep_misses'] + 1, 5, 'a miss')
        n = len(ctrl.stamps)
        ros.spin_for(0.5)
        assert len(ctrl.stamps) - n >= 30                   # free run at 100 Hz
        assert diag.wait()['lockstep_misses'] == d3['lockstep_misses']
        ctrl.on, ctrl.stamped = True, True                 # back in step at the next answer
        ros.spin_for(0.5)
        d4 = diag.wait(lambda d: d['lockstep_answered'] > d3['lockstep_answered'] + 20)
        assert d4['lockstep_misses'] == d3['lockstep_misses']
    finally:
        results = ros.set_parameters(NODE, lockstep=False)
        assert all(r.successful for r in results)
        ros.node.destroy_subscription(ctrl.sub)
    reset(ros)


@pytest.mark.parametrize('override, reason', [
    ('command_timeout:=.nan', 'command_timeout out of range'),
    ('robot:=dog', "robot: 'dog' is not one of"),
])
def test_bad_start_parameters_exit_with_a_reason(override, reason):
    proc = subprocess.run([sys.executable, '-m', 'locomotion_sim.node', '--ros-args',
                           '--params-file', str(config_file('quadruped')), '-p', override],
                          capture_output=True, text=True, timeout=60, env=ros_env(), cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert reason in proc.stderr and proc.stderr.startswith('sim_node: error: /sim_node: ')
    assert 'Traceback' not in proc.stderr
