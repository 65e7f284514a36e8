"""Start-up gait of the reflex walker (issue 6; docs/walking.md, "A start-up gait"):
``startup.duration``, ``startup.blend`` and ``startup.reflex.*``, the optimizer carrying a start
file's untuned values, and ``bench/compose_startup.py``. Real laws, real PyBullet runs."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from neuro_locomotion.optimize import BEST, CHECKPOINT, optimize, read_best, reevaluate
from neuro_locomotion.params import ConfigError, read_ros_params
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params
from reflex_modules.geyer2010 import _CFG_FIELDS, _SS_A0, _SS_HAMG
from reflex_modules.walker import (STARTUP_FIELDS, STARTUP_SUPRASPINAL_FIELDS, ReflexWalker,
                                   walker_params)

from reflex_pathway_checks import FAST_FILE, assert_fused_equals_checked

PUBLISHED = config_file('human').parent / 'reflex' / 'gh2010_published.yaml'
SOL = _CFG_FIELDS.index('sol_g_f')
VAS_KBW = _CFG_FIELDS.index('vas_k_bw')


def bench_module(name):
    path = Path(__file__).resolve().parents[1] / 'bench' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose_module():
    return bench_module('compose_startup')


def walker(tmp_path, values):
    from locomotion_sim.world import World
    from neuro_locomotion.runner import body_info
    path = write_params(tmp_path / 'w.yaml', values, FAST_FILE)
    with World('human') as world:
        return ReflexWalker(body_info(world, config_file('human')), params=path)


def test_startup_parameters_are_ranged_with_the_reflex_ranges_and_off_by_default():
    p = walker_params(config_file('human'))
    assert p['startup.duration'] == 0.0                      # off: reflex.* throughout
    specs = walker_params().specs
    for name in STARTUP_FIELDS:
        mine, theirs = specs[f'startup.reflex.{name}'], specs[f'reflex.{name}']
        assert (mine.min, mine.max, mine.unit, mine.default) == \
            (theirs.min, theirs.max, theirs.unit, theirs.default)
    assert 'delay_long' not in STARTUP_FIELDS and 'vas_inhibit_only_extending' not in STARTUP_FIELDS


@pytest.mark.parametrize('name,value', [
    ('startup.duration', -1.0), ('startup.duration', math.nan), ('startup.duration', 61.0),
    ('startup.blend', -0.1), ('startup.reflex.sol_g_f', 11.0),
    ('startup.reflex.sol_g_f', math.inf), ('startup.reflex.stance_load_threshold', 'high')])
def test_a_bad_startup_value_is_refused_naming_it(name, value):
    with pytest.raises(ConfigError, match=name.replace('.', r'\.')):
        walker_params(None, None, {name: value})


def test_schedule_holds_the_startup_values_then_blends_to_the_walking_values_exactly(tmp_path):
    values = {'startup.duration': 0.5, 'startup.blend': 1.0, 'startup.reflex.sol_g_f': 2.0,
              'startup.reflex.vas_k_bw': 0.4, 'startup.reflex.stance_load_threshold': 0.2}
    w = walker(tmp_path, values)
    plain = walker(tmp_path, {})
    walk_sol = plain.reflexes._cfg[SOL]
    w._startup_done = False
    w._schedule(0.0)
    assert w.reflexes._cfg[SOL] == 2.0 and w.reflexes._cfg[VAS_KBW] == 0.4
    assert w.reflexes.stance_load_threshold == 0.2
    w._schedule(1.0)                                         # half way through the blend
    assert w.reflexes._cfg[SOL] == pytest.approx(0.5 * (2.0 + walk_sol), rel=1e-12)
    assert w.reflexes._cfg[VAS_KBW] == pytest.approx(0.2, rel=1e-12)
    w._schedule(1.5)                                         # the end: the walking set, bit for bit
    assert np.array_equal(w.reflexes._cfg, plain.reflexes._cfg)
    assert w.reflexes.stance_load_threshold == plain.reflexes.stance_load_threshold
    w.reflexes._cfg[SOL] = 9.0                               # done: the schedule leaves it alone
    w._schedule(2.0)
    assert w.reflexes._cfg[SOL] == 9.0
    assert w.gait_from_s == 1.5 and plain.gait_from_s == 0.0


def test_startup_supraspinal_numbers_have_the_layer_ranges_and_refuse_nan():
    specs = walker_params().specs
    for name in STARTUP_SUPRASPINAL_FIELDS:
        mine, theirs = specs[f'startup.supraspinal.{name}'], specs[f'supraspinal.{name}']
        assert (mine.min, mine.max, mine.unit, mine.default) == \
            (theirs.min, theirs.max, theirs.unit, theirs.default)
    for value in (math.nan, 21.0, -0.1):
        with pytest.raises(ConfigError, match=r'startup\.supraspinal\.ham_g'):
            walker_params(None, None, {'startup.supraspinal.ham_g': value})


SWING_STOP = {'supraspinal.enabled': True, 'supraspinal.select_leg': False,
              'supraspinal.hfl_g': 0.0, 'supraspinal.hfl_d': 0.0, 'supraspinal.glu_g': 0.0,
              'supraspinal.glu_d': 0.0, 'supraspinal.ham_g': 0.5}


def test_schedule_blends_the_supraspinal_numbers_like_the_reflex_ones(tmp_path):
    values = {**SWING_STOP, 'startup.duration': 0.5, 'startup.blend': 1.0,
              'startup.supraspinal.ham_g': 0.0, 'startup.supraspinal.alpha0': 1.2}
    w = walker(tmp_path, values)
    plain = walker(tmp_path, SWING_STOP)
    walk_alpha0 = plain.reflexes._cfg[_SS_A0]
    w._schedule(0.0)
    assert w.reflexes._cfg[_SS_HAMG] == 0.0 and w.reflexes._cfg[_SS_A0] == 1.2
    w._schedule(1.0)
    assert w.reflexes._cfg[_SS_HAMG] == pytest.approx(0.25, rel=1e-12)
    assert w.reflexes._cfg[_SS_A0] == pytest.approx(0.5 * (1.2 + walk_alpha0), rel=1e-12)
    w._schedule(1.5)
    assert np.array_equal(w.reflexes._cfg, plain.reflexes._cfg)


def test_a_swing_stop_that_topples_the_first_steps_waits_for_the_startup(tmp_path):
    """SG2015's alpha-based swing stop (supraspinal.ham_g 0.5, the layer's other pathways off) on
    the knee-muscle set: from the first step it topples the walker within 2 s; held at 0 through
    the start-up (startup.supraspinal.ham_g), the walker is still up at 4 s (docs/walking.md)."""
    knee_set = config_file('human').parent / 'reflex' / 'human_walk_knee.yaml'
    # the start-up values default to the layer's defaults: here the walking ones throughout
    same = {f'startup.{name}': value for name, value in SWING_STOP.items()
            if name.removeprefix('supraspinal.') in STARTUP_SUPRASPINAL_FIELDS}
    at_once = run('human', 'reflex', duration=2.0,
                  params=write_params(tmp_path / 'at_once.yaml', {**SWING_STOP, **same},
                                      knee_set))
    assert at_once.metrics['walker_fell'] and at_once.metrics['walked_s'] < 2.0
    held = run('human', 'reflex', duration=4.0,
               params=write_params(tmp_path / 'held.yaml', {**SWING_STOP, **same,
                                   'startup.supraspinal.ham_g': 0.0}, knee_set))
    assert not held.metrics['walker_fell'] and held.metrics['walked_s'] > 3.99


def test_fused_and_checked_steps_agree_bit_for_bit_through_a_startup(tmp_path, monkeypatch):
    assert_fused_equals_checked({'startup.duration': 0.3, 'startup.blend': 0.4,
                                 'startup.reflex.sol_g_f': 1.5, 'startup.reflex.vas_g_f': 0.9,
                                 'startup.reflex.stance_load_threshold': 0.15},
                                tmp_path, monkeypatch, duration=1.0)


def test_fused_and_checked_steps_agree_through_a_supraspinal_startup(tmp_path, monkeypatch):
    assert_fused_equals_checked({**SWING_STOP, 'startup.duration': 0.3, 'startup.blend': 0.4,
                                 'startup.supraspinal.ham_g': 0.0,
                                 'startup.supraspinal.delta_alpha': -0.1},
                                tmp_path, monkeypatch, duration=1.0)


def test_the_published_gains_walk_after_a_startup_gait_and_count_only_their_own_stances(tmp_path):
    """GH2010's published gains fall within 1 s from the start (docs/walking.md); carried there
    by the fast set's gait for 4 s and blended in over 2 s, they walk, with a push-off hump. The
    GRF metrics count only the stances from the end of the start-up (6 s) on."""
    out = tmp_path / 'pub.yaml'
    assert compose_module().main([str(FAST_FILE), str(PUBLISHED), str(out), '--duration', '4',
                                  '--blend', '2']) == 0
    r = run('human', 'reflex', duration=12.0, params=out)
    m = r.metrics
    assert not m['walker_fell'] and m['walked_s'] > 11.99
    assert m['gait_from_s'] == 6.0
    stances = r.controller._stances
    counted = [s for s in stances if s['start'] >= 6.0]
    assert len(counted) >= 6 and len(counted) < len(stances)
    assert m['grf_peak_bw'] == max(s['peak'] for s in counted)
    assert m['grf_second_hump_bw'] > 1.0 > m['grf_dip_bw']   # a double hump, unlike the fast set
    # its swing toe scuffs the ground for a few ms: those contacts are not steps
    assert abs(m['steps'] - len(stances)) <= 2 and m['cadence_hz'] < 2.0 and m['stride_m'] > 1.0
    # gait_speed_mps: the hip's advance from the end of the start-up on, as the trace shows it
    trace = r.controller.trace()
    after = trace['time'] >= 6.0
    t, x = trace['time'][after], trace['x'][after]
    assert m['gait_speed_mps'] == pytest.approx((x[-1] - x[0]) / (t[-1] - t[0]), rel=0.01)
    assert abs(m['gait_speed_mps'] - m['mean_speed_mps']) > 0.01    # the start-up's speed differs
    alone = run('human', 'reflex', duration=2.0, params=PUBLISHED)
    assert alone.metrics['walker_fell']
    # without a start-up the gait is the whole run
    assert alone.metrics['gait_speed_mps'] == pytest.approx(alone.metrics['mean_speed_mps'],
                                                            rel=1e-3)


def test_compose_refuses_a_bad_file_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('reflex_node:\n  ros__parameters:\n    reflex: {sol_g_f: .nan}\n')
    out = tmp_path / 'out.yaml'
    assert compose_module().main([str(bad), str(PUBLISHED), str(out)]) == 2
    assert 'sol_g_f' in capsys.readouterr().err and not out.exists()
    assert compose_module().main([str(FAST_FILE), str(PUBLISHED), str(out), '--duration',
                                  '-1']) == 2
    assert 'startup.duration' in capsys.readouterr().err and not out.exists()


def test_optimizer_carries_the_start_files_untuned_values_and_checks_them(tmp_path):
    start = tmp_path / 'start.yaml'
    compose_module().main([str(FAST_FILE), str(PUBLISHED), str(start), '--duration', '0.2',
                           '--blend', '0.1'])
    out = tmp_path / 'opt'
    optimize('human', 'reflex', workers=1, out=out, generations=1, popsize=2, duration=0.5,
             seed=3, progress=False, space='relative', sigma=0.02, start=start)
    best = read_ros_params(out / BEST)['reflex_node']
    assert best['startup.duration'] == 0.2 and best['startup.blend'] == 0.1
    assert best['startup.reflex.sol_g_f'] == read_ros_params(FAST_FILE)['reflex_node'][
        'reflex.sol_g_f']
    assert reevaluate(out / BEST) == read_best(out / BEST)['objective_value']
    import pickle
    fixed = dict(pickle.loads((out / CHECKPOINT).read_bytes()).problem.fixed)
    assert fixed['startup.duration'] == 0.2 and 'reflex.sol_g_f' not in fixed
    for name, good, bad in [('typo', 'startup.blend', 'startup.blemd'),
                            ('nan', 'startup.duration: 0.2', 'startup.duration: .nan')]:
        wrong = tmp_path / f'{name}.yaml'
        wrong.write_text(start.read_text().replace(good, bad))
        with pytest.raises(ConfigError, match=bad.split(':')[0]):
            optimize('human', 'reflex', workers=1, out=tmp_path / 'no', generations=1, popsize=2,
                     duration=0.5, seed=3, progress=False, start=wrong)
        assert not (tmp_path / 'no' / BEST).exists()


def test_tune_patterns_pick_the_searched_parameters_and_the_rest_stay_at_the_start_files(
        tmp_path, capsys):
    """``--tune reflex.sol_g_f --tune 'reflex.vas_*'``: only those are searched; the start file's
    ``initial.*`` and ``startup.*`` go unchanged into every candidate; a resume cannot change the
    patterns; a pattern that matches nothing is refused."""
    from neuro_locomotion.cli import main
    start = tmp_path / 'start.yaml'
    compose_module().main([str(FAST_FILE), str(PUBLISHED), str(start), '--duration', '0.2',
                           '--blend', '0.1'])
    out = tmp_path / 'opt'
    args = ['optimize', 'human', '--controller', 'reflex', '--generations', '1', '--popsize', '2',
            '--workers', '1', '--duration', '0.5', '--space', 'relative', '--sigma', '0.05',
            '--start', str(start), '--tune', 'reflex.sol_g_f', '--tune', 'reflex.vas_*']
    assert main(args + ['--out', str(out)]) == 0, capsys.readouterr().err
    import pickle
    state = pickle.loads((out / CHECKPOINT).read_bytes())
    names = {c.name for c in state.problem.coordinates}
    assert 'reflex.sol_g_f' in names and 'reflex.vas_g_f' in names
    assert all(n == 'reflex.sol_g_f' or n.startswith('reflex.vas_') for n in names)
    fixed = dict(state.problem.fixed)
    file_values = read_ros_params(start)['reflex_node']
    assert fixed['initial.stance_preactivation'] == file_values['initial.stance_preactivation']
    best = read_ros_params(out / BEST)['reflex_node']
    assert best['initial.speed'] == file_values['initial.speed']
    assert best['reflex.gas_g_f'] == file_values['reflex.gas_g_f']          # not searched
    info = read_best(out / BEST)
    assert info['tune'] == ['reflex.sol_g_f', 'reflex.vas_*']
    assert reevaluate(out / BEST) == info['objective_value']
    assert main(['optimize', 'human', '--controller', 'reflex', '--resume', str(out),
                 '--generations', '2', '--tune', 'reflex.*']) == 2
    assert 'cannot change it' in capsys.readouterr().err
    assert main(args[:-4] + ['--tune', 'reflex.nothing*', '--out', str(tmp_path / 'x')]) == 2
    assert 'matches none' in capsys.readouterr().err


STARTUP_SET = config_file('human').parent / 'reflex' / 'human_walk_startup.yaml'


def test_startup_set_reevaluates_bit_for_bit_with_a_double_hump_at_1_4_bw():
    """config/reflex/human_walk_startup.yaml (docs/walking.md, "A start-up gait"): the saved
    objective re-evaluates bit for bit, so its saved terms are this code's: 20 s without a fall,
    a median stance peak of 1.39 BW (largest 1.41) and a push-off hump."""
    info = read_best(STARTUP_SET)
    assert reevaluate(STARTUP_SET) == info['objective_value']
    assert info['terms.survived_s'] == 20.0
    assert info['terms.grf_peak_median_bw'] < 1.4 and info['terms.grf_peak_bw'] < 1.42
    assert info['terms.grf_hump_rise_bw'] > 0.25 and info['terms.speed_mps'] > 1.15
    values = read_ros_params(STARTUP_SET)['reflex_node']
    assert values['startup.duration'] == 4.0 and values['startup.blend'] == 2.0


ROBUST_STARTUP_SET = config_file('human').parent / 'reflex' / 'human_walk_startup_robust.yaml'


def test_startup_and_supraspinal_are_tuned_only_when_a_pattern_names_them(tmp_path):
    """``startup.*`` and ``supraspinal.*`` (TUNABLE_ON_REQUEST) are never in the default search
    (both are off by default); ``--tune 'startup.reflex.*'`` searches the start-up gains,
    carrying reflex.* unchanged, with a robust objective that re-evaluates bit for bit."""
    from neuro_locomotion.optimize import tunables
    _, default, _ = tunables('reflex', 'human')
    assert default and not any(c.name.startswith(('startup.', 'supraspinal.')) for c in default)
    # the layer is off in config/human.yaml: tuning its numbers there would change nothing
    with pytest.raises(ConfigError,
                       match=r'supraspinal.alpha0, .* and 5 more \(supraspinal.enabled is false'):
        tunables('reflex', 'human', space='relative', tune=['supraspinal.*'])
    with pytest.raises(ConfigError, match='startup.reflex.sol_g_f .startup.duration is 0'):
        tunables('reflex', 'human', space='relative', tune=['startup.reflex.sol_g_f'])
    # a start-up value of the layer: idle with the layer off, except its leg-angle target when
    # an SG2015 knee pathway reads it (the knee-muscle set has a start-up and RF F+ on)
    knee_set = config_file('human').parent / 'reflex' / 'human_walk_knee.yaml'
    with pytest.raises(ConfigError,
                       match=r'startup.supraspinal.ham_g \(supraspinal.enabled is false'):
        tunables('reflex', 'human', space='relative', start=knee_set,
                 tune=['startup.supraspinal.ham_g'])
    _, target, _ = tunables('reflex', 'human', space='relative', start=knee_set,
                            tune=['startup.supraspinal.alpha0'])
    assert [c.name for c in target] == ['startup.supraspinal.alpha0']
    _, layer, _ = tunables('reflex', 'human', space='relative', tune=['supraspinal.*'],
                           start=config_file('human').parent / 'reflex' /
                           'human_walk_supraspinal.yaml')
    assert {c.name for c in layer} == {'supraspinal.alpha0', 'supraspinal.c_d', 'supraspinal.c_v',
                                       'supraspinal.hfl_g', 'supraspinal.hfl_d',
                                       'supraspinal.glu_g', 'supraspinal.glu_d',
                                       'supraspinal.ham_g', 'supraspinal.delta_alpha'}
    _, chosen, base = tunables('reflex', 'human', space='relative', start=STARTUP_SET,
                               tune=['startup.reflex.sol_g_f', 'startup.blend'])
    assert [c.name for c in chosen] == ['startup.blend', 'startup.reflex.sol_g_f']
    start = read_ros_params(STARTUP_SET)['reflex_node']
    assert base == {'startup.blend': start['startup.blend'],
                    'startup.reflex.sol_g_f': start['startup.reflex.sol_g_f']}
    out = tmp_path / 'opt'
    optimize('human', 'reflex', workers=1, out=out, generations=1, popsize=2, duration=0.5,
             seed=3, progress=False, space='relative', sigma=0.05, start=STARTUP_SET,
             tune=['startup.reflex.*'], objective_options={'robust_trials': 1})
    best = read_ros_params(out / BEST)['reflex_node']
    assert best['reflex.sol_g_f'] == start['reflex.sol_g_f']                # carried
    assert best['startup.reflex.sol_g_f'] != start['startup.reflex.sol_g_f']  # searched
    assert best['startup.duration'] == start['startup.duration']            # not named
    assert reevaluate(out / BEST) == read_best(out / BEST)['objective_value']


def test_robust_startup_set_reevaluates_bit_for_bit_and_its_perturbed_runs_walk():
    """config/reflex/human_walk_startup_robust.yaml (docs/walking.md, "A robust start-up set"):
    its saved objective, the mean of the nominal 20 s run and 3 runs with every number (start-up
    included) perturbed by +-2 %, re-evaluates bit for bit, so its saved terms are this code's:
    all four runs walk 20 s, the median stance peak is at 1.4 BW with a push-off hump; it keeps
    human_walk_startup.yaml's start-up. Its 60-trial robustness is a bench number (docs)."""
    info = read_best(ROBUST_STARTUP_SET)
    assert info['kind'].startswith('the CMA-ES MEAN')
    assert info['objective_settings.robust_trials'] == 3
    assert reevaluate(ROBUST_STARTUP_SET) == info['objective_value']
    assert info['terms.survived_s'] == 20.0 and info['terms.robust_walked'] == 3
    assert info['terms.grf_peak_median_bw'] < 1.41 and info['terms.grf_hump_rise_bw'] > 0.25
    assert info['terms.speed_mps'] > 1.1
    mine, start = (read_ros_params(f)['reflex_node'] for f in (ROBUST_STARTUP_SET, STARTUP_SET))
    assert {k: v for k, v in mine.items() if not k.startswith('reflex.')} == \
        {k: v for k, v in start.items() if not k.startswith('reflex.')}


