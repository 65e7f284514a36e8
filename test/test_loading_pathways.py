"""Loading-response and push-off pathways of the reflex walker (issue 6; docs/walking.md,
*Loading-response pathways*): the laws, their refusal of bad values, their delays, the fused
kernel with them on, and the opt-in hip-excursion term of the gait objective.

Real laws, real delay lines, real PyBullet runs (no mocks)."""
import math

import numpy as np
import pytest

from neuro_locomotion.objectives import make_objective
from neuro_locomotion.optimize import tunables
from neuro_locomotion.params import ConfigError, ParamSet, read_ros_params
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params
from reflex_modules.geyer2010 import LONG_AGO, Gh2010Reflexes, ReflexSensors, gh2010_stimulation
from reflex_modules.parameters import (GH2010_PARAMS, MODULES, MUSCLES, ReflexConfig,
                                       build_reflex_config)
from reflex_modules.walker import PARAM_SPECS, TUNABLE

from reflex_pathway_checks import assert_fused_equals_checked

HFL, GLU, HAM, VAS, GAS, SOL, TA = range(7)
NM = len(MUSCLES)          # 9: GH2010's seven, then RF and BFSH
FAST_FILE = config_file('human').parent / 'reflex' / 'human_walk_fast.yaml'
NEW = ('vas_k_bw', 'vas_k_flex_rate', 'vas_k_ext_rate', 'ta_k_plantar_rate', 'ta_rate_window',
       'trunk_load_mix', 'gas_onset', 'push_off_k_bw')


def laws(cfg, stance=(True, True), prep=(True, False), knee_rate=(0.0, 0.0), pitch=None,
         pitch_rate=0.0, load=(0.7, 0.6), ankle_rate=(0.0, 0.0), since=(LONG_AGO, LONG_AGO),
         force=0.3):
    forces = np.full((2, NM), force)
    length = np.full((2, NM), 1.0)
    pitch = cfg.trunk_theta_ref if pitch is None else pitch
    # knee 2.8 rad: below phi_off, no over-extension inhibition; nothing clipped below
    return gh2010_stimulation(cfg, stance, prep, forces, length, (2.8, 2.8), knee_rate, pitch,
                              pitch_rate, (0.1, 0.1), load, ankle_rate, since)


# -- declarations --------------------------------------------------------------------------------
def test_new_parameters_are_ranged_off_by_default_and_tunable():
    specs = {s.name: s for s in GH2010_PARAMS}
    defaults = ReflexConfig()
    for name in NEW:
        spec = specs[f'reflex.{name}']
        assert spec.min == 0.0 and spec.max is not None and spec.unit and spec.description
        assert f'reflex.{name}' in TUNABLE
    assert all(getattr(defaults, n) == 0.0 for n in NEW if n != 'ta_rate_window')
    assert defaults.ta_rate_window == 0.1           # acts only with ta_k_plantar_rate > 0
    _node, coordinates, _base = tunables('reflex', 'human')
    assert len(coordinates) == 54   # 51 before the load limiter, 48 before the knee guard, 40 before


@pytest.mark.parametrize('name,bad', [('vas_k_bw', -0.1), ('vas_k_flex_rate', 2.5),
                                      ('trunk_load_mix', 1.5), ('gas_onset', math.nan),
                                      ('ta_k_plantar_rate', math.inf), ('ta_rate_window', -1.0)])
def test_bad_values_are_refused_naming_the_parameter(name, bad):
    with pytest.raises(ConfigError, match=name):
        ParamSet(GH2010_PARAMS, {f'reflex.{name}': bad})


def test_bad_file_value_is_refused_by_the_walker(tmp_path):
    path = write_params(tmp_path / 'bad.yaml', {'reflex.trunk_load_mix': 2.0}, FAST_FILE)
    with pytest.raises(ConfigError, match='trunk_load_mix'):
        run('human', 'reflex', duration=0.01, params=path)


@pytest.mark.parametrize('field', ['load', 'ankle_rate', 'since'])
def test_pure_laws_refuse_non_finite_new_inputs(field):
    kwargs = {field: (math.nan, 0.0)}
    with pytest.raises(ValueError, match='not finite'):
        laws(ReflexConfig(), **kwargs)


