"""Lock-step runner: one body and one controller in one process, as fast as the CPU allows.

Deterministic for a seed: the same arguments give the same trajectory bit for bit.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from locomotion_sim.world import World, sim_params

from .controllers import BodyInfo, make_controller
from .params import ConfigError
from .paths import config_file
from .types import EFFORT, SENSORS, Command

TRACE_PERIOD_S = 0.01     # decimation of the recorded trace (100 Hz)


@dataclass
class Trace:
    """Decimated time series of a run, for plots and metrics."""

    time: list = field(default_factory=list)
    base_position: list = field(default_factory=list)
    joint_position: list = field(default_factory=list)
    command: list = field(default_factory=list)
    foot_forces: list = field(default_factory=list)

    def arrays(self) -> dict:
        return {k: np.asarray(v) for k, v in self.__dict__.items()}


@dataclass
class RunResult:
    metrics: dict
    trace: Trace
    controller: object
    foot_names: tuple = ()


def body_info(world: World, config: Path) -> BodyInfo:
    lim = world.limits
    return BodyInfo(world.robot, world.joint_names, lim.lower, lim.upper, lim.effort, world.foot_names,
                    world.initial_positions.copy(), Path(config),
                    extra={'dt': world.dt, 'arena': world.params['arena']})


def _transition_falls(metrics: dict, fell_at: float | None) -> None:
    """A scheduled run's transitions: ``fell`` = the body fell after this switch and before the
    next one (or the end of the run)."""
    transitions = metrics.get('transitions')
    if not isinstance(transitions, list):
        return
    for k, entry in enumerate(transitions):
        end = transitions[k + 1]['t'] if k + 1 < len(transitions) else math.inf
        entry['fell'] = fell_at is not None and entry['t'] <= fell_at < end


def control_steps(period: float, dt: float, controller: str = 'controller') -> int:
    """Physics steps per controller step: a controller's ``control_period_s`` (the runner asks
    it for a command that often and holds it in between; PyBullet keeps its own rate) must be
    a whole number of physics steps; at most dt means every step."""
    if not (isinstance(period, (int, float)) and math.isfinite(period) and period > 0):
        raise ConfigError(f'{controller}: control_period_s must be a positive number, got {period!r}')
    if period <= dt * (1 + 1e-9):
        return 1
    n = int(round(period / dt))
    if abs(n * dt - period) > 1e-9 * period:
        raise ConfigError(f'{controller}: control_period_s {period:g} s is not a whole number of '
                          f'physics steps ({dt:g} s)')
    return n


def run(robot: str, controller: str = 'hold', duration: float = 10.0, seed: int = 0,
        arena: str | None = None, gui: bool = False, config: str | Path | None = None,
        record: str | Path | None = None, record_period: float = 0.002, stop_on_fall: bool = True,
        **options) -> RunResult:
    """Run ``controller`` on ``robot`` for ``duration`` simulated seconds; return metrics and trace.

    The controller is sensed, stepped and its command applied every ``control_period_s`` (its
    attribute, a whole number of physics steps; default every step); physics keeps its rate and
    the trace samples every 10 ms.

    ``record`` writes ROS 2 messages to an MCAP file, one sample every ``record_period`` seconds.
    """
    if not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration > 0):
        raise ConfigError(f'duration must be a positive number of seconds, got {duration!r}')
    config = Path(config) if config else config_file(robot)
    params = sim_params(robot, config, {'arena': arena} if arena else None)
    world = World(robot, seed=seed, gui=gui, params=params)
    recorder = None
    try:
        body = body_info(world, config)
        ctrl = make_controller(controller, body, **options)
        sensors = frozenset(getattr(ctrl, 'sensors', SENSORS))
        unknown = sensors - SENSORS
        if unknown:
            raise ConfigError(f'controller {controller!r} asks for unknown sensors {sorted(unknown)}')
        want = {name: name in sensors for name in SENSORS}
        if record:
            from .recording import RunRecorder
            recorder = RunRecorder(record, world.joint_names, world.foot_names,
                                   robot_description=world.description.text)
        start_state = getattr(ctrl, 'initial_state', None)
        if start_state is not None:
            # A controller may start the body in its own initial condition (e.g. GH2010's walking
            # posture and speed): overrides of the sim_node start parameters, checked like a file.
            world.params.apply(start_state())
            world.reset(seed)
        obs = world.observe()
        ctrl.reset(obs)
        dt = world.dt
        control_every = control_steps(getattr(ctrl, 'control_period_s', dt), dt, controller)
        control_dt = control_every * dt
        # multi-rate control: a controller with a ``servo_period_s`` (not None) has its cheap
        # ``servo(position, velocity) -> efforts`` called every that often between its steps,
        # reading only the joints; otherwise every servo tick is a control tick
        servo_every, servo = control_every, None
        servo_period = getattr(ctrl, 'servo_period_s', None)
        if servo_period is not None:
            servo_every = control_steps(servo_period, dt, f'{controller} servo')
            if control_every % servo_every or servo_every >= control_every:
                raise ConfigError(f'{controller}: control_period_s {control_dt:g} s is not a '
                                  f'whole multiple of its servo period {servo_period:g} s')
            servo, joint_state, apply_effort = ctrl.servo, world.joint_state, world.apply_effort
        n_steps = int(round(duration / dt))
        trace_every = max(1, int(round(TRACE_PERIOD_S / dt)))
        record_every = max(1, int(round(record_period / dt)))
        trace, refused, last_command = Trace(), 0, None
        fell, fell_at = False, None
        start = world.start_position
        wall0, cpu0 = time.perf_counter(), time.process_time()
        k = 0
        # hoisted lookups: the loop below runs once per control tick (1 kHz)
        observe, apply, step_world, step_ctrl = world.observe, world.apply, world.step, ctrl.step
        observe_full = {'imu': want['imu']}
        state_hook = getattr(ctrl, 'state_for_recording', lambda: None)
        while k < n_steps:
            control = k % control_every == 0
            tracing = k % trace_every == 0
            recording = recorder is not None and k % record_every == 0
            full = tracing or recording
            if full:    # the trace needs joints, base and contacts; the IMU only if asked for
                obs = observe(imu=True) if recording else observe(**observe_full)
            elif control:
                obs = observe(**want)
            if control:     # between control ticks the body keeps the last command
                command = step_ctrl(obs, control_dt)
                try:
                    apply(command)
                    last_command = command
                except ValueError:
                    refused += 1          # the body keeps its last valid command
            elif servo is not None and k % servo_every == 0:    # the servo alone: joints only
                try:
                    if full:
                        tau = servo(obs.position, obs.velocity)
                        apply_effort(tau)
                        last_command = Command.adopt(EFFORT, tau)   # for the trace and record
                    else:
                        apply_effort(servo(*joint_state()))
                except ValueError:
                    refused += 1      # the body keeps the last valid efforts
            if tracing:
                trace.time.append(obs.time)
                trace.base_position.append(obs.base_position)
                trace.joint_position.append(obs.position)
                trace.command.append(last_command.values if last_command is not None
                                     else np.full(world.n, np.nan))
                trace.foot_forces.append(obs.foot_forces)
                if world.has_fallen(obs.base_position, obs.base_orientation):
                    fell, fell_at = True, obs.time
                    if stop_on_fall:
                        break
            if recording:
                recorder.record(obs, last_command, state_hook())
            if gui:
                step_world()
                k += 1
                lag = world.time - (time.perf_counter() - wall0)
                if lag > 0:
                    time.sleep(lag)
                continue
            # nothing happens before the next control, trace or record tick: step up to it in
            # one call (the same physics steps; no per-step loop in Python here)
            nxt = k - k % servo_every + servo_every
            nxt_trace = k - k % trace_every + trace_every
            if nxt_trace < nxt:
                nxt = nxt_trace
            if recorder is not None:
                nxt = min(nxt, k - k % record_every + record_every)
            if n_steps < nxt:
                nxt = n_steps
            step_world(nxt - k)
            k = nxt
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        end = world.base_position()
        sim_time = world.time
        displacement = end[:2] - start[:2]
        distance = float(np.hypot(*displacement))
        metrics = {
            'robot': robot,
            'controller': controller,
            'arena': world.params['arena'],
            'seed': seed,
            'sim_time_s': sim_time,
            'wall_time_s': wall,
            'real_time_factor': sim_time / wall if wall > 0 else math.inf,
            'cpu_time_s': cpu,
            'distance_m': distance,
            'forward_m': float(displacement[0]),
            'lateral_m': float(displacement[1]),
            'speed_mps': distance / sim_time if sim_time > 0 else 0.0,
            'fell': fell,
            'fell_at_s': fell_at,
            'base_height_m': float(end[2]),
            'refused_commands': refused,
            'physics_rate_hz': 1.0 / dt,
            'control_period_s': control_dt,
        }
        if servo is not None:
            metrics['servo_period_s'] = servo_every * dt
        metrics.update(ctrl.metrics())
        _transition_falls(metrics, fell_at)
        return RunResult(metrics, trace, ctrl, world.foot_names)
    finally:
        if recorder is not None:
            recorder.close()
        world.close()
