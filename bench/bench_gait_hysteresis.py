"""Gait switching points of the ONE quadruped network going up and down (hysteresis), open loop.

A modulator is ramped slowly from one gait's level to the next one's and back (the other
modulators held at the gait's levels); every stride of the flexor burst onsets is classified as
the gait whose phase table it is nearest (within ``--tolerance`` cycle, else "none"). Printed: the
concentration (and time) of the last stride of the old gait and the first stride of the new one
that holds to the end of the ramp half, going up and going down.

    .venv/bin/python bench/bench_gait_hysteresis.py [--ramp-s 20] [--seeds 0 1 2]
    .venv/bin/python bench/bench_gait_hysteresis.py --closed-loop [--ramp-s 30]

``--closed-loop``: the quadruped in PyBullet under the supraspinal speed command
(``controller.command_speed``, the ``speed_command`` table), the desired speed ramped from the
table's lowest to its highest speed and back (a schedule entry every 0.25 s); strides are
classified from the feet's touchdowns; printed: the commanded speed and the body's speed (base x
over the last second) at each switch.
"""
from __future__ import annotations

import argparse

import numpy as np

from cpg_controller import phase as P
from cpg_controller.bursts import detect_bursts
from cpg_controller.gait_networks import (quadruped_gait, quadruped_modulated,
                                          quadruped_modulated_network)
from cpg_controller.gait_switching import cycle_offsets
from cpg_controller.neuromodulation import ModulatedNetwork

TICK = 1e-3
# (modulator ramped, from gait, to gait)
RAMPS = [('serotonin', 'walk', 'trot'), ('noradrenaline', 'trot', 'bound')]


def classify(onsets, tables, tolerance):
    t, off = cycle_offsets(onsets)
    labels = []
    for o in off:
        if not np.all(np.isfinite(o)):
            labels.append('none')
            continue
        err = {g: P.phase_error(o, tab) for g, tab in tables.items()}
        g = min(err, key=err.get)
        labels.append(g if err[g] <= tolerance else 'none')
    return t, labels


def switch_point(t, labels, level_at, old, new, t0, t1):
    """(level, time) of the first stride of ``new`` from which every classified stride in
    [t0, t1) is ``new``, or None."""
    sel = [(a, g) for a, g in zip(t, labels) if t0 <= a < t1 and g != 'none']
    k = None
    for i in range(len(sel) - 1, -1, -1):
        if sel[i][1] != new:
            break
        k = i
    if k is None or k == 0:
        return None
    return level_at(sel[k][0]), sel[k][0] - t0


def ramp(mod, old, new, seconds, seed, tolerance, hold=4.0):
    net = quadruped_modulated_network()
    mn = ModulatedNetwork(net, quadruped_modulated()['neuromodulation'], seed=seed,
                          update_every=0.01)
    lo = mn.spec.gait(old).levels
    hi = mn.spec.gait(new).levels
    for name, value in lo.items():
        mn.modulators.set_concentration(name, value)
    mn.reset(seed=seed, modulators=False)
    a, b = lo[mod], hi[mod]
    n_hold, n_ramp = int(hold / TICK), int(seconds / TICK)
    total = 2 * n_hold + 2 * n_ramp
    counts = np.zeros((total, len(mn.net.names)))
    level = np.zeros(total)
    for i in range(total):
        if i < n_hold:
            x = a
        elif i < n_hold + n_ramp:
            x = a + (b - a) * (i - n_hold) / n_ramp
        elif i < 2 * n_hold + n_ramp:
            x = b
        else:
            x = b + (a - b) * (i - 2 * n_hold - n_ramp) / n_ramp
        if i % 10 == 0:
            mn.command({mod: float(x)})
        counts[i] = mn.step(TICK)
        level[i] = mn.modulators.c[mn.modulators.index(mod)]
    onsets = [detect_bursts(counts[:, mn.net.names.index(f'{leg}_flexor')], TICK).onsets
              for leg in P.LEGS]
    tables = {g: quadruped_gait(mn.spec.gait(g).table)['offsets'] for g in (old, new)}
    t, labels = classify(onsets, tables, tolerance)
    level_at = lambda s: float(level[min(int(s / TICK), total - 1)])   # noqa: E731
    up = switch_point(t, labels, level_at, old, new, hold, 2 * hold + seconds)
    down = switch_point(t, labels, level_at, new, old, 2 * hold + seconds,
                        2 * hold + 2 * seconds)
    return up, down