def _flat(tree, prefix=''):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def test_robustness_perturbs_only_the_chosen_half_with_the_same_draws():
    """bench_reflex.py --robustness --perturb 'reflex.*': the walking set alone gets exactly the
    factors it gets when every parameter is perturbed; the start-up and initial values keep
    their own (so the two halves of one trial set can be run apart)."""
    perturbed_trees = bench_module('bench_reflex').perturbed_trees
    values = read_ros_params(STARTUP_SET)['reflex_node']
    every = [_flat(t) for t in perturbed_trees(values, 3, 0.02, 7)]
    walking = [_flat(t) for t in perturbed_trees(values, 3, 0.02, 7, ('reflex.*',))]
    assert len(every) == len(walking) == 3
    changed = 0
    for all_k, walk_k in zip(every, walking):
        assert set(all_k) == set(walk_k) == set(values)
        for name, original in values.items():
            if isinstance(original, bool) or not isinstance(original, (int, float, list)):
                assert walk_k[name] == all_k[name] == original
            elif name.startswith('reflex.'):
                assert walk_k[name] == all_k[name]
                for x, x0 in zip(np.atleast_1d(walk_k[name]), np.atleast_1d(original)):
                    if x0 != 0.0:
                        assert abs(x / x0 - 1.0) <= 0.02 + 1e-12
                        changed += x != x0
            else:
                assert walk_k[name] == original
    assert changed > 3 * 20                           # the walking set did move
    assert every[0]['startup.reflex.sol_g_f'] != values['startup.reflex.sol_g_f']
    with pytest.raises(SystemExit, match='no parameter matches'):
        next(perturbed_trees(values, 1, 0.02, 0, ('nothing.*',)))


def test_perturb_without_robustness_is_refused(monkeypatch, capsys):
    """--perturb only chooses what --robustness perturbs: alone it would be ignored silently."""
    monkeypatch.setattr('sys.argv', ['bench_reflex.py', '--perturb', 'reflex.*'])
    with pytest.raises(SystemExit) as exit_info:
        bench_module('bench_reflex').main()
    assert exit_info.value.code == 2 and 'give --robustness too' in capsys.readouterr().err
