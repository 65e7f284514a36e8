"""Closed-loop locomotion in PyBullet with the reference oscillators (controller ``oscillator``).

Short runs (10-15 s simulated) with the thresholds that the 60 s runs in docs/decoding.md meet;
real physics, no mocks.
"""
import json
import math
import subprocess
import sys

import pytest

from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import run

METRIC_KEYS = ('gait', 'frequency_hz', 'duty_factor', 'phase_offsets', 'phase_error')


@pytest.fixture(scope='module')
def trot():
    return run('quadruped', 'oscillator', duration=10.0, gait='trot')


def test_quadruped_trot_is_fast_and_stays_up(trot):
    m = trot.metrics
    assert not m['fell']
    assert m['forward_m'] / m['sim_time_s'] >= 0.5, m
    assert abs(m['lateral_m']) < 0.1 * m['forward_m']
    heights = trot.trace.arrays()['base_position'][:, 2]
    assert heights.min() > 0.25


def test_quadruped_trot_phases_from_touchdowns(trot):
    m = trot.metrics
    assert m['gait'] == 'trot'
    assert m['phase_error'] is not None and m['phase_error'] <= 0.05, m
    assert m['frequency_hz'] == pytest.approx(m['nominal_frequency_hz'], rel=0.05)
    assert all(abs(d - m['nominal_duty_factor']) < 0.05 for d in m['duty_factor']), m
    assert all(n >= 15 for n in m['touchdowns'])          # one touchdown per foot per cycle
    assert m['phase_locking'][1:] == pytest.approx([1.0] * 3, abs=0.02)


@pytest.mark.parametrize('gait', ['bound', 'walk'])
def test_other_quadruped_gaits_stay_up_in_their_pattern(gait):
    m = run('quadruped', 'oscillator', duration=10.0, gait=gait).metrics
    assert not m['fell'] and m['forward_m'] / m['sim_time_s'] > 0.2, m
    assert m['gait'] == gait and m['phase_error'] <= 0.05, m


@pytest.fixture(scope='module')
def swim():
    return run('salamander', 'oscillator', duration=12.0, arena='water', gait='swim').metrics


def test_salamander_swims_forward_with_a_travelling_wave(swim):
    m = swim
    assert m['gait'] == 'swim' and m['drive'] > 3
    assert m['forward_m'] / m['sim_time_s'] > 0.05, m
    assert m['frequency_hz'] == pytest.approx(m['nominal_frequency_hz'], rel=0.02)
    assert len(m['phase_offsets']) == 8                           # per body joint, head to tail
    assert m['phase_error'] <= 0.02, m                            # 1/8 cycle per segment


def test_salamander_swims_a_third_of_a_body_length_per_second(swim):
    assert swim['forward_m'] / swim['sim_time_s'] >= 0.27        # 0.3 body lengths (0.90 m) per s


def test_limbs_held_out_brake_swimming(swim, tmp_path):
    """Limb rods held out and raised feel broadside drag along their motion: slower than folded."""
    held_out = tmp_path / 'held_out.yaml'
    held_out.write_text('cpg_node:\n  ros__parameters:\n    decoder:\n'
                        '      fold_protraction_rad: 0.0\n      fold_elevation_rad: 0.5\n')
    m = run('salamander', 'oscillator', duration=12.0, arena='water', gait='swim',
            params=str(held_out)).metrics
    assert m['forward_m'] / m['sim_time_s'] < 0.9 * swim['forward_m'] / swim['sim_time_s'], m


def test_salamander_walks_forward_on_land():
    m = run('salamander', 'oscillator', duration=10.0, arena='flat', gait='walk').metrics
    assert m['gait'] == 'walk' and m['drive'] < 3
    assert not m['fell'] and m['forward_m'] / m['sim_time_s'] > 0.05, m
    assert abs(m['lateral_m']) < 0.5 * m['forward_m']
    assert m['frequency_hz'] == pytest.approx(m['nominal_frequency_hz'], rel=0.05)
    assert m['phase_error'] <= 0.1, m                             # limbs trot (LF with RH)


@pytest.mark.parametrize('options,words', [
    ({'gait': 'fly'}, "unknown gait 'fly'"),
    ({'drive': 5.5}, 'drive 5.5 is out of range'),
    ({'drive': math.inf}, 'not finite'),
    ({'gait': 'swim', 'drive': 2.0}, 'contradicts'),
])
def test_bad_salamander_options_name_the_problem(options, words):
    with pytest.raises(ConfigError, match=words):
        run('salamander', 'oscillator', duration=0.01, **options)


def test_oscillator_has_no_model_for_the_human():
    with pytest.raises(ConfigError, match="no model for robot 'human'"):
        run('human', 'oscillator', duration=0.01)


def test_metrics_json_from_the_command_line(tmp_path):
    out = tmp_path / 'm.json'
    proc = subprocess.run([sys.executable, '-m', 'neuro_locomotion.cli', 'run', 'quadruped',
                           '--controller', 'oscillator', '--gait', 'trot', '--duration', '4',
                           '--metrics-json', str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    for key in METRIC_KEYS:
        assert key in data, key
    assert data['controller'] == 'oscillator' and data['gait'] == 'trot'
    assert len(data['phase_offsets']) == 4 and data['phase_error'] < 0.1


@pytest.mark.parametrize('options,words', [
    ({'gait': 'canter'}, "unknown gait 'canter'"),
    ({'gait': 'trot', 'drive': 99.0}, 'drive 99.0 is out of range'),
    ({'drive': math.nan}, 'not finite'),
    ({'drive': 'fast'}, 'drive must be a number'),
    ({'colour': 'red'}, "unknown options ['colour']"),
])
def test_bad_quadruped_options_name_the_problem(options, words):
    with pytest.raises(ConfigError, match=words.replace('[', r'\[').replace(']', r'\]')
                       .replace('(', r'\(').replace(')', r'\)')):
        run('quadruped', 'oscillator', duration=0.01, **options)


def test_bad_parameter_file_names_the_parameter(tmp_path):
    bad = tmp_path / 'p.yaml'
    bad.write_text('cpg_node:\n  ros__parameters:\n    decoder:\n      step_height_m: .nan\n')
    with pytest.raises(ConfigError, match='decoder.step_height_m'):
        run('quadruped', 'oscillator', duration=0.01, params=str(bad))
    proc = subprocess.run([sys.executable, '-m', 'neuro_locomotion.cli', 'run', 'quadruped',
                           '--controller', 'oscillator', '--drive', 'nan'],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and 'finite' in proc.stderr
