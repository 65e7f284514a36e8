"""The quadruped's posture reflex (issue 5, trot -> bound falls): support-force damping of the
trunk's pitch rate that acts only while the pitch is beyond a deadband. Real network, decoder and
PyBullet body; ~15 s."""
from __future__ import annotations

from pathlib import Path

import pytest

from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import run

OFF = {'posture.pitch_rate_gain': 0.0}


def test_shipped_reflex_settings():
    from cpg_controller.controllers import controller_params
    from neuro_locomotion.controllers import BodyInfo
    from neuro_locomotion.paths import config_file
    body = BodyInfo('quadruped', (), [], [], [], (), [], config_file('quadruped'))
    p = controller_params(body)
    assert p['posture.pitch_deadband_rad'] == 0.07
    assert p['posture.pitch_rate_gain'] == 80.0


def _released_at_once(tmp_path) -> dict:
    """Params selecting a copy of the shipped network whose trot -> bound row has no release
    phase (released at once, as shipped before 2026-12-07; the shipped row waits for 0.9 of
    LF's cycle, which avoids the phases at which the at-once release fell). Keys keep their
    order (sorted keys would reorder the populations and build another random network)."""
    import yaml
    networks = Path(__file__).resolve().parent.parent / 'config' / 'networks'
    nm = yaml.safe_load((networks / 'quadruped_neuromodulation.yaml').read_text())
    for row in nm['neuromodulation']['transitions']:
        if (row['from'], row['to']) == ('trot', 'bound'):
            row.pop('release_phase', None)
            row.pop('legs', None)
    (tmp_path / 'nm.yaml').write_text(yaml.safe_dump(nm, sort_keys=False))
    template = yaml.safe_load((networks / 'quadruped.yaml').read_text())
    template['modulated']['neuromodulation'] = str(tmp_path / 'nm.yaml')
    (tmp_path / 'net.yaml').write_text(yaml.safe_dump(template, sort_keys=False))
    return {'spiking.network': str(tmp_path / 'net.yaml')}


def test_trot_to_bound_at_6469_needs_the_reflex(tmp_path):
    """Trot, bound commanded at 6.469 s (released at once), without the readout reset
    (spiking.readout_reset_gaits of one gait). Before the bound's weight-support scale this
    command time fell at 7.53 s (the first bound cycles' hop grown into rearing, pitch
    -57 deg); with the scale but no reflex the body did not reach the bound (a 0.155 m/s
    gait); since the trot -> bound readout hold (transitions row, 0.35 s) it reaches it late
    without the reflex (measured 11.53 cycles, 0.549 m/s) and in 6.58 cycles with it (0.562
    m/s, error 0.007, reflex active 0.667 s). Shipped (reset and hold): 4.59 cycles with the
    reflex, 9.55 without. (With the shipped phase-timed trot -> bound, released at 0.9 of LF's
    cycle 0.265 s after this command, no fall without the reflex at any of 12 command times
    6.0-6.737 s, without the readout reset: 5.7-7.1 cycles, with the reflex 6.8-11.8; not
    re-measured since the release moved to 0.95, helper Q2.)"""
    no_reset = {'spiking.readout_reset_gaits': ['bound'], 'spiking.readout_reset_s': [0.2, 0.1],
                **_released_at_once(tmp_path)}
    off = run('quadruped', controller='cpg', duration=12.469, schedule='0:trot,6.469:bound',
              params={**OFF, **no_reset}).metrics
    assert 'posture_active_s' not in off
    slow = off['transitions'][0]['cycles']
    assert off['fell'] or slow is None or slow > 9.0, off['transitions']
    on = run('quadruped', controller='cpg', duration=12.469, schedule='0:trot,6.469:bound',
             params=no_reset).metrics
    assert not on['fell']
    (tr,) = on['transitions']
    assert tr['cycles'] is not None and tr['cycles'] < 9.0, tr
    bound = on['segments'][1]
    assert bound['speed_mps'] > 0.54, bound
    assert bound['phase_error'] < 0.05, bound
    assert 0.3 < on['posture_active_s'] < 1.5, on['posture_active_s']


def test_reflex_silent_in_the_steady_trot():
    """Within the deadband the reflex adds nothing: a trot run is the same with and without it
    (the trot's pitch stays within -1.7..0.7 deg)."""
    on = run('quadruped', controller='cpg', duration=6.0, schedule='0:trot').metrics
    off = run('quadruped', controller='cpg', duration=6.0, schedule='0:trot', params=OFF).metrics
    assert on['posture_active_s'] == 0.0
    for key in ('distance_m', 'phase_offsets', 'touchdowns', 'segments'):
        assert on[key] == off[key], key


@pytest.mark.parametrize('key,value', [('posture.pitch_rate_gain', -1.0),
                                       ('posture.pitch_rate_gain', float('nan')),
                                       ('posture.pitch_deadband_rad', 2.0)])
def test_reflex_parameters_refused(key, value):
    with pytest.raises(ConfigError, match=key.split('.', 1)[1]):
        run('quadruped', controller='cpg', duration=0.1, params={key: value})


@pytest.mark.parametrize('gait,scale', [('walk', 1.0), ('trot', 1.0), ('bound', 2.0 / 3.0)])
def test_weight_support_scaled_by_noradrenaline(gait, scale):
    """The neuromodulation file's output weight_feedforward_scale: the stance legs' weight
    support is servo.weight_feedforward (0.75) x 1 in walk and trot, x 2/3 (0.5) in the bound."""
    c = run('quadruped', controller='cpg', duration=0.2, schedule=f'0:{gait}').controller
    assert c._weight == pytest.approx(c._weight0 * scale, rel=1e-6)
    assert c._weight0 == pytest.approx(0.75 * c.decoder.geometry.total_mass * 9.81)


def test_an_output_that_is_neither_decoder_nor_servo_is_refused(tmp_path):
    """A neuromodulation output must name a decoder parameter or weight_feedforward_scale: any
    other name is refused with the allowed list, before anything runs."""
    import yaml
    networks = Path(__file__).resolve().parent.parent / 'config' / 'networks'
    nm = yaml.safe_load((networks / 'quadruped_neuromodulation.yaml').read_text())
    nm['neuromodulation']['outputs']['wing_span_m'] = {'baseline': 0.1, 'range': [0.0, 1.0],
                                                       'sensitivity': {'serotonin': 0.1}}
    (tmp_path / 'nm.yaml').write_text(yaml.safe_dump(nm))
    template = yaml.safe_load((networks / 'quadruped.yaml').read_text())
    template['modulated']['neuromodulation'] = str(tmp_path / 'nm.yaml')
    (tmp_path / 'net.yaml').write_text(yaml.safe_dump(template))
    with pytest.raises(ConfigError, match='wing_span_m.*weight_feedforward_scale'):
        run('quadruped', controller='cpg', duration=0.1, schedule='0:trot',
            params={'spiking.network': str(tmp_path / 'net.yaml')})
