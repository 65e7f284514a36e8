"""Phase-analysis tools on synthetic signals whose answers are known (cpg_controller.phase)."""
import math

import numpy as np
import pytest

from cpg_controller import phase as P

FS = 1000.0
T = np.arange(0.0, 20.0, 1.0 / FS)


def sine(f, lag_cycles=0.0, t=T, amp=1.0, offset=0.0):
    """A rhythm delayed by ``lag_cycles`` (its events come that much of a cycle later)."""
    return offset + amp * np.sin(2 * np.pi * (f * t - lag_cycles))


def pulses(f, lag_cycles, duty, t=T):
    """Boolean train: on for ``duty`` of each cycle, switching on at cycle phase ``lag_cycles``."""
    return ((f * t - lag_cycles) % 1.0) < duty


# --- circular helpers ------------------------------------------------------------------------

def test_wrap_and_circular_mean():
    assert P.wrap_cycles(0.75) == pytest.approx(-0.25)
    assert P.wrap_cycles(-0.5) == pytest.approx(-0.5)
    np.testing.assert_allclose(P.wrap_cycles([1.1, -0.6, 0.2]), [0.1, 0.4, 0.2])
    m, r = P.circular_mean([0.95, 0.05, 0.0])
    assert P.wrap_cycles(m) == pytest.approx(0.0, abs=1e-12) and r > 0.9
    m, r = P.circular_mean([0.0, 0.25, 0.5, 0.75])       # uniformly spread: no mean direction
    assert r < 1e-12
    assert P.circular_mean([]) is None


# --- crossings and frequency ------------------------------------------------------------------

def test_crossings_of_a_clean_sine_are_exact():
    ev = P.threshold_crossings(sine(1.3), T)
    # sin(2π f t) rises through 0 at t = k / f
    np.testing.assert_allclose(ev, np.arange(1, ev.size + 1) / 1.3, atol=1e-5)
    down = P.threshold_crossings(sine(1.3), T, direction='down')
    np.testing.assert_allclose(down, (np.arange(down.size) + 0.5) / 1.3, atol=1e-5)
    assert P.frequency(ev) == pytest.approx(1.3, rel=1e-6)
    assert P.signal_frequency(sine(0.7, offset=3.0, amp=0.2), T) == pytest.approx(0.7, rel=1e-4)


def test_frequency_is_robust_to_noise():
    rng = np.random.default_rng(1)
    x = sine(2.0) + rng.normal(0.0, 0.1, T.size)
    raw_up = np.count_nonzero((x[1:] > 0) & (x[:-1] <= 0))
    assert raw_up > 60                                   # naive zero crossings chatter
    ev = P.threshold_crossings(x, T)                     # Schmitt trigger alone
    assert ev.size in (39, 40)
    assert P.frequency(ev) == pytest.approx(2.0, rel=0.01)
    assert np.max(np.abs(P.wrap_cycles(ev * 2.0))) < 0.03    # each crossing within 0.03 cycle
    # heavy white noise (SNR ~ 4 per sample): the Schmitt trigger alone lets some spurious
    # events through; a centred moving average of 20 ms removes them without a delay
    x = sine(2.0) + rng.normal(0.0, 0.25, T.size)
    ev = P.threshold_crossings(x, T, smooth=0.02)
    assert ev.size in (39, 40)
    assert P.frequency(ev) == pytest.approx(2.0, rel=0.01)
    assert np.max(np.abs(P.wrap_cycles(ev * 2.0))) < 0.03
    assert abs(np.mean(P.wrap_cycles(ev * 2.0))) < 0.005


def test_refractory_interval_drops_double_events():
    x = sine(1.0)
    x[(T % 1.0 > 0.10) & (T % 1.0 < 0.11)] = -1.0       # a glitch right after each crossing
    assert P.threshold_crossings(x, T).size == 39     # 19 true + 20 glitch events
    ev = P.threshold_crossings(x, T, min_interval=0.5)
    assert ev.size == 20 and P.frequency(ev) == pytest.approx(1.0, rel=1e-3)   # + the first glitch


def test_sparse_pulses_use_the_full_range():
    x = np.zeros(T.size)
    x[(T % 1.0) < 0.01] = 1.0                            # 1 % duty pulses at 1 Hz
    ev = P.threshold_crossings(x, T)
    assert ev.size == 19 and P.frequency(ev) == pytest.approx(1.0)