def closed_loop(seconds: float, tolerance: float, seed: int = 0) -> None:
    from cpg_controller.neuromodulation import load_neuromodulation
    from neuro_locomotion.runner import run
    nm = load_neuromodulation(quadruped_modulated()['neuromodulation'])
    speeds, _ = nm.speed_command
    v0, v1 = speeds[0], speeds[-1]
    hold, dt = 5.0, 0.25
    entries = [(0.0, 'walk'), (0.5, v0)]
    n = int(round(seconds / dt))
    for k in range(n + 1):
        entries.append((hold + k * dt, v0 + (v1 - v0) * k / n))
    for k in range(1, n + 1):
        entries.append((2 * hold + seconds + k * dt, v1 + (v0 - v1) * k / n))
    duration = 3 * hold + 2 * seconds
    schedule = ','.join(f'{t:g}:{g}' if isinstance(g, str) else f'{t:g}:{g:.4f}'
                        for t, g in entries)
    r = run('quadruped', controller='cpg', duration=duration, schedule=schedule, seed=seed)
    c = r.controller
    tr = r.trace.arrays()
    t, forces = c._contacts.arrays()
    on = forces > c.params['metrics.contact_threshold_n']
    m = c.params['metrics.min_contact_s']
    touch = [P.onsets(on[:, j], t, min_on=m, min_off=m) for j in range(4)]
    tables = {g.name: quadruped_gait(g.table)['offsets'] for g in c.nm.gaits}
    ts, labels = classify(touch, tables, tolerance)
    times = np.array([a for a, _ in entries])
    values = [g for _, g in entries]

    def commanded(x):
        k = int(np.searchsorted(times, x, side='right')) - 1
        g = values[max(k, 0)]
        return g if isinstance(g, float) else float('nan')

    def body_speed(x):
        sel = (tr['time'] >= x - 1.0) & (tr['time'] <= x)
        if np.count_nonzero(sel) < 2:
            return float('nan')
        p = tr['base_position'][sel]
        return float((p[-1, 0] - p[0, 0]) / (tr['time'][sel][-1] - tr['time'][sel][0]))

    print(f'closed loop, speed ramp {v0}->{v1}->{v0} m/s, {seconds:g} s each way; '
          f'fell={r.metrics["fell"]} (at {r.metrics["fell_at_s"]})')
    # a switch: the label changes and the new one holds for >= 4 classified strides
    last, run_label, run_start, count = None, None, None, 0
    for a, g in zip(ts, labels):
        if g == 'none':
            continue
        if g != run_label:
            run_label, run_start, count = g, a, 1
        else:
            count += 1
        if count == 4 and run_label != last:
            if last is not None:
                half = 'up' if run_start < 2 * hold + seconds else 'down'
                print(f'  {last}->{run_label} ({half}) at t {run_start:.2f} s: commanded '
                      f'{commanded(run_start):.3f} m/s, body {body_speed(run_start):.3f} m/s')
            last = run_label


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ramp-s', type=float, default=20.0)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--tolerance', type=float, default=0.1)
    ap.add_argument('--closed-loop', action='store_true')
    args = ap.parse_args(argv)
    if args.closed_loop:
        closed_loop(args.ramp_s, args.tolerance)
        return 0
    print(f'ramp {args.ramp_s:g} s each way; stride classified within {args.tolerance} cycle')
    for mod, old, new in RAMPS:
        for seed in args.seeds:
            up, down = ramp(mod, old, new, args.ramp_s, seed, args.tolerance)
            fmt = lambda p: 'never' if p is None else f'{p[0]:.3f} (t {p[1]:.1f} s)'  # noqa: E731
            print(f'  {mod:<14} {old}->{new} at {fmt(up)}; {new}->{old} at {fmt(down)}; '
                  f'seed {seed}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
