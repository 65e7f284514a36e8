"""``sim_node``: the PyBullet world as a ROS 2 node (a thin adapter around :class:`World`).

Run it with ``ros2 run neuro_locomotion sim_node --ros-args --params-file config/quadruped.yaml``
(or ``sim_node ...`` / ``python -m locomotion_sim.node ...`` on a pip-only install). Topics,
parameters and services are listed in docs/ros.md.

Threads. The physics runs in its own thread, paced to ``real_time_factor``; rclpy callbacks
(commands, services, parameter changes) run in an executor (EventsExecutor by default) in the
main thread. One lock guards the World and the CommandGuard: a callback only offers a command to
the guard (microseconds); the physics thread, once per physics step, asks the guard for the
command in force (the last valid one, or the watchdog/e-stop safe output), applies it and steps.
Sensor messages are built under the lock and published outside it. Nothing reaches PyBullet
except through the guard, whose output is always finite and within the URDF limits (and World
checks again). A publish rate independent of the physics rate, commands applied at the next
physics step whatever the executor is doing, and no callback ever waiting for a physics step are
what this buys over stepping inside a timer callback.

Diagnostics. Every ``diagnostics_period`` wall seconds (and at e-stop, resume, reset) the counters
go out twice: JSON on ``~/diagnostics`` and a standard ``diagnostic_msgs/DiagnosticArray`` (one
status named after the node, hardware_id = the robot, stamped with sim time) on ``/diagnostics``.

Time. Messages are stamped with simulated time, also published on ``/clock``; the watchdog and
the command age count simulated seconds. ``~/reset`` restarts the episode without sending the
clock backwards.
"""
from __future__ import annotations

import dataclasses
import sys
import threading
import time

import numpy as np
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from neuro_locomotion.params import ConfigError, ParamSet, ParamSpec
from neuro_locomotion.safety import STATE_ACTIVE, STATE_WATCHDOG, CommandGuard, LogThrottle
from neuro_locomotion.types import EFFORT, POSITION, Command

from .settings import SIM_PARAMS

NODE_PARAMS = [
    ParamSpec('publish_rate', 200.0, 'rate of /clock, joint_states, imu, foot_contacts and '
              'base_pose, in simulated time', 'Hz', min=1.0, max=1000.0),
    ParamSpec('real_time_factor', 1.0, 'simulated seconds per wall-clock second; 0 runs as fast '
              'as the CPU allows', '1', min=0.0, max=100.0),
    ParamSpec('command_timeout', 0.5, 'watchdog: simulated seconds without a valid command '
              'before the body holds its posture (position mode) or goes limp (effort mode)', 's',
              min=0.001, max=3600.0),
    ParamSpec('seed', 0, 'random seed of the world (also used by ~/reset)', min=0,
              max=2 ** 31 - 1, read_only=True),
    ParamSpec('diagnostics_period', 0.5, 'wall-clock period of ~/diagnostics', 's',
              min=0.01, max=60.0),
    ParamSpec('clock_rate', 0.0, 'rate of /clock in simulated Hz; 0 = with every state '
              '(publish_rate). Every use_sim_time node takes each /clock message: at a 1 kHz '
              'publish_rate a lower clock rate saves them (and sim_node) a message per state',
              'Hz', min=0.0, max=1000.0),
    ParamSpec('lockstep', False, 'after publishing a state, do not step until the command '
              'answering it has arrived (or lockstep_timeout_s passes): a controller over DDS '
              'then runs in step with the simulation, as in the lock-step runner'),
    ParamSpec('lockstep_timeout_s', 1.0, 'lock-step: wall-clock seconds to wait for the answer '
              'to a state before stepping on with the last valid command (counted as a miss; '
              'the simulation then runs free until the next command arrives)', 's',
              min=0.001, max=60.0),
]
ALL_PARAMS = SIM_PARAMS + NODE_PARAMS
_SIM_NAMES = frozenset(s.name for s in SIM_PARAMS)
LOG_PERIOD_S = 2.0              # wall seconds between two log lines of the same kind
WORLD_FRAME = 'world'           # frame_id of base_pose (the simulator's fixed frame)
START_REPUBLISH_S = 0.1         # lock-step, before the first command: republish period (wall)
MAX_LAG_S = 0.1                 # behind real time by more than this: re-anchor, count an overrun


