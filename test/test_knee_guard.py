"""Late single-support knee guard of the reflex walker (issue 6; docs/walking.md 2026-12-07):
``reflex.vas_k_knee_guard`` (0 = off), ``reflex.knee_guard_angle``, ``reflex.knee_guard_onset``.
Real laws, real PyBullet runs (no mocks)."""
import math

import numpy as np
import pytest

from neuro_locomotion.params import ConfigError, ParamSet
from reflex_modules.geyer2010 import LONG_AGO, N_MUSCLES, gh2010_stimulation
from reflex_modules.parameters import GH2010_PARAMS, ReflexConfig, build_reflex_config

from reflex_pathway_checks import assert_fused_equals_checked, assert_ranged_and_tunable

VAS = 3
GUARD = ('vas_k_knee_guard', 'knee_guard_angle', 'knee_guard_onset')


def vas(cfg, stance=(True, False), prep=(False, False), knee=(2.8, 2.8), since=(0.3, LONG_AGO)):
    """Left VAS stimulation; left in stance (force 0.3: VAS F+ well inside [0.01, 1])."""
    out = gh2010_stimulation(cfg, stance, prep, np.full((2, N_MUSCLES), 0.3),
                             np.full((2, N_MUSCLES), 1.0),
                             knee, (0.0, 0.0), cfg.trunk_theta_ref, 0.0, (0.1, 0.1), (0.8, 0.2),
                             (0.0, 0.0), since)
    return out[0, VAS]


def test_guard_parameters_are_ranged_off_by_default_and_tunable():
    assert_ranged_and_tunable(GUARD)
    d = ReflexConfig()
    assert d.vas_k_knee_guard == 0.0
    assert d.knee_guard_angle == pytest.approx(170 * math.pi / 180)
    assert d.knee_guard_onset == 0.15


@pytest.mark.parametrize('name,bad', [('vas_k_knee_guard', -0.1), ('vas_k_knee_guard', 25.0),
                                      ('knee_guard_angle', 2.0), ('knee_guard_angle', 3.5),
                                      ('knee_guard_onset', -0.01), ('knee_guard_onset', math.nan)])
def test_bad_guard_values_are_refused_naming_the_parameter(name, bad):
    with pytest.raises(ConfigError, match=name):
        ParamSet(GH2010_PARAMS, {f'reflex.{name}': bad})


def test_guard_excites_vas_only_in_late_single_support_below_its_angle():
    off = ReflexConfig()
    on = ReflexConfig(vas_k_knee_guard=2.0, knee_guard_angle=2.95, knee_guard_onset=0.15)
    # single support, 0.3 s after touchdown, knee 2.8 rad: + 2 x (2.95 - 2.8)
    assert vas(on) - vas(off) == pytest.approx(2.0 * 0.15, abs=1e-12)
    assert vas(off) == vas(ReflexConfig(vas_k_knee_guard=0.0, knee_guard_angle=2.95))
    assert vas(on, since=(0.1, LONG_AGO)) == vas(off, since=(0.1, LONG_AGO))     # before onset
    assert vas(on, knee=(3.0, 2.8)) == vas(off, knee=(3.0, 2.8))                 # straight enough
    both = dict(stance=(True, True), prep=(True, False))                         # double support
    assert vas(on, **both) == vas(off, **both)
    # the start stance (since = LONG_AGO) is late single support too
    assert vas(on, since=(LONG_AGO, LONG_AGO)) > vas(off, since=(LONG_AGO, LONG_AGO))


def test_fused_kernel_equals_the_checked_step_with_the_guard_on(tmp_path, monkeypatch):
    values = {'reflex.vas_k_knee_guard': 2.0, 'reflex.knee_guard_angle': 2.95,
              'reflex.knee_guard_onset': 0.1}
    fast = assert_fused_equals_checked(values, tmp_path, monkeypatch)
    assert fast.controller.reflexes.config.vas_k_knee_guard == 2.0
    cfg = build_reflex_config(ParamSet(GH2010_PARAMS, values))
    assert cfg.knee_guard_onset == 0.1
