"""Song & Geyer 2015's knee muscles RF and BFSH and their pathways (M1, M2, M4, M7-M10).

Absent by default (``muscle.rf_bfsh: false``): the GH2010 walker is unchanged bit for bit
(test_modules.py). Here: the muscles' presence switch, each knee pathway's law and switch,
the fused kernel against the checked step, and the M7 ablation in a walking body.
"""
import math

import numpy as np
import pytest

from neuro_locomotion.optimize import tunables
from neuro_locomotion.params import ConfigError, ParamSet, read_ros_params
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params
from reflex_modules.geyer2010 import (_CH_F, _CH_KNEE, _CH_KNEE_RATE, _CH_LOAD, _CH_PER_LEG,
                                      _sg2015_knee, knee_pathways_active, pack_config)
from reflex_modules.parameters import (GH2010_PARAMS, KNEE_PATHWAY_FIELDS, MODULES, MUSCLES,
                                       ReflexConfig, build_muscle_set)
from reflex_modules.walker import PARAM_SPECS, TUNABLE, TUNABLE_ON_REQUEST, ReflexWalker

HFL, GLU, HAM, VAS, GAS, SOL, TA, RF, BFSH = range(9)
NM = len(MUSCLES)
DEG = math.pi / 180.0
FAST_FILE = config_file('human').parent / 'reflex' / 'human_walk_fast.yaml'
STANCE = np.radians([175.0, 175.0, 85.0, 140.0, 175.0, 90.0])


# -- the muscles ----------------------------------------------------------------------------------
def test_rf_and_bfsh_are_absent_by_default_and_act_on_hip_and_knee_when_present():
    assert MUSCLES[7:] == ('RF', 'BFSH')
    absent = build_muscle_set()
    assert absent.enabled.tolist() == ([True] * 7 + [False] * 2) * 2
    present = build_muscle_set({'muscle.rf_bfsh': True})
    assert present.enabled.all()
    rest = np.full(2 * NM, 0.01)
    for ms in (absent, present):
        ms.reset(STANCE)
    base_absent = absent.step(rest, STANCE, 0.001)
    base_present = present.step(rest, STANCE, 0.001)
    for m, (hip, knee) in ((RF, (-1, +1)), (BFSH, (0, -1))):   # torque signs on the left leg
        stim = rest.copy()
        stim[m] = 1.0
        for ms in (absent, present):
            ms.reset(STANCE)
        # absent: no force, no torque, state frozen, whatever the stimulation
        assert np.array_equal(absent.step(stim, STANCE, 0.001), base_absent)
        assert absent.force[m] == 0.0 and absent.activation[m] == 0.01
        # present: full stimulation flexes / extends the left hip and knee, nothing on the right
        for _ in range(30):
            tau = present.step(stim, STANCE, 0.001)
        delta = tau - base_present
        assert present.force[m] > 50.0
        assert np.sign(delta[0]) == hip and np.sign(delta[1]) == knee
        assert delta[2] == 0.0 and np.abs(delta[3:]).max() < 1e-9   # the right leg: round-off
    with pytest.raises(ConfigError, match='muscle.rf_bfsh'):
        ParamSet(GH2010_PARAMS, {'muscle.rf_bfsh': 1.5})


def test_knee_pathway_numbers_are_ranged_off_by_default_and_tuned_only_on_request():
    specs = {s.name: s for s in PARAM_SPECS}
    cfg = ReflexConfig()
    assert not knee_pathways_active(pack_config(cfg))
    for name in KNEE_PATHWAY_FIELDS:
        spec = specs[f'reflex.{name}']
        assert spec.min is not None and spec.max is not None and spec.unit
        assert f'reflex.{name}' in TUNABLE_ON_REQUEST and f'reflex.{name}' not in TUNABLE
        with pytest.raises(ConfigError, match=name):
            ParamSet(GH2010_PARAMS, {f'reflex.{name}': float('nan')})
    knee_set = config_file('human').parent / 'reflex' / 'human_walk_knee.yaml'
    _node, coordinates, _base = tunables('reflex', 'human', tune=['reflex.rf_g_f', 'reflex.bfsh_*'],
                                         start=knee_set)
    assert {c.name for c in coordinates} == {'reflex.rf_g_f'} | {
        f'reflex.{k}' for k in KNEE_PATHWAY_FIELDS if k.startswith('bfsh_')}
    # without RF and BFSH (config/human.yaml) their pathways change nothing: refused, named
    with pytest.raises(ConfigError, match=r'reflex.rf_g_f \(muscle.rf_bfsh is false'):
        tunables('reflex', 'human', tune=['reflex.rf_g_f'])
    # the leg-angle target counts when a knee pathway is on, though the layer is off
    _node, coordinates, _base = tunables('reflex', 'human', tune=['supraspinal.alpha0'],
                                         start=knee_set)
    assert [c.name for c in coordinates] == ['supraspinal.alpha0']