def test_frequency_from_events_ignores_a_missed_event():
    ev = np.arange(0.0, 10.0, 0.5)
    assert P.frequency(np.delete(ev, 7)) == pytest.approx(2.0)
    assert P.period(ev) == pytest.approx(0.5)


@pytest.mark.parametrize('x', [np.zeros(T.size), np.full(T.size, 3.0),
                               np.full(T.size, np.nan), np.zeros(1)])
def test_silent_signal_gives_no_events_and_no_frequency(x):
    t = T[:x.size]
    assert P.threshold_crossings(x, t).size == 0
    assert P.signal_frequency(x, t) is None
    assert P.onsets(np.zeros(x.size, bool), t).size == 0


def test_tiny_noise_is_silent_given_a_minimum_amplitude():
    x = np.random.default_rng(0).normal(0.0, 1e-6, T.size)
    assert P.threshold_crossings(x, T, min_amplitude=1e-3).size == 0
    assert P.signal_frequency(x, T, min_amplitude=1e-3) is None


def test_non_finite_samples_are_skipped():
    x = sine(1.0)
    x[5000:5100] = np.nan
    ev = P.threshold_crossings(x, T)
    assert np.all(np.isfinite(ev)) and P.frequency(ev) == pytest.approx(1.0, rel=1e-3)


def test_too_few_events_give_none():
    assert P.frequency([]) is None
    assert P.frequency([1.0]) is None
    assert P.frequency([1.0, 2.0]) is None               # default needs 3 events
    assert P.frequency([1.0, 2.0], min_events=2) == pytest.approx(1.0)


def test_instantaneous_frequency():
    t = np.arange(0, 10, 0.01)
    phase = 2 * np.pi * (0.5 * t + 0.05 * t ** 2)        # f(t) = 0.5 + 0.1 t
    f = P.instantaneous_frequency(phase, t, window=1.0)
    np.testing.assert_allclose(f[100:-100], 0.5 + 0.1 * t[100:-100], atol=1e-3)
    np.testing.assert_allclose(P.instantaneous_frequency(phase, t)[1:-1],
                               0.5 + 0.1 * t[1:-1], atol=1e-3)


# --- boolean signals and spikes ---------------------------------------------------------------

def test_onsets_and_debounce():
    s = pulses(1.0, 0.2, 0.6)
    rises, falls = P.edges(s, T)
    np.testing.assert_allclose(rises, np.arange(0.2, 20, 1.0)[:rises.size], atol=1.5 / FS)
    np.testing.assert_allclose(falls, np.arange(0.8, 20, 1.0)[:falls.size], atol=1.5 / FS)
    noisy = s.copy()
    rng = np.random.default_rng(3)
    flips = rng.choice(T.size, 200, replace=False)      # 1-sample contact flicker
    noisy[flips] = ~noisy[flips]
    assert P.onsets(noisy, T).size > 60
    clean = P.onsets(noisy, T, min_on=0.02, min_off=0.02)
    np.testing.assert_allclose(clean, rises, atol=0.02)


def test_a_bouncing_touchdown_is_its_first_contact():
    """A foot that lands and bounces (contact, 8-12 ms gaps, contact...) has landed at its first
    contact: gaps shorter than min_off are bridged, and the on-time (not the span) must reach
    min_on. Measured on the salamander walk: the old rule (a single run >= min_on) put such
    touchdowns up to 0.2 s late."""
    t = np.arange(0.0, 2.0, 0.004)
    on = np.zeros(t.size, bool)
    for lo, hi in ((0.616, 0.636), (0.644, 0.668), (0.676, 0.744), (0.760, 0.812),
                   (0.824, 1.3)):                    # lands at 0.616, bounces, stance to 1.3
        on[(t >= lo - 1e-9) & (t < hi - 1e-9)] = True
    rises, falls = P.edges(on, t, min_on=0.1, min_off=0.1)
    np.testing.assert_allclose(rises, [0.616])
    np.testing.assert_allclose(falls, [1.3])
    # isolated brushes in swing are not touchdowns: their on-time stays under min_on
    brush = np.zeros(t.size, bool)
    brush[[100, 110, 120, 130]] = True           # four 4 ms contacts 40 ms apart
    assert P.onsets(brush, t, min_on=0.02, min_off=0.05).size == 0
    # the gap must be shorter than min_off: a real lift-off separates two stances
    two = (t >= 0.2) & (t < 0.6) | (t >= 0.7) & (t < 1.1)
    np.testing.assert_allclose(P.onsets(two, t, min_on=0.05, min_off=0.05), [0.2, 0.7])


