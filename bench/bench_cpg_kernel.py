"""Spiking CPG kernel speed: real-time factor of the numba kernel stepped in 1 ms control ticks
(``Network.step(1e-3)``, 10 substeps of 0.1 ms per call), next to Brian2 (numpy target) running
the same network, same equations, in 1 ms ``run()`` chunks and in one long run.

    .venv/bin/python bench/bench_cpg_kernel.py [--seconds 5] [--repeats 5] [--chunks 5]

RTF = simulated seconds per wall second. The machine is shared, so each figure is the median of
interleaved repeats (the best repeat in brackets), the load average is printed with it, and the
kernel's RTF is also given per second of this process's CPU time (what it gets when it has a
core to itself, up to cache and SMT sharing).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

from cpg_controller.network import Network, to_brian2

NETWORKS = Path(__file__).resolve().parent.parent / 'config' / 'networks'
CASES = [('half_centre', NETWORKS / 'half_centre.yaml'),
         ('bench_quadruped_200', NETWORKS / 'bench_quadruped_200.yaml')]
TICK = 1e-3


def kernel_step_rtf(net: Network, seconds: float) -> tuple[float, float]:
    """(wall-clock RTF, CPU-time RTF) of stepping in 1 ms ticks."""
    n = int(round(seconds / TICK))
    net.reset()
    step = net.step
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        step(TICK)
    return n * TICK / (time.perf_counter() - t0), n * TICK / (time.process_time() - c0)


def kernel_run_rtf(net: Network, seconds: float) -> float:
    net.reset()
    t0 = time.perf_counter()
    net.run(seconds)
    return seconds / (time.perf_counter() - t0)


def brian2_rtfs(net: Network, chunks: int, long_seconds: float) -> tuple[float, float]:
    import brian2 as b2
    net.reset()
    model = to_brian2(net)
    model.network.run(TICK * b2.second)              # code generation happens here
    t0 = time.perf_counter()
    for _ in range(chunks):
        model.network.run(TICK * b2.second)
    chunked = chunks * TICK / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.network.run(long_seconds * b2.second)
    return chunked, long_seconds / (time.perf_counter() - t0)


def fmt(values: list[float]) -> str:
    return f'{statistics.median(values):.3g} ({max(values):.3g})'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=5.0, help='simulated s per kernel repeat')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--chunks', type=int, default=5, help='1 ms Brian2 run() calls per repeat')
    parser.add_argument('--brian2-seconds', type=float, default=0.5,
                        help='length of the long Brian2 run')
    parser.add_argument('--no-brian2', action='store_true')
    args = parser.parse_args()
    warnings.filterwarnings('ignore')  # Brian2's pyparsing deprecation noise
    print(f'load average at start: {os.getloadavg()[0]:.2f} (2 cores)')
    print('| network | neurons | synapses | dt | kernel RTF, 1 ms ticks | same, per CPU second '
          '| kernel RTF, one run() | Brian2 RTF, 1 ms run() chunks | Brian2 RTF, one run() '
          '| kernel/Brian2 (1 ms ticks) |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name, path in CASES:
        net = Network(path)
        net.step(TICK)  # load the cached kernel
        steps, cpu, runs, chunked, long = [], [], [], [], []
        for _ in range(args.repeats):  # interleave so machine noise hits all alike
            wall, per_cpu = kernel_step_rtf(net, args.seconds)
            steps.append(wall)
            cpu.append(per_cpu)
            runs.append(kernel_run_rtf(net, args.seconds))
            if not args.no_brian2:
                c, g = brian2_rtfs(net, args.chunks, args.brian2_seconds)
                chunked.append(c)
                long.append(g)
        c = net.compiled
        b_chunk = fmt(chunked) if chunked else '-'
        b_long = fmt(long) if long else '-'
        ratio = (f'{statistics.median(steps) / statistics.median(chunked):.0f}x'
                 if chunked else '-')
        print(f'| {name} | {c.n_neurons} | {c.n_synapses} | {c.dt * 1e3:g} ms | {fmt(steps)} '
              f'| {fmt(cpu)} | {fmt(runs)} | {b_chunk} | {b_long} | {ratio} |', flush=True)
    print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