@pytest.mark.parametrize('value', ['"abc"', '.nan', '-1.0'])
def test_a_malformed_start_value_is_refused_by_name_before_the_search(tmp_path, value):
    start = tmp_path / 'start.yaml'
    start.write_text(f'reflex_node:\n  ros__parameters:\n    startup.duration: {value}\n')
    with pytest.raises(ConfigError, match='startup.duration'):
        tunables('reflex', 'human', tune=['reflex.sol_g_f'], start=start)


# -- the laws (geyer2010._sg2015_knee) ------------------------------------------------------------
GAINS = dict(rf_g_f=0.3, bfsh_k_phi=2.0, glu_c_g=0.1, hfl_c_g=0.2, knee_sw_tgt=140 * DEG,
             bfsh_g_alpha_rate=0.2, bfsh_k_sw=2.0, rf_g_v=0.1, bfsh_g_v=2.5, bfsh_g_ham=2.0,
             gas_g_ham=1.5, ham_s_thr=0.3, knee_tgt=175 * DEG, vas_k_tgt=0.3, bfsh_k_tgt=2.0)


def _knee(phase, modules_off=(), **signals):
    """Left leg in stance (not trailing), right leg in the swing ``phase``; returns out - before."""
    cfg = pack_config(ReflexConfig(**GAINS, modules=tuple(m not in modules_off for m in MODULES)))
    sig = np.zeros((2, _CH_PER_LEG))
    sig[0, _CH_F + RF] = 0.5
    sig[0, _CH_KNEE] = 3.1                         # beyond vas_phi_off (170 deg)
    sig[:, _CH_LOAD] = (1.0, 0.0)
    ang = np.array([[90 * DEG, 0.0], [0.0, 0.0], [70 * DEG, 70 * DEG]])  # alpha, rate, target
    flexed = np.zeros(2)
    if phase == 'early':                           # just lifted off, knee 150 deg, leg swinging
        sig[1, _CH_KNEE], ang[0, 1], ang[1, 1] = 150 * DEG, 100 * DEG, -2.0
    elif phase == 'mid':                           # flexed past 140 deg, behind the target
        sig[1, _CH_KNEE], ang[0, 1], flexed[1] = 120 * DEG, 80 * DEG, 1.0
        sig[1, _CH_KNEE_RATE] = signals.get('knee_rate', -3.0)
    elif phase == 'terminal':                      # late swing, the leg retracting, knee flexed
        sig[1, _CH_KNEE], ang[0, 1], ang[1, 1], flexed[1] = 165 * DEG, 72 * DEG, 0.5, 1.0
    out = np.full((2, NM), 0.2)
    out[1, HAM] = 0.5
    before = out.copy()
    _sg2015_knee(cfg, np.array([True, False]), np.array([False, False]), sig, ang, flexed, out)
    return out - before, flexed