class SimNode(Node):
    """The simulator node. ``destroy_node()`` stops the physics thread and closes the world."""

    def __init__(self, node_name: str = 'sim_node', **kwargs):
        """``kwargs`` go to rclpy's Node (context, cli_args, namespace, ...).

        Raises ConfigError (naming the node and the problem) for a bad parameter or body.
        """
        super().__init__(node_name, **kwargs)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._answered = threading.Event()      # lock-step: the awaited state was answered
        self._thread = None
        self.world = None
        self.failure = None             # set if the physics thread died (the context is shut down)
        try:
            self._setup()
        except ParameterException as error:   # a -p or YAML value out of its declared range/type
            name = self.get_fully_qualified_name()
            self.destroy_node()
            raise ConfigError(f'{name}: {error}') from None
        except BaseException:
            self.destroy_node()
            raise

    def _setup(self) -> None:
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Float64MultiArray, String
        from std_srvs.srv import Trigger

        from neuro_locomotion import graph, ros_convert
        from neuro_locomotion.ros_params import NodeParams

        from .world import World

        self._convert = ros_convert
        self.params = p = NodeParams(self, ALL_PARAMS, self._on_params)
        sim_values = {name: p[name] for name in _SIM_NAMES}
        self.world = w = World(p['robot'], seed=p['seed'], params=ParamSet(SIM_PARAMS, sim_values))
        lim = w.limits
        self.guard = CommandGuard(w.joint_names, lim.lower, lim.upper, lim.effort,
                                  p['command_timeout'], hold_posture=w.initial_positions)
        self._time_offset = 0.0         # simulated time before the last reset (clock never goes back)
        self._throttle = LogThrottle(LOG_PERIOD_S)
        self._applied = (None, None)
        self._rate_changed = True
        self._stats = {'published': 0, 'overruns': 0, 'divergence_resets': 0, 'resets': 0,
                       'commands_received': 0, 'lockstep_answered': 0, 'lockstep_misses': 0}
        # lock-step: the stamp (ns) of the state awaiting its answer, set before publishing it;
        # the command callback sets _answered for a command echoing that stamp (or unstamped)
        self._awaited_ns = None
        self._next_diagnostics = 0.0
        self._commanded = threading.Event()     # a command has arrived since the last miss/start
        self._wait_wall = _LatencyWindow()
        self._next_clock = -1.0                 # sim time of the next /clock (clock_rate > 0)
        self._last_publish_wall = None
        self._latency = _LatencyWindow()
        self._msgs = {}                 # message objects refilled at every publish
        self._imu_frame = imu_frame(w)

        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        state_qos = QoSProfile(depth=10)     # reliable, keep last 10 (ros2_control's choice)
        self._clock_pub = self.create_publisher(Clock, graph.CLOCK, latched)
        self._joint_pub = self.create_publisher(JointState, graph.JOINT_STATES, state_qos)
        self._imu_pub = self.create_publisher(Imu, graph.IMU, state_qos)
        self._contact_pub = self.create_publisher(Float64MultiArray, graph.FOOT_CONTACTS, state_qos)
        self._pose_pub = self.create_publisher(PoseStamped, graph.BASE_POSE, state_qos)
        self._description_pub = self.create_publisher(String, graph.ROBOT_DESCRIPTION, latched)
        self._diag_pub = self.create_publisher(String, '~/diagnostics', latched)
        from diagnostic_msgs.msg import DiagnosticArray

        from neuro_locomotion import ros_diagnostics
        self._diagnostics = ros_diagnostics
        self._std_diag_pub = self.create_publisher(DiagnosticArray,
                                                   ros_diagnostics.DIAGNOSTICS_TOPIC, state_qos)
        self.create_subscription(Float64MultiArray, graph.POSITION_COMMANDS,
                                 lambda msg: self._on_command(POSITION, msg), state_qos)
        self.create_subscription(Float64MultiArray, graph.EFFORT_COMMANDS,
                                 lambda msg: self._on_command(EFFORT, msg), state_qos)
        self.create_service(Trigger, '~/estop', self._on_estop)
        self.create_service(Trigger, '~/resume', self._on_resume)
        self.create_service(Trigger, '~/reset', self._on_reset)

        self._description_pub.publish(String(data=w.description.text))
        self.get_logger().info(
            f'{w.robot} in arena {p["arena"]}: {w.n} actuated joints, physics '
            f'{1.0 / w.dt:g} Hz, publishing at {p["publish_rate"]:g} Hz, real_time_factor '
            f'{p["real_time_factor"]:g}, command_timeout {p["command_timeout"]:g} s')
        self._thread = threading.Thread(target=self._physics_loop, name='sim_physics', daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ time
    def sim_time(self) -> float:
        """Simulated seconds since the node started (monotonic across ~/reset)."""
        return self._time_offset + self.world.time

    # ------------------------------------------------------------------ callbacks (executor)
    def _on_command(self, mode: str, msg) -> None:
        wall = time.perf_counter()
        with self._lock:
            verdict = self._convert.offer_command_msg(self.guard, mode, msg, self.sim_time())
            self._stats['commands_received'] += 1
            sent = self._last_publish_wall
        if sent is not None:
            self._latency.add(wall - sent)
        # lock-step: an answer (accepted or refused: either way the controller has spoken) to the
        # awaited state releases the physics thread; the command is already in the guard
        awaited = self._awaited_ns
        if awaited is not None:
            stamp = self._convert.command_stamp_ns(msg)
            if stamp is None or stamp >= awaited:
                self._answered.set()
        self._commanded.set()
        if not verdict.accepted:
            text = self._throttle.message(('refused', verdict.category), time.monotonic(),
                                          f'{mode} command refused: {verdict.reason}')
            if text:
                self.get_logger().warning(text)
        elif verdict.clamped:
            text = self._throttle.message('clamped', time.monotonic(),
                                          f'{mode} command clamped to the URDF limits: '
                                          f'{verdict.clamped} values, worst {verdict.max_excess:.3g} '
                                          f'beyond the limit of {verdict.max_excess_joint}')
            if text:
                self.get_logger().warning(text)

    def _on_estop(self, request, response):
        with self._lock:
            self.guard.estop(self.sim_time(), 'service ~/estop')
        self.get_logger().warning('e-stop latched: holding posture (position) / zero torque '
                                  '(effort); commands refused until ~/resume')
        self._publish_diagnostics()
        response.success, response.message = True, 'e-stop latched'
        return response

    def _on_resume(self, request, response):
        with self._lock:
            was = self.guard.estopped
            self.guard.resume(self.sim_time())
        self.get_logger().info('e-stop released; safe output until a new valid command'
                               if was else 'resume: no e-stop was latched')
        self._publish_diagnostics()
        response.success = True
        response.message = 'resumed' if was else 'no e-stop was latched'
        return response

    def _on_reset(self, request, response):
        with self._lock:
            self._reset_world()
            self._stats['resets'] += 1
        self.get_logger().info('world reset to its start state')
        self._publish_diagnostics()
        response.success, response.message = True, f'reset at t={self.sim_time():.3f} s'
        return response

    def _on_params(self, changed: dict) -> None:
        """Apply an accepted batch of parameter changes (post-set callback, executor thread)."""
        with self._lock:
            if 'command_timeout' in changed:
                self.guard.command_timeout = float(changed['command_timeout'])
            if 'publish_rate' in changed or 'real_time_factor' in changed:
                self._rate_changed = True
            sim = {k: v for k, v in changed.items() if k in _SIM_NAMES}
            if sim and self.world is not None:
                self.world.params.apply(sim)
                # World re-sends servo targets only when they change: drop its memo so that new
                # gains reach PyBullet at the next step.
                self.world._last_targets = None
                self._applied = (None, None)
        self.get_logger().info('parameters changed: ' + ', '.join(f'{k}={v}' for k, v in changed.items()))

    # ------------------------------------------------------------------ physics thread
    def _reset_world(self) -> None:
        """Restart the episode (lock held); the clock keeps counting."""
        w = self.world
        self._time_offset += w.time + w.dt
        w.reset(self.params['seed'])
        self.guard.reset(posture=w.initial_positions)
        self._applied = (None, None)

    def _step_once(self):
        """One physics step with the command in force (lock held)."""
        mode, values = self.guard.current(self.sim_time())
        last_mode, last_values = self._applied
        if mode != last_mode or not np.array_equal(values, last_values):
            self.world.apply(Command(mode, values))
            self._applied = (mode, values)
        self.world.step()

    def _physics_loop(self) -> None:
        try:
            self._run_physics()
        except Exception as error:
            if self._stop.is_set() or not self.context.ok():
                return                      # shutting down (SIGINT/SIGTERM): publishers are gone
            # Never die silently, and never leave a node up whose body no longer moves: shut the
            # context down so the process (or the composed graph) ends, with status 1.
            import traceback
            self.failure = f'physics thread stopped: {error!r}'
            self.get_logger().fatal(f'{self.failure}\n{traceback.format_exc()}')
            self.context.try_shutdown()

    def _run_physics(self) -> None:
        w = self.world
        physics_rate = 1.0 / w.dt
        with self._lock:
            obs, stamp = w.observe(), self.sim_time()
        self._publish_state(obs, stamp)          # the start state, before the first step
        self._await_answer(obs, stamp)
        steps = 0                                # physics steps taken by this thread
        steps_per_publish = next_publish = 0.0   # publish when steps >= next_publish
        anchor_wall = anchor_sim = 0.0
        rtf = 1.0
        prev_state = self.guard.state
        while not self._stop.is_set():
            if self._rate_changed:
                self._rate_changed = False
                rtf = self.params['real_time_factor']
                last_publish = next_publish - steps_per_publish
                steps_per_publish = physics_rate / self.params['publish_rate']
                next_publish = max(last_publish + steps_per_publish, steps + 1.0)
                anchor_wall, anchor_sim = time.perf_counter(), self.sim_time()
            with self._lock:
                self._step_once()
                steps += 1
                publish = steps >= next_publish
                if publish:
                    obs, stamp = w.observe(), self.sim_time()
                    if not _finite(obs):
                        self._stats['divergence_resets'] += 1
                        self.get_logger().error('the simulation diverged (non-finite state); '
                                                'resetting the world')
                        self._reset_world()
                        obs, stamp = w.observe(), self.sim_time()
                    self.guard.update_posture(obs.position)
                state = self.guard.state
                sim_now = self.sim_time()
            if state != prev_state:
                self._log_state(prev_state, state)
                prev_state = state
            if rtf > 0:                          # pace: sleep until the wall time of sim_now
                ahead = anchor_wall + (sim_now - anchor_sim) / rtf - time.perf_counter()
                if ahead > 0.0005:
                    time.sleep(ahead)
                elif ahead < -MAX_LAG_S:         # cannot keep up: count it, do not catch up
                    self._stats['overruns'] += 1
                    anchor_wall, anchor_sim = time.perf_counter(), sim_now
            if publish:
                next_publish += steps_per_publish
                if next_publish <= steps:        # publish rate above the physics rate
                    next_publish = steps + steps_per_publish
                self._publish_state(obs, stamp)
                if not self._await_answer(obs, stamp) and rtf == 0:
                    time.sleep(0)                # let the executor thread take the GIL
            self._diagnostics_if_due()

    def _diagnostics_if_due(self) -> None:
        """Publish the diagnostics every ``diagnostics_period`` wall seconds (physics thread)."""
        now = time.monotonic()
        if now >= self._next_diagnostics:
            self._next_diagnostics = now + self.params['diagnostics_period']
            self._publish_diagnostics()

    def _await_answer(self, obs, stamp: float) -> bool:
        """Lock-step: block until the command answering the state just published has arrived.

        Before the first command (start-up, a controller still building) the state is
        republished every 0.1 s and the simulation waits as long as it takes
        (a late-joining controller gets it; nothing is counted). Afterwards a state not answered
        within ``lockstep_timeout_s`` wall seconds is a miss: the physics steps on with the last
        valid command and runs free (paced by ``real_time_factor``) until a command arrives again.
        Returns True if it waited.
        """
        if not self.params['lockstep'] or self._awaited_ns is None:
            return False
        t0 = time.perf_counter()
        while not self._stop.is_set():
            if not self._commanded.is_set() and self._stats['lockstep_answered'] == 0:
                if self._answered.wait(min(START_REPUBLISH_S, self.params['lockstep_timeout_s'])):
                    break
                if not self._commanded.is_set():
                    text = self._throttle.message('lockstep_start', time.monotonic(),
                                                  'lock-step: waiting for a controller to answer '
                                                  f'joint_states (sim time {stamp:.3f} s)')
                    if text:
                        self.get_logger().info(text)
                    self._publish_state(obs, stamp)      # for a controller that joined late
                self._diagnostics_if_due()               # a waiting node still reports
                continue
            if not self._commanded.is_set():
                return False                     # after a miss: free run until a command arrives
            if self._answered.wait(self.params['lockstep_timeout_s']):
                break
            if self._stop.is_set():
                return True
            self._stats['lockstep_misses'] += 1
            self._commanded.clear()
            text = self._throttle.message('lockstep_miss', time.monotonic(),
                                          f'lock-step: no answer to the state at {stamp:.3f} s '
                                          f'within {self.params["lockstep_timeout_s"]:g} s: '
                                          'stepping on with the last valid command')
            if text:
                self.get_logger().warning(text)
            return True
        else:
            return True
        if self._stop.is_set():
            return True
        self._stats['lockstep_answered'] += 1
        self._wait_wall.add(time.perf_counter() - t0)
        return True

    def _log_state(self, old: str, new: str) -> None:
        log = self.get_logger()
        if new == STATE_WATCHDOG:
            log.warning(f'watchdog: no valid command for {self.guard.command_timeout:g} s; '
                        + ('going limp (zero torque)' if self.guard.diagnostics()['mode'] == EFFORT
                           else 'holding posture'))
        elif new == STATE_ACTIVE and old == STATE_WATCHDOG:
            log.info('commands are back: watchdog released')

    def _publish_state(self, obs, stamp: float) -> None:
        c = self._convert
        if self._stop.is_set():
            return
        if 'passive_names' in obs.extra:          # name every joint, passive ones too
            obs = dataclasses.replace(
                obs, joint_names=obs.joint_names + tuple(obs.extra['passive_names']),
                position=np.r_[obs.position, obs.extra['passive_position']],
                velocity=np.r_[obs.velocity, obs.extra['passive_velocity']],
                effort=np.r_[obs.effort, np.zeros(len(obs.extra['passive_names']))])
        # joint_states last: a controller steps on joint_states and then finds this state's
        # imu and foot_contacts already received (one writer process, written in this order)
        clock_rate = self.params['clock_rate']
        if clock_rate <= 0.0 or stamp >= self._next_clock:
            self._clock_pub.publish(c.clock(stamp))
            self._next_clock = stamp + (1.0 / clock_rate if clock_rate > 0.0 else 0.0) - 1e-9
        self._msgs['imu'] = c.imu(obs, stamp, frame_id=self._imu_frame, out=self._msgs.get('imu'))
        self._imu_pub.publish(self._msgs['imu'])
        self._contact_pub.publish(c.foot_contacts(obs))
        self._msgs['pose'] = c.base_pose(obs, stamp, frame_id=WORLD_FRAME, out=self._msgs.get('pose'))
        self._pose_pub.publish(self._msgs['pose'])
        self._msgs['joint_state'] = c.joint_state(obs, stamp, out=self._msgs.get('joint_state'))
        if self.params['lockstep']:
            self._awaited_ns = c.seconds_to_ns(stamp)
            self._answered.clear()
        else:
            self._awaited_ns = None
        self._last_publish_wall = time.perf_counter()
        self._joint_pub.publish(self._msgs['joint_state'])
        self._stats['published'] += 1

    def diagnostics(self) -> dict:
        """The CommandGuard counters plus the node's own, JSON-serializable."""
        with self._lock:
            now = self.sim_time()
            d = self.guard.diagnostics(now)
            base_pos, base_orn = self.world.base_pose()
            fallen = bool(self.world.has_fallen(base_pos, base_orn)) if _finite_arrays(
                base_pos, base_orn) else True
            stats = dict(self._stats)
        d.update(stats)
        d.update({'node': self.get_fully_qualified_name(), 'robot': self.world.robot,
                  'sim_time': now, 'fallen': fallen, 'base_position': base_pos,
                  'publish_rate': self.params['publish_rate'],
                  'real_time_factor': self.params['real_time_factor'],
                  'lockstep': self.params['lockstep'],
                  'lockstep_wait_ms': self._wait_wall.summary_ms(),
                  'command_latency_ms': self._latency.summary_ms()})
        return d

    def _publish_diagnostics(self) -> None:
        if self._stop.is_set():
            return
        try:
            d = self.diagnostics()
            self._diag_pub.publish(self._convert.diagnostics_msg(d))
            rd = self._diagnostics
            status = rd.diagnostic_status(self.get_fully_qualified_name(), d,
                                          hardware_id=self.world.robot)
            self._std_diag_pub.publish(rd.diagnostic_array(
                [status], self._convert.to_stamp(d['sim_time'])))
        except Exception:
            if not self._stop.is_set():
                raise

    # ------------------------------------------------------------------ shutdown
    def stop(self) -> None:
        """Stop the physics thread (idempotent)."""
        self._stop.set()
        self._answered.set()                # wake a lock-step wait
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def destroy_node(self):
        self.stop()
        result = super().destroy_node()
        if self.world is not None:
            with self._lock:
                self.world.close()
        return result


class _LatencyWindow:
    """The last few thousand 'state published -> command received' delays (wall seconds)."""

    def __init__(self, size: int = 4096):
        self._values = np.zeros(size)
        self._n = 0

    def add(self, value: float) -> None:
        self._values[self._n % len(self._values)] = value
        self._n += 1

    def summary_ms(self) -> dict | None:
        n = min(self._n, len(self._values))
        if not n:
            return None
        v = self._values[:n] * 1e3
        return {'n': self._n, 'p50': float(np.median(v)), 'p99': float(np.percentile(v, 99)),
                'max': float(v.max())}


def imu_frame(world) -> str:
    """The link the IMU sits on: the link whose pose is the body's root pose."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(world.description.text)
    joints = {j.get('name'): j.find('child').get('link') for j in root.findall('joint')}
    if world.passive_names:                  # a planar root: the last root joint's child link
        return joints.get(world.passive_names[-1], world.description.links[0])
    children = set(joints.values())
    return next((link for link in world.description.links if link not in children), 'base_link')


def _finite_arrays(*arrays) -> bool:
    return all(np.isfinite(a).all() for a in arrays)


def _finite(obs) -> bool:
    return _finite_arrays(obs.position, obs.velocity, obs.base_position, obs.base_orientation)


def make_executor(kind: str, context=None):
    """'events' (rclpy.experimental.EventsExecutor, the default) or 'single'."""
    if kind == 'events':
        from rclpy.experimental import EventsExecutor
        return EventsExecutor(context=context)
    if kind == 'single':
        from rclpy.executors import SingleThreadedExecutor
        return SingleThreadedExecutor(context=context)
    raise ConfigError(f'unknown executor {kind!r}; use events or single')


_stop_signal: list[int] = []       # the SIGINT/SIGTERM received, read by spin()


def init_rclpy(args=None, context=None):
    """``rclpy.init`` with SIGINT and SIGTERM handled by :func:`spin`, for any context.

    rclpy's own handlers shut the context down from inside the signal handler, which can leave
    the EventsExecutor holding events of a node that is then destroyed: its C++ destructor
    aborts the process (SIGABRT, measured when SIGTERM arrived while a node was still waiting
    for robot_description). Our handlers only record the signal; :func:`spin` raises in the
    main thread, and the caller tears down in order (:func:`release`, then the context).
    """
    import signal

    import rclpy
    from rclpy.signals import SignalHandlerOptions
    rclpy.init(args=args, context=context, signal_handler_options=SignalHandlerOptions.NO)
    _stop_signal.clear()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda number, frame: _stop_signal.append(number))


def _raise_for_signal() -> None:
    import signal
    if _stop_signal:
        if _stop_signal[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise ExternalShutdownException()


def spin(executor, context, duration: float | None = None) -> None:
    """Run ``executor`` for ``duration`` wall seconds (None: for ever) or until shutdown.

    Returns when ``duration`` has passed; raises KeyboardInterrupt (SIGINT) or
    ExternalShutdownException (SIGTERM, or any shutdown of the context) otherwise; a signal
    is seen within one 0.1 s slice. A loop of ``spin_once`` rather than ``spin()``: in the rclpy
    9.1.2 wheels EventsExecutor.spin() (and spin_until_future_complete) neither return nor raise
    when the context is shut down, and keep a core busy until SIGKILL.
    """
    end = None if duration is None else time.monotonic() + duration
    while context.ok():
        _raise_for_signal()
        timeout = 0.1
        if end is not None:
            timeout = min(timeout, end - time.monotonic())
            if timeout <= 0:
                return
        try:
            executor.spin_once(timeout_sec=timeout)
        except (KeyboardInterrupt, ExternalShutdownException):
            raise
        except Exception:
            if context.ok():
                raise
            # The context was shut down while spin_once was starting (e.g. "failed to
            # initialize wait set: the given context is not valid"): that is a shutdown too.
            raise ExternalShutdownException() from None
    raise ExternalShutdownException()


def release(executor, nodes) -> None:
    """Take every node off ``executor``, shut it down, then destroy ``nodes``, in that order,
    while the context is still valid (the caller shuts the context down afterwards)."""
    for node in nodes:                # physics threads first: a lock-step sim_node would
        stop = getattr(node, 'stop', None)    # otherwise wait for answers nobody spins for
        if stop is not None:
            stop()
    if executor is not None:
        for node in list(executor.get_nodes()):
            try:
                executor.remove_node(node)
            except Exception:
                pass
        executor.shutdown()
    for node in reversed(list(nodes)):
        node.destroy_node()


def run_node(node_class, prog: str, argv, failure_status: int = 1, config_hint: str = '') -> int:
    """Run one node until shutdown: ``<prog> [--executor events|single] [--ros-args ...]``.

    Exit status 0 on SIGINT/SIGTERM, ``failure_status`` when the node reports a failure, 2 with one
    line on a bad parameter (``config_hint`` is appended when no --params-file was given).
    """
    import argparse

    import rclpy
    from rclpy.utilities import remove_ros_args

    description = (node_class.__doc__ or '').strip().split('\n')[0]
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument('--executor', choices=('events', 'single'), default='events')
    options = parser.parse_args(remove_ros_args(argv)[1:])
    init_rclpy(argv)
    node = executor = None
    try:
        node = node_class()
        executor = make_executor(options.executor)
        executor.add_node(node)
        spin(executor, node.context)
    except (KeyboardInterrupt, ExternalShutdownException):
        if node is not None and node.failure:
            print(f'{prog}: error: {node.failure}', file=sys.stderr)
            return failure_status
    except ConfigError as error:
        hint = config_hint if config_hint and '--params-file' not in argv else ''
        print(f'{prog}: error: {error}{hint}', file=sys.stderr)
        return 2
    finally:
        release(executor, [node] if node is not None else [])
        executor = None
        rclpy.try_shutdown()
    return 0


def main(args=None) -> int:
    """Console script ``sim_node [--executor events|single] [--ros-args ...]``."""
    return run_node(SimNode, 'sim_node', sys.argv if args is None else args, failure_status=1,
                    config_hint=' (no --params-file given: pass the robot\'s, e.g. --ros-args '
                                '--params-file share/neuro_locomotion/config/quadruped.yaml)')


if __name__ == '__main__':
    sys.exit(main())
