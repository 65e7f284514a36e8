"""Reference oscillators against the published tables (reference sheet §1, §2, §8).

Ijspeert 2007 salamander CPG: f(d), the walk/swim switch, wave lags, left-right phase, R(d).
Righetti & Ijspeert 2008 Hopf CPG: gait phase tables, duty factor, period; the gallops.
Measurements use cpg_controller.phase on the output signals (events), not the internal phases.
"""
import math

import numpy as np
import pytest

from cpg_controller import phase as P
from cpg_controller.oscillators import (BODY_SATURATION, LIMB_SATURATION, RIGHETTI_COUPLING,
                                        HopfCPG, OscillatorOutput, SalamanderCPG,
                                        phase_difference_coupling)

TICK = 0.01          # s, control tick of the runs below (integration stays at 1 ms)


# ============================================================================================
# Ijspeert 2007

def settle_and_record(cpg, d, settle, record):
    cpg.set_drive(d)
    cpg.reset(seed=0)
    cpg.run(settle, dt=TICK)
    return cpg.run(record, dt=TICK)


def body_events(tr):
    """Upward zero crossings of each body joint setpoint x_L - x_R (head to tail)."""
    return [P.threshold_crossings(tr.setpoint[:, k], tr.t, threshold=0.0)
            for k in range(tr.setpoint.shape[1])]


def left_right_offset(tr, k, n_seg):
    ev = [P.threshold_crossings(tr.signal[:, k], tr.t),
          P.threshold_crossings(tr.signal[:, n_seg + k], tr.t)]
    return P.phase_offsets(ev)[1]


@pytest.fixture(scope='module')
def salamander():
    return SalamanderCPG(n_seg=8)


@pytest.fixture(scope='module')
def regimes(salamander):
    """One settled recording per drive of the reference table (4 cycles or more each)."""
    out = {}
    for d in (1.0, 2.0, 2.9, 3.1, 4.0, 5.0):
        walking = d <= 3
        out[d] = settle_and_record(salamander, d, settle=5.0 if walking else 10.0,
                                   record=max(20.0 / (0.2 * d), 5.0) if walking else 5.0)
    return out


@pytest.mark.parametrize('d, f_expected', [(1.0, 0.2), (2.0, 0.4), (2.9, 0.58),
                                           (3.1, 0.92), (4.0, 1.1), (5.0, 1.3)])
def test_frequency_follows_drive(regimes, d, f_expected):
    tr = regimes[d]
    freqs = [P.frequency(ev) for ev in body_events(tr)]
    assert all(f is not None for f in freqs)
    assert np.allclose(freqs, f_expected, rtol=0.02), freqs
    assert SalamanderCPG.expected_frequency(d) == pytest.approx(f_expected)


@pytest.mark.parametrize('d', [3.1, 4.0, 5.0])
def test_swimming_is_a_travelling_wave_of_one_body_length(regimes, d):
    lags = P.travelling_wave_lags(body_events(regimes[d]))
    assert lags is not None and len(lags) == 7
    np.testing.assert_allclose(lags, 1 / 8, atol=0.005)


@pytest.mark.parametrize('d', [1.0, 2.0, 2.9])
def test_walking_is_a_standing_wave(regimes, d):
    lags = P.travelling_wave_lags(body_events(regimes[d]))
    within = np.r_[lags[:3], lags[4:]]            # girdle boundary between segments 3 and 4
    assert np.all(np.abs(within) < 0.07), lags
    assert abs(lags[3]) > 0.3, lags


@pytest.mark.parametrize('d', [1.0, 2.9, 3.1, 5.0])
def test_left_right_antiphase(regimes, d):
    for k in (0, 3, 7):
        assert abs(P.wrap_cycles(left_right_offset(regimes[d], k, 8) - 0.5)) < 0.02


