"""Wang 2012 metabolic rate (SCONE's EffortMeasure Wang2012) and the walker's metabolic cost of
transport. Numbers: docs/walking.md (*Metabolic cost of transport*)."""
import math

import numpy as np
import pytest

from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from reflex_modules.metabolics import _g_length, metabolic_rate, muscle_masses, muscle_rate
from reflex_modules.parameters import MUSCLES, build_muscle_set

WALK_FILE = config_file('human').parent / 'reflex' / 'human_walk.yaml'


def test_muscle_mass_as_scone():
    # SOL: 4000 N / 0.25 MPa * 0.04 m * 1059.7 kg/m^3
    assert muscle_masses(4000.0, 0.04) == pytest.approx(0.678208, abs=1e-9)
    assert muscle_masses([6000.0], [0.08], 0.5e6, 1000.0)[0] == pytest.approx(0.96, abs=1e-12)


def test_rate_known_cases():
    mass = 2.0
    # fully excited and active, isometric at l_opt, half slow twitch:
    # f_a = 40 .5 + 133 .5 = 86.5 W/kg, f_m = 74 .5 + 111 .5 = 92.5 W/kg, g = 1
    assert muscle_rate(1.0, 1.0, 1.0, 0.0, 500.0, 400.0, mass, 0.5) == pytest.approx(
        mass * (86.5 + 92.5), abs=1e-9)
    # all slow twitch: f_a = 40, f_m = 74; all fast: 133, 111
    assert muscle_rate(1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0) == pytest.approx(114.0, abs=1e-9)
    assert muscle_rate(1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0) == pytest.approx(244.0, abs=1e-9)
    # nothing excited, nothing active, not shortening: no energy
    assert muscle_rate(0.0, 0.0, 1.0, 0.0, 100.0, 0.0, mass, 0.5) == 0.0
    # u = a = 0.5, l = 1.2 (g = 0.6), slow 0.3
    s, x = math.sin(math.pi / 4), 1.0 - math.cos(math.pi / 4)
    fa, fm = 40 * 0.3 * s + 133 * 0.7 * x, 74 * 0.3 * s + 111 * 0.7 * x
    assert muscle_rate(0.5, 0.5, 1.2, 0.0, 0.0, 0.0, 1.0, 0.3) == pytest.approx(
        fa + 0.6 * fm, abs=1e-12)
    # shortening at 0.1 m/s with F = 1000 N, F_act = 800 N: + 0.25 F v + F_act v = 105 W
    base = muscle_rate(0.0, 0.0, 1.0, 0.0, 1000.0, 800.0, mass, 0.5)
    assert muscle_rate(0.0, 0.0, 1.0, -0.1, 1000.0, 800.0, mass, 0.5) - base == pytest.approx(105.0)
    # lengthening costs only heat
    assert muscle_rate(0.0, 0.0, 1.0, 0.1, 1000.0, 800.0, mass, 0.5) == base
    assert [_g_length(v) for v in (0.3, 0.8, 1.2, 1.6)] == pytest.approx([0.5, 0.8, 0.6, 0.0])


def test_metabolic_rate_of_a_muscle_set_held_isometric_at_full_activation():
    muscles = build_muscle_set()
    phi = np.radians([175, 175, 85, 140, 175, 90.0])
    muscles.reset(phi, activation=1.0)
    stim = np.ones(muscles.n_muscles)
    muscles.step(stim, phi, 0.001)
    assert np.abs(muscles.v_ce).max() < 1e-6            # isometric: no shortening terms (~0)
    mass = muscle_masses(muscles.f_max, muscles.l_opt) * muscles.enabled   # RF, BFSH absent
    g = np.array([_g_length(v) for v in muscles.l_ce / muscles.l_opt])
    expected = float(np.sum(mass * (86.5 + g * 92.5)))
    rate = metabolic_rate(muscles, stim, mass, np.full(muscles.n_muscles, 0.5))
    assert rate == pytest.approx(expected, rel=1e-5)
    assert 1000.0 < rate < 12.3 * 179.0                  # 12.3 kg of muscle at <= 179 W/kg
    # sum of F_max l_opt per leg = 1448 N m -> 6.138 kg of muscle per leg
    assert mass.sum() == pytest.approx(2 * 1448.0 / 0.25e6 * 1059.7, rel=1e-12)


def test_walker_reports_metabolic_cost_of_transport_for_the_optimized_gait():
    """The shipped optimized gait: 6.62 J/(kg m) over 20 s (1.04 m/s), of which basal
    1.51 W/kg / 1.04 m/s = 1.45 J/(kg m); here its first 5 s."""
    r = run('human', 'reflex', duration=5.0, params=WALK_FILE)
    m = r.metrics
    assert not m['walker_fell']
    cot = m['metabolic_cost_of_transport']
    basal = 1.51 / m['mean_speed_mps']
    assert cot == pytest.approx(m['metabolic_rate_w_per_kg'] / m['mean_speed_mps'], rel=1e-9)
    assert basal + 2.0 < cot < 9.0
    assert 'Wang' in m['metabolic_cost_of_transport_kind']
    # energy = muscles + basal: setting the basal rate to 0 removes exactly basal x m x t
    no_basal = r.controller
    e_muscles = no_basal._energy
    assert cot * 80.0 * m['walk_distance_m'] == pytest.approx(
        e_muscles + 1.51 * 80.0 * m['walked_s'], rel=1e-12)
    assert len(MUSCLES) == 9 and not r.controller.muscles.enabled[7:9].any()
