"""Support across the step-to-step transition (issue 6, docs/walking.md 2026-12-07): the reflex
walker's metrics ``support_deficit_bw``, ``support_min_bw``, ``touchdown_hip_fall_mps`` and the
gait objective's opt-in terms on them (``support_deficit_weight``, ``hip_fall_weight``,
``hip_fall_limit_mps``). Real lock-step runs of the reflex walker, no mocks."""
import math

import numpy as np
import pytest

from neuro_locomotion.objectives import make_objective
from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params

PATHWAYS = 'config/reflex/human_walk_pathways.yaml'
SECONDS = 6.0


@pytest.fixture(scope='module')
def walk(tmp_path_factory):
    """The pathways set for 6 s with a 1 ms controller trace (every control step recorded)."""
    path = write_params(tmp_path_factory.mktemp('support') / 'v.yaml',
                        {'metrics.trace_period': 0.001}, PATHWAYS)
    return run('human', 'reflex', duration=SECONDS, params=path)


def test_support_options_are_off_by_default_and_bad_values_are_refused():
    s = make_objective('gait', 'human').settings
    assert s['support_deficit_weight'] == 0.0 and s['hip_fall_weight'] == 0.0
    assert s['hip_fall_limit_mps'] == 0.3
    for options, words in [({'support_deficit_weight': -1.0}, 'must not be negative'),
                           ({'hip_fall_weight': -0.5}, 'must not be negative'),
                           ({'support_deficit_weight': math.nan}, 'finite number'),
                           ({'hip_fall_weight': math.inf}, 'finite number'),
                           ({'hip_fall_limit_mps': -0.1}, 'hip_fall_limit_mps'),
                           ({'hip_fall_limit_mps': 2.5}, 'hip_fall_limit_mps'),
                           ({'hip_fall_limit_mps': math.nan}, 'finite number')]:
        with pytest.raises(ConfigError, match=words):
            make_objective('gait', 'human', **options)


def test_support_window_parameters_are_refused_out_of_range(tmp_path):
    for name, value in [('metrics.support_window_before', -0.01),
                        ('metrics.support_window_before', 0.6),
                        ('metrics.support_window_after', 0.31),
                        ('metrics.support_window_after', math.nan)]:
        path = write_params(tmp_path / 'bad.yaml', {name: value}, PATHWAYS)
        with pytest.raises(ConfigError, match=name.split('.')[1]):
            run('human', 'reflex', duration=0.01, params=path)


def test_support_metrics_equal_a_recomputation_from_the_1_ms_trace(walk):
    """Per touchdown after the start: the summed load and the hip speed from -150 to +40 ms,
    recomputed from the controller's 1 ms trace, then the median; the pathways set's transition
    (docs/walking.md: sum 0.43 BW at -10 ms, hip -0.59 m/s) is a real deficit."""
    m, walker = walk.metrics, walk.controller
    trace = walker.trace()
    t, total, z = trace['time'], trace['load'].sum(axis=1), trace['z']
    assert np.allclose(np.diff(t), 0.001, atol=1e-6)
    deficit, low, fall = [], [], []
    for t_td, _leg, _x in walker._touchdowns:
        i = int(np.argmin(np.abs(t - t_td)))
        a, b = i - 150, i + 41
        if a < 1 or b + 1 > t.size:
            continue
        deficit.append(np.mean(np.maximum(0.0, 1.0 - total[a:b])))
        low.append(total[a:b].min())
        fall.append(-np.min((z[a + 1:b + 1] - z[a - 1:b - 1]) / 0.002))
    assert len(deficit) >= 8
    assert m['support_deficit_bw'] == pytest.approx(np.median(deficit), abs=1e-9)
    assert m['support_min_bw'] == pytest.approx(np.median(low), abs=1e-9)
    assert m['touchdown_hip_fall_mps'] == pytest.approx(np.median(fall), abs=1e-6)
    assert 0.2 < m['support_deficit_bw'] < 0.6          # measured 0.39 over 12 s
    assert 0.2 < m['support_min_bw'] < 0.7              # 0.42
    assert 0.4 < m['touchdown_hip_fall_mps'] < 0.8      # 0.58


def test_support_terms_change_the_objective_by_their_weighted_values(walk):
    base = make_objective('gait', 'human', min_velocity=1.2)(walk, SECONDS)
    m = walk.metrics
    deficit = make_objective('gait', 'human', min_velocity=1.2, support_deficit_weight=50.0)
    score = deficit(walk, SECONDS)
    assert score.terms['support_deficit_bw'] == m['support_deficit_bw']
    assert score.value == pytest.approx(base.value + 50.0 * m['support_deficit_bw'], rel=1e-12)
    assert score.value > base.value + 10.0
    fall = make_objective('gait', 'human', min_velocity=1.2, hip_fall_weight=50.0,
                          hip_fall_limit_mps=0.3)(walk, SECONDS)
    excess = m['touchdown_hip_fall_mps'] - 0.3
    assert fall.terms['hip_fall_excess_mps'] == pytest.approx(excess)
    assert fall.value == pytest.approx(base.value + 50.0 * excess, rel=1e-12)
    free = make_objective('gait', 'human', min_velocity=1.2, hip_fall_weight=50.0,
                          hip_fall_limit_mps=1.0)(walk, SECONDS)       # falls slower than 1 m/s
    assert free.terms['hip_fall_excess_mps'] == 0.0 and free.value == base.value


def test_a_run_without_a_transition_counts_as_no_support():
    """0.1 s: no touchdown, so no metric; the deficit term then counts 1 BW (the worst), so a
    candidate cannot escape the term by falling before its first step."""
    result = run('human', 'reflex', duration=0.1, params=PATHWAYS)
    assert result.metrics['support_deficit_bw'] is None
    assert result.metrics['touchdown_hip_fall_mps'] is None
    base = make_objective('gait', 'human')(result, 0.1)
    score = make_objective('gait', 'human', support_deficit_weight=20.0,
                           hip_fall_weight=20.0)(result, 0.1)
    assert score.value == pytest.approx(base.value + 20.0)
    assert score.terms['support_deficit_bw'] is None
