"""`neuroloco optimize`: CMA-ES over real lock-step runs (the `pose` controller on the quadruped).

No mocks: every evaluation is a real run. Budgets are tiny (popsize 4, 3 generations, 0.4 s of
simulated time per evaluation) so the whole file takes well under two minutes.
"""
import csv
import pickle

import pytest

from neuro_locomotion.cli import main
from neuro_locomotion.objectives import make_objective
from neuro_locomotion.optimize import (BEST, CHECKPOINT, HISTORY, PROVENANCE_NODE, evaluation_seed,
                                       optimize, read_best, reevaluate, tunables)
from neuro_locomotion.params import ConfigError, read_ros_params
from neuro_locomotion.runner import run

SMALL = dict(generations=3, popsize=4, duration=0.4, seed=7, progress=False)
DETERMINISTIC = ('generation', 'best_so_far', 'generation_best', 'generation_mean', 'sigma',
                 'evaluations', 'rejected')


def history(directory):
    with open(directory / HISTORY) as f:
        return [{k: row[k] for k in DETERMINISTIC} for row in csv.DictReader(f)]


def params_section(directory):
    return read_ros_params(directory / BEST)['pose_controller']


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """3 generations, 1 local worker, uninterrupted."""
    out = tmp_path_factory.mktemp('reference')
    result = optimize('quadruped', 'pose', workers=1, out=out, **SMALL)
    return out, result


def test_run_writes_checkpoint_history_best_and_best_is_monotone(reference):
    out, result = reference
    assert result.generation == 3 and result.evaluations == 12
    for name in (CHECKPOINT, HISTORY, BEST):
        assert (out / name).is_file()
    rows = history(out)
    assert [int(r['generation']) for r in rows] == [0, 1, 2]
    best = [float(r['best_so_far']) for r in rows]
    gen_best = [float(r['generation_best']) for r in rows]
    assert all(b2 <= b1 for b1, b2 in zip(best, best[1:]))           # monotone best-so-far
    assert best == [min(gen_best[:k + 1]) for k in range(3)]
    assert best[-1] <= best[0]
    assert result.best['value'] == best[-1]
    # best.yaml: the controller's node section + clearly labelled provenance
    info = read_best(out / BEST)
    assert info['objective'] == 'stand' and info['objective_value'] == best[-1]
    assert info['kind'].startswith('best') and 'not the CMA-ES mean' in info['kind']
    for key in ('generation', 'evaluations', 'run_seed', 'robot', 'controller', 'duration_s',
                'git_commit', 'date', 'package_version', 'evaluation_seed'):
        assert key in info, key
    assert info['robot'] == 'quadruped' and info['controller'] == 'pose'
    assert info['run_seed'] == 7 and info['evaluations'] == 12
    assert info['evaluation_seed'] == evaluation_seed(7, info['generation'], info['candidate'])
    text = (out / BEST).read_text()
    assert 'BEST' in text and 'NOT the CMA-ES mean' in text and '# m; searched [0.15, 0.36]' in text
    values = params_section(out)
    assert set(values) == {'pose.standing_height_m', 'pose.kp', 'pose.kd'}
    assert values == result.best['values']
    # the checkpoint holds the strategy, its random state and the generation count
    state = pickle.loads((out / CHECKPOINT).read_bytes())
    assert state.generation == 3 and state.es.countiter == 3
    assert state.es.opts['randn'].__self__ is state.random


def test_reevaluating_best_yaml_gives_the_same_objective_bit_for_bit(reference):
    out, _ = reference
    info = read_best(out / BEST)
    assert reevaluate(out / BEST) == info['objective_value']
    # the same by hand, through the runner and the objective (as the header's command does)
    result = run('quadruped', 'pose', duration=info['duration_s'], seed=info['evaluation_seed'],
                 params=out / BEST)
    score = make_objective('stand', 'quadruped')(result, info['duration_s'])
    assert score.value == info['objective_value']
    # and `neuroloco run ... --params best.yaml` loads it
    assert main(['run', 'quadruped', '--controller', 'pose', '--duration', '0.05',
                 '--params', str(out / BEST)]) == 0


