"""Spiking gait networks (cpg_controller.gait_networks): open-loop phase offsets from flexor burst
onsets against config/gaits/*.yaml, the generated data, and refusals. No mocks: every number is a
measured simulation of the real networks (8-12 s each; the whole file takes ~15-25 s)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cpg_controller import phase as P
from cpg_controller.bursts import detect_bursts
from cpg_controller.gait_networks import (dump, load_template, quadruped_gait, quadruped_gaits,
                                          quadruped_network)
from cpg_controller.network import Network, load_network
from neuro_locomotion.params import ConfigError

TICK = 1e-3
# acceptance targets (reference sheet §2/§8): trot, pace, bound <= 0.05 cycle; walk <= 0.07;
# the gallop is only reported in docs/cpg.md, tested here at the trot's bound
TARGET = {'walk': 0.07, 'trot': 0.05, 'pace': 0.05, 'bound': 0.05, 'gallop': 0.05}


def flexor_onsets(rec, legs=P.LEGS, skip=2.0):
    k = int(round(skip / TICK))
    return [detect_bursts(rec.rate(f'{leg}_flexor')[k:], TICK).onsets for leg in legs]


def open_loop(gait, seconds=10.0, seed=None, drive=None):
    net = Network(quadruped_network(gait, drive), seed=seed)
    rec = net.run(seconds)
    onsets = flexor_onsets(rec)
    offsets, strength = P.phase_offsets(onsets, return_strength=True)
    return offsets, strength, [P.frequency(e) for e in onsets], rec


@pytest.mark.parametrize('gait', ['walk', 'trot', 'pace', 'bound', 'gallop'])
def test_open_loop_phase_offsets(gait):
    target = quadruped_gait(gait)['offsets']
    offsets, strength, freqs, _ = open_loop(gait)
    assert offsets is not None, f'{gait}: no rhythm'
    error = P.phase_error(offsets, target)
    assert error <= TARGET[gait], (gait, offsets, error)
    assert np.min(strength) > 0.95, (gait, strength)          # locked every cycle
    assert all(f is not None and 1.5 < f < 4.5 for f in freqs), freqs


def test_trot_holds_over_its_drive_range_and_seeds():
    g = quadruped_gait('trot')
    lo, hi = g['drive_range']
    for drive, seed in ((lo, 3), (hi, 4)):
        offsets, strength, freqs, _ = open_loop('trot', seconds=8.0, seed=seed, drive=drive)
        assert P.phase_error(offsets, g['offsets']) <= 0.05, (drive, offsets)
    # frequency rises with drive
    f_lo = np.median(open_loop('trot', 8.0, drive=lo)[2])
    f_hi = np.median(open_loop('trot', 8.0, drive=hi)[2])
    assert f_hi > f_lo + 0.3, (f_lo, f_hi)


def test_half_centres_alternate_and_are_regular():
    """Each leg's flexor and extensor alternate (little overlap) and the period is regular."""
    _, _, _, rec = open_loop('trot', seconds=8.0)
    k = int(2.0 / TICK)
    for leg in P.LEGS:
        f = detect_bursts(rec.rate(f'{leg}_flexor')[k:], TICK)
        e = detect_bursts(rec.rate(f'{leg}_extensor')[k:], TICK)
        intervals = np.diff(f.onsets)
        assert np.std(intervals) / np.mean(intervals) < 0.05, (leg, intervals)
        from cpg_controller.bursts import overlap_fraction
        assert overlap_fraction(f, e) < 0.05, leg


