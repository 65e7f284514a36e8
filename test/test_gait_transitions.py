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
    routes = {(r.source, r.target): (r.release_phase, r.legs, r.readout_adapt, r.readout_adapt_s,
                                     r.readout_expected_s) for r in spec.transitions}
    assert routes == {('trot', 'walk'): (0.65, ('LF',), 1.0, 1.0, None),
                      ('walk', 'trot'): (0.3, ('LF',), 0.0, 0.35, (0.25, 0.12)),
                      ('trot', 'bound'): (0.95, ('LF',), 0.0, 0.35, None),
                      ('bound', 'trot'): (0.7, ('LF',), 0.0, 0.35, None)}
    assert spec.route('walk', 'bound') is None
    assert spec.route('trot', 'walk').max_wait_s == 1.0
    assert all(spec.route(a, b).timed for a, b in (('trot', 'walk'), ('walk', 'trot'),
                                                    ('trot', 'bound'), ('bound', 'trot')))
    assert spec.route('bound', 'trot').max_wait_s == 1.0


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
    ({'from': 'trot', 'to': 'walk'}, 'neither'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': 0.0}, 'readout_adapt_s'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt_s': 0.3}, 'readout_adapt'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': 1.5, 'readout_adapt_s': 0.3},
     'readout_adapt'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': float('nan'), 'readout_adapt_s': 0.3},
     'readout_adapt'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': -0.1, 'readout_adapt_s': 0.3},
     'readout_adapt'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': 0.0, 'readout_adapt_s': 0.0},
     'readout_adapt_s'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': 0.0, 'readout_adapt_s': 11.0},
     'readout_adapt_s'),
    ({'from': 'trot', 'to': 'bound', 'readout_adapt': 0.0, 'readout_adapt_s': '1'},
     'readout_adapt_s'),
    ({'from': 'walk', 'to': 'trot', 'readout_expected_s': [0.25]}, 'readout_expected_s'),
    ({'from': 'walk', 'to': 'trot', 'readout_expected_s': 0.25}, 'readout_expected_s'),
    ({'from': 'walk', 'to': 'trot', 'readout_expected_s': [0.25, 0.0]}, 'readout_expected_s'),
    ({'from': 'walk', 'to': 'trot', 'readout_expected_s': [0.25, 2.5]}, 'readout_expected_s'),
    ({'from': 'walk', 'to': 'trot', 'readout_expected_s': [float('nan'), 0.12]},
     'readout_expected_s'),
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
    released when LF's readout crosses 0.65 of its cycle (since 2026-12-07; half its cycle,
    LF's lift-off, before) it reaches the walk table (measured 1.54 cycles from the command,
    0.204 s wait; at 0.5: 1.48 cycles, 0.161 s)."""
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
    trot 0.35 / 0.15 s), not the old gait's; trot -> walk keeps them (walk -> trot takes its
    transitions row's readout_expected_s); one gait never resets;
    an unknown gait given explicitly, or a wrong number of durations, is refused."""
    import numpy as np
    from neuro_locomotion.runner import run
    c = run('quadruped', controller='cpg', duration=0.5, schedule='0:trot').controller
    e = c.cpg.estimator.expected
    c.command_gait('bound')
    assert np.array_equal(e, np.tile([0.196, 0.072], (4, 1)))
    c.command_gait('trot')
    assert np.array_equal(e, np.tile([0.35, 0.15], (4, 1)))
    e[:] = 0.3
    c.command_gait('walk')
    assert np.array_equal(e, np.full((4, 2), 0.3))              # trot -> walk: kept
    c.command_gait('trot')                                     # walk -> trot: the row's values
    assert np.array_equal(e, np.tile([0.25, 0.12], (4, 1)))
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


