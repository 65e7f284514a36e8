"""Phase-timed release of scheduled gait changes (issue 5): the ``transitions`` table of the
quadruped neuromodulation file, its validation, and the closed-loop trot -> walk that the at-once
release left 0.5 cycle off the walk table. Real network, decoder and PyBullet body; ~10 s."""
from __future__ import annotations

import copy

import pytest

from cpg_controller.gait_networks import quadruped_modulated
from cpg_controller.network import network_dir
from cpg_controller.neuromodulation import load_neuromodulation
from neuro_locomotion.params import ConfigError, read_yaml


def _tree():
    name = quadruped_modulated()['neuromodulation']
    return read_yaml(network_dir() / f'{name}.yaml', 'neuromodulation file')


def test_shipped_transitions_table():
    spec = load_neuromodulation(_tree())
    routes = {(r.source, r.target): (r.release_phase, r.legs) for r in spec.transitions}
    assert routes == {('trot', 'walk'): (0.5, ('LF',))}
    assert spec.route('walk', 'trot') is None
    assert spec.route('trot', 'walk').max_wait_s == 1.0


@pytest.mark.parametrize('entry,reason', [
    ({'from': 'trot', 'to': 'canter', 'release_phase': 0.5, 'legs': ['LF']}, 'not a gait'),
    ({'from': 'trot', 'to': 'trot', 'release_phase': 0.5, 'legs': ['LF']}, 'same gait'),
    ({'from': 'trot', 'to': 'walk', 'release_phase': 1.0, 'legs': ['LF']}, 'release_phase'),
    ({'from': 'trot', 'to': 'walk', 'release_phase': float('nan'), 'legs': ['LF']},
     'release_phase'),
    ({'from': 'trot', 'to': 'walk', 'legs': ['LF']}, 'release_phase'),
    ({'from': 'trot', 'to': 'walk', 'release_phase': 0.5}, 'legs'),
    ({'from': 'trot', 'to': 'walk', 'release_phase': 0.5, 'legs': []}, 'legs'),
    ({'from': 'trot', 'to': 'walk', 'release_phase': 0.5, 'legs': ['LF'], 'max_wait_s': 0},
     'max_wait_s'),
    ({'from': 'trot', 'to': 'walk', 'release_phase': 0.5, 'legs': ['LF'], 'speed': 1},
     'unknown keys'),
])
def test_transitions_refused_with_reason(entry, reason):
    tree = copy.deepcopy(_tree())
    tree['neuromodulation']['transitions'] = [entry]
    with pytest.raises(ConfigError, match=reason):
        load_neuromodulation(tree)


def test_duplicate_transition_refused():
    tree = copy.deepcopy(_tree())
    row = {'from': 'trot', 'to': 'walk', 'release_phase': 0.5, 'legs': ['LF']}
    tree['neuromodulation']['transitions'] = [row, dict(row)]
    with pytest.raises(ConfigError, match='second entry'):
        load_neuromodulation(tree)


def test_closed_loop_trot_to_walk_released_at_phase():
    """PyBullet: trot, walk commanded at 6.067 s. Released at once, this command time locked
    the body and the readout 0.5 cycle off the walk table for the 6 s after it (issue 5);
    released when LF's readout crosses half its cycle it reaches the walk table (measured 1.48
    cycles from the command, 1.14 from the release, 0.161 s wait)."""
    from neuro_locomotion.runner import run
    r = run('quadruped', controller='cpg', duration=12.067, schedule='0:trot,6.067:walk')
    m = r.metrics
    assert not m['fell']
    (tr,) = m['transitions']
    trot_cycle = 1.0 / m['segments'][0]['frequency_hz']
    assert 0.0 <= tr['release_delay_s'] <= trot_cycle, tr       # within one old cycle
    assert tr['cycles'] is not None and tr['cycles'] <= 2.0, tr
    assert tr['cycles_from_release'] < tr['cycles'], tr
    assert m['segments'][1]['phase_error'] <= 0.05, m['segments'][1]
    # the levels were commanded at the release, not at the command
    c = r.controller
    assert c.concentrations == pytest.approx({'serotonin': 0.0, 'noradrenaline': 0.0}, abs=1e-6)


def test_readout_reset_between_trot_and_bound():
    """spiking.readout_reset_gaits (shipped: trot, bound): the release of a change between them
    sets every limb's expected stance / swing durations to the new gait's (bound 0.196 / 0.072 s,
    trot 0.245 / 0.15 s), not the old gait's; walk <-> trot keeps them; one gait never resets;
    an unknown gait given explicitly, or a wrong number of durations, is refused."""
    import numpy as np
    from neuro_locomotion.runner import run
    c = run('quadruped', controller='cpg', duration=0.5, schedule='0:trot').controller
    e = c.cpg.estimator.expected
    c.command_gait('bound')
    assert np.array_equal(e, np.tile([0.196, 0.072], (4, 1)))
    c.command_gait('trot')
    assert np.array_equal(e, np.tile([0.245, 0.15], (4, 1)))
    e[:] = 0.3
    c.command_gait('walk')
    c.command_gait('trot')
    assert np.array_equal(e, np.full((4, 2), 0.3))
    off = run('quadruped', controller='cpg', duration=0.5, schedule='0:trot',
              params={'spiking.readout_reset_gaits': ['bound'],
                      'spiking.readout_reset_s': [0.196, 0.072]}).controller
    before = off.cpg.estimator.expected.copy()
    off.command_gait('bound')
    assert np.array_equal(off.cpg.estimator.expected, before)
    for params, why in (({'spiking.readout_reset_gaits': ['trot', 'canter']}, 'canter'),
                        ({'spiking.readout_reset_s': [0.2, 0.1]}, 'stance and a swing')):
        with pytest.raises(ConfigError, match=why):
            run('quadruped', controller='cpg', duration=0.1, schedule='0:trot', params=params)
