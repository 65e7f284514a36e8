"""Vertical GRF of both legs around touchdown, averaged over the stances of a reflex-walker run.

Where the loading peak comes from (docs/walking.md, *What sets the 1.74 BW peak*): per stance
that starts after ``--skip`` s, the leading (touching-down) and trailing legs' loads (BW, 1 kHz)
and the hip height and vertical speed, in 10 ms bins from -150 to +400 ms of the touchdown, then
the mean over stances; plus the per-stance peak time after touchdown (median) and the minimum of
the summed load in the window. One table on stdout:

    PYTHONPATH=$PWD .venv/bin/python bench/grf_transition.py config/reflex/human_walk_pathways.yaml 12
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import run
from reflex_modules.ablation import write_params

BIN_MS = 10
WINDOW_MS = (-150, 400)


def transition(base: str, duration: float, skip: float) -> dict:
    """Run BASE for ``duration`` s with a 1 ms trace; the binned loads around touchdown."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_params(Path(tmp) / 'v.yaml', {'metrics.trace_period': 0.001}, base)
        result = run('human', 'reflex', duration=duration, params=path)
    walker = result.controller
    trace, metrics = walker.trace(), walker.metrics()
    t, load, z = trace['time'], trace['load'], trace['z']
    vz = np.gradient(z, t)
    bins = np.arange(WINDOW_MS[0], WINDOW_MS[1], BIN_MS)
    rows, peak_ms = [], []
    for stance in walker._stances:
        if stance['start'] < skip:
            continue
        leg, i0 = stance['leg'], int(np.searchsorted(t, stance['start']))
        i1 = int(np.searchsorted(t, stance['end']))
        peak_ms.append(1000.0 * (t[i0 + int(np.argmax(load[i0:i1, leg]))] - t[i0]))
        row = []
        for b in bins:
            i = i0 + int(b)          # 1 ms samples
            if 0 <= i and i + BIN_MS <= len(t):
                s = slice(i, i + BIN_MS)
                row.append((load[s, leg].mean(), load[s, 1 - leg].mean(), z[s].mean(),
                            vz[s].mean()))
            else:
                row.append((math.nan,) * 4)
        rows.append(row)
    if not rows:
        raise ConfigError(f'no completed stance after {skip} s in {duration} s')
    mean = np.nanmean(np.asarray(rows), axis=0)
    total = mean[:, 0] + mean[:, 1]
    return {'metrics': {k: metrics[k] for k in ('walked_s', 'mean_speed_mps', 'grf_peak_bw',
                                                 'grf_peak_median_bw', 'grf_dip_bw',
                                                 'grf_second_hump_bw', 'stance_s')},
            'stances': len(rows), 'peak_after_touchdown_ms_median': float(np.median(peak_ms)),
            'bins_ms': bins.tolist(), 'lead': mean[:, 0].tolist(), 'trail': mean[:, 1].tolist(),
            'hip_z': mean[:, 2].tolist(), 'hip_vz': mean[:, 3].tolist(),
            'sum_min_bw': float(np.min(total)), 'sum_min_at_ms': int(bins[int(np.argmin(total))])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('base', help='parameter file (its reflex_node section)')
    parser.add_argument('duration', type=float, help='simulated seconds')
    parser.add_argument('--skip', type=float, default=3.0, help='ignore stances before (s)')
    args = parser.parse_args(argv)
    if not (math.isfinite(args.duration) and args.duration > 0):
        parser.error(f'duration must be a positive number of seconds, got {args.duration}')
    if not (math.isfinite(args.skip) and 0 <= args.skip < args.duration):
        parser.error(f'--skip must be in [0, duration), got {args.skip}')
    try:
        out = transition(args.base, args.duration, args.skip)
    except (ConfigError, FileNotFoundError) as e:
        print(f'grf_transition: {e}', file=sys.stderr)
        return 2
    print(json.dumps(out['metrics']))
    print(f"{out['stances']} stances; per-stance peak {out['peak_after_touchdown_ms_median']:.0f} "
          f"ms after touchdown (median); lead + trail load minimum {out['sum_min_bw']:.2f} BW at "
          f"{out['sum_min_at_ms']} ms")
    print('| ms | lead (BW) | trail (BW) | sum (BW) | hip z (m) | hip vz (m/s) |\n'
          '|---|---|---|---|---|---|')
    for k, b in enumerate(out['bins_ms']):
        lead, trail = out['lead'][k], out['trail'][k]
        print(f"| {b} | {lead:.2f} | {trail:.2f} | {lead + trail:.2f} | {out['hip_z'][k]:.3f} | "
              f"{out['hip_vz'][k]:+.2f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
