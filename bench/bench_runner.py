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


def bare_rtf(robot: str, arena: str, duration: float) -> float:
    """Simulated seconds per wall second when only stepSimulation runs (plus water forces if any)."""
    with World(robot, arena=arena) as world:
        world.hold(world.observe().position)
        n = int(duration / world.dt)
        client = world.client
        water = world.water
        t0 = time.perf_counter()
        for _ in range(n):
            if water is not None:
                water.apply()
            pb.stepSimulation(physicsClientId=client)
        return n * world.dt / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=5.0)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    print(f'| body | arena | bare physics RTF | runner RTF (hold) | runner overhead |')
    print(f'|---|---|---|---|---|')
    for robot, arena in ARENAS.items():
        bare, runner = [], []
        for _ in range(args.repeats):      # interleave so machine noise hits both alike
            bare.append(bare_rtf(robot, arena, args.duration))
            runner.append(run(robot, 'hold', duration=args.duration, arena=arena).metrics['real_time_factor'])
        b, r = statistics.median(bare), statistics.median(runner)
        print(f'| {robot} | {arena} | {b:.2f} | {r:.2f} | {100 * (1 - r / b):.1f}% |', flush=True)


if __name__ == '__main__':
    main()