def test_readout_adaptation_window():
    """A change with readout_adapt in its transitions row (shipped trot -> bound: 0 for 0.35 s)
    sets the limb readout's adaptation weight to it at the release and back to spiking.adapt
    (0.5) after the window: with 0 the expected stance / swing durations stay at the bound's
    (the readout reset) through the transitional half-cycles of the real network, with 0.5 they
    move. A change without the entry (walk -> trot) keeps 0.5; the weight is refused outside
    [0, 1] or NaN."""
    import numpy as np
    from neuro_locomotion.runner import run
    c = run('quadruped', controller='cpg', duration=0.5, schedule='0:trot').controller
    cpg = c.cpg
    assert cpg.readout_adapt == 0.5
    c.command_gait('bound')
    assert cpg.readout_adapt == 0.0
    held = cpg.estimator.expected.copy()
    flips = 0
    for _ in range(340):                       # 0.34 s of the network alone, inside the window
        before = cpg.swing.copy()
        cpg.step(1e-3)
        c._adaptation_step()
        flips += int(np.count_nonzero(before != cpg.swing))
    assert flips >= 4                          # half-cycles ended ...
    assert np.array_equal(cpg.estimator.expected, held)    # ... and none was adapted to
    for _ in range(20):
        cpg.step(1e-3)
        c._adaptation_step()
    assert cpg.readout_adapt == 0.5 and c._adapt_until is None
    for _ in range(300):
        cpg.step(1e-3)
    assert not np.array_equal(cpg.estimator.expected, held)
    c.command_gait('trot')
    c.command_gait('walk')                     # untimed: at once, trot -> walk's window (1.0)
    assert cpg.readout_adapt == 1.0
    c.command_gait('trot')                     # walk -> trot: expected 0.25 / 0.12 s, held
    assert cpg.readout_adapt == 0.0
    assert np.array_equal(cpg.estimator.expected, np.tile([0.25, 0.12], (4, 1)))
    c.command_gait('bound')
    c.command_gait('walk')                     # bound -> walk has no entry: the window ends
    assert cpg.readout_adapt == 0.5 and c._adapt_until is None
    for bad in (1.5, -0.1, float('nan')):
        with pytest.raises(ConfigError, match='readout adapt'):
            cpg.readout_adapt = bad
    assert cpg.readout_adapt == 0.5


@pytest.mark.parametrize('old,new,t', [('trot', 'bound', 6.335), ('trot', 'walk', 6.67),
                                       ('bound', 'trot', 6.134), ('walk', 'trot', 6.201)])
def test_closed_loop_transition_within_two_cycles_with_readout_window(old, new, t):
    """PyBullet, the shipped transitions table: trot -> bound commanded at 6.335 s (released at
    0.95 of LF's readout cycle, 0.9 before helper Q2, readout held 0.35 s; 1.60 cycles, 1.51
    from the release), trot -> walk at 6.67 s (released at 0.65
    of LF's cycle, readout weight 1 for 1 s), bound -> trot at 6.134 s (released at 0.7 of LF's
    cycle, readout reset to a 0.35 s trot stance, held 0.35 s) and walk -> trot at 6.201 s
    (released at 0.3 of LF's cycle, expected 0.25 / 0.12 s, held 0.35 s) reach the new table
    within 2 body cycles of the command, no fall (measured 1.58, 1.92, 1.60 and 1.72; before
    the readout rows 2.68, 2.85, 4.63 and 2.43); the readout weight is back to 0.5 after."""
    from neuro_locomotion.runner import run
    r = run('quadruped', controller='cpg', duration=t + 4.0, schedule=f'0:{old},{t}:{new}')
    m = r.metrics
    assert not m['fell']
    (tr,) = m['transitions']
    assert tr['cycles'] is not None and tr['cycles'] <= 2.0, tr
    assert m['segments'][1]['phase_error'] <= 0.05, m['segments'][1]
    assert r.controller.cpg.readout_adapt == 0.5



@pytest.mark.parametrize('old,new,t,phase', [('bound', 'trot', 10.067, 0.7),
                                             ('trot', 'bound', 10.603, 0.95),
                                             ('walk', 'trot', 10.0, 0.3)])