def test_each_knee_pathway_follows_its_law():
    d, _ = _knee('early')
    # stance (left): M1 RF F+, M2 BFSH on over-extension, M4 the swinging leg's drive
    assert d[0, RF] == pytest.approx(0.3 * 0.5)
    assert d[0, BFSH] == pytest.approx(2.0 * (3.1 - ReflexConfig().vas_phi_off))
    assert d[0, GLU] == pytest.approx(0.1 * (0.2 + 0.2))          # HFL + RF of the right leg
    assert d[0, HFL] == pytest.approx(0.2 * (0.2 + 0.5))          # GLU + HAM of the right leg
    # early swing (right): M7 BFSH from the leg's forward swing and the knee above its target
    assert d[1, BFSH] == pytest.approx(0.2 * 2.0 + 2.0 * 10 * DEG)
    assert np.count_nonzero(d[1]) == 1
    d, flexed = _knee('mid')
    assert flexed[1] == 1.0
    assert d[1, RF] == pytest.approx(0.1 * 3.0) and d[1, BFSH] == 0.0   # knee flexing: RF damps
    d, _ = _knee('mid', knee_rate=1.0)                              # extending: BFSH holds it
    assert d[1, BFSH] == pytest.approx(2.5 * 1.0 * 10 * DEG) and d[1, RF] == 0.0
    d, _ = _knee('terminal')
    # late swing: M9 HAM stimulation above threshold -> BFSH, GAS; M10 VAS to the knee target
    assert d[1, GAS] == pytest.approx(1.5 * (0.5 - 0.3))
    assert d[1, BFSH] == pytest.approx(2.0 * (0.5 - 0.3))
    assert d[1, VAS] == pytest.approx(0.3 * 10 * DEG)


@pytest.mark.parametrize('phase,module,removed', [
    ('early', 'M1', [(0, RF)]), ('early', 'M2', [(0, BFSH)]),
    ('early', 'M4', [(0, HFL), (0, GLU)]), ('early', 'M7', [(1, BFSH)]), ('mid', 'M8', [(1, RF)]),
    ('terminal', 'M9', [(1, GAS), (1, BFSH)]),
    ('terminal', 'M10', [(1, VAS)])])
def test_each_module_switch_removes_exactly_its_knee_pathways(phase, module, removed):
    on, _ = _knee(phase)
    off, _ = _knee(phase, (module,))
    changed = sorted((int(a), int(b)) for a, b in zip(*np.nonzero(on != off)))
    assert changed == sorted(removed)
    assert all(off[leg, m] == 0.0 for leg, m in removed)


def test_the_swing_latch_resets_in_stance():
    cfg = pack_config(ReflexConfig(**GAINS))
    sig = np.zeros((2, _CH_PER_LEG))
    sig[:, _CH_KNEE] = 120 * DEG
    ang = np.array([[80 * DEG] * 2, [0.0] * 2, [70 * DEG] * 2])
    flexed = np.zeros(2)
    out = np.full((2, NM), 0.2)
    _sg2015_knee(cfg, np.array([False, False]), np.zeros(2, bool), sig, ang, flexed, out)
    assert flexed.tolist() == [1.0, 1.0]
    sig[:, _CH_KNEE] = 150 * DEG                   # extending again: stays in mid swing
    _sg2015_knee(cfg, np.array([False, False]), np.zeros(2, bool), sig, ang, flexed, out)
    assert flexed.tolist() == [1.0, 1.0]
    _sg2015_knee(cfg, np.array([True, False]), np.zeros(2, bool), sig, ang, flexed, out)
    assert flexed.tolist() == [0.0, 1.0]


# -- the walker ----------------------------------------------------------------------------------
KNEE_SET = {'muscle.rf_bfsh': True, **{f'reflex.{k}': v for k, v in GAINS.items()},
            'reflex.rf_g_v': 0.02, 'reflex.bfsh_g_v': 0.5}


def test_fused_kernel_equals_the_checked_step_with_knee_muscles(tmp_path, monkeypatch):
    path = write_params(tmp_path / 'knee.yaml', KNEE_SET, FAST_FILE)
    fast = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=path)
    monkeypatch.setattr(ReflexWalker, 'step', ReflexWalker.step_checked)
    slow = run('human', 'reflex', duration=0.8, stop_on_fall=False, params=path)
    a, b = fast.controller.trace(), slow.controller.trace()
    assert np.array_equal(a['phi'], b['phi'])
    assert np.array_equal(a['activation'], b['activation'])
    assert fast.controller.muscles.enabled.all()
    assert a['activation'][:, [RF, NM + BFSH]].max() > 0.05      # the knee muscles are driven
    state = fast.controller.state_for_recording()            # reflex_node's ~/state
    assert len(state) == 36 and state['force_n.right_BFSH'] >= 0.0
    assert 0.01 <= state['activation.left_RF'] <= 1.0
    cot = 'metabolic_cost_of_transport'
    assert fast.metrics[cot] == slow.metrics[cot]