# -- each law ------------------------------------------------------------------------------------
def test_all_off_is_gh2010_exactly():
    base = ReflexConfig()
    # the new inputs (knee 2.8 rad: no over-extension inhibition, so the knee rate is one too)
    args = dict(knee_rate=(-3.0, 2.0), load=(1.2, 0.4), ankle_rate=(8.0, 5.0), since=(0.01, 0.02))
    assert np.array_equal(laws(base, **args), laws(base))     # do nothing while all are off


def test_vas_inhibited_by_contralateral_load_in_the_trailing_leg_only():
    off, on = ReflexConfig(), ReflexConfig(vas_k_bw=0.2)
    a, b = laws(off, load=(0.7, 0.6)), laws(on, load=(0.7, 0.6))
    # left trails (prep): VAS -= 0.2 x right load 0.6; right (leading) unchanged
    assert b[0, VAS] == pytest.approx(a[0, VAS] - 0.2 * 0.6, abs=1e-12)
    assert b[1, VAS] == a[1, VAS]
    assert np.array_equal(np.delete(b, VAS, axis=1), np.delete(a, VAS, axis=1))


def test_stance_knee_damper_on_vas():
    cfg = ReflexConfig(vas_k_flex_rate=0.1, vas_k_ext_rate=0.05)
    ref = laws(ReflexConfig(), knee_rate=(-2.0, 3.0))
    out = laws(cfg, knee_rate=(-2.0, 3.0))
    assert out[0, VAS] == pytest.approx(ref[0, VAS] + 0.1 * 2.0, abs=1e-12)   # flexing: +
    assert out[1, VAS] == pytest.approx(ref[1, VAS] - 0.05 * 3.0, abs=1e-12)  # extending: -
    # swing legs: nothing
    swing = laws(cfg, stance=(False, False), prep=(False, False), knee_rate=(-2.0, 3.0))
    assert np.array_equal(swing, laws(ReflexConfig(), stance=(False, False), prep=(False, False),
                                      knee_rate=(-2.0, 3.0)))


def test_ta_on_plantarflexion_rate_only_early_in_stance():
    cfg = ReflexConfig(ta_k_plantar_rate=0.04, ta_rate_window=0.08)
    ref = laws(ReflexConfig())
    out = laws(cfg, ankle_rate=(5.0, 5.0), since=(0.05, 0.09))
    assert out[0, TA] == pytest.approx(ref[0, TA] + 0.04 * 5.0, abs=1e-12)    # within 80 ms
    assert out[1, TA] == ref[1, TA]                                           # after it
    dorsi = laws(cfg, ankle_rate=(-5.0, -5.0), since=(0.05, 0.05))            # dorsiflexing
    assert np.array_equal(dorsi, ref)


def test_trunk_pd_load_mix():
    mix = 0.6
    cfg = ReflexConfig(trunk_load_mix=mix, trunk_s0=0.3)
    plain = ReflexConfig(trunk_s0=0.3)
    pitch = plain.trunk_theta_ref + 0.1
    pd = plain.trunk_k_p * 0.1 + plain.trunk_k_d * 0.2
    out = laws(cfg, pitch=pitch, pitch_rate=0.2, load=(1.5, 0.2), prep=(False, False))
    ref = laws(plain, pitch=pitch, pitch_rate=0.2, load=(1.5, 0.2), prep=(False, False))
    for leg, load in enumerate((1.5, 0.2)):
        scale = (1 - mix) + mix * load
        assert out[leg, HAM] == pytest.approx(0.3 + pd * scale, abs=1e-12)
        assert out[leg, HFL] == pytest.approx(max(0.01, 0.3 - pd * scale), abs=1e-12)
        assert ref[leg, HAM] == pytest.approx(0.3 + pd, abs=1e-12)
    full = laws(ReflexConfig(trunk_load_mix=1.0, trunk_s0=0.3), pitch=pitch, pitch_rate=0.2,
                load=(0.0, 1.0), prep=(False, False))
    assert full[0, HAM] == pytest.approx(0.3, abs=1e-12)        # unloaded leg: no trunk PD