def test_closed_loop_released_at_a_phase_of_lf(old, new, t, phase):
    """PyBullet, the shipped table: after 10 s of the old gait, bound -> trot is released when
    LF's readout crosses 0.7 of its cycle, trot -> bound when it crosses 0.95 (0.9 before
    helper Q2, 1.74 cycles then too; both late in LF's
    swing) and walk -> trot at 0.3 (LF's stance), within one old cycle of the command; the body
    reaches the new table within 2 cycles of the command (measured 1.80, 1.74 and 1.56;
    released at once, as shipped before 2026-12-07, 2.65, 2.79 and 5.52 at these command
    times), no fall. The rows without release_phase and legs are released at once."""
    from neuro_locomotion.runner import run
    r = run('quadruped', controller='cpg', duration=t + 4.0, schedule=f'0:{old},{t}:{new}')
    m = r.metrics
    assert not m['fell']
    (tr,) = m['transitions']
    old_cycle = 1.0 / m['segments'][0]['frequency_hz']
    assert 0.0 < tr['release_delay_s'] <= old_cycle, tr
    assert tr['cycles'] is not None and tr['cycles'] <= 2.0, tr
    assert tr['cycles_from_release'] < tr['cycles'], tr
    assert m['segments'][1]['phase_error'] <= 0.05, m['segments'][1]
    spec = load_neuromodulation(_tree())
    assert spec.route(old, new).release_phase == phase
    tree = copy.deepcopy(_tree())
    for row in tree['neuromodulation']['transitions']:
        if (row['from'], row['to']) == (old, new):
            del row['release_phase'], row['legs']
    assert load_neuromodulation(tree).route(old, new).timed is False


def test_trot_to_bound_release_late_enough_in_lf_swing():
    """PyBullet, trot -> bound commanded at 10.201 s (after 10 s of trot): with the release at
    0.9 of LF's readout cycle (shipped before, helper Q2 2026-12-07) the change was released at
    10.257 s and the second bound stride after it had the hind pair 0.055 cycle early against
    LF (3.60 bound cycles from the release, 3.81 from the command); released at 0.95 the body is
    in the bound table 1.5 cycles after the release and within 2 of the command, no fall."""
    from neuro_locomotion.runner import run
    t = 10.201
    r = run('quadruped', controller='cpg', duration=t + 4.0, schedule=f'0:trot,{t}:bound')
    m = r.metrics
    assert not m['fell']
    (tr,) = m['transitions']
    assert tr['cycles_from_release'] is not None and tr['cycles_from_release'] <= 1.6, tr
    assert tr['cycles'] is not None and tr['cycles'] <= 2.0, tr
    assert m['segments'][1]['phase_error'] <= 0.05, m['segments'][1]


def test_bound_to_trot_weight_support_rises_with_a_lag():
    """PyBullet, bound -> trot commanded at 6.737 s (released at 0.7 of LF's cycle, 0.216 s
    later): the stance legs' weight support (``weight_feedforward_scale``, 0.5 in the bound, 1
    in the trot) now rises with the 1 s lag of the stroke and clearance. At once (shipped
    before, helper Q2 2026-12-07) the third trot stride had RH 0.052 cycle ahead of LF, which
    restarted the count: 4.59 trot cycles from the release; with the lag 1.55, no fall. The
    lag is data of the neuromodulation file's outputs; the steady bound starts at its level."""
    from neuro_locomotion.runner import run
    spec = load_neuromodulation(_tree())
    (out,) = [o for o in spec.outputs if o.name == 'weight_feedforward_scale']
    assert out.tau_rise_s == 1.0 and out.tau_fall_s == 0.0
    t = 6.737
    r = run('quadruped', controller='cpg', duration=t + 4.0, schedule=f'0:bound,{t}:trot')
    m = r.metrics
    assert not m['fell']
    (tr,) = m['transitions']
    assert tr['cycles_from_release'] is not None and tr['cycles_from_release'] <= 1.6, tr
    assert m['segments'][1]['phase_error'] <= 0.05, m['segments'][1]