def _swing_knee_min(path, duration=4.0):
    """Smallest left knee inner angle in swing after 1 s (deg) and the walked time."""
    r = run('human', 'reflex', duration=duration, params=path)
    tr = r.controller.trace()
    swing = (~np.asarray(tr['stance'])[:, 0]) & (tr['time'] > 1.0)
    return float(np.degrees(tr['phi'][swing, 1].min())), r.metrics['walked_s']


def test_m7_flexes_the_swing_knee(tmp_path):
    """SG2015's M7 (BFSH in early swing) flexes the knee for clearance; ablating it removes
    that flexion. Measured (human_walk_fast.yaml + RF, BFSH, M7 gains 0.2 s/rad and 2 /rad,
    6 s): smallest swing knee angle 102.8 deg with M7, 109.9 without (the passive GH2010 swing
    knee)."""
    gains = {'muscle.rf_bfsh': True, 'reflex.bfsh_g_alpha_rate': 0.2, 'reflex.bfsh_k_sw': 2.0}
    on = write_params(tmp_path / 'm7.yaml', gains, FAST_FILE)
    off = write_params(tmp_path / 'm7_off.yaml', {**gains, 'modules.M7': False}, FAST_FILE)
    knee_on, walked_on = _swing_knee_min(on)
    knee_off, walked_off = _swing_knee_min(off)
    assert walked_on > 3.9 and walked_off > 3.9
    assert knee_off - knee_on > 4.0


def test_shipped_knee_set_walks_with_rf_in_late_stance():
    """config/reflex/human_walk_knee.yaml (docs/walking.md, *SG2015's knee muscles*): measured
    30 s at 1.189 m/s gait speed, GRF 1.41 (median 1.375) BW, RF peaking at 53 % of the cycle
    (pre-swing), BFSH at 96 % (terminal swing, M10); 47 of 60 +-2 % neighbours walk 20 s."""
    path = config_file('human').parent / 'reflex' / 'human_walk_knee.yaml'
    r = run('human', 'reflex', duration=12.0, params=path)      # start-up until 6 s
    m = r.metrics
    assert not m['walker_fell'] and r.controller.muscles.enabled.all()
    assert 1.15 < m['gait_speed_mps'] < 1.25
    assert 40.0 <= m['activation_peak_cycle_pct']['RF'] <= 65.0
    assert 40.0 <= m['activation_peak_cycle_pct']['SOL'] <= 60.0
    assert m['activation_peak_cycle_pct']['BFSH'] >= 85.0


def test_lean_set_walks_past_the_swing_ham_cliff_of_the_knee_set(tmp_path):
    """config/reflex/human_walk_lean.yaml (docs/walking.md, *The swing HFL's trunk-lean term
    moves the speed ceiling*) is the knee set with the swing HFL's trunk-lean gain 2.0 /rad
    (1.185) and the swing HAM F+ gain x 1.02. The knee set with that HAM gain alone speeds up and
    falls (measured at 8.8 s); with the lean gain it walks 20 s at 1.21 m/s gait speed."""
    folder = config_file('human').parent / 'reflex'
    lean = read_ros_params(folder / 'human_walk_lean.yaml')['reflex_node']
    knee = read_ros_params(folder / 'human_walk_knee.yaml')['reflex_node']
    differ = sorted(k for k in lean if lean[k] != knee.get(k))
    assert differ == ['reflex.ham_g_f', 'reflex.hfl_k_lean']
    cliff = write_params(tmp_path / 'cliff.yaml', {'reflex.ham_g_f': lean['reflex.ham_g_f']},
                         folder / 'human_walk_knee.yaml')
    fell = run('human', 'reflex', duration=20.0, params=cliff).metrics
    assert fell['walker_fell'] and fell['walked_s'] < 12.0
    m = run('human', 'reflex', duration=20.0, params=folder / 'human_walk_lean.yaml').metrics
    assert not m['walker_fell'] and 1.2 <= m['gait_speed_mps'] < 1.25