def test_gas_force_feedback_gated_until_onset():
    cfg = ReflexConfig(gas_onset=0.2)
    out = laws(cfg, since=(0.15, 0.25), force=0.5)
    assert out[0, GAS] == cfg.pre_stimulation
    assert out[1, GAS] == pytest.approx(cfg.pre_stimulation + cfg.gas_g_f * 0.5, abs=1e-12)
    start = laws(cfg, since=(LONG_AGO, LONG_AGO), force=0.5)     # the stance a run starts in
    assert start[0, GAS] == pytest.approx(cfg.pre_stimulation + cfg.gas_g_f * 0.5, abs=1e-12)
    off = ReflexConfig(gas_onset=0.2, modules=tuple(m != 'M2' for m in MODULES))
    assert laws(off, since=(0.25, 0.25), force=0.5)[1, GAS] == cfg.pre_stimulation


def test_push_off_of_the_trailing_leg_driven_by_the_contralateral_load():
    cfg = ReflexConfig(push_off_k_bw=0.25)
    ref = laws(ReflexConfig(), load=(0.7, 0.6), force=0.2)
    out = laws(cfg, load=(0.7, 0.6), force=0.2)          # left trails, right leads
    assert out[0, SOL] == pytest.approx(ref[0, SOL] + 0.25 * 0.6, abs=1e-12)
    assert out[0, GAS] == pytest.approx(ref[0, GAS] + 0.25 * 0.6, abs=1e-12)
    assert np.array_equal(out[1], ref[1])
    m1_off = ReflexConfig(push_off_k_bw=0.25, modules=tuple(m != 'M1' for m in MODULES))
    assert laws(m1_off, load=(0.7, 0.6))[0, SOL] == m1_off.pre_stimulation


# -- the stateful controller: delays and time since touchdown --------------------------------------
def _sensors(load, ankle_rate=(0.0, 0.0)):
    return ReflexSensors(leg_load=np.array(load, float), muscle_force=np.full(2 * NM, 0.3),
                         muscle_length=np.ones(2 * NM), knee_angle=np.full(2, 2.8),
                         knee_rate=np.zeros(2), trunk_pitch=0.105, trunk_pitch_rate=0.0,
                         ankle_rate=np.array(ankle_rate, float))


def test_ankle_rate_reaches_ta_after_20_ms_within_the_window_after_touchdown():
    dt = 0.001
    rx = Gh2010Reflexes(ReflexConfig(ta_k_plantar_rate=0.05, ta_rate_window=1.0), dt)
    rx.reset(_sensors((0.0, 1.0)))            # left in swing, right in stance
    ta = []
    for k in range(30):                       # the left leg lands at the first step
        ta.append(rx.step(_sensors((1.0, 1.0), (4.0, 0.0)), dt)[TA])
    assert rx.since_touchdown[0] == pytest.approx(29 * dt)
    assert rx.since_touchdown[1] == LONG_AGO              # the right leg's start stance
    assert ta[19] == ta[0]
    assert ta[20] == pytest.approx(ta[0] + 0.05 * 4.0, abs=1e-12)     # 20 ms later
    # the start stance has no touchdown time: no TA term, whatever the rate
    rx.reset(_sensors((1.0, 0.0)))
    first = rx.step(_sensors((1.0, 0.0), (4.0, 4.0)), dt)[TA]
    assert all(rx.step(_sensors((1.0, 0.0), (4.0, 4.0)), dt)[TA] == first for _ in range(25))


def test_trailing_vas_sees_the_contralateral_load_after_5_ms():
    dt = 0.001
    rx = Gh2010Reflexes(ReflexConfig(vas_k_bw=0.5), dt)
    rx.reset(_sensors((1.0, 0.0)))
    vas = []
    for k in range(12):
        vas.append(rx.step(_sensors((1.0, 0.8)), dt)[VAS])    # right lands: left trails
    assert rx.swing_prep.tolist() == [True, False]
    assert vas[4] == pytest.approx(vas[5] + 0.5 * 0.8, abs=1e-12)   # the load arrives at step 5
    assert vas[5] == vas[11]


