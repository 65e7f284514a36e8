"""bench/sweep_reflex.py's foot roll-over timing (heel rise, foot flat; docs/walking.md, helper G
2026-12-07): the per-stance numbers recomputed on a hand-made force trace, the refusal of a
malformed trace, and a real PyBullet run of the pathways set, whose heel rises at 37.5 % of stance
(early against a human's ~50-60 %, the premise of the heel-rise sweeps)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location('sweep_reflex', ROOT / 'bench' / 'sweep_reflex.py')
sweep_reflex = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep_reflex)


def _trace():
    """10 ms samples over 0-4 s; left stance 3.0-3.5 s: heel 3.00-3.20, ball 3.05-3.50; right
    stance 3.4-4.0 s: heel 3.40-3.52, ball 3.46-4.00; a left stance at 1.0-1.5 s before skip."""
    t = np.round(np.arange(0.0, 4.0, 0.01), 3)
    f = np.zeros((t.size, 4))
    f[(t >= 3.00) & (t < 3.20), 0] = 300.0
    f[(t >= 3.05) & (t < 3.50), 1] = 500.0
    f[(t >= 3.40) & (t < 3.52), 2] = 300.0
    f[(t >= 3.46) & (t < 4.00), 3] = 500.0
    f[(t >= 1.00) & (t < 1.10), 0] = 300.0       # before skip: never counted
    f[(t >= 1.00) & (t < 1.50), 1] = 500.0
    stances = [{'leg': 0, 'start': 1.0, 'end': 1.5}, {'leg': 0, 'start': 3.0, 'end': 3.5},
               {'leg': 1, 'start': 3.4, 'end': 4.0}]
    return stances, t, f


def test_heel_off_and_foot_flat_recomputed_by_hand():
    stances, t, f = _trace()
    out = sweep_reflex.heel_off(stances, t, f, skip=3.0)
    # left: heel off at sample 20 of 50 (40 %), ball on at 5 of 50 (10 %);
    # right: heel off at 12 of 60 (20 %), ball on at 6 of 60 (10 %); medians of the two
    assert out['heel_off_stance_pct'] == pytest.approx(30.0)
    assert out['ball_on_stance_pct'] == pytest.approx(10.0)
    # with skip 0 the early stance counts too: heel off at 10 of 50 (20 %), ball on at 0 %
    early = sweep_reflex.heel_off(stances, t, f, skip=0.0)
    assert early['heel_off_stance_pct'] == pytest.approx(20.0)
    assert early['ball_on_stance_pct'] == pytest.approx(10.0)


def test_heel_off_is_none_without_a_stance_and_refuses_a_malformed_trace():
    stances, t, f = _trace()
    assert sweep_reflex.heel_off(stances, t, f, skip=5.0) == {
        'heel_off_stance_pct': None, 'ball_on_stance_pct': None}
    with pytest.raises(ValueError, match=r'foot_forces must be \(n, 4\)'):
        sweep_reflex.heel_off(stances, t, f[:, :2])
    with pytest.raises(ValueError, match=r'foot_forces must be \(n, 4\)'):
        sweep_reflex.heel_off(stances, t[:-1], f)


def test_pathways_set_rolls_onto_the_ball_early_in_stance():
    """Real run, 8 s: the heel rises at 30-45 % of stance, after the ball lands (3-15 %)."""
    line = sweep_reflex.measure(str(ROOT / 'config/reflex/human_walk_pathways.yaml'), 8.0, {})
    assert line['walked_s'] > 7.9
    assert 30.0 <= line['heel_off_stance_pct'] <= 45.0, line
    assert 3.0 <= line['ball_on_stance_pct'] <= 15.0, line
