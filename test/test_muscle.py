"""Hill-type MTUs of Geyer & Herr 2010: equations, geometry, signs, integration, parameters."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from neuro_locomotion.params import ConfigError, ParamSet
from reflex_modules import muscle as mu
from reflex_modules.parameters import (GH2010_PARAMS, JOINT_NAMES, MUSCLE_NAMES, MUSCLE_TABLE,
                                       MUSCLES, build_muscle_set, muscle_specs)

W, N, K = 0.56, 1.5, 5.0
DT = 0.001
# Inner angles (rad) in the GH2010 ranges: hip 120-230 deg, knee 80-180 deg, ankle 70-130 deg.
RANGES = {'hip': (math.radians(120), math.radians(230)), 'knee': (math.radians(80), math.pi),
          'ankle': (math.radians(70), math.radians(130))}
STANCE = np.radians([175.0, 175.0, 85.0, 140.0, 175.0, 90.0])   # GH2010 initial condition

NM = len(MUSCLES)          # 9: GH2010's seven, then RF and BFSH
#: every muscle present: SG2015's RF and BFSH too (absent by default)
ALL = {'muscle.rf_bfsh': True}


def single(name):
    """A MuscleSet holding only the left leg's ``name`` on that leg's three joints."""
    spec = [s for s in muscle_specs(ALL, legs=('left',)) if s.name == f'left_{name}']
    return mu.MuscleSet(spec, [f'left_{j}' for j in ('hip', 'knee', 'ankle')])


# -- equations ---------------------------------------------------------------------------------
def test_force_length_is_005_at_plus_minus_width():
    assert mu.f_l(1.0) == 1.0
    assert abs(mu.f_l(1.0 + W) - 0.05) < 1e-9
    assert abs(mu.f_l(1.0 - W) - 0.05) < 1e-9
    assert mu.f_l(1.2) == pytest.approx(mu.f_l(0.8), abs=1e-15)   # symmetric


def test_force_velocity_anchor_points_and_limit():
    assert abs(mu.f_v(-1.0)) < 1e-9          # no force at maximum shortening speed
    assert abs(mu.f_v(0.0) - 1.0) < 1e-9     # isometric
    assert abs(mu.f_v(1.0) - N) < 1e-9       # N at v_max lengthening (of this branch's formula)
    # The reference's "f_v(inf) ~ 1.513" is the limit of the lengthening branch
    # N + (N - 1)(v0 - 1)/(7.56 K v0 + 1) -> N + (N - 1)/(7.56 K) = 1.5 + 0.5/37.8.
    limit = mu.f_v_limit(N, K)
    assert abs(limit - (1.5 + 0.5 / 37.8)) < 1e-15
    assert abs(limit - 1.513) < 5e-4
    assert abs(mu.f_v(1e12) - limit) < 1e-9
    v = np.linspace(-1.0, 50.0, 2001)
    assert np.all(np.diff(mu.f_v(v)) > 0)     # strictly increasing, so invertible


def test_force_velocity_inverse_round_trips():
    v0 = np.linspace(-1.0, 1.0, 401)
    assert np.max(np.abs(mu.f_v_inverse(mu.f_v(v0)) - v0)) < 1e-9
    f = np.linspace(0.0, N, 401)
    assert np.max(np.abs(mu.f_v(mu.f_v_inverse(f)) - f)) < 1e-9
    # Above N the inverse continues linearly with the slope it has at N (C1, no jump).
    h = 1e-7
    left = (mu.f_v_inverse(N) - mu.f_v_inverse(N - h)) / h
    right = (mu.f_v_inverse(N + h) - mu.f_v_inverse(N)) / h
    assert right == pytest.approx((1 + 7.56 * K) / (N - 1), rel=1e-6)
    assert left == pytest.approx(right, rel=1e-5)


def test_elastic_elements():
    assert abs(mu.f_se(0.04) - 1.0) < 1e-9     # F_max at 4 % tendon strain
    assert mu.f_se(0.0) == 0.0 and mu.f_se(-0.01) == 0.0
    assert abs(mu.f_pe(1.0 + W) - 1.0) < 1e-12 and mu.f_pe(1.0) == 0.0 and mu.f_pe(0.5) == 0.0
    assert abs(mu.f_be(1.0 - W - W / 2) - 1.0) < 1e-12
    assert mu.f_be(1.0 - W) == 0.0 and mu.f_be(1.0) == 0.0


# -- geometry and signs ------------------------------------------------------------------------
@pytest.mark.parametrize('name', MUSCLES)
def test_path_length_is_lopt_plus_lslack_at_phi_ref(name):
    ms = build_muscle_set(ALL)
    f_max, v_max, l_opt, l_slack, joints = MUSCLE_TABLE[name]
    for leg in ('left', 'right'):
        phi = STANCE.copy()
        for joint, (_r0, _pm, phi_ref, _rho, _s) in joints.items():
            phi[JOINT_NAMES.index(f'{leg}_{joint}')] = math.radians(phi_ref)
        m = MUSCLE_NAMES.index(f'{leg}_{name}')
        assert abs(ms.mtc_length(phi)[m] - (l_opt + l_slack)) < 1e-12


@pytest.mark.parametrize('name', MUSCLES)
def test_moment_arm_is_r0_at_phi_max_and_constant_at_hip(name):
    ms = single(name)
    joints = MUSCLE_TABLE[name][4]
    for joint, (r0, phi_max, _ref, _rho, _s) in joints.items():
        j = ms.joint_names.index(f'left_{joint}')
        phi = np.radians([170.0, 170.0, 90.0])
        if phi_max is None:
            for angle in np.linspace(*RANGES[joint], 7):
                phi[j] = angle
                assert ms.moment_arms(phi)[0, j] == r0
        else:
            phi[j] = math.radians(phi_max)
            assert abs(ms.moment_arms(phi)[0, j] - r0) < 1e-15
            phi[j] = math.radians(phi_max) + 0.3
            assert ms.moment_arms(phi)[0, j] == pytest.approx(r0 * math.cos(0.3), rel=1e-12)


# +1: extends the joint (positive torque raises the inner angle), -1: flexes it.
EXPECTED_ACTION = {
    'HFL': {'hip': -1}, 'GLU': {'hip': +1}, 'HAM': {'hip': +1, 'knee': -1}, 'VAS': {'knee': +1},
    'GAS': {'knee': -1, 'ankle': +1}, 'SOL': {'ankle': +1}, 'TA': {'ankle': -1},
    'RF': {'hip': -1, 'knee': +1}, 'BFSH': {'knee': -1},
}


def test_torque_signs_match_anatomy():
    ms = build_muscle_set(ALL)
    signs = ms.torque_signs()
    for leg in ('left', 'right'):
        for name, action in EXPECTED_ACTION.items():
            m = MUSCLE_NAMES.index(f'{leg}_{name}')
            row = {JOINT_NAMES[j].split('_', 1)[1]: signs[m, j] for j in range(6) if signs[m, j]}
            assert row == action, name
            # Attached only to its own leg's joints.
            other = [j for j in range(6) if not JOINT_NAMES[j].startswith(leg)]
            assert not signs[m, other].any()


@pytest.mark.parametrize('name', MUSCLES)
def test_path_length_slope_is_minus_rho_times_torque_arm(name):
    """dl_MTC/dphi = -rho * (signed moment arm): an extensor shortens as its joint extends."""
    ms = single(name)
    signs = ms.torque_signs()[0]
    phi = np.radians([165.0, 165.0, 95.0])
    for joint, (_r0, _pm, _ref, rho, _s) in MUSCLE_TABLE[name][4].items():
        j = ms.joint_names.index(f'left_{joint}')
        h = 1e-6
        up, down = phi.copy(), phi.copy()
        up[j] += h
        down[j] -= h
        slope = (ms.mtc_length(up)[0] - ms.mtc_length(down)[0]) / (2 * h)
        assert slope == pytest.approx(-rho * signs[j] * ms.moment_arms(phi)[0, j], rel=1e-6)


@pytest.mark.parametrize('name,joints', [('GAS', ('ankle', 'knee')), ('HAM', ('knee', 'hip'))])
def test_two_joint_muscle_torques_on_both_joints(name, joints):
    ms = single(name)
    phi = np.radians([160.0, 165.0, 95.0])
    ms.reset(phi, activation=1.0)
    for _ in range(50):
        torque = ms.step([1.0], phi, DT)
    force = ms.force[0]
    assert force > 100.0
    r = ms.moment_arms(phi)[0]
    signs = ms.torque_signs()[0]
    for joint in ('hip', 'knee', 'ankle'):
        j = ms.joint_names.index(f'left_{joint}')
        expected = signs[j] * r[j] * force if joint in joints else 0.0
        assert torque[j] == pytest.approx(expected, rel=1e-12, abs=1e-12)
        if joint in joints:
            assert torque[j] != 0.0
    # GAS plantarflexes and flexes the knee; HAM extends the hip and flexes the knee.
    j = {jn: ms.joint_names.index(f'left_{jn}') for jn in joints}
    if name == 'GAS':
        assert torque[j['ankle']] > 0 > torque[j['knee']]
    else:
        assert torque[j['hip']] > 0 > torque[j['knee']]


# -- dynamics ----------------------------------------------------------------------------------
def test_isometric_force_at_full_activation_and_optimal_length_converges_to_f_max():
    ms = single('VAS')
    l_opt, l_slack = MUSCLE_TABLE['VAS'][2], MUSCLE_TABLE['VAS'][3]
    target = l_opt + (1 + 0.04) * l_slack          # tendon at eps_ref when l_ce = l_opt
    knee = ms.joint_names.index('left_knee')

    def gap(angle):
        phi = np.radians([170.0, 0.0, 90.0])
        phi[knee] = angle
        return ms.mtc_length(phi)[0] - target
    phi = np.radians([170.0, 0.0, 90.0])
    phi[knee] = brentq(gap, math.radians(90), math.radians(180), xtol=1e-15)
    ms.reset(phi, activation=0.01)                 # start relaxed
    for _ in range(3000):
        ms.step([1.0], phi, DT)
    assert ms.activation[0] == pytest.approx(1.0, abs=1e-12)
    assert abs(ms.force[0] - 6000.0) < 1e-6 * 6000.0
    assert ms.l_ce[0] == pytest.approx(l_opt, rel=1e-9)
    assert abs(ms.v_ce[0]) < 1e-9
    ms.reset(phi, activation=1.0)                  # and the equilibrium initialiser agrees
    assert abs(ms.force[0] - 6000.0) < 1e-9 * 6000.0


def test_reset_puts_every_muscle_at_zero_velocity():
    ms = build_muscle_set(ALL)
    for activation in (0.01, 0.3, 1.0):
        ms.reset(STANCE, activation)
        before = ms.l_ce
        ms.step(np.full(2 * NM, activation), STANCE, DT)
        assert np.max(np.abs(ms.l_ce - before) / ms.l_opt) < 1e-9


def test_implicit_step_satisfies_the_force_balance():
    """After a step the new state obeys f_se + f_be = f_v(v_ce) (f_pe + A f_l) (backward Euler)."""
    ms = build_muscle_set(ALL)
    ms.reset(STANCE, 0.2)
    rng = np.random.default_rng(1)
    phi = STANCE.copy()
    for k in range(300):
        phi = phi + rng.normal(0.0, 0.004, 6)
        ms.step(rng.uniform(0, 1, 2 * NM), phi, DT)
        x = ms.normalized_length
        v0 = ms.v_ce / (ms.l_opt * np.array([s.v_max for s in ms.specs]))
        lhs = ms.normalized_force + mu.f_be(x)
        rhs = mu.f_v(v0) * (mu.f_pe(x) + ms.activation * mu.f_l(x))
        ok = v0 <= 1.0                          # where f_v is the exact GH2010 curve
        assert np.all(np.abs(lhs - rhs)[ok] < 1e-9)


def test_activation_is_first_order_with_time_constant_tau():
    ms = single('SOL')
    phi = np.radians([170.0, 170.0, 90.0])
    ms.reset(phi, activation=0.01)
    trace = []
    for _ in range(100):
        ms.step([1.0], phi, DT)
        trace.append(ms.activation[0])
    assert abs(trace[9] - (1.0 - 0.99 * math.exp(-1.0))) < 1e-12     # t = tau = 10 ms
    t = np.arange(1, 101) * DT
    assert np.max(np.abs(np.array(trace) - (1.0 - 0.99 * np.exp(-t / 0.01)))) < 1e-12
    for _ in range(10):                                               # deactivation, same tau
        ms.step([0.0], phi, DT)                                       # S clipped to 0.01
    a0 = trace[-1]
    assert ms.activation[0] == pytest.approx(0.01 + (a0 - 0.01) * math.exp(-1.0), abs=1e-12)


def test_step_rejects_bad_input_and_keeps_state():
    ms = build_muscle_set(ALL)
    ms.reset(STANCE, 0.1)
    state = (ms.activation, ms.l_ce)
    for stim, phi in ((np.full(2 * NM, np.nan), STANCE), (np.full(2 * NM, 0.5), STANCE * np.inf),
                      (np.full(2 * NM - 1, 0.5), STANCE), (np.full(2 * NM, 0.5), STANCE[:5])):
        with pytest.raises(ValueError):
            ms.step(stim, phi, DT)
    with pytest.raises(ValueError):
        ms.step(np.full(2 * NM, 0.5), STANCE, float('nan'))
    assert np.array_equal(ms.activation, state[0]) and np.array_equal(ms.l_ce, state[1])


def forces_over(dt, duration=0.6, freq=2.0):
    ms = build_muscle_set(ALL)
    base, amp = np.radians([165, 160, 95, 165, 160, 95.]), np.radians([25, 30, 15, 25, 30, 15.])
    ms.reset(base + amp * np.sin(np.arange(6)), 0.2)
    every = round(DT / dt)
    out = []
    for k in range(round(duration / dt)):
        t = (k + 1) * dt
        phi = base + amp * np.sin(2 * np.pi * freq * t + np.arange(6))
        ms.step(0.5 + 0.49 * np.sin(2 * np.pi * 3 * t + np.arange(2 * NM)), phi, dt)
        if (k + 1) % every == 0:
            out.append(ms.force / ms.f_max)
    return np.array(out)


def test_1ms_step_is_stable_and_close_to_a_fine_step():
    """Fast joint motion and activation swings down to 0.01 (the stiff case for explicit Euler)."""
    coarse, fine = forces_over(1e-3), forces_over(1e-4)
    assert np.isfinite(coarse).all()
    assert np.max(np.abs(coarse - fine)) < 0.03        # within 3 % of F_max at every sample


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_forces_stay_finite_and_non_negative(data):
    ms = build_muscle_set(ALL)
    joints = [name.split('_', 1)[1] for name in JOINT_NAMES]
    angle = st.floats
    phi = np.array([data.draw(angle(*RANGES[j])) for j in joints])
    ms.reset(phi, data.draw(st.floats(0.0, 1.0)))
    for _ in range(data.draw(st.integers(1, 4))):
        stim = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=2 * NM, max_size=2 * NM)))
        phi = np.array([data.draw(angle(*RANGES[j])) for j in joints])
        for _ in range(25):
            torque = ms.step(stim, phi, DT)
            force = ms.force
            assert np.isfinite(force).all() and np.all(force >= 0.0)
            assert np.isfinite(torque).all()
            assert np.all(ms.l_ce >= mu.L_CE_MIN * ms.l_opt)
            assert np.all((ms.activation >= 0.01) & (ms.activation <= 1.0))


# -- parameters --------------------------------------------------------------------------------
def test_param_specs_radians_and_overrides():
    names = {s.name for s in GH2010_PARAMS}
    assert len(names) == len(GH2010_PARAMS)
    specs = {s.name: s for s in GH2010_PARAMS}
    assert specs['muscle.sol.ankle.phi_max'].default == pytest.approx(math.radians(110))
    assert specs['muscle.ham.hip.phi_ref'].unit == 'rad'
    assert 'muscle.glu.hip.phi_max' not in names                 # constant arm at the hip
    assert all(s.unit or isinstance(s.default, bool) for s in GH2010_PARAMS)
    base = build_muscle_set(ALL)
    stronger = build_muscle_set(ParamSet(GH2010_PARAMS, {'muscle.sol.f_max': 5000.0}))
    m = MUSCLE_NAMES.index('left_SOL')
    assert stronger.f_max[m] == 5000.0 and base.f_max[m] == 4000.0
    base.reset(STANCE, 0.5)
    stronger.reset(STANCE, 0.5)
    assert stronger.force[m] == pytest.approx(base.force[m] * 1.25, rel=1e-9)
    with pytest.raises(ConfigError, match='below the minimum'):
        build_muscle_set({'muscle.vas.l_opt': -0.1})
    with pytest.raises(ConfigError, match='not finite'):
        build_muscle_set({'muscle.tau': float('nan')})
