"""Neuromodulation layer (cpg_controller.neuromodulation) and the MultiCPG port
(cpg_controller.multicpg). docs/neuromodulation.md."""
import math

import numpy as np
import pytest

from neuro_locomotion.params import ConfigError

from cpg_controller.bursts import half_centre_summary
from cpg_controller.multicpg import feeding_injection, load_multicpg, period, simulate
from cpg_controller.neuromodulation import (ModulatedNetwork, Modulators, load_neuromodulation)

NM = 'half_centre_neuromodulation'


def _mods(tau_r=0.2, tau_u=1.0):
    return Modulators(load_neuromodulation({'modulators': [
        {'name': 'a', 'tau_release': tau_r, 'tau_uptake': tau_u}]}))


def test_concentration_time_constants_and_bounds():
    m = _mods()
    m.command(a=1.0)
    cs = []
    for _ in range(200):          # 0.2 s = one tau_release
        m.advance(1e-3)
        cs.append(m.c[0])
    assert cs[-1] == pytest.approx(1 - math.exp(-1), rel=1e-9)
    assert np.all(np.diff(cs) > 0) and max(np.diff(cs)) < 1e-3 / 0.2 + 1e-12   # no jumps
    for _ in range(10000):
        m.advance(1e-3)
    assert m.c[0] == 1.0 and m.advance(1e-3) is False          # settles, stays in [0, 1]
    m.command(a=0.0)
    for _ in range(1000):          # 1 s = one tau_uptake
        m.advance(1e-3)
    assert m.c[0] == pytest.approx(math.exp(-1), rel=1e-9)


def test_time_constants_change_live_without_a_jump():
    m = _mods()
    m.command(a=1.0)
    for _ in range(100):
        m.advance(1e-3)
    c0 = m.c[0]
    m.set_time_constants('a', release=0.05)
    assert m.time_constants('a') == (0.05, 1.0) and m.c[0] == c0   # no jump at the change
    for _ in range(50):           # one new tau_release
        m.advance(1e-3)
    assert m.c[0] == pytest.approx(1 - (1 - c0) * math.exp(-1), rel=1e-9)


@pytest.mark.parametrize('release, uptake', [(0.0, None), (-1.0, None), (float('nan'), None),
                                             ('x', None), (0.1, 0.0), (0.1, float('inf'))])
def test_bad_time_constants_refused_changes_nothing(release, uptake):
    m = _mods()
    with pytest.raises(ConfigError, match='tau'):
        m.set_time_constants('a', release=release, uptake=uptake)
    assert m.time_constants('a') == (0.2, 1.0)
    with pytest.raises(ConfigError):
        m.set_time_constants('b', release=0.1)


@pytest.mark.parametrize('value', [float('nan'), -0.1, 1.5, 'x', True])
def test_bad_target_refused_changes_nothing(value):
    m = _mods()
    m.command(a=0.5)
    with pytest.raises(ConfigError, match='concentration'):
        m.command(a=value)
    assert m.target[0] == 0.5


def test_unknown_modulator_refused_changes_nothing():
    m = _mods()
    with pytest.raises(ConfigError, match='unknown modulator'):
        m.command(a=1.0, b=0.5)
    assert m.target[0] == 0.0


@pytest.mark.parametrize('tree, msg', [
    ({'modulators': [{'name': 'a', 'tau_release': -1, 'tau_uptake': 1}]}, 'time constant'),
    ({'modulators': [{'name': 'a', 'tau_release': 1, 'tau_uptake': 0}]}, 'time constant'),
    ({'modulators': [{'name': 'a', 'tau_release': 1, 'tau_uptake': 1, 'initial': 2}]}, 'in \\[0, 1\\]'),
    ({'modulators': [{'name': 'a', 'tau_release': 1, 'tau_uptake': 1}],
      'populations': [{'population': 'flexor', 'excitability': {'b': 1}}]}, 'unknown modulator'),
    ({'modulators': [{'name': 'a', 'tau_release': 1, 'tau_uptake': 1}],
      'populations': [{'population': 'nope', 'excitability': {'a': 1}}]}, 'unknown population'),
    ({'modulators': [{'name': 'a', 'tau_release': 1, 'tau_uptake': 1}],
      'projections': [{'source': 'flexor', 'target': 'flexor', 'type': 'inhibitory',
                       'gain': {'a': 1}}]}, 'no projection'),
    ({'modulators': []}, 'non-empty'),
])
def test_spec_validation(tree, msg):
    with pytest.raises(ConfigError, match=msg):
        ModulatedNetwork('half_centre', tree)


def test_gains_reach_the_network_and_nothing_else_changes():
    m = ModulatedNetwork('half_centre', NM)
    w0 = m._w.copy()
    m.modulators.set_concentration('exc5ht', 1.0)
    m.apply()
    assert np.allclose(m.net.drive, 14.0 * 1.05)
    assert np.array_equal(m._w, w0)                          # weights untouched
    m.modulators.set_concentration('inhmod', 1.0)
    m.apply()
    inh = np.isin(m.net.compiled.syn_projection, [0, 1])
    assert np.allclose(m._w[inh], w0[inh] * 0.75) and np.array_equal(m._w[~inh], w0[~inh])


def _hco(conc, seconds=8.0):
    m = ModulatedNetwork('half_centre', NM)
    for k, v in conc.items():
        m.modulators.set_concentration(k, v)
    m.apply()
    r = np.array([m.step(1e-3) for _ in range(int(seconds / 1e-3))])
    return half_centre_summary(r[:, 0], r[:, 1], 1e-3, skip=1.0)


def test_modulation_changes_hco_rhythm():
    base, fast, weak = _hco({}), _hco({'exc5ht': 1.0}), _hco({'inhmod': 1.0})
    assert fast.frequency > 1.5 * base.frequency             # excitability -> faster bursts
    assert abs(fast.phase - 0.5) < 0.1 and fast.overlap < 0.05
    assert weak.overlap > 5 * base.overlap                   # weaker mutual inhibition -> overlap


def test_multicpg_feeding_rhythm():
    r = simulate(load_multicpg('feeding'), 30)
    assert r.order()[2:11] == ['N1', 'N2', 'N3'] * 3
    assert all(period(row, skip=2) == 3 for row in r.activity)
    assert r.ecs[2, 4] == 1.5                                # N3 after inhibition: 0.5 x PIR 3


def test_multicpg_feeding_modulator_switch():
    r = simulate(load_multicpg('feeding'), 30, injection={'XXX': feeding_injection})
    order = r.order()
    assert order[:6] == ['N3'] * 6                           # steps 1-6: N3 tonic, N1/N2 silent
    assert order[6] == 'N1' and r.injection[2, 6] == pytest.approx(0.44)   # step 7 resumes
    assert order[6:15] == ['N1', 'N2', 'N3'] * 3


def test_multicpg_hco_alternates_with_period_2():
    r = simulate(load_multicpg('half_centre'), 20)
    assert r.raster() == {'N1': '#.' * 10, 'N2': '.#' * 10}
