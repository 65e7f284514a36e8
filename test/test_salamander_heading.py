"""Salamander course hold on land (spiking.walk_heading_gain): the walking salamander steers its
direction of travel back to the start heading by a stroke-length difference between the sides.
Real network, decoder and PyBullet body; no mocks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from locomotion_sim.world import World, sim_params
from neuro_locomotion.controllers import make_controller
from neuro_locomotion.params import ConfigError
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import body_info, run


def _walk(gain, seed=2, duration=20.0):
    return run('salamander', 'cpg', duration=duration, arena='flat', gait='walk',
               params={'spiking.walk_heading_gain': gain, 'spiking.seed': seed}).metrics


def test_course_hold_keeps_the_walk_on_its_start_line():
    """Measured over 20 s (network seed 2, config control period 4 ms): off 3.14 m forward,
    0.325 m lateral; gain 1.0: 3.35 m forward, 0.051 m lateral (seeds 0-2: mean |lateral|
    0.166 -> 0.102 m; at a 1 ms period seed 2 0.366 -> 0.032 m, seeds 0-2 0.196 -> 0.095 m)."""
    off, on = _walk(0.0), _walk(1.0)
    assert not off['fell'] and not on['fell']
    assert abs(off['lateral_m']) > 0.25, off                  # the drift the hold removes
    assert abs(on['lateral_m']) < 0.1, on
    assert on['forward_m'] >= 0.95 * off['forward_m'], (on, off)   # no cost in speed
    assert abs(math.atan2(on['lateral_m'], on['forward_m'])) < 0.03
    assert on['phase_error'] <= 0.1, on


def _controller(**params):
    world = World('salamander', params=sim_params('salamander', config_file('salamander')))
    ctrl = make_controller('cpg', body_info(world, config_file('salamander')), gait='walk',
                           params=params or None)
    obs = world.observe()
    ctrl.reset(obs)
    return world, ctrl, obs


def test_travelling_left_lengthens_the_left_strokes():
    world, ctrl, obs = _controller()
    try:
        assert 'base' in ctrl.sensors
        obs.base_linear_velocity = np.array([0.15, 0.05, 0.0])   # course ~0.32 rad to the left
        for _ in range(3000):
            ctrl.step(obs, 1e-3)
        amp = ctrl.decoder._p_amp            # LF, RF, LH, RH protraction amplitudes
        assert ctrl.course_error == pytest.approx(math.atan2(0.05, 0.15), abs=1e-3)
        assert amp[0] > amp[1] and amp[2] > amp[3]
        e = ctrl.course_error                  # gain 1.0: 1 + e left, 1 - e right
        assert amp[0] / amp[1] == pytest.approx((1 + e) / (1 - e), rel=1e-9)
    finally:
        world.close()


def test_gain_zero_reads_no_base_and_keeps_even_strokes():
    world, ctrl, obs = _controller(**{'spiking.walk_heading_gain': 0.0,
                                      'spiking.heading_gain': 0.0})
    try:
        assert 'base' not in ctrl.sensors
        obs.base_linear_velocity = np.array([0.15, 0.05, 0.0])
        for _ in range(200):
            ctrl.step(obs, 1e-3)
        amp = ctrl.decoder._p_amp
        assert amp[0] == amp[1] and amp[2] == amp[3]
    finally:
        world.close()


@pytest.mark.parametrize('gain', [-0.5, 3.5, 'high'])
def test_bad_gain_is_refused(gain):
    with pytest.raises(ConfigError, match='walk_heading_gain'):
        run('salamander', 'cpg', duration=0.01, gait='walk',
            params={'spiking.walk_heading_gain': gain})
