"""Warm cost of each piece of the lock-step runner's control tick with the ``cpg`` controller, per
call, on a body mid-run (2 s of the gait first): the PyBullet queries, ``World.observe``, the
controller's step (and the network tick alone), ``World.apply`` (and its PyBullet call alone).
(Physics is measured in the loop by ``bench_cpg_kernel.py``: stepped here, the body would fall.)

    PYTHONPATH=$PWD .venv/bin/python bench/bench_loop_pieces.py [--robot quadruped|salamander]

Each figure is the minimum (and 10th percentile) over many blocks of 100 calls of the same call
with the same state, timed with perf_counter: on a shared, loaded machine the minimum of short
blocks is stable to ~0.1 us where whole-run times vary by 10-30 %. Warm means the caches hold
what the call uses; inside the runner each piece costs more, because a physics step evicts
them (``bench_cpg_kernel.py --breakdown`` measures the pieces in the loop).
"""
from __future__ import annotations

import argparse
import os
import time

import pybullet as pb

from locomotion_sim.world import World, sim_params
from neuro_locomotion.controllers import make_controller
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import body_info


def per_call_us(fn, blocks: int = 400, inner: int = 100) -> tuple[float, float]:
    """(minimum, 10th percentile) over ``blocks`` blocks of ``inner`` calls, us per call."""
    values = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        values.append((time.perf_counter() - t0) / inner * 1e6)
    values.sort()
    return values[0], values[len(values) // 10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--robot', default='quadruped', choices=('quadruped', 'salamander'))
    parser.add_argument('--control-period', type=float, default=0.0,
                        help='cpg_node control_period_s (0: the config\'s)')
    parser.add_argument('--servo-period', type=float, default=0.0,
                        help='quadruped multi-rate control: servo.period_s (0: off); adds the '
                             'servo tick\'s pieces')
    args = parser.parse_args()
    robot = args.robot
    arena, gait = ('flat', 'trot') if robot == 'quadruped' else ('water', 'swim')
    world = World(robot, params=sim_params(robot, config_file(robot), {'arena': arena}))
    params = {}
    if args.control_period > 0:
        params['control_period_s'] = args.control_period
    if args.servo_period > 0:
        params['servo.period_s'] = args.servo_period
    ctrl = make_controller('cpg', body_info(world, config_file(robot)), gait=gait,
                           params=params or None)
    if hasattr(ctrl, 'initial_state'):
        world.params.apply(ctrl.initial_state())
        world.reset(0)
    period = ctrl.control_period_s
    n = max(1, int(round(period / world.dt)))
    want = {k: k in ctrl.sensors for k in ('joints', 'base', 'contacts', 'imu')}
    obs = world.observe()
    ctrl.reset(obs)
    for _ in range(int(2.0 / period)):
        obs = world.observe(**want)
        world.apply(ctrl.step(obs, period))
        world.step(n)
    c, body, idx = world.client, world.body, world.joint_index
    command = ctrl.step(obs, period)
    values = command.values.tolist()
    mode = pb.TORQUE_CONTROL if command.mode == 'effort' else pb.POSITION_CONTROL
    kw = {'forces': values} if command.mode == 'effort' else {'targetPositions': values}

    def apply():
        world._last_command = world._last_list = None      # send it again every call
        world._torque_set = False
        world.apply(command)

    rows = [
        ('getJointStates + getContactPoints (the sensed replay\'s reads)',
         lambda: (pb.getJointStates(body, idx, physicsClientId=c),
                  pb.getContactPoints(bodyA=body, physicsClientId=c))),
        ('getBasePositionAndOrientation + getBaseVelocity',
         lambda: (pb.getBasePositionAndOrientation(body, physicsClientId=c),
                  pb.getBaseVelocity(body, physicsClientId=c))),
        (f'World.observe({", ".join(k for k, v in want.items() if v)})',
         lambda: world.observe(**want)),
        (f'controller step ({period * 1e3:g} ms)', lambda: ctrl.step(obs, period)),
        ('  the network tick alone (Network.tick, 1 ms)', ctrl.cpg.net.tick),
        (f'World.apply ({command.mode})', apply),
        ('  setJointMotorControlArray alone',
         lambda: pb.setJointMotorControlArray(body, idx, mode, physicsClientId=c, **kw)),
    ]
    if getattr(ctrl, 'servo_period_s', None) is not None:
        q, qd = world.joint_state()
        tau = ctrl.servo(q, qd)

        def apply_servo():
            world._torque_set = False
            world.apply_effort(tau)

        def servo_tick():
            world._torque_set = False
            world.apply_effort(ctrl.servo(*world.joint_state()))

        rows += [
            ('multi-rate servo tick: World.joint_state', world.joint_state),
            ('  controller servo (one numba call)', lambda: ctrl.servo(q, qd)),
            ('  World.apply_effort', apply_servo),
            ('  all three', servo_tick),
        ]
    print(f'load average at start: {os.getloadavg()[0]:.2f} (2 cores); {robot} {gait}, '
          f'controller period {period * 1e3:g} ms, {len(pb.getContactPoints(bodyA=body, physicsClientId=c))} '
          'contact points')
    print('| piece | us per call, min | 10th percentile |')
    print('|---|---|---|')
    for label, fn in rows:
        lo, p10 = per_call_us(fn)
        print(f'| {label} | {lo:.2f} | {p10:.2f} |', flush=True)
    print(f'load average at end: {os.getloadavg()[0]:.2f}')
    world.close()


if __name__ == '__main__':
    main()