def test_burst_onsets():
    spikes = np.concatenate([k + np.array([0.0, 0.01, 0.02, 0.035]) for k in range(5)])
    spikes = np.r_[spikes, 2.5]                           # an isolated spike
    np.testing.assert_allclose(P.burst_onsets(spikes, max_isi=0.05), [0, 1, 2, 2.5, 3, 4])
    np.testing.assert_allclose(P.burst_onsets(spikes, 0.05, min_spikes=2), [0, 1, 2, 3, 4])
    assert P.burst_onsets([], 0.05).size == 0


# --- phase offsets, phase error ---------------------------------------------------------------

WALK = np.array([0.0, 0.5, 0.75, 0.25])


def test_phase_offsets_from_onsets_match_the_table():
    ev = [P.onsets(pulses(1.5, o, 0.7), T) for o in WALK]
    off = P.phase_offsets(ev)
    assert P.phase_error(off, WALK) < 0.003
    # the offsets are delays: LF -> RH -> RF -> LH footfalls
    order = np.argsort(off)
    assert [P.LEGS[i] for i in order] == ['LF', 'RH', 'RF', 'LH']


def test_phase_offsets_with_jitter_and_wrap_around():
    rng = np.random.default_rng(7)
    base = np.arange(0.0, 30.0, 1.0)
    ev = [base + rng.normal(0, 0.02, base.size),
          base + 0.98 + rng.normal(0, 0.02, base.size),    # almost a full cycle late
          base + 0.33 + rng.normal(0, 0.02, base.size)]
    off, strength = P.phase_offsets(ev, return_strength=True)
    assert abs(P.wrap_cycles(off[1] - 0.98)) < 0.015
    assert abs(off[2] - 0.33) < 0.015
    assert np.all(strength > 0.95)
    # unrelated rhythm: low locking strength, still a number
    off, strength = P.phase_offsets([base, np.sort(rng.uniform(0, 30, 30))], return_strength=True)
    assert strength[1] < 0.5 and 0 <= off[1] < 1


def test_phase_offsets_of_a_silent_signal_is_none():
    base = np.arange(0.0, 10.0, 1.0)
    assert P.phase_offsets([base, np.array([])]) is None
    assert P.phase_offsets([np.array([1.0]), base]) is None
    assert P.phase_offsets([base, base + 0.3], t_start=20.0) is None
    assert P.phase_offsets([base, base + 0.3], return_strength=True) is not None
    assert P.phase_error(None, WALK) is None


def test_phase_offsets_time_window():
    base = np.arange(0.0, 20.0, 1.0)
    other = np.where(base < 10, base + 0.1, base + 0.4)
    assert P.phase_offsets([base, other], t_start=10.5)[1] == pytest.approx(0.4)


def test_phase_error_wraps_and_aligns():
    assert P.phase_error([0, 0.5, 0.5, 0], [0, 0.5, 0.5, 0]) == 0.0
    assert P.phase_error([0, 0.95, 0.5, 0], [0, 0.05, 0.5, 0]) == pytest.approx(0.1)
    assert P.phase_error([0, 0, 0, 0], [0, 0.5, 0.5, 0]) == pytest.approx(0.5)
    # target tables need not start at 0
    assert P.phase_error([0, 0.5], [0.25, 0.75]) == pytest.approx(0.0)
    # a first leg that is itself 0.04 late: 'first' blames every other leg, 'best' splits it
    measured = np.array([0.0, 0.46, 0.46, 0.96])
    assert P.phase_error(measured, [0, 0.5, 0.5, 0]) == pytest.approx(0.04)
    assert P.phase_error(measured, [0, 0.5, 0.5, 0], align='best') == pytest.approx(0.02)
    with pytest.raises(ValueError):
        P.phase_error([0, 0.5], [0, 0.5, 0.5])