def test_cli_check_reevaluates_best_yaml(reference, tmp_path, capsys):
    out, _ = reference
    assert main(['optimize', 'quadruped', '--controller', 'pose', '--check', str(out / BEST)]) == 0
    assert 'identical' in capsys.readouterr().out
    # a changed value gives another objective: reported, exit 1
    changed = tmp_path / 'changed.yaml'
    text = (out / BEST).read_text()
    info = read_best(out / BEST)
    changed.write_text(text.replace(f'objective_value: {info["objective_value"]!r}',
                                    f'objective_value: {info["objective_value"] + 1.0!r}'))
    assert main(['optimize', 'quadruped', '--controller', 'pose', '--check', str(changed)]) == 1
    assert 'DIFFERENT' in capsys.readouterr().out
    assert main(['optimize', 'salamander', '--controller', 'pose', '--check',
                 str(out / BEST)]) == 2


def test_resumed_run_equals_uninterrupted_run(reference, tmp_path):
    ref, ref_result = reference
    out = tmp_path / 'resumed'
    first = optimize('quadruped', 'pose', workers=1, out=out, **{**SMALL, 'generations': 2})
    assert first.generation == 2 and len(history(out)) == 2
    again = optimize('quadruped', 'pose', generations=3, workers=1, resume=out, progress=False)
    assert again.generation == 3 and again.evaluations == 12
    assert history(out) == history(ref)
    assert params_section(out) == params_section(ref)
    assert again.best['value'] == ref_result.best['value']
    a = pickle.loads((out / CHECKPOINT).read_bytes())
    b = pickle.loads((ref / CHECKPOINT).read_bytes())
    assert (a.es.mean == b.es.mean).all() and a.es.sigma == b.es.sigma
    # nothing left to do: resuming to the same count changes nothing
    before = (out / CHECKPOINT).read_bytes()
    done = optimize('quadruped', 'pose', generations=3, resume=out, progress=False)
    assert done.generation == 3 and (out / CHECKPOINT).read_bytes() == before


def test_two_local_workers_give_the_same_results_as_one(reference, tmp_path):
    ref, _ = reference
    out = tmp_path / 'two'
    optimize('quadruped', 'pose', workers=2, out=out, **SMALL)
    assert history(out) == history(ref)
    assert params_section(out) == params_section(ref)
    assert read_best(out / BEST)['objective_value'] == read_best(ref / BEST)['objective_value']


def test_ray_backend_gives_the_same_results_as_local(reference, tmp_path):
    ref, _ = reference
    out = tmp_path / 'ray'
    optimize('quadruped', 'pose', workers=2, backend='ray', out=out, **SMALL)
    import ray
    assert not ray.is_initialized()                  # the optimizer shut down the Ray it started
    assert history(out) == history(ref)
    assert params_section(out) == params_section(ref)


def test_search_space_is_normalised_and_clipped_to_the_spec_ranges():
    node, coords, base = tunables('pose', 'quadruped')
    assert node == 'pose_controller'
    assert [(c.label, c.lo, c.hi) for c in coords] == [
        ('pose.standing_height_m', 0.15, 0.36), ('pose.kp', 2.0, 200.0), ('pose.kd', 0.02, 2.0)]
    _, rel, _ = tunables('pose', 'quadruped', space='relative', span=0.5)
    assert [(c.lo, c.hi) for c in rel] == [(0.15, 0.36), (20.0, 60.0), (0.25, 0.75)]
    assert rel[1].coordinate(40.0) == 0.5
    # out-of-range coordinates are clipped, never passed through
    assert coords[0].value(-3.0) == 0.15 and coords[1].value(7.0) == 200.0
    with pytest.raises(ConfigError, match='no tunable parameters'):
        tunables('hold', 'quadruped')


def test_gait_objective_of_a_robot_standing_still_is_about_one_hundred():
    result = run('quadruped', 'hold', duration=1.0, seed=0)
    gait = make_objective('gait', 'quadruped')
    score = gait(result, 1.0)
    # GaitMeasure: speed ~0 for the whole duration -> measure ~1 (x 100); hold has no CoT/GRF
    assert 0.9 < score.terms['gait_measure'] <= 1.0
    assert score.value == 100.0 * score.terms['gait_measure']
    assert score.terms['survived_s'] == pytest.approx(1.0)
    # asking for twice the duration that was run counts the missing second as not survived
    assert gait(result, 2.0).terms['gait_measure'] > score.terms['gait_measure']


