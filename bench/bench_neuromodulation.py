"""Cost of the neuromodulation layer on the ONE quadruped network (issue 5, target: <= 10 % of the
kernel's step time, also while concentrations move).

Per 1 ms tick, CPU time (time.process_time) of this process, interleaved repeats, median (best):

* ``kernel``: the fused cpg tick alone (``SpikingRhythm._tick``: kernel + readout) on the same
  network object in the same state (trot levels applied), no modulation code;
* ``settled``: ModulatedRhythm._tick with every concentration at its target;
* ``moving``: the same while the concentrations move (targets toggled between two gaits every
  0.5 s, so they never settle; gains re-applied every ``--update-every`` s);
* one ``apply()`` (drives, adaptation rows, gated weights).

    .venv/bin/python bench/bench_neuromodulation.py [--seconds 2] [--repeats 7] [--update-every 0.01]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from cpg_controller.gait_networks import quadruped_modulated, quadruped_modulated_network
from cpg_controller.spiking import ModulatedRhythm, SpikingRhythm

TICK = 1e-3


def per_tick_us(tick, seconds: float, toggle=None) -> float:
    n = int(round(seconds / TICK))
    c0 = time.process_time()
    if toggle is None:
        for _ in range(n):
            tick()
    else:
        period = int(round(0.5 / TICK))
        for k in range(n):
            if k % period == 0:
                toggle(k // period)
            tick()
    return (time.process_time() - c0) / n * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--update-every', type=float, default=0.01)
    args = ap.parse_args(argv)
    net = quadruped_modulated_network()
    nm = quadruped_modulated()['neuromodulation']
    mod = ModulatedRhythm(net, nm, seed=0, update_every=args.update_every)
    gaits = [g.levels for g in mod.mod.spec.gaits]
    for name, value in gaits[1].items():
        mod.mod.modulators.set_concentration(name, value)
    mod.mod.apply()
    mod.run(1.0)                          # compile and settle
    plain = lambda: SpikingRhythm._tick(mod)   # noqa: E731
    toggle = lambda k: mod.mod.command(gaits[k % 2 + 1])   # noqa: E731  trot <-> bound
    rows = {'kernel': [], 'settled': [], 'moving': [], 'apply': []}
    for _ in range(args.repeats):
        mod.mod.command(gaits[1])
        while not mod.mod.modulators._settled:
            mod._tick()
        rows['kernel'].append(per_tick_us(plain, args.seconds))
        rows['settled'].append(per_tick_us(mod._tick, args.seconds))
        rows['moving'].append(per_tick_us(mod._tick, args.seconds, toggle))
        c0 = time.process_time()
        for _ in range(200):
            mod.mod.apply()
        rows['apply'].append((time.process_time() - c0) / 200 * 1e6)
    load = os.getloadavg()[0]
    base = statistics.median(rows['kernel'])
    print(f'quadruped_modulated: {mod.net.n_neurons} neurons, {mod.net.compiled.n_synapses} '
          f'synapses; update_every {args.update_every} s; load average {load:.1f}')
    for key, values in rows.items():
        med = statistics.median(values)
        extra = '' if key in ('kernel', 'apply') else f'  overhead {100 * (med / base - 1):+.1f} %'
        print(f'  {key:<8} {med:7.2f} us ({min(values):.2f}){extra}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