@pytest.mark.parametrize('d', [1.0, 2.0, 2.9, 3.1, 4.0, 5.0])
def test_amplitudes_follow_the_saturation_table(regimes, d):
    tr = regimes[d]
    r_body = tr.amplitude[-1, :16]
    r_limb = tr.amplitude[-1, 16:]
    np.testing.assert_allclose(r_body, 0.065 * d + 0.196, rtol=0.01)
    if d <= 3:
        np.testing.assert_allclose(r_limb, 0.131 * d + 0.131, rtol=0.01)
    else:
        assert np.all(np.abs(r_limb) < 1e-3)
    if d > 3:   # swimming: x_L - x_R = 2R cos θ, so the bend amplitude is 2R
        bend = 0.5 * np.ptp(tr.setpoint, axis=0)
        np.testing.assert_allclose(bend, 2 * (0.065 * d + 0.196), rtol=0.01)


def test_walking_limbs_trot_and_match_the_salamander_table(regimes):
    tables = P.load_gait_tables(robot='salamander')
    walk, swim = tables['walk'], tables['swim']
    tr = regimes[walk['drive']]
    limbs = [P.threshold_crossings(tr.signal[:, 16 + j], tr.t) for j in range(4)]
    assert P.phase_error(P.phase_offsets(limbs), walk['offsets']) < 0.02
    for spec in (walk, swim):
        f = spec['frequency']['per_drive'] * spec['drive'] + spec['frequency']['offset']
        assert SalamanderCPG.expected_frequency(spec['drive']) == pytest.approx(f)
        assert P.frequency(body_events(regimes[spec['drive']])[0]) == pytest.approx(f, rel=0.02)


def test_reference_table_amplitudes():
    assert BODY_SATURATION(1.0)[1] == pytest.approx(0.261)
    assert BODY_SATURATION(5.0)[1] == pytest.approx(0.521)
    assert LIMB_SATURATION(3.0) == pytest.approx((0.6, 0.524))
    assert LIMB_SATURATION(3.01) == (0.0, 0.0)
    assert BODY_SATURATION(0.5) == (0.0, 0.0) and BODY_SATURATION(5.5) == (0.0, 0.0)


def test_walk_to_swim_jump(salamander):
    cpg = salamander
    f = {}
    for d in (2.95, 3.05):
        tr = settle_and_record(cpg, d, settle=6.0, record=8.0)
        f[d] = P.frequency(body_events(tr)[0])
    assert f[2.95] == pytest.approx(0.59, rel=0.02)
    assert f[3.05] == pytest.approx(0.91, rel=0.02)
    assert 0.25 < f[3.05] - f[2.95] < 0.35


@pytest.mark.parametrize('d0, d1', [(2.7, 3.3), (3.3, 2.7)])
def test_switch_point_on_a_ramp(salamander, d0, d1):
    """Drive ramp of 0.05 / s: the rhythm switches within 3.00 ± 0.05, both directions."""
    cpg = salamander
    cpg.set_drive(d0)
    cpg.reset(seed=0)
    cpg.run(8.0, dt=TICK)
    t0, rate = cpg.t, 0.05 * math.copysign(1.0, d1 - d0)
    tr = cpg.run(abs(d1 - d0) / 0.05, dt=TICK,
                 control=lambda t, c: c.set_drive(d0 + rate * (t - t0)))
    f = P.instantaneous_frequency(tr.phase_unwrapped[:, 0], tr.t, window=0.5)
    drive = tr.extra['drive'][:, 0]
    assert f[50] == pytest.approx(0.2 * d0 + (0.3 if d0 > 3 else 0.0), rel=0.1)
    k = np.argmax(f > 0.75) if d1 > d0 else np.argmax(f < 0.75)
    assert k > 0
    assert abs(drive[k] - 3.0) < 0.05, drive[k]
    assert abs(f[-1] - f[0]) > 0.3


@pytest.mark.parametrize('d', [0.5, 5.5])
def test_silent_outside_the_drive_range(salamander, d):
    tr = settle_and_record(salamander, d, settle=3.0, record=5.0)
    assert np.max(np.abs(tr.setpoint)) < 1e-3
    assert all(P.signal_frequency(tr.setpoint[:, k], tr.t, min_amplitude=1e-3) is None
               for k in range(8))
    assert np.all(np.isfinite(tr.setpoint)) and np.all(np.isfinite(tr.phase))


