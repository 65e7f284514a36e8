"""Song & Geyer 2015 modules M1-M10 on the GH2010 reflex walker: switches, identity, ablation.

Real PyBullet walker runs (no mocks). Numbers: docs/reflexes.md (*Modules*), docs/walking.md.
"""
import math
from pathlib import Path

import numpy as np
import pytest

from neuro_locomotion.params import ConfigError, ParamSet
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from reflex_modules.ablation import gait_numbers, leg_angle, run_ablation, write_params
from reflex_modules.geyer2010 import (_leg_angles, _select_leg, _supraspinal, gh2010_stimulation,
                                      pack_config)
from reflex_modules.parameters import (GH2010_PARAMS, MODULE_PATHWAYS, MODULES, MUSCLES,
                                       ReflexConfig, SupraspinalConfig, build_reflex_config)
from reflex_modules.walker import PARAM_SPECS, ReflexWalker

WALK_FILE = config_file('human').parent / 'reflex' / 'human_walk.yaml'
#: 2 s of the shipped optimized walker (config/reflex/human_walk.yaml) recorded with the code
#: BEFORE the module switches existed (git ff671d1): inner joint angles and activations, 5 ms.
BEFORE = Path(__file__).parent / 'data' / 'reflex_gh2010_walk_2s.npz'
HFL, GLU, HAM, VAS, GAS, SOL, TA = range(7)
NM = len(MUSCLES)          # 9: GH2010's seven, then RF and BFSH
DEG = math.pi / 180.0


def _params(tmp_path, name, modules, value=False):
    return write_params(tmp_path / f'{name}.yaml', {f'modules.{m}': value for m in modules},
                        WALK_FILE)


# -- parameters ---------------------------------------------------------------------------------
def test_module_switches_are_bool_paramspecs_on_by_default_and_reach_the_node():
    names = [f'modules.{m}' for m in MODULES]
    node = {s.name: s for s in PARAM_SPECS}          # what controller_specs('reflex') returns
    assert all(node[n].default is True for n in names)
    assert build_reflex_config().modules == (True,) * 10
    cfg = build_reflex_config(ParamSet(GH2010_PARAMS, {'modules.M2': False, 'modules.M9': False}))
    assert cfg.modules == tuple(m not in ('M2', 'M9') for m in MODULES)
    with pytest.raises(ConfigError, match='modules.M2'):
        ParamSet(GH2010_PARAMS, {'modules.M2': 0.5})
    assert set(MODULE_PATHWAYS) == set(MODULES)
    assert all(MODULE_PATHWAYS[m] for m in MODULES)   # M4, M7, M8: SG2015 knee pathways


# -- the pure laws: each switch removes exactly its pathways --------------------------------------
def _laws(modules_off=(), stance=(True, False), prep=(False, False)):
    cfg = ReflexConfig(trunk_s0=0.4, modules=tuple(m not in modules_off for m in MODULES))
    force = np.full((2, NM), 0.4)
    length = np.full((2, NM), 1.2)
    length[:, HAM] = 0.9
    # knee 3.1 rad and extending (beyond phi_off), trunk at theta_ref and still, lean at take-off
    # 0.3 rad: no stimulation is clipped, so every pathway shows
    return gh2010_stimulation(cfg, stance, prep, force, length, (3.1, 3.1), (0.5, 0.5),
                              cfg.trunk_theta_ref, 0.0, (0.3, 0.3))


