"""Runner overhead: real-time factor of `neuroloco run ROBOT --controller hold` at 1 kHz physics,
next to the bare PyBullet step rate of the same body (stepSimulation only), in the same process.

    .venv/bin/python bench/bench_runner.py [--duration 5] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import pybullet as pb

from locomotion_sim.world import World
from neuro_locomotion.runner import run

ARENAS = {'quadruped': 'flat', 'human': 'flat', 'salamander': 'water'}


def bare_rtf(robot: str, arena: str, duration: float) -> tuple[float, float]:
    """(wall, CPU) simulated seconds per second when only stepSimulation runs (plus water forces)."""
    with World(robot, arena=arena) as world:
        world.hold(world.observe().position)
        n = int(duration / world.dt)
        client = world.client
        water = world.water
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            if water is not None:
                water.apply()
            pb.stepSimulation(physicsClientId=client)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return n * world.dt / wall, n * world.dt / cpu


def runner_rtf(robot: str, arena: str, duration: float) -> tuple[float, float]:
    """(wall, CPU) real-time factor of the lock-step runner with `hold` (the loop only)."""
    metrics = run(robot, 'hold', duration=duration, arena=arena).metrics
    return metrics['real_time_factor'], metrics['sim_time_s'] / metrics['cpu_time_s']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=5.0)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    print('RTF = simulated s per wall s (CPU: per process CPU s, i.e. an idle core); medians of '
          f'{args.repeats} interleaved repeats of {args.duration} s')
    print('| body | arena | bare physics RTF wall / CPU | runner RTF (hold) wall / CPU | '
          'runner overhead wall / CPU |')
    print('|---|---|---|---|---|')
    for robot, arena in ARENAS.items():
        bare, runner = [], []
        for _ in range(args.repeats):      # interleave so machine noise hits both alike
            bare.append(bare_rtf(robot, arena, args.duration))
            runner.append(runner_rtf(robot, arena, args.duration))
        bw, bc = (statistics.median(x) for x in zip(*bare))
        rw, rc = (statistics.median(x) for x in zip(*runner))
        print(f'| {robot} | {arena} | {bw:.2f} / {bc:.2f} | {rw:.2f} / {rc:.2f} | '
              f'{100 * (1 - rw / bw):.1f}% / {100 * (1 - rc / bc):.1f}% |', flush=True)


if __name__ == '__main__':
    main()