def test_body_and_limb_drive_separately(salamander):
    cpg = salamander
    cpg.set_drive(body=4.0, limb=0.0)            # limbs off: the body swims alone
    cpg.reset(seed=1)
    cpg.run(10.0, dt=TICK)
    tr = cpg.run(5.0, dt=TICK)
    assert P.frequency(body_events(tr)[0]) == pytest.approx(1.1, rel=0.02)
    cpg.set_drive(body=4.0, limb=2.0)            # limbs on: they entrain the body (walking)
    cpg.run(10.0, dt=TICK)
    tr = cpg.run(10.0, dt=TICK)
    assert P.frequency(body_events(tr)[0]) == pytest.approx(0.4, rel=0.02)
    assert cpg.drive == {'body_left': 4.0, 'body_right': 4.0, 'limb': 2.0}
    cpg.set_drive(body=(3.5, 4.5), limb=0.0)     # asymmetric body drive: a net bend (turn)
    cpg.run(10.0, dt=TICK)
    tr = cpg.run(5.0, dt=TICK)
    bias = tr.setpoint.mean(axis=0)              # mean of r(1 + cos θ) is r only for uniform θ̇
    assert np.all(bias < -0.01)
    assert bias.mean() == pytest.approx((3.5 - 4.5) * 0.065, rel=0.1)
    cpg.set_drive(1.0)
    with pytest.raises(ValueError):
        cpg.set_drive(float('nan'))


def test_network_structure_matches_the_reference():
    cpg = SalamanderCPG(n_seg=8)
    W, PHI = cpg.coupling_matrices()
    assert W.shape == (20, 20)
    assert np.count_nonzero(W == 10) == 2 * 2 * 7 + 16 + 8   # axial, left-right, limb-limb
    assert np.count_nonzero(W == 30) == 16                  # limb -> body, one per segment
    assert np.count_nonzero(W[16:, :16]) == 0               # no body -> limb coupling
    # descending coupling (caudal receiver) has +2π/n: the wave goes head to tail
    assert PHI[1, 0] == pytest.approx(2 * np.pi / 8) and PHI[0, 1] == pytest.approx(-2 * np.pi / 8)
    assert PHI[0, 8] == pytest.approx(np.pi)
    lf, rf, lh, rh = 16, 17, 18, 19
    assert W[0:4, lf].tolist() == [30] * 4 and W[4:8, lh].tolist() == [30] * 4
    assert W[8:12, rf].tolist() == [30] * 4 and W[12:16, rh].tolist() == [30] * 4
    assert W[lf, rh] == 0 and W[lf, rf] == 10 and W[lf, lh] == 10   # no diagonal limb coupling


def test_other_segment_counts():
    cpg = SalamanderCPG(n_seg=10, drive=4.0)
    cpg.run(10.0, dt=TICK)
    tr = cpg.run(4.0, dt=TICK)
    assert len(tr.setpoint_names) == 10 and len(tr.names) == 24
    np.testing.assert_allclose(P.travelling_wave_lags(body_events(tr)), 0.1, atol=0.005)


def test_salamander_interface():
    cpg = SalamanderCPG(drive=2.0)
    o = cpg.reset(seed=3)
    assert isinstance(o, OscillatorOutput) and o.t == 0.0
    a = cpg.step(0.0155)                      # not a multiple of the 1 ms step
    assert a.t == pytest.approx(0.0155)
    assert a.phase.shape == (20,) and a.setpoint.shape == (8,) and a.stance is None
    assert np.all((a.phase >= 0) & (a.phase < 2 * np.pi))
    np.testing.assert_allclose(a.signal, a.amplitude * (1 + np.cos(a.phase)))
    np.testing.assert_allclose(a.setpoint, a.signal[:8] - a.signal[8:16])
    np.testing.assert_allclose(cpg.phases(), a.phase)
    np.testing.assert_allclose(np.mod(cpg.phases(unwrapped=True), 2 * np.pi), a.phase)
    np.testing.assert_allclose(cpg.limb_phases(), a.phase[16:])
    np.testing.assert_allclose(cpg.body_setpoint(), a.setpoint)
    kicked = cpg.shift_phases(0.5)
    np.testing.assert_allclose(np.mod(kicked.phase - a.phase, 2 * np.pi), 0.5, atol=1e-12)
    # determinism: same seed, same trajectory, whatever the tick split
    cpg.reset(seed=3)
    for _ in range(10):
        b = cpg.step(0.01)
    cpg.reset(seed=3)
    c = cpg.step(0.1)
    np.testing.assert_allclose(b.phase, c.phase, atol=1e-12)
    cpg.reset(seed=4)
    assert not np.allclose(cpg.step(0.1).phase, c.phase)
    with pytest.raises(ValueError):
        cpg.step(-1.0)
    with pytest.raises(ValueError):
        SalamanderCPG(n_seg=1)