def test_each_module_switch_removes_its_pathways_and_nothing_else():
    on = _laws(prep=(True, False))                  # left stance (trailing in DS), right swing
    pre = 0.01
    cfg = ReflexConfig(trunk_s0=0.4)
    changed = {}
    for m in MODULES:
        off = _laws((m,), prep=(True, False))
        changed[m] = sorted({(leg, k) for leg, k in zip(*np.nonzero(off != on))})
    L, R = 0, 1
    assert changed['M1'] == [(L, VAS), (L, SOL)]
    assert changed['M2'] == [(L, VAS), (L, GAS)]
    assert changed['M3'] == [(L, HFL), (L, GLU), (L, HAM)]
    assert changed['M5'] == [(L, TA), (R, TA)]
    assert changed['M6'] == [(L, HFL), (L, GLU), (R, HFL)]
    assert changed['M9'] == [(R, HFL), (R, HAM)]
    assert changed['M10'] == [(R, GLU)]
    # M4, M7, M8 gate only SG2015 knee and contralateral pathways (geyer2010._sg2015_knee,
    # test_knee_muscles.py), none of the GH2010 laws
    assert changed['M4'] == changed['M7'] == changed['M8'] == []
    # the removed pathways leave S0 (or the remaining terms) behind
    off = _laws(('M2',), prep=(True, False))
    assert off[L, GAS] == pre
    assert off[L, VAS] == pytest.approx(cfg.vas_s0 + cfg.vas_g_f * 0.4)      # no inhibition
    assert on[L, VAS] == pytest.approx(off[L, VAS] - cfg.vas_k_phi * (3.1 - cfg.vas_phi_off))
    off = _laws(('M9',))
    assert off[R, HAM] == pre
    assert off[R, HFL] - on[R, HFL] == pytest.approx(cfg.ham_hfl_g_l * (0.9 - cfg.ham_l_off))


# -- the walker: identical with every module on --------------------------------------------------
def test_all_modules_on_is_the_gh2010_walker_bit_for_bit(tmp_path):
    """2 s of joint angles and activations equal, bit for bit, those recorded before the modules
    existed; writing every switch explicitly as true changes nothing either."""
    before = np.load(BEFORE)
    path = _params(tmp_path, 'on', MODULES, True)
    assert 'modules.M10: true' in path.read_text()
    walker = run('human', 'reflex', duration=2.0, stop_on_fall=False, params=path).controller
    trace = walker.trace()
    assert np.array_equal(trace['phi'], before['phi'])
    # the recording has GH2010's 14 muscles; RF and BFSH (absent by default) have slots since
    assert not walker.muscles.enabled.all()
    assert np.array_equal(trace['activation'][:, walker.muscles.enabled], before['activation'])


def test_fused_kernel_equals_the_checked_step_with_modules_off(tmp_path, monkeypatch):
    """The fused kernel (walker.py) inlines geyer2010._laws: with modules off it must still match
    the checked path. (numba's cache does not see edits of a callee in another file: a stale
    walker kernel fails here.)"""
    path = _params(tmp_path, 'off', ('M2', 'M9'))
    fast = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=path).controller.trace()
    monkeypatch.setattr(ReflexWalker, 'step', ReflexWalker.step_checked)
    slow = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=path).controller.trace()
    on = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=WALK_FILE)
    assert np.array_equal(fast['phi'], slow['phi'])
    assert np.array_equal(fast['activation'], slow['activation'])
    assert not np.array_equal(fast['activation'], on.controller.trace()['activation'])


# -- ablation (docs/reflexes.md, *Ablation*) --------------------------------------------------------
def test_leg_angle_convention():
    straight = np.array([math.pi, math.pi, math.pi / 2])
    assert leg_angle(straight, 0.0) == pytest.approx(math.pi / 2)
    # hip flexed 20 deg, trunk upright: the straight leg points 20 deg ahead of vertical
    assert leg_angle(straight - [20 * DEG, 0, 0], 0.0) == pytest.approx(70 * DEG)
    assert leg_angle(straight + [20 * DEG, 0, 0], 0.0) == pytest.approx(110 * DEG)


@pytest.fixture(scope='module')
def ablations():
    return {off: run_ablation(off, duration=3.0, params=WALK_FILE)
            for off in ((), ('M2',), ('M9',))}


def test_m2_off_hyperextends_the_knee(ablations):
    """SG2015: without M2 the stance knee hyperextends. Measured (3 s, shipped set): peak stance
    knee 181.7 -> 185.0 deg; stance time beyond 180 deg (both legs) 0.06 -> 0.48 s per walked s
    (0.01 over the 20 s walk); falls at 2.4 s."""
    on, off = ablations[()], ablations[('M2',)]
    assert off['knee_peak_stance_deg'] >= on['knee_peak_stance_deg'] + 2.5
    assert off['knee_over_180_s_per_s'] >= max(0.3, 5.0 * on['knee_over_180_s_per_s'])
    assert off['walked_s'] < 3.0 and on['walked_s'] > 2.99