def test_gait_objective_median_grf_term_is_off_by_default_and_adds_its_weighted_excess():
    """grf_median_weight (default 0: the objective of every saved set unchanged) adds
    w x max(0, grf_peak_median_bw - grf_limit_bw) on a real walking run of the human."""
    result = run('human', 'reflex', duration=2.5)
    median = result.metrics['grf_peak_median_bw']
    assert median is not None and median > 1.0           # at least one completed stance
    plain = make_objective('gait', 'human')(result, 2.5)
    assert 'grf_median_excess_bw' not in plain.terms
    weighted = make_objective('gait', 'human', grf_median_weight=50.0)(result, 2.5)
    excess = max(0.0, median - 1.4)
    assert weighted.terms['grf_median_excess_bw'] == excess
    assert weighted.value == pytest.approx(plain.value + 50.0 * excess, rel=1e-12)
    lenient = make_objective('gait', 'human', grf_median_weight=50.0, grf_limit_bw=median + 0.1,
                             grf_weight=0.0)(result, 2.5)
    assert lenient.terms['grf_median_excess_bw'] == 0.0


def test_gait_objective_hump_term_charges_a_missing_push_off_hump():
    """hump_weight (default 0) adds w x max(0, hump_depth_bw - grf_push_off_rise_bw) (the
    walker's median over stances of the mean load at 65-85 % of the stance minus at 40-55 %);
    a run with no completed stance counts a rise of -1 BW."""
    result = run('human', 'reflex', duration=2.5)
    rise = result.metrics['grf_push_off_rise_bw']
    assert rise is not None and -1.5 < rise < 1.5
    plain = make_objective('gait', 'human')(result, 2.5)
    assert 'grf_hump_shortfall_bw' not in plain.terms
    depth = min(1.0, max(0.0, rise + 0.25))
    hump = make_objective('gait', 'human', hump_weight=40.0, hump_depth_bw=depth)(result, 2.5)
    assert hump.terms['grf_hump_rise_bw'] == rise
    assert hump.value == pytest.approx(plain.value + 40.0 * max(0.0, depth - rise), rel=1e-9)
    assert hump.value > plain.value
    early = run('human', 'reflex', duration=0.05)    # no stance completed
    assert early.metrics['grf_push_off_rise_bw'] is None
    short = make_objective('gait', 'human', hump_weight=40.0, hump_depth_bw=0.3)(early, 0.05)
    assert short.terms['grf_hump_shortfall_bw'] == pytest.approx(1.3)


@pytest.mark.parametrize('value', [-0.1, 1.5, float('nan')])
def test_gait_objective_refuses_a_bad_hump_depth(value):
    with pytest.raises(ConfigError, match='hump_depth_bw'):
        make_objective('gait', 'human', hump_weight=1.0, hump_depth_bw=value)