def test_rk4_agrees_with_rk2():
    a, b = SalamanderCPG(drive=4.0, method='rk2'), SalamanderCPG(drive=4.0, method='rk4')
    for cpg in (a, b):
        cpg.reset(seed=2)
        cpg.run(3.0, dt=0.05)
    np.testing.assert_allclose(a.phases(unwrapped=True), b.phases(unwrapped=True), atol=1e-4)


# ============================================================================================
# Righetti & Ijspeert 2008

OMEGA_ST, OMEGA_SW = 2 * np.pi * 0.5, 2 * np.pi * 1.5     # reference re-run: duty 0.75


def hopf_measure(cpg, settle, record, tick=0.005):
    cpg.run(settle, dt=tick)
    tr = cpg.run(record, dt=tick)
    y = tr.setpoint[:, 4:]
    touchdowns = [P.threshold_crossings(y[:, j], tr.t, threshold=0.0) for j in range(4)]
    offsets = P.phase_offsets(touchdowns)
    duty = P.duty_factor(tr.stance, tr.t)
    period = P.period(touchdowns[0])
    return offsets, duty, period


@pytest.mark.parametrize('gait', ['trot', 'pace', 'bound'])
@pytest.mark.parametrize('seed', [0, 1])
def test_hopf_symmetric_gaits(gait, seed):
    cpg = HopfCPG(gait, omega_stance=OMEGA_ST, omega_swing=OMEGA_SW, seed=seed)
    assert cpg.coupling == 'righetti'
    offsets, duty, period = hopf_measure(cpg, settle=15.0, record=10.0)
    assert P.phase_error(offsets, P.gait_offsets(gait)) < 0.05
    np.testing.assert_allclose(duty, 0.75, atol=0.03)
    assert period == pytest.approx(np.pi / OMEGA_ST + np.pi / OMEGA_SW, rel=0.05)


@pytest.mark.parametrize('seed', [0, 1])
def test_hopf_walk_published_matrix(seed):
    """Righetti's walk matrix locks to the table, slowly (time constant ~15 s)."""
    cpg = HopfCPG('walk', omega_stance=OMEGA_ST, omega_swing=OMEGA_SW, seed=seed)
    offsets, duty, period = hopf_measure(cpg, settle=30.0, record=10.0)
    assert P.phase_error(offsets, P.gait_offsets('walk')) < 0.07
    # known deviations of that matrix (docs/oscillators.md): shorter period, lower duty factor
    assert period < 0.9 * cpg.nominal_period
    assert np.all(np.asarray(duty) < 0.73)


@pytest.mark.parametrize('gait', ['walk', 'transverse_gallop', 'rotary_gallop'])
def test_hopf_phase_difference_coupling(gait):
    cpg = HopfCPG(gait, coupling='phase', omega_stance=OMEGA_ST, omega_swing=OMEGA_SW, seed=0)
    assert cpg.coupling == 'phase'
    offsets, duty, period = hopf_measure(cpg, settle=15.0, record=10.0)
    assert P.phase_error(offsets, P.gait_offsets(gait)) < 0.05
    np.testing.assert_allclose(duty, cpg.duty_factor, atol=0.03)
    assert period == pytest.approx(cpg.nominal_period, rel=0.05)


def test_gallop_defaults_to_phase_coupling_and_reaches_its_table():
    cpg = HopfCPG('transverse_gallop', seed=3)
    assert cpg.coupling == 'phase'
    offsets, _, _ = hopf_measure(cpg, settle=15.0, record=10.0)
    assert P.phase_error(offsets, [0.0, 0.1, 0.5, 0.6]) < 0.05


def test_phase_difference_form_reproduces_the_published_symmetric_matrices():
    for gait in ('trot', 'pace', 'bound'):
        Ky, Kx = phase_difference_coupling(P.gait_offsets(gait))
        np.testing.assert_allclose(Ky, RIGHETTI_COUPLING[gait], atol=1e-12)
        np.testing.assert_allclose(Kx, 0.0, atol=1e-12)


