"""Sensory feedback (cpg_controller/feedback.py): encoders, injection, open and closed loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cpg_controller.bursts import detect_bursts
from cpg_controller.feedback import (RateEncoder, SensoryFeedback, TTFSEncoder, foot_load,
                                     hip_stretch)
from cpg_controller.gait_networks import quadruped_network
from cpg_controller.network import Network


def _spikes(enc, x, ticks):
    return np.array([enc.step(x) for _ in range(ticks)])


@pytest.mark.parametrize('poisson', [True, False])
def test_rate_encoder_is_deterministic_and_proportional(poisson):
    x = np.array([0.0, 0.1, 0.25, 0.5, 1.0])
    a = _spikes(RateEncoder(5, 200.0, poisson=poisson, seed=3), x, 20000)
    b = _spikes(RateEncoder(5, 200.0, poisson=poisson, seed=3), x, 20000)
    assert np.array_equal(a, b)
    rate = a.sum(axis=0) / 20.0                      # Hz over 20 s
    assert rate[0] == 0.0
    assert np.allclose(rate[1:], 200.0 * x[1:], rtol=0.1), rate


def test_ttfs_latency_falls_with_input_and_zero_is_silent():
    x = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    s = _spikes(TTFSEncoder(5, t_max_s=0.02, epoch_s=0.05), x, 500)
    assert s[:, 0].sum() == 0
    assert np.all(s[:, 1:].sum(axis=0) == 10)      # one spike per 50 ms epoch
    latency = np.argmax(s[:50, 1:], axis=0)          # ticks after the first onset
    assert list(latency) == [16, 10, 2, 0]           # round(20 (1 - x))
    assert np.all(np.diff(latency) < 0)


def test_non_finite_input_is_refused_with_a_clear_error():
    for enc in (RateEncoder(2), TTFSEncoder(2)):
        with pytest.raises(ValueError, match=r'must be finite, got nan at channel 1'):
            enc.step([0.5, math.nan])
    with pytest.raises(ValueError, match='foot load'):
        foot_load([10.0, math.inf], 100.0)
    with pytest.raises(ValueError, match='hip stretch'):
        hip_stretch([math.nan], 1.0, 0.2)
    assert np.allclose(foot_load([-5.0, 50.0, 300.0], 100.0), [0.0, 0.5, 1.0])
    assert np.allclose(hip_stretch([0.9, 1.1, 1.5], 1.0, 0.2), [0.0, 0.5, 1.0])


def _extensor_bursts(feedback: bool, encoding='rate', seconds=4.0):
    net = Network(quadruped_network('trot', 22.0), seed=0)
    fb = SensoryFeedback(net, encoding=encoding, load_gain=4.0, stretch_gain=0.0, seed=0)
    e = net.index('LF_extensor')
    load, stretch = np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(4)
    rate = np.empty(int(seconds / 1e-3))
    for k in range(rate.size):
        if feedback:
            fb.step(load, stretch)
        net.step(1e-3)
        rate[k] = net.rates[e]
    b = detect_bursts(rate[1000:], 1e-3)
    return (b.offsets - b.onsets).mean(), fb


@pytest.mark.parametrize('encoding', ['rate', 'ttfs'])
def test_held_load_prolongs_the_extensor_bursts(encoding):
    off, _ = _extensor_bursts(False)
    on, fb = _extensor_bursts(True, encoding)
    # measured: 0.250 s without, 0.283 (rate) / 0.278 (ttfs) s with 4 nA load feedback
    assert on > 1.07 * off, (off, on)
    assert fb.total_spikes[0] > 0 and fb.total_spikes[1:].sum() == 0
    fb.reset()                                       # base drives restored
    assert fb.net.get_drive('LF_extensor') == pytest.approx(22.0)


def test_feedback_is_off_by_default_and_closed_loop_trot_stays_up():
    from neuro_locomotion.runner import run
    r = run('quadruped', 'cpg', duration=5.0, gait='trot',
            params={'feedback.enabled': True, 'feedback.encoding': 'rate'})
    m = r.metrics
    assert not m['fell'], m
    assert m['forward_m'] / m['sim_time_s'] > 0.4, m              # measured 0.58 m/s
    assert min(m['feedback_spikes']) > 0, m                       # both modalities fired
    assert r.trace.arrays()['base_position'][:, 2].min() > 0.25
    from cpg_controller.spiking import QUADRUPED_SPIKING_PARAMS
    spec = {p.name: p for p in QUADRUPED_SPIKING_PARAMS}
    assert spec['feedback.enabled'].default is False
    assert spec['feedback.load_gain'].unit == 'nA'