# -- the walker: fused kernel = checked path with every pathway on ----------------------------------
def test_fused_kernel_equals_the_checked_step_with_the_new_pathways_on(tmp_path, monkeypatch):
    values = {'reflex.vas_k_bw': 0.3, 'reflex.vas_k_flex_rate': 0.03,
              'reflex.vas_k_ext_rate': 0.05, 'reflex.ta_k_plantar_rate': 0.05,
              'reflex.ta_rate_window': 0.1, 'reflex.trunk_load_mix': 0.5,
              'reflex.gas_onset': 0.1, 'reflex.push_off_k_bw': 0.3}
    assert_fused_equals_checked(values, tmp_path, monkeypatch)


def test_config_carries_the_new_values_to_the_reflexes(tmp_path):
    path = write_params(tmp_path / 'on.yaml', {'reflex.gas_onset': 0.25}, FAST_FILE)
    cfg = build_reflex_config(ParamSet(GH2010_PARAMS, {'reflex.gas_onset': 0.25}))
    assert cfg.gas_onset == 0.25
    specs = {s.name: s for s in PARAM_SPECS}
    assert specs['reflex.gas_onset'].max == 0.5            # the optimizer's search bound
    result = run('human', 'reflex', duration=0.05, params=path)
    assert result.controller.reflexes.config.gas_onset == 0.25


# -- the objective's opt-in hip-excursion term --------------------------------------------------------
def test_hip_excursion_term_is_off_by_default_and_adds_its_weighted_excess():
    result = run('human', 'reflex', duration=4.5)
    plain = make_objective('gait', 'human')(result, 4.5)
    assert 'hip_excursion_m' not in plain.terms
    weighted = make_objective('gait', 'human', hip_excursion_weight=200.0)(result, 4.5)
    z = np.asarray(result.trace.base_position)[:, 2]
    t = np.asarray(result.trace.time) - result.trace.time[0]
    ranges = [np.ptp(z[(t >= a) & (t <= a + 1.0)]) for a in (2.0, 3.0)]
    assert weighted.terms['hip_excursion_m'] == pytest.approx(float(np.median(ranges)), abs=1e-12)
    # the shipped gait vaults: its hip moves 10-12 cm (measured 0.110 m over 6 s)
    assert 0.08 < weighted.terms['hip_excursion_m'] < 0.14
    excess = weighted.terms['hip_excursion_m'] - 0.05
    assert weighted.value == pytest.approx(plain.value + 200.0 * excess, rel=1e-12)
    short = make_objective('gait', 'human', hip_excursion_weight=200.0)(
        run('human', 'reflex', duration=2.5), 2.5)
    assert short.terms['hip_excursion_m'] is None            # not one whole window after 2 s
    # refused when the objective is made (before any evaluation), whatever the weight
    for bad, match in (({'hip_excursion_window_s': 0.0}, 'hip_excursion_window_s'),
                       ({'hip_excursion_skip_s': -1.0}, 'hip_excursion_skip_s'),
                       ({'hip_excursion_weight': -1.0}, 'hip_excursion_weight'),
                       ({'window_s': 0.0}, 'window_s')):
        with pytest.raises(ConfigError, match=match):
            make_objective('gait', 'human', **bad)


PATHWAYS_FILE = config_file('human').parent / 'reflex' / 'human_walk_pathways.yaml'


def test_pathways_set_reevaluates_bit_for_bit_with_a_lower_peak_at_speed():
    """config/reflex/human_walk_pathways.yaml (re-optimized with the new pathways, 20 s horizon):
    its saved 20 s run re-evaluates bit for bit; it walks the 20 s at >= 1.2 m/s with a lower
    GRF peak than the shipped set (measured 1.74 vs 2.21 BW, 1.242 m/s) and uses the pathways."""
    from neuro_locomotion.optimize import read_best, reevaluate
    info = read_best(PATHWAYS_FILE)
    assert reevaluate(PATHWAYS_FILE) == info['objective_value']
    assert info['terms.survived_s'] == 20.0
    assert info['terms.speed_mps'] > 1.2
    assert 1.6 < info['terms.grf_peak_bw'] < 1.9
    p = read_ros_params(PATHWAYS_FILE)['reflex_node']
    assert p['reflex.vas_k_bw'] > 0.1 and p['reflex.vas_k_ext_rate'] > 0.05
    assert p['reflex.trunk_load_mix'] > 0.1