def test_m9_off_overshoots_the_swing(ablations):
    """SG2015: without M9 the swing leg overshoots. Measured (shipped set): leg angle at its most
    forward in swing 70.7 -> 55.1 deg (median over swings), hip flexion 136.7 -> 131.7 deg."""
    on, off = ablations[()], ablations[('M9',)]
    assert off['swings'] >= 1 and on['swings'] >= 3
    assert off['swing_alpha_min_deg'] <= on['swing_alpha_min_deg'] - 10.0
    assert off['swing_hip_peak_flexion_deg'] <= on['swing_hip_peak_flexion_deg'] - 3.0


def test_gait_numbers_cut_at_the_fall():
    t = np.arange(0.0, 1.0, 0.005)
    phi = np.tile([math.pi, math.pi + 0.1, math.pi / 2] * 2, (t.size, 1))
    phi[t > 0.5, 1] = math.pi - 0.2                   # bent only after the "fall"
    trace = {'time': t, 'phi': phi, 'pitch': np.zeros(t.size),
             'step_stance': np.ones((t.size, 2), dtype=bool)}
    trace['step_stance'][:, 1] = False                # the right leg in swing: not counted
    out = gait_numbers(trace, {'walked_s': 0.5})
    assert out['knee_over_180_s_per_s'] == pytest.approx(0.505 / 0.5, rel=0.02)
    assert out['knee_peak_stance_deg'] == pytest.approx(180.0 + 0.1 / DEG)
    assert out['swings'] == 0


# -- the supraspinal layer (SG2015; off by default) ------------------------------------------------
SUPRA_FILE = config_file('human').parent / 'reflex' / 'human_walk_supraspinal.yaml'


def _supra_cfg(**values):
    from dataclasses import replace
    return pack_config(ReflexConfig(supraspinal=replace(SupraspinalConfig(enabled=True), **values)))


def test_leg_angles_and_foot_placement_target():
    cfg = _supra_cfg(alpha0=70 * DEG, c_d=-5 * DEG, c_v=-5 * DEG)
    phi = np.array([200, 175, 95, 150, 170, 90]) * DEG        # left behind (stance), right ahead
    rate = np.array([1.0, -0.5, 0.2, -2.0, 1.0, 0.0])
    pitch, pitch_rate, speed = 0.1, 0.3, 1.2
    ang = np.zeros((3, 2))
    _leg_angles(cfg, phi, rate, pitch, pitch_rate, speed, np.array([True, False]), ang)
    for leg in range(2):
        assert ang[0, leg] == pytest.approx(leg_angle(phi[3 * leg:3 * leg + 3], pitch))
        # the rate is the derivative along the joint and pitch rates
        h = 1e-6
        ahead = leg_angle(phi[3 * leg:3 * leg + 3] + h * rate[3 * leg:3 * leg + 3], pitch + h * pitch_rate)
        assert ang[1, leg] == pytest.approx((ahead - ang[0, leg]) / h, rel=1e-4)
    # d: the hip ahead of the left (stance) ankle
    thigh_pitch = pitch + phi[0] - math.pi
    shank_pitch = thigh_pitch + math.pi - phi[1]
    d = 0.5 * math.sin(thigh_pitch) + 0.5 * math.sin(shank_pitch)
    assert d > 0.2
    assert ang[2, 0] == ang[2, 1] == pytest.approx(70 * DEG - 5 * DEG * d - 5 * DEG * speed)


