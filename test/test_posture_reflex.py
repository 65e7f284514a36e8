"""The quadruped's posture reflex (issue 5, trot -> bound falls): support-force damping of the
trunk's pitch rate that acts only while the pitch is beyond a deadband. Real network, decoder and
PyBullet body; ~15 s."""
from __future__ import annotations

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


def test_trot_to_bound_fall_is_caught():
    """Trot, bound commanded at 6.469 s (released at once): without the reflex the first bound
    cycles' hop grows into rearing and the body falls at 7.53 s (pitch -57 deg); with it the
    bound is reached (measured 9.59 cycles, 0.596 m/s, reflex active 0.669 s)."""
    off = run('quadruped', controller='cpg', duration=12.469, schedule='0:trot,6.469:bound',
              params=OFF).metrics
    assert off['fell'] and 7.0 < off['sim_time_s'] < 8.0, off['sim_time_s']
    assert 'posture_active_s' not in off
    on = run('quadruped', controller='cpg', duration=12.469,
             schedule='0:trot,6.469:bound').metrics
    assert not on['fell']
    (tr,) = on['transitions']
    assert tr['cycles'] is not None and tr['cycles'] < 12.0, tr
    bound = on['segments'][1]
    assert bound['speed_mps'] > 0.55, bound
    assert bound['phase_error'] < 0.1, bound
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
