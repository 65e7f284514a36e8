"""Multi-rate quadruped control (``servo.period_s``): the pattern (network, decoder, IK, heading,
posture reflex) every ``control_period_s``, the joint PD servo alone every servo period in
between (real PyBullet body, real spiking network, no mocks).

- the parameters are checked (servo.mode pd, a whole multiple, the range);
- ``servo()`` computes kp (q* − q) − kd q̇ + feedforward, checked against a hand computation,
  held and extrapolated, and gives the pattern step's own torques for the same joint reading;
- ``servo()`` refuses a wrong length, a 2-D array or a non-finite reading with a ValueError and
  changes nothing; ``World.apply`` refuses a non-finite effort (nothing non-finite reaches
  PyBullet);
- the runner calls the servo at every physics step between pattern steps; the trot walks.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from locomotion_sim.world import World
from neuro_locomotion.controllers import make_controller
from neuro_locomotion.params import ConfigError
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import body_info, run
from neuro_locomotion.types import EFFORT, Command

MULTI = {'control_period_s': 0.004, 'servo.period_s': 0.001}


def _setup(params, gait='trot', seconds=1.5):
    """A cpg controller on a real body, stepped as the runner does for ``seconds`` (pattern
    steps with the servo in between), so the body is mid-gait."""
    world = World('quadruped')
    body = body_info(world, config_file('quadruped'))
    ctrl = make_controller('cpg', body, gait=gait, params=params)
    world.params.apply(ctrl.initial_state())
    world.reset(0)
    ctrl.reset(world.observe())
    period, n = ctrl.control_period_s, int(round(ctrl.control_period_s / world.dt))
    for _ in range(int(round(seconds / period))):
        obs = world.observe(imu=False)
        world.apply(ctrl.step(obs, period))
        world.step(1)
        for _ in range(n - 1):
            world.apply_effort(ctrl.servo(*world.joint_state()))
            world.step(1)
    return world, ctrl


def _hand_pd(ctrl, q, qd, targets):
    """kp (q* − q) − kd q̇ + ff per output joint, in plain Python from the controller's
    attributes (targets and feedforward per leg and joint, leg-major)."""
    order = ctrl.decoder.output_order
    ff = ctrl._ff.reshape(12)
    out = []
    for k in range(12):
        m = order[k]
        out.append(ctrl.kp[k] * (targets[m] - q[k]) - ctrl.kd[k] * qd[k] + ff[m])
    return np.array(out)


@pytest.mark.parametrize('params, reason', [
    ({'control_period_s': 0.004, 'servo.period_s': 0.001, 'servo.mode': 'position'},
     'needs servo.mode pd'),
    ({'control_period_s': 0.004, 'servo.period_s': 0.003}, 'whole multiple'),
    ({'control_period_s': 0.002, 'servo.period_s': 0.004}, 'whole multiple'),
    ({'control_period_s': 0.004, 'servo.period_s': 0.05}, 'servo.period_s'),
    ({'control_period_s': 0.004, 'servo.period_s': -0.001}, 'servo.period_s'),
    ({'control_period_s': 0.004, 'servo.period_s': float('nan')}, 'servo.period_s'),
    ({'control_period_s': 0.004, 'servo.period_s': 0.001, 'servo.between_ticks': 'spline'},
     'servo.between_ticks'),
])
def test_bad_multirate_parameters_are_refused(params, reason):
    with World('quadruped') as world:
        body = body_info(world, config_file('quadruped'))
        with pytest.raises(ConfigError, match=reason):
            make_controller('cpg', body, gait='trot', params=params)


def test_ros_side_builds_refuse_multirate_control():
    """The nodes (cpg_node, the lock-step graph) build through ``build_controller`` and step
    once per control tick from /joint_states: nothing would call the servo between ticks, so a
    multi-rate controller is refused there with the reason (the runner accepts it)."""
    from neuro_locomotion.graph import build_controller
    with World('quadruped') as world:
        body = body_info(world, config_file('quadruped'))
        with pytest.raises(ConfigError, match='runs only in the lock-step runner'):
            build_controller('cpg', body, 'trot', 0.0, MULTI)
        assert build_controller('cpg', body, 'trot', 0.0, {}).servo_period_s is None


def test_default_and_equal_periods_have_no_separate_servo():
    with World('quadruped') as world:
        body = body_info(world, config_file('quadruped'))
        for params in (None, {'control_period_s': 0.004},
                       {'control_period_s': 0.001, 'servo.period_s': 0.001}):
            ctrl = make_controller('cpg', body, gait='trot', params=params)
            assert ctrl.servo_period_s is None
            with pytest.raises(ValueError, match='servo.period_s'):
                ctrl.servo(np.zeros(12), np.zeros(12))


def test_hold_servo_matches_the_hand_computed_pd_law_and_the_pattern_step():
    world, ctrl = _setup(MULTI)
    try:
        q, qd = world.joint_state()
        # one pattern step: its torques at this joint reading, then the servo at the same one
        obs = world.observe(imu=False)
        assert np.array_equal(obs.position, q) and np.array_equal(obs.velocity, qd)
        step_tau = ctrl.step(obs, ctrl.control_period_s).values
        servo_tau = ctrl.servo(q, qd)
        # the same expression on the same numbers: bit for bit
        assert np.array_equal(servo_tau, step_tau)
        targets = ctrl.decoder.last_leg_targets.reshape(12)
        assert np.allclose(servo_tau, _hand_pd(ctrl, q, qd, targets), rtol=0,
                           atol=1e-12)
        # a different reading: the PD law on it, same targets and feedforward (held)
        q2, qd2 = q + 0.01 * np.arange(12), qd - 0.3
        tau2 = ctrl.servo(q2, qd2)
        assert np.allclose(tau2, _hand_pd(ctrl, q2, qd2, targets), rtol=0, atol=1e-12)
        assert np.allclose(tau2 - servo_tau, -ctrl.kp * 0.01 * np.arange(12)
                           + ctrl.kd * 0.3, rtol=0, atol=1e-9)
        # the body is mid-trot: real torques (weight support, swing legs off target)
        assert np.abs(step_tau).max() > 1.0
    finally:
        world.close()


def test_extrapolating_servo_continues_the_last_pattern_step():
    world, ctrl = _setup(dict(MULTI, **{'servo.between_ticks': 'extrapolate'}))
    try:
        period = ctrl.control_period_s
        prev = ctrl.decoder.last_leg_targets.reshape(12).copy()
        obs = world.observe(imu=False)
        ctrl.step(obs, period)
        now = ctrl.decoder.last_leg_targets.reshape(12).copy()
        assert np.abs(now - prev).max() > 1e-3       # the targets moved over one pattern step
        lo, hi = ctrl.decoder._lo.reshape(12), ctrl.decoder._hi.reshape(12)
        q, qd = world.joint_state()
        for j in (1, 2, 3):         # the servo ticks at 1, 2, 3 ms after the pattern tick
            s = j * 0.001 / period
            want = np.clip(now + s * (now - prev), lo, hi)
            got = ctrl.servo(q, qd)
            assert np.allclose(got, _hand_pd(ctrl, q, qd, want), rtol=0, atol=1e-12)
        # the hold servo would give the unextrapolated targets: the two differ
        assert not np.allclose(got, _hand_pd(ctrl, q, qd, now), rtol=0, atol=1e-6)
    finally:
        world.close()


@pytest.mark.parametrize('position, velocity, reason', [
    (np.zeros(11), np.zeros(12), 'one joint position and one velocity per joint'),
    (np.zeros(12), np.zeros(13), 'one joint position and one velocity per joint'),
    (np.zeros((2, 12)), np.zeros(12), '1-D'),
    (np.r_[np.zeros(11), math.nan], np.zeros(12), 'not finite'),
    (np.zeros(12), np.r_[math.inf, np.zeros(11)], 'not finite'),
    ([0.0] * 12, [0.0] * 11 + [-math.inf], 'not finite'),
])
@pytest.mark.parametrize('mode', ['hold', 'extrapolate'])
def test_servo_refuses_a_bad_reading_and_changes_nothing(position, velocity, reason, mode):
    world, ctrl = _setup(dict(MULTI, **{'servo.between_ticks': mode}), seconds=0.2)
    try:
        q, qd = world.joint_state()
        arenas = (ctrl._ca.copy(), ctrl._sa.copy(), ctrl.decoder._arena.copy())
        with pytest.raises(ValueError, match=reason):
            ctrl.servo(position, velocity)
        assert all(np.array_equal(a, b) for a, b in
                   zip(arenas, (ctrl._ca, ctrl._sa, ctrl.decoder._arena)))
        assert np.all(np.isfinite(ctrl.servo(q, qd)))
        # the last line of defence: a non-finite effort never reaches PyBullet
        bad = np.zeros(12)
        bad[3] = math.nan
        with pytest.raises(ValueError, match='non-finite'):
            world.apply(Command(EFFORT, bad))
        with pytest.raises(ValueError, match='non-finite'):
            world.apply_effort(bad)
        with pytest.raises(ValueError, match='does not match'):
            world.apply_effort(np.zeros(11))
    finally:
        world.close()


@pytest.mark.parametrize('pattern', [0.002, 0.004])
def test_runner_calls_the_servo_between_pattern_steps_and_the_trot_walks(pattern, monkeypatch):
    import neuro_locomotion.runner as runner
    calls = {'step': [], 'servo': 0, 'finite': True}
    make = runner.make_controller

    def counting(*a, **kw):     # count the calls of the real controller (it runs unchanged)
        ctrl = make(*a, **kw)
        step, servo = ctrl.step, ctrl.servo

        def counted_step(obs, dt):
            calls['step'].append(obs.time)
            return step(obs, dt)

        def counted_servo(q, qd):
            calls['servo'] += 1
            tau = servo(q, qd)
            calls['finite'] &= bool(np.all(np.isfinite(tau)))
            return tau
        ctrl.step, ctrl.servo = counted_step, counted_servo
        return ctrl

    monkeypatch.setattr(runner, 'make_controller', counting)
    m = run('quadruped', 'cpg', duration=4.0, gait='trot',
            params={'control_period_s': pattern, 'servo.period_s': 0.001}).metrics
    n = int(round(pattern / 0.001))
    assert m['control_period_s'] == pattern and m['servo_period_s'] == 0.001
    assert len(calls['step']) == 4000 // n
    assert calls['servo'] == 4000 - 4000 // n       # every other physics step
    assert np.allclose(np.diff(calls['step']), pattern)
    assert calls['finite'] and m['refused_commands'] == 0
    assert not m['fell'] and m['forward_m'] > 1.0


@pytest.mark.parametrize('mode', ['hold', 'extrapolate'])
def test_runner_servo_loop_equals_a_plain_per_step_loop(mode):
    """The runner moves the body exactly as a plain loop does: per physics step either the pattern step (sensed as the runner senses) or
    joint_state -> servo -> apply_effort, then one step. Bit for bit, 1.5 s of trot."""
    params = dict(MULTI, **{'servo.between_ticks': mode})
    result = run('quadruped', 'cpg', duration=1.5, gait='trot', params=params)
    world = World('quadruped')
    try:
        body = body_info(world, config_file('quadruped'))
        ctrl = make_controller('cpg', body, gait='trot', params=params)
        world.params.apply(ctrl.initial_state())
        world.reset(0)
        ctrl.reset(world.observe())
        want = {name: name in ctrl.sensors for name in ('joints', 'base', 'contacts', 'imu')}
        positions = []
        for k in range(1500):
            if k % 10 == 0:
                positions.append(world.base_position())
            if k % 4 == 0:
                world.apply(ctrl.step(world.observe(**want), 0.004))
            else:
                world.apply_effort(ctrl.servo(*world.joint_state()))
            world.step(1)
        runner_positions = np.asarray(result.trace.base_position)
        assert runner_positions.shape == (150, 3)
        assert np.array_equal(np.asarray(positions), runner_positions)
        assert result.metrics['forward_m'] == float(world.base_position()[0]
                                                    - world.start_position[0])
        assert result.metrics['forward_m'] > 0.2
    finally:
        world.close()