def test_swing_leg_selection_and_alpha_pathways():
    cfg = _supra_cfg(hfl_g=1.0, hfl_d=0.0, glu_g=1.0, glu_d=0.0, ham_g=2.0, delta_alpha=5 * DEG)
    ang = np.array([[100 * DEG, 60 * DEG], [0.0, 0.0], [70 * DEG, 70 * DEG]])
    stance, prep = np.array([True, True]), np.array([False, True])
    _select_leg(cfg, ang, stance, prep)
    assert prep.tolist() == [True, False]          # the left leg is further behind its target
    out = np.full((2, NM), 0.01)
    stance = np.array([False, False])               # both in swing
    _supraspinal(cfg, ang, stance, np.array([False, False]), np.zeros(2), out)
    assert out[0, HFL] == pytest.approx(0.01 + 30 * DEG)                 # behind: flex the hip
    assert out[0, GLU] == out[0, HAM] == 0.01
    assert out[1, GLU] == pytest.approx(0.01 + 10 * DEG)                 # ahead: extend it
    assert out[1, HAM] == pytest.approx(0.01 + 2.0 * 15 * DEG)           # beyond tgt + 5 deg
    assert out[1, HFL] == 0.01
    # the trailing stance leg in double support, weighted by the other leg's load
    out = np.full((2, NM), 0.01)
    _supraspinal(cfg, ang, np.array([True, True]), np.array([True, False]),
                 np.array([0.7, 0.25]), out)
    assert out[0, HFL] == pytest.approx(0.01 + 0.25 * 30 * DEG) and out[0, HAM] == 0.01
    assert (out[1] == 0.01).all()
    # gated by M6 (HFL, GLU) and M9 (HAM)
    off = pack_config(ReflexConfig(modules=tuple(m not in ('M6', 'M9') for m in MODULES),
                                   supraspinal=SupraspinalConfig(enabled=True)))
    out = np.full((2, NM), 0.01)
    _supraspinal(off, ang, np.array([False, False]), np.array([False, False]), np.zeros(2), out)
    assert (out == 0.01).all()


def test_supraspinal_fused_kernel_equals_the_checked_step(tmp_path, monkeypatch):
    path = write_params(tmp_path / 'ss.yaml', {'supraspinal.enabled': True,
                                               'supraspinal.hfl_g': 0.3}, WALK_FILE)
    fast = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=path).controller.trace()
    monkeypatch.setattr(ReflexWalker, 'step', ReflexWalker.step_checked)
    slow = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=path).controller.trace()
    on = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=WALK_FILE)
    assert np.array_equal(fast['activation'], slow['activation'])
    assert np.array_equal(fast['phi'], slow['phi'])
    assert not np.array_equal(fast['activation'], on.controller.trace()['activation'])


def test_supraspinal_target_steers_the_swing(tmp_path):
    """A lower alpha0 puts the foot further ahead (smaller leg angle at the end of swing).
    Measured (gains 0.1 / 0.1 / 0.2, 3 s): alpha0 60, 70, 80 deg -> 67.7, 69.4, 71.6 deg: the
    GH2010 swing laws still dominate at these gains."""
    alpha = {}
    for a0 in (60, 70, 80):
        path = write_params(tmp_path / f'a{a0}.yaml', {
            'supraspinal.enabled': True, 'supraspinal.alpha0': a0 * DEG,
            'supraspinal.hfl_g': 0.1, 'supraspinal.glu_g': 0.1, 'supraspinal.ham_g': 0.2},
            WALK_FILE)
        r = run('human', 'reflex', duration=3.0, params=path)
        alpha[a0] = gait_numbers(r.controller.trace(), r.metrics)['swing_alpha_min_deg']
    assert alpha[60] < alpha[70] < alpha[80]
    assert alpha[80] - alpha[60] >= 3.0


def test_supraspinal_set_walks_20_s():
    """config/reflex/human_walk_supraspinal.yaml (the shipped set + the layer) walks 20 s
    (measured: 36 steps, 1.06 m/s; off: 35 steps, 1.04 m/s)."""
    m = run('human', 'reflex', duration=20.0, params=SUPRA_FILE).metrics
    assert not m['walker_fell'] and m['walked_s'] >= 19.99
    assert m['steps'] >= 35 and m['mean_speed_mps'] >= 1.04