def test_cli_optimize_runs_and_prints_the_best(tmp_path, capsys):
    out = tmp_path / 'cli'
    code = main(['optimize', 'quadruped', '--controller', 'pose', '--generations', '1',
                 '--popsize', '2', '--workers', '1', '--duration', '0.1', '--out', str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert 'best objective' in captured.out and str(out / BEST) in captured.out
    assert 'eval' in captured.err                   # the progress bar is on stderr
    assert (out / BEST).is_file() and PROVENANCE_NODE in (out / BEST).read_text()


def test_cli_objective_options_and_start_file_reach_the_run_and_best_yaml(reference, tmp_path,
                                                                          capsys):
    """--objective-option NAME=VALUE sets the objective's options (saved, used by --check);
    --start FILE starts CMA-ES from that file's node section instead of the config's values."""
    ref, _ = reference
    start = read_ros_params(ref / BEST)['pose_controller']
    out = tmp_path / 'opts'
    code = main(['optimize', 'quadruped', '--controller', 'pose', '--generations', '1',
                 '--popsize', '2', '--workers', '1', '--duration', '0.4', '--out', str(out),
                 '--objective-option', 'settle_s=0.2', '--objective-option', 'effort_weight=0.5',
                 '--start', str(ref / BEST)])
    assert code == 0, capsys.readouterr().err
    info = read_best(out / BEST)
    assert info['objective_settings.settle_s'] == 0.2
    assert info['objective_settings.effort_weight'] == 0.5
    assert info['start_file'] == str(ref / BEST)
    state = pickle.loads((out / CHECKPOINT).read_bytes())
    assert state.problem.base == {k: start[k] for k in state.problem.base}   # the file's values
    assert [c.default for c in state.problem.coordinates] == [start[k] for k in state.problem.base]
    assert reevaluate(out / BEST) == info['objective_value']    # --check uses the saved options
    # a resumed run cannot change them
    code = main(['optimize', 'quadruped', '--controller', 'pose', '--resume', str(out),
                 '--generations', '2', '--objective-option', 'settle_s=0.3'])
    assert code == 2 and 'objective option settle_s' in capsys.readouterr().err


@pytest.mark.parametrize('args,words', [
    (['quadruped', '--controller', 'pose', '--objective-option', 'settle_s'], 'NAME=NUMBER'),
    (['quadruped', '--controller', 'pose', '--objective-option', 'settle_s=x'], 'NAME=NUMBER'),
    (['quadruped', '--controller', 'pose', '--objective-option', 'beauty=1'],
     'unknown options'),
    (['quadruped', '--controller', 'pose', '--start', '{tmp}/missing.yaml'], 'not found'),
    (['octopus', '--controller', 'pose'], "invalid choice: 'octopus'"),
    (['quadruped', '--controller', 'nope'], "unknown controller 'nope'"),
    (['quadruped', '--controller', 'hold'], 'no tunable parameters'),
    (['quadruped', '--controller', 'pose', '--popsize', '1'], 'popsize must be at least 2'),
    (['quadruped', '--controller', 'pose', '--generations', '0'], 'generations must be at least 1'),
    (['quadruped', '--controller', 'pose', '--workers', '0'], 'workers must be at least 1'),
    (['quadruped', '--controller', 'pose', '--objective', 'beauty'], "unknown objective 'beauty'"),
    (['quadruped', '--controller', 'pose', '--backend', 'slurm'], "invalid choice: 'slurm'"),
    (['quadruped', '--controller', 'pose', '--resume', '{tmp}/missing'],
     'resume directory not found'),
    (['quadruped', '--controller', 'pose', '--resume', '{tmp}'], 'holds no checkpoint.pkl'),
])
def test_cli_errors_are_one_line_exit_2_and_write_nothing(args, words, tmp_path, capsys):
    args = [a.replace('{tmp}', str(tmp_path)) for a in args]
    out = tmp_path / 'out'
    code = main(['optimize', *args, '--duration', '0.1', '--out', str(out)]
                if '--resume' not in args else ['optimize', *args])
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []            # nothing written


@pytest.mark.parametrize('args,words', [
    (['salamander', '--controller', 'pose'], 'is an optimization of quadruped --controller pose'),
    (['quadruped', '--controller', 'oscillator'], 'not quadruped --controller oscillator'),
    (['quadruped', '--controller', 'pose', '--popsize', '6'], 'cannot change it'),
    (['quadruped', '--controller', 'pose', '--out', '{tmp}/elsewhere'], 'different directories'),
])
def test_resume_of_another_optimization_is_refused_and_changes_nothing(reference, args, words,
                                                                       tmp_path, capsys):
    ref, _ = reference
    before = {p.name: p.read_bytes() for p in ref.iterdir()}
    args = [a.replace('{tmp}', str(tmp_path)) for a in args]
    code = main(['optimize', *args, '--resume', str(ref), '--generations', '5'])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert {p.name: p.read_bytes() for p in ref.iterdir()} == before
    assert not (tmp_path / 'elsewhere').exists()


def test_fresh_run_into_an_existing_optimization_is_refused(reference, capsys):
    ref, _ = reference
    code = main(['optimize', 'quadruped', '--controller', 'pose', '--out', str(ref)])
    assert code == 2 and 'already holds an optimization' in capsys.readouterr().err