def test_hopf_other_frequencies_and_gait_switch():
    # EPFL course suggestion for trot: f_stance 2 Hz, f_swing 5 Hz (config/gaits/quadruped.yaml)
    spec = P.load_gait_tables()['trot']['hopf']
    cpg = HopfCPG('trot', omega_stance=2 * np.pi * spec['f_stance'],
                  omega_swing=2 * np.pi * spec['f_swing'], seed=0)
    assert cpg.duty_factor == pytest.approx(5 / 7)
    offsets, duty, period = hopf_measure(cpg, settle=5.0, record=5.0, tick=0.002)
    assert P.phase_error(offsets, P.gait_offsets('trot')) < 0.05
    np.testing.assert_allclose(duty, 5 / 7, atol=0.03)
    assert period == pytest.approx(cpg.nominal_period, rel=0.05)
    # switch on the fly, no reset. A settled trot is an (unstable) equilibrium of the pace
    # matrix too, so a real robot's noise is what starts the transition: give a 0.01 rad kick.
    cpg.set_gait('pace')
    cpg.shift_phases([0.0, 0.0, 0.01, 0.0])
    offsets, _, _ = hopf_measure(cpg, settle=6.0, record=3.0, tick=0.002)
    assert P.phase_error(offsets, P.gait_offsets('pace')) < 0.05
    cpg.set_gait('transverse_gallop')             # a settled pace is slow to leave, too
    cpg.shift_phases([0.0, 0.0, 0.01, 0.0])
    offsets, _, _ = hopf_measure(cpg, settle=6.0, record=3.0, tick=0.002)
    assert P.phase_error(offsets, P.gait_offsets('transverse_gallop')) < 0.05


def test_hopf_interface():
    cpg = HopfCPG('trot')
    o = cpg.reset(seed=5)
    assert o.phase.shape == (4,) and o.setpoint.shape == (8,) and o.stance.dtype == bool
    np.testing.assert_allclose(o.amplitude, 1.0)
    o = cpg.step(0.0237)
    assert o.t == pytest.approx(0.0237)
    x, y = o.setpoint[:4], o.setpoint[4:]
    np.testing.assert_allclose(o.phase, np.mod(np.arctan2(y, x), 2 * np.pi))
    np.testing.assert_array_equal(o.stance, y > 0)
    assert np.all(o.frequency > 0)
    assert cpg.names == ('LF', 'RF', 'LH', 'RH')
    assert cpg.duty_factor == pytest.approx(0.75)
    assert cpg.nominal_period == pytest.approx(4 / 3)
    tr = cpg.run(1.0, dt=0.01)
    assert tr.stance.shape == (100, 4) and tr.column('LF_y').shape == (100,)
    # unwrapped phase grows by about one cycle per period
    assert (tr.phase_unwrapped[-1] - tr.phase_unwrapped[0]).mean() == pytest.approx(
        2 * np.pi * 0.99 / 1.38, rel=0.1)
    before = cpg.outputs()
    after = cpg.shift_phases([0.1, 0.0, -0.2, 0.0])
    np.testing.assert_allclose(P.wrap_cycles((after.phase - before.phase) / (2 * np.pi)),
                               np.array([0.1, 0.0, -0.2, 0.0]) / (2 * np.pi), atol=1e-12)
    np.testing.assert_allclose(after.amplitude, before.amplitude, atol=1e-12)
    cpg.set_feedback([0.0, 0.0, 0.0, 0.0])
    for bad in ([1.0, 2.0], [np.nan] * 4):
        with pytest.raises(ValueError):
            cpg.set_feedback(bad)
    with pytest.raises(KeyError):
        cpg.set_gait('moonwalk')
    with pytest.raises(ValueError):
        cpg.set_gait('transverse_gallop', coupling='righetti')
    with pytest.raises(ValueError):
        HopfCPG('trot', omega_stance=-1.0)
    cpg.set_gait([0.0, 0.25, 0.5, 0.75])
    assert cpg.gait == 'custom' and cpg.coupling == 'phase'