def test_generated_networks_are_plain_valid_data():
    for gait in quadruped_gaits():
        net = quadruped_network(gait)
        spec = load_network(net)                        # validates
        assert len(spec.populations) == 8
        names = [p.name for p in spec.populations]
        assert names[:2] == ['LF_flexor', 'LF_extensor']
        text = dump(net)                                 # YAML round trip
        assert load_network(__import__('yaml').safe_load(text)).populations == spec.populations
    # walk: the LF -> RH -> RF -> LH ring of delayed links, delay = lag * period
    walk = quadruped_network('walk')
    lagged = [(p['source'], p['target'], p['delay']) for p in walk['projections']
              if p.get('delay', 0) > 0.01]
    period = quadruped_gait('walk')['period_s']
    assert sorted(lagged) == sorted([('LF_flexor', 'RH_flexor', 0.25 * period),
                                     ('RH_flexor', 'RF_flexor', 0.25 * period),
                                     ('RF_flexor', 'LH_flexor', 0.25 * period),
                                     ('LH_flexor', 'LF_flexor', 0.25 * period)])
    # trot: diagonal excitation, lateral/homolateral inhibition, no delays beyond 1 ms
    trot = quadruped_network('trot')
    kinds = {(p['source'], p['target']): p['type'] for p in trot['projections']
             if p['source'][:2] != p['target'][:2]}
    assert kinds[('LF_flexor', 'RH_flexor')] == 'excitatory'
    assert kinds[('LF_flexor', 'RF_flexor')] == 'inhibitory'
    assert kinds[('LF_flexor', 'LH_flexor')] == 'inhibitory'


def test_same_seed_same_spikes():
    a = Network(quadruped_network('walk'), seed=5).run(1.0)
    b = Network(quadruped_network('walk'), seed=5).run(1.0)
    assert np.array_equal(a.spike_times, b.spike_times)
    assert np.array_equal(a.spike_indices, b.spike_indices)


@pytest.mark.parametrize('gait, drive, words', [
    ('canter', None, 'unknown gait'),
    ('trot', math.nan, 'not finite'),
    ('trot', 1e3, 'out of range'),
    ('trot', 'fast', 'must be a number'),
])
def test_bad_gait_or_drive_refused(gait, drive, words):
    with pytest.raises(ConfigError, match=words):
        quadruped_network(gait, drive)


def test_bad_template_refused():
    t = load_template('quadruped')
    t['gaits']['trot']['drive'] = 99.0
    with pytest.raises(ConfigError, match='gaits.trot.drive'):
        quadruped_network('trot', template=t)
    t = load_template('quadruped')
    t['legs'] = ['LF', 'LH', 'RF', 'RH']
    with pytest.raises(ConfigError, match='legs'):
        quadruped_network('trot', template=t)
    t = load_template('quadruped')
    t['coupling']['diagonal'] = {}
    with pytest.raises(ConfigError, match='unknown key'):
        quadruped_network('trot', template=t)
    with pytest.raises(ConfigError):                     # a template is not a network file
        load_network('quadruped')


# --- salamander --------------------------------------------------------------------------------
from cpg_controller.gait_networks import salamander_drives, salamander_network  # noqa: E402

N_SEG = 8


def salamander_open_loop(d, seconds=10.0, seed=None):
    rec = Network(salamander_network(d), seed=seed).run(seconds)
    k = int(round(3.0 / TICK))
    left = [detect_bursts(rec.rate(f'body{i + 1}_left')[k:], TICK).onsets for i in range(N_SEG)]
    right = detect_bursts(rec.rate('body1_right')[k:], TICK).onsets
    limbs = flexor_onsets(rec, skip=3.0)
    return rec, left, right, limbs


@pytest.mark.parametrize('d', [4.0, 5.0])
def test_salamander_swims_with_one_wavelength_per_body(d):
    rec, left, right, limbs = salamander_open_loop(d)
    lags = P.travelling_wave_lags(left)
    assert lags is not None and np.max(np.abs(lags - 1.0 / N_SEG)) < 0.02, lags
    assert abs(np.mean(lags) - 1.0 / N_SEG) < 0.002, lags                 # exactly one wavelength
    lr = P.phase_offsets([left[0], right])[1]
    assert abs(lr - 0.5) < 0.03, lr
    assert 1.3 < P.frequency(left[0]) < 1.7
    k = int(3.0 / TICK)
    for leg in P.LEGS:                                                      # limbs silent
        assert rec.rate(f'{leg}_flexor')[k:].mean() < 1.0
        assert rec.rate(f'{leg}_extensor')[k:].mean() < 1.0


