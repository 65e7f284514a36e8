"""Shared checks of the reflex walker's opt-in pathways: each parameter is declared with a unit,
a range and a search range inside it, and the fused numba step and the checked object path give
the same run bit for bit with the pathway on (and the pathway changes it)."""
from __future__ import annotations

import numpy as np

from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params
from reflex_modules.parameters import GH2010_PARAMS
from reflex_modules.walker import PARAM_SPECS, TUNABLE, ReflexWalker

FAST_FILE = config_file('human').parent / 'reflex' / 'human_walk_fast.yaml'


def assert_fused_equals_checked(values: dict, tmp_path, monkeypatch, duration: float = 1.5):
    """Run ``values`` on top of human_walk_fast.yaml through the fused kernel and, with
    ``ReflexWalker.step`` patched to ``step_checked``, through the checked path; assert equal
    joint angles and activations, and activations that differ from the set without ``values``.
    Returns the fused run's result."""
    path = write_params(tmp_path / 'on.yaml', values, FAST_FILE)
    fast = run('human', 'reflex', duration=duration, stop_on_fall=False, params=path)
    plain = run('human', 'reflex', duration=duration, stop_on_fall=False, params=FAST_FILE)
    monkeypatch.setattr(ReflexWalker, 'step', ReflexWalker.step_checked)
    slow = run('human', 'reflex', duration=duration, stop_on_fall=False, params=path)
    ft, st = fast.controller.trace(), slow.controller.trace()
    assert np.array_equal(ft['phi'], st['phi'])
    assert np.array_equal(ft['activation'], st['activation'])
    assert not np.array_equal(ft['activation'], plain.controller.trace()['activation'])
    return fast


def assert_ranged_and_tunable(names) -> None:
    """Every ``reflex.<name>`` has a unit, a description and a range, is tuned by the optimizer,
    and its search range lies inside its declared range."""
    specs = {s.name: s for s in GH2010_PARAMS}
    search = {s.name: s for s in PARAM_SPECS}
    for name in names:
        spec = specs[f'reflex.{name}']
        assert spec.unit and spec.description and spec.min is not None and spec.max is not None
        assert f'reflex.{name}' in TUNABLE
        assert search[f'reflex.{name}'].min >= spec.min and search[f'reflex.{name}'].max <= spec.max
