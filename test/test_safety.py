"""CommandGuard: refusal, clamping, watchdog, e-stop, mode switching, diagnostics, throttle."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from neuro_locomotion.safety import (
    REFUSED_ESTOP, REFUSED_LENGTH, REFUSED_MALFORMED, REFUSED_MODE, REFUSED_NON_FINITE,
    STATE_ACTIVE, STATE_ESTOP, STATE_NO_COMMAND, STATE_RESUMED, STATE_WATCHDOG,
    CommandGuard, LogThrottle)
from neuro_locomotion.types import EFFORT, POSITION, Command

JOINTS = tuple(f'{leg}_{j}' for leg in ('lf', 'rf', 'lh', 'rh') for j in ('hip', 'thigh', 'knee'))
N = len(JOINTS)
LOWER = np.tile([-0.8, -1.0, -2.7], 4)
UPPER = np.tile([0.8, 2.5, -0.9], 4)
EFFORT_LIM = np.tile([20.0, 30.0, 40.0], 4)
HOME = np.tile([0.0, 0.8, -1.5], 4)
TIMEOUT = 0.1


def make_guard(**kw):
    args = dict(hold_posture=HOME)
    args.update(kw)
    return CommandGuard(JOINTS, LOWER, UPPER, EFFORT_LIM, TIMEOUT, **args)


def within_limits(mode, values):
    values = np.asarray(values)
    if not np.isfinite(values).all():
        return False
    if mode == POSITION:
        return bool(((values >= LOWER) & (values <= UPPER)).all())
    return bool((np.abs(values) <= EFFORT_LIM).all())


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_non_finite_refused_with_index_and_joint(bad):
    g = make_guard()
    v = HOME.copy()
    v[3] = bad
    verdict = g.offer(POSITION, v, 0.0)
    assert not verdict.accepted and not verdict
    assert verdict.category == REFUSED_NON_FINITE
    assert verdict.reason.startswith('non-finite value at index 3 (rf_hip)')
    assert verdict.values is None
    assert g.diagnostics()['refused'][REFUSED_NON_FINITE] == 1
    assert g.diagnostics()['accepted'] == 0


def test_several_non_finite_reports_first_and_count():
    g = make_guard()
    v = HOME.copy()
    v[[2, 5, 7]] = [math.nan, math.inf, -math.inf]
    verdict = g.offer(EFFORT, v, 0.0)
    assert verdict.reason == 'non-finite value at index 2 (lf_knee): nan and 2 more'


@pytest.mark.parametrize('size', [0, 1, N - 1, N + 1, 3 * N])
def test_wrong_length_refused(size):
    g = make_guard()
    verdict = g.offer(POSITION, np.zeros(size), 0.0)
    assert not verdict.accepted
    assert verdict.category == REFUSED_LENGTH
    assert verdict.reason == f'command size {size} does not match {N} joints'


def test_reason_text_matches_brief_examples():
    g = make_guard()
    assert g.offer(POSITION, np.zeros(11), 0.0).reason == \
        'command size 11 does not match 12 joints'
    v = HOME.copy()
    v[2] = math.nan
    assert g.offer(POSITION, v, 0.0).reason.startswith('non-finite value at index 2 (lf_knee)')


@pytest.mark.parametrize('values', ['abc', None, [[1.0] * N], 3.0, {'a': 1}, [10 ** 400] * N,
                                    [object()] * N])
def test_malformed_refused(values):
    g = make_guard()
    verdict = g.offer(POSITION, values, 0.0)
    assert not verdict.accepted
    assert verdict.category == REFUSED_MALFORMED


@pytest.mark.parametrize('mode', ['velocity', '', None, 3])
def test_unknown_mode_refused(mode):
    g = make_guard()
    verdict = g.offer(mode, HOME, 0.0)
    assert verdict.category == REFUSED_MODE
    assert g.diagnostics()['refused'][REFUSED_MODE] == 1


def test_disallowed_mode_refused():
    g = make_guard(allowed_modes=(POSITION,))
    assert g.offer(EFFORT, np.zeros(N), 0.0).category == REFUSED_MODE
    assert g.offer(POSITION, HOME, 0.0).accepted


def test_valid_passes_unchanged():
    g = make_guard()
    cmd = HOME + 0.1
    verdict = g.offer(POSITION, cmd, 0.0)
    assert verdict.accepted and verdict.reason == '' and verdict.clamped == 0
    np.testing.assert_array_equal(verdict.values, cmd)
    mode, values = g.current(0.01)
    assert mode == POSITION
    np.testing.assert_array_equal(values, cmd)
    # exactly at the limits is not clamping
    assert g.offer(POSITION, UPPER, 0.02).clamped == 0
    assert g.offer(EFFORT, -EFFORT_LIM, 0.03).clamped == 0
    assert g.diagnostics()['clamped_commands'] == 0


def test_offer_command_object():
    g = make_guard()
    assert g.offer_command(Command(POSITION, HOME), 0.0).accepted


def test_caller_mutation_does_not_leak():
    g = make_guard()
    cmd = HOME.copy()
    g.offer(POSITION, cmd, 0.0)
    cmd[:] = 99.0
    _, out = g.current(0.0)
    out[:] = -99.0
    np.testing.assert_array_equal(g.current(0.0)[1], HOME)


# ---------------------------------------------------------------- clamping
def test_huge_positions_clamped_and_largest_excess_reported():
    g = make_guard()
    cmd = HOME.copy()
    cmd[0] = 1e6          # lf_hip, upper 0.8
    cmd[4] = -5.0         # rf_thigh, lower -1.0 -> excess 4.0
    verdict = g.offer(POSITION, cmd, 0.0)
    assert verdict.accepted
    assert verdict.clamped == 2
    assert verdict.max_excess == pytest.approx(1e6 - 0.8)
    assert verdict.max_excess_joint == 'lf_hip'
    assert verdict.values[0] == UPPER[0] and verdict.values[4] == LOWER[4]
    np.testing.assert_array_equal(np.delete(verdict.values, [0, 4]), np.delete(HOME, [0, 4]))
    d = g.diagnostics()
    assert d['clamped_commands'] == 1 and d['clamped_values'] == 2
    assert d['max_excess'] == pytest.approx(1e6 - 0.8) and d['max_excess_joint'] == 'lf_hip'
    assert within_limits(*g.current(0.0))


def test_efforts_clamped_symmetrically():
    g = make_guard()
    cmd = np.zeros(N)
    cmd[1] = -1e300
    cmd[2] = 41.0          # limit 40 -> excess 1
    verdict = g.offer(EFFORT, cmd, 0.0)
    assert verdict.clamped == 2
    assert verdict.values[1] == -30.0 and verdict.values[2] == 40.0
    assert verdict.max_excess_joint == 'lf_thigh'
    # the running maximum keeps the largest excess ever seen
    g.offer(EFFORT, np.full(N, 0.0) + np.r_[45.0, np.zeros(N - 1)], 0.01)
    assert g.diagnostics()['max_excess'] == pytest.approx(1e300)
    assert g.diagnostics()['clamped_commands'] == 2


# ---------------------------------------------------------------- last valid kept
def test_last_valid_command_kept_after_refusals():
    g = make_guard()
    good = HOME + 0.05
    g.offer(POSITION, good, 0.0)
    bad = good.copy()
    bad[0] = math.nan
    g.offer(POSITION, bad, 0.01)
    g.offer(POSITION, np.zeros(3), 0.02)
    g.offer('velocity', good, 0.03)
    mode, values = g.current(0.04)
    assert mode == POSITION
    np.testing.assert_array_equal(values, good)
    d = g.diagnostics()
    assert d['accepted'] == 1 and d['refused_total'] == 3
    assert d['last_refusal_reason'].startswith("command mode 'velocity'")
    # refusals do not refresh the watchdog: the last valid command was at t=0
    g.current(TIMEOUT + 0.001)
    assert g.state == STATE_WATCHDOG


# ---------------------------------------------------------------- watchdog
def test_before_any_command_output_is_safe():
    g = make_guard()
    assert g.state == STATE_NO_COMMAND
    mode, values = g.current(0.0)
    assert mode == POSITION
    np.testing.assert_array_equal(values, HOME)
    g2 = make_guard(initial_mode=EFFORT)
    mode, values = g2.current(0.0)
    assert mode == EFFORT and not values.any()
    assert g.diagnostics()['level'] == 1


def test_watchdog_position_holds_posture_measured_at_engagement():
    g = make_guard()
    cmd = HOME + 0.2
    g.offer(POSITION, cmd, 1.0)
    measured = HOME + 0.1
    # exactly at the timeout: still active (strict >)
    mode, values = g.current(1.0 + TIMEOUT, posture=measured - 0.05)
    assert g.state == STATE_ACTIVE
    np.testing.assert_array_equal(values, cmd)
    mode, values = g.current(1.0 + TIMEOUT + 1e-6, posture=measured)
    assert g.state == STATE_WATCHDOG and mode == POSITION
    np.testing.assert_array_equal(values, measured)
    # later postures do not move the hold target
    g.update_posture(measured + 0.3)
    np.testing.assert_array_equal(g.current(5.0)[1], measured)
    d = g.diagnostics(now=5.0)
    assert d['watchdog_engaged'] and d['watchdog_engagements'] == 1
    assert d['watchdog_engaged_at'] == pytest.approx(1.0 + TIMEOUT + 1e-6)
    assert d['command_age'] == pytest.approx(4.0)
    assert d['level'] == 1


def test_watchdog_time_to_safe_state_with_fixed_step():
    """With a 1 ms step, the watchdog engages on the first step whose age exceeds the timeout."""
    g = make_guard()
    dt = 0.001
    g.offer(POSITION, HOME + 0.2, 0.0)
    k = 1
    while g.current(k * dt, posture=HOME)[1][0] != HOME[0] and k < 10_000:
        k += 1
    assert g.state == STATE_WATCHDOG
    assert k * dt > TIMEOUT
    assert (k - 1) * dt <= TIMEOUT + 1e-12


def test_watchdog_hold_posture_fallbacks():
    # no measured posture: hold the last valid position command
    g = make_guard()
    g.offer(POSITION, HOME + 0.2, 0.0)
    np.testing.assert_array_equal(g.current(1.0)[1], HOME + 0.2)
    # invalid measured postures are ignored and counted
    g = make_guard()
    g.offer(POSITION, HOME + 0.2, 0.0)
    assert g.update_posture(HOME + 0.1)
    bad = HOME.copy()
    bad[0] = math.nan
    assert not g.update_posture(bad)
    assert not g.update_posture(np.zeros(2))
    np.testing.assert_array_equal(g.current(1.0)[1], HOME + 0.1)
    assert g.diagnostics()['rejected_postures'] == 2
    # a measured posture outside the limits is clamped before it is held
    g = make_guard()
    g.offer(POSITION, HOME, 0.0)
    out = g.current(1.0, posture=np.full(N, 10.0))[1]
    np.testing.assert_array_equal(out, UPPER)


def test_watchdog_effort_goes_limp():
    g = make_guard()
    g.offer(EFFORT, np.full(N, 5.0), 0.0)
    mode, values = g.current(TIMEOUT / 2)
    assert mode == EFFORT and (values == 5.0).all()
    mode, values = g.current(TIMEOUT + 0.001, posture=HOME)
    assert mode == EFFORT
    assert not values.any()
    assert g.state == STATE_WATCHDOG


def test_watchdog_disengages_on_new_valid_command_only():
    g = make_guard()
    g.offer(POSITION, HOME, 0.0)
    g.current(1.0)
    assert g.state == STATE_WATCHDOG
    bad = HOME.copy()
    bad[0] = math.inf
    g.offer(POSITION, bad, 1.1)
    g.current(1.1)
    assert g.state == STATE_WATCHDOG
    new = HOME - 0.1
    g.offer(POSITION, new, 1.2)
    mode, values = g.current(1.25)
    assert g.state == STATE_ACTIVE
    np.testing.assert_array_equal(values, new)
    assert not g.diagnostics()['watchdog_engaged']
    g.current(2.0)
    assert g.diagnostics()['watchdog_engagements'] == 2


def test_clock_going_backwards_restarts_timeout():
    g = make_guard()
    g.offer(POSITION, HOME + 0.1, 100.0)
    g.current(0.0)                     # sim reset: clock back to 0
    assert g.state == STATE_ACTIVE
    g.current(TIMEOUT / 2)
    assert g.state == STATE_ACTIVE
    g.current(TIMEOUT + 0.01)
    assert g.state == STATE_WATCHDOG
    assert g.diagnostics()['clock_jumps'] == 1


def test_watchdog_can_be_disabled():
    g = CommandGuard(JOINTS, LOWER, UPPER, EFFORT_LIM, math.inf, HOME)
    g.offer(POSITION, HOME + 0.1, 0.0)
    g.current(1e9)
    assert g.state == STATE_ACTIVE
    json.dumps(g.diagnostics(), allow_nan=False)


# ---------------------------------------------------------------- e-stop
def test_estop_latches_and_resume_requires_new_command():
    g = make_guard()
    g.offer(POSITION, HOME + 0.2, 0.0)
    g.estop(0.05, reason='operator')
    mode, values = g.current(0.05, posture=HOME + 0.15)
    # the posture at the moment of the e-stop is held (the one given here came after it)
    assert g.state == STATE_ESTOP and mode == POSITION
    np.testing.assert_array_equal(values, HOME + 0.2)   # no posture measured before: last cmd
    verdict = g.offer(POSITION, HOME, 0.06)
    assert not verdict.accepted and verdict.category == REFUSED_ESTOP
    assert 'operator' in verdict.reason
    d = g.diagnostics()
    assert d['estop'] and d['estop_reason'] == 'operator' and d['level'] == 2
    # the watchdog timing out during an e-stop changes nothing
    np.testing.assert_array_equal(g.current(10.0)[1], HOME + 0.2)
    g.resume(10.0)
    assert g.state == STATE_RESUMED and not g.estopped
    # the pre-stop command is not replayed
    np.testing.assert_array_equal(g.current(10.01)[1], HOME + 0.2)
    assert g.last_command is None
    assert g.offer(POSITION, HOME, 10.02).accepted
    np.testing.assert_array_equal(g.current(10.03)[1], HOME)
    assert g.state == STATE_ACTIVE


def test_estop_holds_measured_posture_and_effort_goes_limp():
    g = make_guard()
    g.offer(POSITION, HOME + 0.2, 0.0)
    g.update_posture(HOME + 0.05)
    g.estop(0.01)
    np.testing.assert_array_equal(g.current(0.02)[1], HOME + 0.05)
    g = make_guard()
    g.offer(EFFORT, np.full(N, 3.0), 0.0)
    g.estop(0.01)
    mode, values = g.current(0.01)
    assert mode == EFFORT and not values.any()
    assert g.offer(EFFORT, np.full(N, 3.0), 0.02).category == REFUSED_ESTOP


def test_estop_is_idempotent_and_keeps_first_reason():
    g = make_guard()
    g.estop(0.0, 'first')
    g.estop(1.0, 'second')
    assert g.diagnostics()['estop_reason'] == 'first'
    g.resume(2.0)
    g.resume(3.0)
    assert not g.estopped
    g.estop()                       # time is optional for the e-stop
    assert g.estopped and g.diagnostics()['watchdog_engaged_at'] is None
    g.resume()
    assert not g.estopped


# ---------------------------------------------------------------- mode switching
def test_mode_switching_follows_last_valid_command():
    g = make_guard()
    g.offer(EFFORT, np.full(N, 2.0), 0.0)
    assert g.current(0.0)[0] == EFFORT
    g.offer(POSITION, HOME, 0.01)
    mode, values = g.current(0.01)
    assert mode == POSITION
    np.testing.assert_array_equal(values, HOME)
    # the watchdog's safe output follows the current mode
    assert g.current(1.0)[0] == POSITION
    g.offer(EFFORT, np.full(N, 1.0), 2.0)
    assert g.current(3.0)[0] == EFFORT and not g.current(3.0)[1].any()
    # a refused command in another mode does not switch
    g.offer(POSITION, np.zeros(2), 3.1)
    assert g.current(3.1)[0] == EFFORT
    assert g.diagnostics()['mode_switches'] == 2


# ---------------------------------------------------------------- diagnostics
def test_diagnostics_counts_and_json():
    g = make_guard()
    g.offer(POSITION, HOME, 0.0)
    g.offer(POSITION, HOME * 100, 0.01)
    g.offer(POSITION, np.zeros(1), 0.02)
    g.offer(POSITION, np.full(N, math.nan), 0.03)
    g.offer(POSITION, np.full(N, math.nan), 0.04)
    g.offer('torque', HOME, 0.05)
    d = g.diagnostics()
    assert d['accepted'] == 2
    assert d['refused'] == {'estop': 0, 'bad_mode': 1, 'malformed': 0, 'wrong_length': 1,
                            'non_finite': 2, 'joint_names': 0}
    assert d['refused_total'] == 4
    assert d['clamped_commands'] == 1
    assert d['state'] == STATE_ACTIVE and d['mode'] == POSITION and d['level'] == 0
    assert d['last_command_time'] == 0.01
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d


def test_reset_clears_counters_and_sets_hold():
    g = make_guard()
    g.offer(POSITION, np.zeros(1), 0.0)
    g.offer(POSITION, HOME, 0.0)
    g.reset(posture=HOME - 0.1)
    d = g.diagnostics()
    assert d['accepted'] == 0 and d['refused_total'] == 0 and d['state'] == STATE_NO_COMMAND
    np.testing.assert_array_equal(g.current(0.0)[1], HOME - 0.1)


@pytest.mark.parametrize('kw, match', [
    (dict(lower=LOWER[:3]), 'lower has 3 entries'),
    (dict(upper=LOWER - 1), 'lower > upper'),
    (dict(effort_limit=-EFFORT_LIM), 'effort_limit'),
    (dict(command_timeout=0.0), 'command_timeout'),
    (dict(command_timeout=math.nan), 'command_timeout'),
    (dict(hold_posture=np.full(N, math.nan)), 'hold_posture'),
    (dict(lower=np.full(N, math.nan)), 'NaN'),
])
def test_constructor_validates(kw, match):
    args = dict(joint_names=JOINTS, lower=LOWER, upper=UPPER, effort_limit=EFFORT_LIM,
                command_timeout=TIMEOUT, hold_posture=HOME)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        CommandGuard(**args)


def test_non_finite_time_is_a_programming_error():
    g = make_guard()
    with pytest.raises(ValueError):
        g.offer(POSITION, HOME, math.nan)
    with pytest.raises(ValueError):
        g.current(math.inf)


def test_continuous_joint_limits():
    g = CommandGuard(['wheel'], [-math.inf], [math.inf], [1.0], 0.5)
    assert g.offer(POSITION, [1e12], 0.0).clamped == 0
    np.testing.assert_array_equal(g.current(1.0)[1], [1e12])   # held last command
    # the default hold posture is 0 clipped to the limits
    g = CommandGuard(['slider'], [1.0], [math.inf], [1.0], 0.5)
    np.testing.assert_array_equal(g.current(0.0)[1], [1.0])


# ---------------------------------------------------------------- throttle
def test_log_throttle_one_message_per_key_per_period():
    t = LogThrottle(period=1.0)
    assert t.message('non_finite', 0.0, 'a') == 'a'
    assert t.message('non_finite', 0.5, 'a') is None
    assert t.message('non_finite', 0.9, 'a') is None
    assert t.message('wrong_length', 0.9, 'b') == 'b'          # keys are independent
    assert t.message('non_finite', 1.0, 'a') == 'a (2 similar suppressed)'
    assert t.message('non_finite', 1.5, 'a') is None
    assert t.allow('non_finite', 2.5) == (True, 1)
    assert t.allow('non_finite', 0.0) == (True, 0)              # clock went back: allow


def test_log_throttle_rate_over_time():
    t = LogThrottle(period=0.5)
    emitted = sum(t.allow('k', k * 0.001)[0] for k in range(10_000))   # 10 s at 1 kHz
    assert emitted == 20


# ---------------------------------------------------------------- property test
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
arrays = st.one_of(
    st.lists(floats, min_size=N, max_size=N),
    st.lists(floats, min_size=0, max_size=2 * N),
    st.lists(st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0]),
             min_size=N, max_size=N),
)
ops = st.one_of(
    st.tuples(st.just('offer'), st.sampled_from([POSITION, EFFORT, 'bogus']), arrays),
    st.tuples(st.just('posture'), arrays),
    st.tuples(st.just('estop')),
    st.tuples(st.just('resume')),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ops, st.floats(0.0, 0.3)), max_size=30),
       st.sampled_from([POSITION, EFFORT]))
def test_property_output_always_finite_and_within_limits(steps, initial_mode):
    g = make_guard(initial_mode=initial_mode)
    now = 0.0
    for op, dt in steps:
        now += dt
        if op[0] == 'offer':
            verdict = g.offer(op[1], op[2], now)
            if verdict.accepted:
                assert within_limits(verdict.mode, verdict.values)
        elif op[0] == 'posture':
            g.update_posture(op[1])
        elif op[0] == 'estop':
            g.estop(now)
        else:
            g.resume(now)
        mode, values = g.current(now)
        assert mode in (POSITION, EFFORT)
        assert values.shape == (N,)
        assert within_limits(mode, values), (mode, values)
        json.dumps(g.diagnostics(now), allow_nan=False)
