"""Parameter variants of the reflex walker, one run each, as one JSON line per variant.

Each VARIANT is ``name:value[,name:value...]`` (dotted ``reflex_node`` names, e.g.
``reflex.gas_onset:0.2,reflex.push_off_k_bw:1.0``) applied on top of the ``reflex_node`` section of
BASE; the line has the walked time, mean speed (and ``gait_speed_mps``, from the start-up's end
on), the GRF numbers (``grf_peak_bw`` and its per-stance median, mid-stance dip, second hump), the
hip's vertical range after 3 s (m) and the activation peak timings (% of the left gait cycle), and
the support around touchdown (``support_deficit_bw``, ``support_min_bw``,
``touchdown_hip_fall_mps``: median per touchdown) and the foot roll-over (``heel_off_stance_pct``,
``ball_on_stance_pct``: median over the stances after 3 s, % of stance; ``heel_off`` below), and
the median stance peak over the stances that start at or after 3 s
(``grf_peak_median_after_3s_bw``, ``stances_after_3s``; ``late_peaks`` below: a run that falls
within 2-4 s has a low ``grf_peak_median_bw`` from the slow first steps of the start alone,
docs/walking.md, *An early-stance load limiter*).
Used for the one-at-a-time levers of
docs/walking.md (*Loading-response pathways*):

    PYTHONPATH=$PWD .venv/bin/python bench/sweep_reflex.py config/reflex/human_walk_fast.yaml 10 \\
        reflex.gas_onset:0.1 reflex.vas_k_bw:0.3
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params


def parse_variant(text: str) -> dict:
    values = {}
    for item in text.split(','):
        name, _, value = item.partition(':')
        if not name or not value:
            raise SystemExit(f'bad variant {text!r}: expected name:value[,name:value]')
        if value.lower() in ('true', 'false'):          # a switch, e.g. muscle.rf_bfsh:true
            values[name] = value.lower() == 'true'
            continue
        try:
            values[name] = float(value)
        except ValueError:
            raise SystemExit(f'bad variant {text!r}: {value!r} is not a number or '
                             'true/false') from None
    return values


#: a contact sphere carries load above this force (N); the runner's 10 ms trace of the normal
#: force on l_heel, l_ball, r_heel, r_ball
CONTACT_N = 1.0


def heel_off(stances, time, foot_forces, skip: float = 3.0) -> dict:
    """Foot roll-over per stance that starts at or after ``skip`` s, median over them, in % of
    the stance (touchdown to lift-off of the walker's ``_stances``): ``heel_off_stance_pct``, the
    first sample after the heel has loaded where the heel carries nothing (<= ``CONTACT_N``) and
    the ball carries load (the heel rise); ``ball_on_stance_pct``, the first sample where the ball
    carries load (foot flat). None without such a stance. ``foot_forces``: (n, 4) normal forces
    (N) of l_heel, l_ball, r_heel, r_ball at the samples ``time`` (s)."""
    time = np.asarray(time, dtype=float)
    forces = np.asarray(foot_forces, dtype=float)
    if forces.ndim != 2 or forces.shape[1] != 4 or forces.shape[0] != time.shape[0]:
        raise ValueError(f'foot_forces must be (n, 4) for n = {time.shape[0]} samples, '
                         f'got {forces.shape}')
    offs, flats = [], []
    for stance in stances:
        if stance['start'] < skip:
            continue
        leg = stance['leg']
        i0, i1 = (int(np.searchsorted(time, stance[k])) for k in ('start', 'end'))
        if i1 - i0 < 2:
            continue
        heel = forces[i0:i1, 2 * leg] > CONTACT_N
        ball = forces[i0:i1, 2 * leg + 1] > CONTACT_N
        if ball.any():
            flats.append(100.0 * int(np.argmax(ball)) / (i1 - i0))
        if heel.any():
            h0 = int(np.argmax(heel))
            rise = ~heel[h0:] & ball[h0:]
            if rise.any():
                offs.append(100.0 * (h0 + int(np.argmax(rise))) / (i1 - i0))
    return {'heel_off_stance_pct': float(np.median(offs)) if offs else None,
            'ball_on_stance_pct': float(np.median(flats)) if flats else None}


def late_peaks(stances, skip: float = 3.0) -> dict:
    """Median of the per-stance peak load (BW) over the walker's ``_stances`` that start at or
    after ``skip`` s (the start transient's slow first steps left out), and their number; the
    median is None without such a stance."""
    peaks = [float(s['peak']) for s in stances if s['start'] >= skip]
    return {'grf_peak_median_after_3s_bw': float(np.median(peaks)) if peaks else None,
            'stances_after_3s': len(peaks)}


def measure(base: str, duration: float, values: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_params(Path(tmp) / 'variant.yaml', values, base)
        cpu = time.process_time()
        result = run('human', 'reflex', duration=duration, params=path)
        cpu = time.process_time() - cpu
    m = result.controller.metrics()
    trace = result.controller.trace()
    late = trace['time'] > 3.0
    return {'variant': values, 'walked_s': round(m['walked_s'], 3),
            'speed_mps': round(m['mean_speed_mps'], 4),
            'gait_speed_mps': m['gait_speed_mps'] and round(m['gait_speed_mps'], 4),
            'grf_peak_bw': m['grf_peak_bw'],
            'grf_peak_median_bw': m['grf_peak_median_bw'], 'grf_dip_bw': m['grf_dip_bw'],
            'grf_second_hump_bw': m['grf_second_hump_bw'],
            'hip_range_m': round(float(np.ptp(trace['z'][late])), 4) if late.any() else None,
            'activation_peak_cycle_pct': m.get('activation_peak_cycle_pct'),
            'support_deficit_bw': m.get('support_deficit_bw'),
            'support_min_bw': m.get('support_min_bw'),
            'touchdown_hip_fall_mps': m.get('touchdown_hip_fall_mps'),
            **heel_off(result.controller._stances, result.trace.time, result.trace.foot_forces),
            **late_peaks(result.controller._stances),
            'cpu_s': round(cpu, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('base', help='parameter file (its reflex_node section)')
    parser.add_argument('duration', type=float, help='simulated seconds per run')
    parser.add_argument('variants', nargs='*', help='name:value[,name:value...]; none: BASE')
    args = parser.parse_args(argv)
    if not (args.duration > 0 and math.isfinite(args.duration)):
        parser.error(f'duration must be a positive number of seconds, got {args.duration}')
    variants = [parse_variant(text) if text else {} for text in args.variants or ['']]
    for values in variants:         # every variant parsed before the first run
        try:
            line = measure(args.base, args.duration, values)
        except (ConfigError, FileNotFoundError) as e:   # a value out of range, a missing file
            print(f'sweep_reflex: {values}: {e}', file=sys.stderr)
            return 2
        print(json.dumps(line), flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