@pytest.mark.parametrize('d', [1.5, 2.0, 2.5])
def test_salamander_walks_with_a_standing_wave_and_trotting_limbs(d):
    rec, left, right, limbs = salamander_open_loop(d)
    lags = P.travelling_wave_lags(left)
    halves = np.r_[lags[:3], lags[4:]]
    assert np.max(np.abs(halves)) < 0.07, lags                      # in phase within a half
    assert abs(abs(lags[3]) - 0.5) < 0.1, lags                      # girdle jump (> 0.3)
    offsets = P.phase_offsets(limbs)
    assert P.phase_error(offsets, [0.0, 0.5, 0.5, 0.0]) < 0.05, offsets
    f_body, f_limb = P.frequency(left[0]), np.median([P.frequency(e) for e in limbs])
    assert f_body == pytest.approx(f_limb, rel=0.03)                 # body entrained by limbs
    assert 0.5 < f_limb < 0.9      # 0.61, 0.71, 0.83 Hz: +0.2 Hz per unit d, Ijspeert's 0.2 d


def test_salamander_walk_keeps_its_limb_phases_in_any_connectivity_draw():
    """The limb projections draw a fixed number of sources per neuron (``indegree``), so the
    walking network's limb offsets and period do not depend on the template's connectivity seed.
    With ``p: 0.5`` (before 2026-12-07) seeds 1-3 gave periods 1.44-1.61 s and offsets up to
    0.13 cycle off the table; now 1.41 s and <= 0.01 in each."""
    periods = []
    for seed in (1, 2, 3):
        template = load_template('salamander')
        template.pop('_source', None)
        template['seed'] = seed
        rec = Network(salamander_network(2.0, template=template), seed=0).run(20.0)
        limbs = flexor_onsets(rec, skip=3.0)
        offsets = P.phase_offsets(limbs)
        assert P.phase_error(offsets, [0.0, 0.5, 0.5, 0.0]) < 0.02, (seed, offsets)
        periods.append(1.0 / P.frequency(limbs[0]))
    assert max(periods) - min(periods) < 0.02 * min(periods), periods


def test_salamander_switch_at_d3_limbs_stop_body_frequency_jumps():
    drives = {d: salamander_drives(d) for d in (2.9, 3.1)}
    assert drives[2.9]['inhibitor'] < 2.0 < drives[3.1]['inhibitor']  # LIF rheobase 2 nA
    rec_w, left_w, _, limbs_w = salamander_open_loop(2.9)
    rec_s, left_s, _, _ = salamander_open_loop(3.5)
    k = int(3.0 / TICK)
    assert rec_w.rate('limb_inhibitor')[k:].mean() < 0.1
    assert rec_s.rate('limb_inhibitor')[k:].mean() > 50.0
    f_walk, f_swim = P.frequency(left_w[0]), P.frequency(left_s[0])
    assert f_swim - f_walk > 0.5, (f_walk, f_swim)


def test_salamander_drive_refused_outside_1_to_5():
    with pytest.raises(ConfigError, match='out of range'):
        salamander_network(5.5)
    with pytest.raises(ConfigError, match='not finite'):
        salamander_drives(math.inf)
    spec = load_network(salamander_network(4.0))
    assert len(spec.populations) == 2 * N_SEG + 8 + 1


def test_salamander_restart_pattern_weights_reach_the_network():
    """inhibitor_to_limbs.weight_by_target: the half-centres inhibited less restart first when
    the inhibitor falls silent (swim -> walk), a trot's swing (LF, RH flexors) and stance (RF,
    LH extensors); every other limb half-centre keeps the rule's weight."""
    net = salamander_network(2.0)
    w = {p['target']: p['weight'] for p in net['projections'] if p['source'] == 'limb_inhibitor'}
    first = {'LF_flexor', 'RH_flexor', 'RF_extensor', 'LH_extensor'}
    assert len(w) == 8 and {w[k] for k in first} == {5.0}
    assert {v for k, v in w.items() if k not in first} == {10.0}


@pytest.mark.parametrize('table, words', [
    ({'LF_flexer': 5.0}, "unknown limb half-centre 'LF_flexer'"),
    ({'LF_flexor': -1.0}, 'out of range'),
    ({'LF_flexor': math.nan}, 'finite number'),
    ({'LF_flexor': '5'}, 'finite number'),
    ([5.0], 'must be a mapping'),
])
def test_bad_restart_pattern_weights_refused(table, words):
    t = load_template('salamander')
    t['inhibitor_to_limbs'] = dict(t['inhibitor_to_limbs'], weight_by_target=table)
    with pytest.raises(ConfigError, match=words) as info:
        salamander_network(2.0, template=t)
    assert 'inhibitor_to_limbs.weight_by_target' in str(info.value)
