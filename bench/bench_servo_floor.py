"""In the loop, what a multi-rate servo tick costs at least: the quadruped cpg's trot (pattern every
4 ms, servo every 1 ms) recorded once, then replayed in the same world with, per physics step,

- ``replay``: its efforts (one setJointMotorControlArray) + stepSimulation;
- ``sensed``: + getJointStates + getContactPoints (the reference's bare physics step);
- ``servo_min``: + getJointStates turned into one array, one numba call on it and the finiteness
  check + clamp of the efforts (numba), i.e. the least Python a servo tick can do (no runner
  loop, no controller object, no Command).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_servo_floor.py [--repeats 7] [--duration 2]

CPU us per physics step, median and best of interleaved repeats.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pybullet as pb

from bench.bench_cpg_kernel import record_commands
from locomotion_sim.world import World, _checked_clip, sim_params
from neuro_locomotion.paths import config_file

PARAMS = {'control_period_s': 0.004, 'servo.period_s': 0.001}


def per_step_us(recorded: dict, kind: str) -> float:
    params = sim_params('quadruped', config_file('quadruped'), {'arena': 'flat'})
    with World('quadruped', params=params) as world:
        world.params.apply(recorded['start'])
        world.reset(0)
        c, body, idx = world.client, world.body, world.joint_index
        pb.setJointMotorControlArray(body, idx, pb.VELOCITY_CONTROL, forces=[0.0] * len(idx),
                                     physicsClientId=c)
        rows, held = [], None
        for k in range(recorded['steps']):
            command = recorded['commands'].get(k)
            held = command.values.tolist() if command is not None else held
            rows.append(held)
        lo, hi = world._limit_arrays[False]
        n = world.n
        torque = pb.TORQUE_CONTROL
        get, put = pb.getJointStates, pb.setJointMotorControlArray
        step, contacts = pb.stepSimulation, pb.getContactPoints
        out = np.empty(n)
        c0 = time.process_time()
        for row in rows:
            if kind == 'sensed':
                get(body, idx, physicsClientId=c)
                contacts(bodyA=body, physicsClientId=c)
                put(body, idx, torque, forces=row, physicsClientId=c)
            elif kind == 'servo_min':
                position, velocity, _, _ = zip(*get(body, idx, physicsClientId=c))
                values = np.array(position + velocity)
                _checked_clip(values[:n], lo, hi, out)       # stands for the servo's numba call
                tau = np.empty(n)
                _checked_clip(np.array(row), lo, hi, tau)
                put(body, idx, torque, forces=tau.tolist(), physicsClientId=c)
            else:
                put(body, idx, torque, forces=row, physicsClientId=c)
            step(physicsClientId=c)
        return (time.process_time() - c0) / len(rows) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--duration', type=float, default=2.0)
    a = ap.parse_args()
    print(f'load average at start: {os.getloadavg()[0]:.2f} (2 cores)')
    recorded = record_commands('quadruped', 'cpg', 'flat', a.duration, gait='trot', params=PARAMS)
    res = {k: [] for k in ('replay', 'sensed', 'servo_min')}
    for _ in range(a.repeats):
        for kind in res:
            res[kind].append(per_step_us(recorded, kind))
    print('| per physics step | CPU us, median | best |')
    print('|---|---|---|')
    for kind, v in res.items():
        print(f'| {kind} | {statistics.median(v):.1f} | {min(v):.1f} |')
    print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    from neuro_locomotion.params import ConfigError
    try:
        main()
    except ConfigError as error:      # a bad file or value: one line, not a traceback
        raise SystemExit(f'bench_servo_floor: {error}') from None