# --- duty factor, travelling waves ------------------------------------------------------------

@pytest.mark.parametrize('duty', [0.3, 0.5, 0.75])
def test_duty_factor(duty):
    assert P.duty_factor(pulses(0.8, 0.1, duty), T) == pytest.approx(duty, abs=2e-3)


def test_duty_factor_multi_leg_noise_and_silence():
    legs = np.stack([pulses(1.0, o, 0.6) for o in WALK], axis=1)
    rng = np.random.default_rng(5)
    flips = rng.choice(T.size, 100, replace=False)
    legs[flips, 0] = ~legs[flips, 0]
    df = P.duty_factor(legs, T, min_on=0.02, min_off=0.02)
    np.testing.assert_allclose(df, 0.6, atol=3e-3)
    assert P.duty_factor(np.ones(T.size, bool), T) is None     # always in stance
    assert P.duty_factor(np.zeros(T.size, bool), T) is None    # never
    assert P.duty_factor(pulses(0.05, 0.0, 0.5), T) is None    # a single touchdown


@pytest.mark.parametrize('lag', [0.125, 0.05, -0.1])
def test_travelling_wave_lags(lag):
    n = 8
    rng = np.random.default_rng(2)
    ev = [P.threshold_crossings(sine(1.1, k * lag) + rng.normal(0, 0.05, T.size), T)
          for k in range(n)]
    lags = P.travelling_wave_lags(ev)
    np.testing.assert_allclose(lags, lag, atol=0.005)
    phases = np.stack([2 * np.pi * (1.1 * T - k * lag) for k in range(n)], axis=1)
    np.testing.assert_allclose(P.phase_lags_from_phases(phases), lag, atol=1e-9)


def test_travelling_wave_with_a_silent_segment():
    ev = [np.arange(0, 10, 1.0), np.array([]), np.arange(0, 10, 1.0)]
    assert P.travelling_wave_lags(ev) is None
    assert P.travelling_wave_lags(ev[:1]) is None


# --- gait tables ------------------------------------------------------------------------------

def test_gait_tables_are_complete_and_cited():
    tables = P.load_gait_tables()
    for name in ('walk', 'trot', 'pace', 'bound', 'pronk', 'transverse_gallop',
                 'rotary_gallop'):
        assert name in tables
        spec = tables[name]
        assert spec['offsets'].shape == (4,) and spec['offsets'][0] == 0.0
        assert isinstance(spec['source'], str) and len(spec['source']) > 10
        assert spec['legs'] == P.LEGS
    np.testing.assert_allclose(P.gait_offsets('walk'), WALK)
    np.testing.assert_allclose(P.gait_offsets('transverse_gallop'), [0, 0.1, 0.5, 0.6])
    np.testing.assert_allclose(P.gait_offsets('rotary_gallop'), [0, 0.9, 0.4, 0.5])
    with pytest.raises(KeyError):
        P.gait_offsets('moonwalk')


def footfall_order(offsets):
    return [P.LEGS[i] for i in np.argsort(offsets)]


def test_gallop_footfall_sequences():
    # transverse: hind pair and fore pair lead with the same side; rotary: opposite sides
    t = footfall_order(P.gait_offsets('transverse_gallop'))
    r = footfall_order(P.gait_offsets('rotary_gallop'))
    assert t == ['LF', 'RF', 'LH', 'RH']
    assert r == ['LF', 'LH', 'RH', 'RF']


def test_bad_gait_file_is_refused(tmp_path):
    p = tmp_path / 'g.yaml'
    p.write_text('gaits:\n  x: {offsets: [0, 0.5, 1.2, 0], source: "s"}\n')
    with pytest.raises(ValueError, match='offsets'):
        P.load_gait_tables(p)
    p.write_text('gaits:\n  x: {offsets: [0, 0.5, 0.5, 0]}\n')
    with pytest.raises(ValueError, match='source'):
        P.load_gait_tables(p)
    p.write_text('walk: [0, 1]\n')
    with pytest.raises(ValueError, match='gaits'):
        P.load_gait_tables(p)
    assert math.isfinite(P.phase_error([0, 0.1], [0, 0.2]))
