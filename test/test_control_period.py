"""The runner's controller period (cpg_node ``control_period_s``): the controller is stepped every
N physics steps and its command held in between; PyBullet keeps its 1 kHz. Real PyBullet runs."""
from __future__ import annotations

import numpy as np
import pytest

import neuro_locomotion.runner as runner
from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import control_steps, run


def _counting_run(period, **kw):
    """A short salamander swim; returns (metrics, times the controller was stepped, their dt)."""
    calls = []
    make = runner.make_controller

    def counting(*a, **k):
        ctrl = make(*a, **k)
        step = ctrl.step

        def wrapped(obs, dt):
            calls.append((obs.time, dt))
            return step(obs, dt)
        ctrl.step = wrapped
        return ctrl
    runner.make_controller = counting
    try:
        result = run('salamander', 'cpg', duration=0.2, arena='water', gait='swim',
                     params={'control_period_s': period}, **kw)
    finally:
        runner.make_controller = make
    return result, calls


def test_controller_is_stepped_every_period_and_physics_stays_at_1khz():
    result, calls = _counting_run(0.004)
    m = result.metrics
    assert m['control_period_s'] == pytest.approx(0.004)
    assert m['physics_rate_hz'] == 1000.0 and m['sim_time_s'] == pytest.approx(0.2)
    times = np.array([t for t, _ in calls])
    assert len(calls) == 50                                  # 200 physics steps / 4
    np.testing.assert_allclose(np.diff(times), 0.004, atol=1e-9)
    np.testing.assert_allclose([dt for _, dt in calls], 0.004, rtol=1e-12)
    # the trace still samples every 10 ms and shows the held command between control ticks
    trace = result.trace.arrays()
    assert trace['time'].size == 20 and np.isfinite(trace['command']).all()


def test_default_period_is_every_physics_step():
    result, calls = _counting_run(0.001)
    assert len(calls) == 200 and result.metrics['control_period_s'] == pytest.approx(0.001)


def test_swim_at_4_ms_stays_close_to_1_ms():
    """Measured (5 s): 1 ms 0.321 m/s, phase error 0.020; 4 ms 0.329 m/s, 0.021."""
    a = run('salamander', 'cpg', duration=5.0, arena='water', gait='swim',
            params={'control_period_s': 0.001}).metrics
    b = run('salamander', 'cpg', duration=5.0, arena='water', gait='swim',
            params={'control_period_s': 0.004}).metrics
    assert b['forward_m'] == pytest.approx(a['forward_m'], rel=0.05)
    assert b['frequency_hz'] == pytest.approx(a['frequency_hz'], rel=0.02)
    assert abs(b['phase_error'] - a['phase_error']) < 0.01


@pytest.mark.parametrize('period, words', [
    (0.0025, 'not a whole number of physics steps'),
    (0.0, 'below the minimum'),
    (0.5, 'above the maximum'),
    ('fast', 'control_period_s'),
])
def test_bad_periods_are_refused(period, words):
    with pytest.raises(ConfigError, match=words):
        run('salamander', 'cpg', duration=0.01, arena='water', gait='swim',
            params={'control_period_s': period})


def test_control_steps():
    assert control_steps(0.001, 0.001) == 1
    assert control_steps(0.0005, 0.001) == 1
    assert control_steps(0.005, 0.001) == 5
    with pytest.raises(ConfigError, match='positive'):
        control_steps(float('nan'), 0.001)
