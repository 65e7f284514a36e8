"""Ablation of the Song & Geyer 2015 modules on the reflex walker: what each module does.

Runs the walker (``config/human.yaml``, i.e. the shipped optimized set, unless ``--params``) with
all modules on, then with one module off at a time (``modules.Mk: false``), and measures from the
walker's trace (5 ms samples, up to the fall):

* walked_s, steps, mean speed (the walker's metrics);
* knee hyperextension (SG2015's M2 ablation): the peak knee inner angle in stance, and the time
  a stance knee spends beyond 180 deg (straight) and beyond the soft limit ``limits.knee_max``
  (175 deg), summed over both legs, per walked second;
* swing overshoot (SG2015's M9 ablation): per swing, the peak hip flexion (smallest hip inner
  angle) and the smallest leg angle alpha (SG2015's convention: the hip-to-ankle line from the
  forward horizontal, < 90 deg = foot ahead of the hip), medians over the swings.

    PYTHONPATH=$PWD .venv/bin/python -m reflex_modules.ablation [--duration 20] [--modules M2 M9]
        [--params FILE] [--json out.json]

The same run by hand: a parameter file ``reflex_node: ros__parameters: modules: {M2: false}`` and
``neuroloco run human --controller reflex --params that.yaml``.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np

from .parameters import MODULES

DEG = 180.0 / math.pi


def leg_angle(phi_leg, pitch, thigh=0.5, shank=0.5):
    """SG2015 leg angle alpha (rad): the hip-to-ankle line measured from the forward horizontal
    (pi/2 = ankle straight below the hip, smaller = ankle ahead). phi_leg: (..., 3) inner angles
    hip, knee, ankle; pitch: trunk forward lean (rad)."""
    phi_leg = np.asarray(phi_leg, dtype=float)
    thigh_pitch = pitch + (phi_leg[..., 0] - math.pi)       # + = knee behind the hip
    shank_pitch = thigh_pitch + (math.pi - phi_leg[..., 1])
    dx = -thigh * np.sin(thigh_pitch) - shank * np.sin(shank_pitch)    # ankle x - hip x
    dz = thigh * np.cos(thigh_pitch) + shank * np.cos(shank_pitch)     # hip z - ankle z
    return np.arctan2(dz, dx)


def gait_numbers(trace: dict, metrics: dict, knee_limit: float = math.radians(175.0)) -> dict:
    """Knee-hyperextension and swing-overshoot numbers from a walker trace (up to the fall)."""
    t = trace['time']
    end = metrics['walked_s'] + (t[0] if len(t) else 0.0)
    keep = t <= end + 1e-9
    phi, pitch = trace['phi'][keep], trace['pitch'][keep]
    stance = trace['step_stance'][keep]
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.005
    walked = max(metrics['walked_s'], 1e-9)
    knee = phi[:, [1, 4]]
    out = {
        'knee_peak_deg': float(knee.max() * DEG) if knee.size else math.nan,
        'knee_peak_stance_deg': float(knee[stance].max() * DEG) if stance.any() else math.nan,
        'knee_over_180_s_per_s': float(((knee > math.pi) & stance).sum() * dt / walked),
        'knee_over_limit_s_per_s': float(((knee > knee_limit) & stance).sum() * dt / walked),
    }
    hip_min, alpha_min = [], []
    for leg in range(2):
        alpha = leg_angle(phi[:, 3 * leg:3 * leg + 3], pitch)
        swing = ~stance[:, leg]
        edges = np.flatnonzero(np.diff(swing.astype(int)))
        bounds = np.concatenate([[0], edges + 1, [len(swing)]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            # whole swings only: began and ended inside the trace
            if b - a >= 10 and swing[a] and a > 0 and b < len(swing):
                hip_min.append(phi[a:b, 3 * leg].min())
                alpha_min.append(alpha[a:b].min())
    out['swings'] = len(hip_min)
    out['swing_hip_peak_flexion_deg'] = float(np.median(hip_min) * DEG) if hip_min else math.nan
    out['swing_alpha_min_deg'] = float(np.median(alpha_min) * DEG) if alpha_min else math.nan
    return out


def write_params(path, values: dict, base=None) -> Path:
    """A ``reflex_node`` parameter file at ``path``: the ``reflex_node`` (and ``/**``) values of
    the file ``base`` (if any), updated with ``values`` (dotted names)."""
    from neuro_locomotion.params import read_ros_params
    merged = {}
    if base is not None:
        nodes = read_ros_params(base)
        merged = {**nodes.get('**', {}), **nodes.get('reflex_node', {})}
    merged.update(values)
    lines = ['reflex_node:', '  ros__parameters:']
    lines += [f'    {k}: {json.dumps(v)}' for k, v in merged.items()]
    Path(path).write_text('\n'.join(lines) + '\n')
    return Path(path)


def run_ablation(off: tuple[str, ...] = (), duration: float = 20.0, params=None) -> dict:
    """One run of the walker with the modules ``off`` switched off; metrics + gait numbers."""
    from neuro_locomotion.runner import run
    with tempfile.TemporaryDirectory() as tmp:
        path = write_params(Path(tmp) / 'ablation.yaml', {f'modules.{m}': False for m in off},
                            params)
        r = run('human', 'reflex', duration=duration, params=path)
    m = r.metrics
    out = {'off': list(off), 'walked_s': m['walked_s'], 'fell': bool(m['walker_fell']),
           'steps': m['steps'], 'mean_speed_mps': m['mean_speed_mps']}
    out.update(gait_numbers(r.controller.trace(), m, r.controller.params['limits.knee_max']))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--duration', type=float, default=20.0)
    parser.add_argument('--modules', nargs='*', default=list(MODULES),
                        help='modules to ablate one at a time (default all)')
    parser.add_argument('--params', default=None, help='reflex_node parameter file')
    parser.add_argument('--json', default=None, help='write the rows to this file')
    args = parser.parse_args(argv)
    bad = [m for m in args.modules if m not in MODULES]
    if bad:
        parser.error(f'unknown module(s) {bad}; choose from {list(MODULES)}')
    rows = [run_ablation((), args.duration, args.params)]
    rows += [run_ablation((m,), args.duration, args.params) for m in args.modules]
    cols = ('walked_s', 'steps', 'mean_speed_mps', 'knee_peak_stance_deg', 'knee_over_180_s_per_s',
            'knee_over_limit_s_per_s', 'swing_hip_peak_flexion_deg', 'swing_alpha_min_deg')
    print('| off | ' + ' | '.join(cols) + ' |')
    print('|---' * (len(cols) + 1) + '|')
    for row in rows:
        cells = [('%.3f' % row[c]) if isinstance(row[c], float) else str(row[c]) for c in cols]
        print(f"| {','.join(row['off']) or 'none'} | " + ' | '.join(cells) + ' |')
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
