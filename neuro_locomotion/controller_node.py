"""Any registered controller as a ROS 2 node: a thin shell around ``make_controller``.

``cpg_node`` (cpg_controller/node.py) and ``reflex_node`` (reflex_modules/node.py) are this class
with another default ``controller``. No physics here: the node

* learns the body from ``robot_description`` (latched; parameter ``robot`` empty, the default) or
  from the package share's URDF (``robot`` = quadruped | salamander | human); joint order and
  limits from the URDF ``<ros2_control>`` block, feet and start posture from the ``sim_node``
  section of ``config/<robot>.yaml``;
* builds the controller from the registry with ``gait``/``drive`` and its own parameters
  (``PARAM_SPECS`` of the controller, declared as ranged ROS parameters through ``NodeParams``);
* on every ``joint_states`` message (stamped with sim time) steps the controller by the stamp
  difference, in sub-steps of ``control_dt`` (the 1 kHz the controllers are written for;
  non-positive differences are skipped), and publishes the command on
  ``forward_position_controller/commands`` or ``forward_effort_controller/commands`` (by the
  command's mode) through a :class:`CommandGuard` (non-finite or wrong-length commands are never
  published; clamped to the URDF limits; the reason logged, throttled);
* publishes ``~/state`` (labelled Float64MultiArray of the controller's ``state_for_recording()``)
  for plots;
* every ``diagnostics_period`` wall seconds publishes its counters as JSON on ``~/diagnostics``
  and as a standard ``diagnostic_msgs/DiagnosticArray`` (one status named after the node,
  hardware_id = the robot) on ``/diagnostics``.

Live parameter changes (``ros2 param set``, SetParameters): the whole batch is judged by building
the new controller; a batch it refuses (bad gait, drive out of the gait's range, a ParamSpec
violation) is refused with the reason and nothing changes; an accepted one replaces the
controller, which is reset from the latest observation (a gait switch while running).
"""
from __future__ import annotations

import math
import sys

import numpy as np
from rclpy.exceptions import ParameterException
from rclpy.node import Node

from .controllers import REGISTRY
from .graph import body_from_urdf, build_controller  # noqa: F401 (re-exported)
from .params import ConfigError, ParamSpec
from .safety import CommandGuard, LogThrottle
from .types import EFFORT, POSITION

LOG_PERIOD_S = 2.0
MAX_SUBSTEPS = 200          # a longer gap between two joint_states is not caught up

NODE_PARAMS = [
    ParamSpec('gait', '', "gait name ('' = the controller's default); live: switches the gait"),
    ParamSpec('drive', 0.0, "tonic drive (0 = the gait's default); live", '1', min=0.0,
              max=100.0),
    ParamSpec('control_dt', 0.001, 'controller step; each joint_states interval is stepped in '
              'sub-steps of this length (or of the controller\'s control_period_s if longer)',
              's', min=1e-4, max=0.1),
    ParamSpec('diagnostics_period', 0.5, 'wall-clock period of ~/diagnostics (JSON) and '
              '/diagnostics (DiagnosticArray)', 's', min=0.01, max=60.0),
]


def controller_specs(name: str, robot: str) -> list[ParamSpec]:
    """The ParamSpecs of controller ``name`` on ``robot`` (its ``PARAM_SPECS`` convention)."""
    if name not in REGISTRY:
        raise ConfigError(f'unknown controller {name!r}; choose one of {sorted(REGISTRY)}')
    module = __import__(REGISTRY[name].split(':')[0], fromlist=['_'])
    specs = getattr(module, 'PARAM_SPECS', None)
    if specs is None:
        specs = _known_specs(name, robot)
    if callable(specs):
        specs = specs(robot)
    if isinstance(specs, dict):
        specs = specs.get(robot, [])
    return list(specs or [])


def _known_specs(name: str, robot: str):
    """Controllers that do not declare PARAM_SPECS (yet): their spec lists, by robot."""
    if name in ('oscillator', 'cpg'):
        from cpg_controller import controllers as osc
        specs = {'quadruped': osc.QUADRUPED_PARAMS, 'salamander': osc.SALAMANDER_PARAMS}
        if name == 'cpg':
            from cpg_controller import spiking
            specs = {'quadruped': osc.QUADRUPED_PARAMS + spiking.QUADRUPED_SPIKING_PARAMS,
                     'salamander': osc.SALAMANDER_PARAMS + spiking.SALAMANDER_SPIKING_PARAMS}
        return specs.get(robot, [])
    if name == 'reflex':
        from reflex_modules.walker import REFLEX_NODE_PARAMS
        return REFLEX_NODE_PARAMS
    return []


def _quat_rotate(q, v) -> np.ndarray:
    """Rotate vector v by quaternion q = (x, y, z, w) (plain floats: np.cross costs ~0.1 ms, a
    tenth of a 1 kHz control step over ROS)."""
    x, y, z, w = (float(a) for a in q)
    vx, vy, vz = (float(a) for a in v)
    # v' = v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    return np.array([vx + 2.0 * (w * cx + y * cz - z * cy),
                     vy + 2.0 * (w * cy + z * cx - x * cz),
                     vz + 2.0 * (w * cz + x * cy - y * cx)])


class ControllerNode(Node):
    """A registered controller as a node. ``kwargs`` go to rclpy's Node."""

    DEFAULT_CONTROLLER = 'oscillator'

    def __init__(self, node_name: str = 'controller_node', **kwargs):
        super().__init__(node_name, **kwargs)
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import String

        from .ros_params import NodeParams
        self.failure = None
        self.controller = None
        self.body = None
        self._candidate = None
        self._needs_reset = True
        self._last_stamp = None
        self._last_obs = None
        self._msgs = {}
        self._subs = {}
        self._throttle = LogThrottle(LOG_PERIOD_S)
        self.stats = {'steps': 0, 'published': 0, 'refused': 0, 'skipped': 0, 'rebuilds': 0,
                      'stale_imu': 0}
        try:
            self.declare_parameter('controller', self.DEFAULT_CONTROLLER,
                                   _read_only('registered controller (cpg, oscillator, reflex, ...)'))
            self.declare_parameter('robot', '', _read_only(
                "'' = learn the body from robot_description; else the package's URDF of this "
                'robot'))
            self.node_params = NodeParams(self, NODE_PARAMS)
        except ParameterException as error:
            raise ConfigError(f'{self.get_fully_qualified_name()}: {error}') from None
        self.name = self.get_parameter('controller').value
        if self.name not in REGISTRY:
            raise ConfigError(f'{self.get_fully_qualified_name()}: unknown controller '
                              f'{self.name!r}; choose one of {sorted(REGISTRY)}')
        robot = self.get_parameter('robot').value
        self._qos = QoSProfile(depth=10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._start_diagnostics(latched)
        self._build_in_thread = not robot
        if robot:
            self._setup(body_from_urdf(robot, control_dt=self.node_params['control_dt']))
        else:
            self.get_logger().info('waiting for robot_description')
            self._description_sub = self.create_subscription(
                String, 'robot_description', self._on_description, latched)

    # ------------------------------------------------------------------ setup
    def _start_diagnostics(self, latched) -> None:
        """JSON ``~/diagnostics`` and standard ``/diagnostics``, on a steady (wall) timer."""
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.clock import Clock, ClockType
        from std_msgs.msg import String

        from .ros_diagnostics import DIAGNOSTICS_TOPIC
        self._diag_json_pub = self.create_publisher(String, '~/diagnostics', latched)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, self._qos)
        self._diag_timer = self.create_timer(self.node_params['diagnostics_period'],
                                             self._publish_diagnostics,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _publish_diagnostics(self) -> None:
        from . import ros_convert as c
        from .ros_diagnostics import diagnostic_array, diagnostic_status
        if not self.context.ok():
            return
        d = self.diagnostics()
        self._diag_json_pub.publish(c.diagnostics_msg(d))
        robot = self.body.robot if self.body is not None else ''
        status = diagnostic_status(self.get_fully_qualified_name(), d, hardware_id=robot)
        self._diag_pub.publish(diagnostic_array([status], self.get_clock().now().to_msg()))

    def _on_description(self, msg) -> None:
        if self.body is not None:
            return
        try:
            import xml.etree.ElementTree as ET
            robot = ET.fromstring(msg.data).get('name', '')
            self._setup(body_from_urdf(msg.data, robot, self.node_params['control_dt']))
        except (ConfigError, ParameterException, ET.ParseError) as error:
            self._fail(f'{self.get_fully_qualified_name()}: {error}')

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self.get_logger().error(reason)
        self.context.try_shutdown()

    def _setup(self, body: BodyInfo) -> None:
        from std_msgs.msg import Float64MultiArray

        from . import graph
        from .ros_params import NodeParams
        self.body = body
        try:
            self.ctrl_params = NodeParams(self, controller_specs(self.name, body.robot))
        except ParameterException as error:
            raise ConfigError(f'{self.get_fully_qualified_name()}: {error}') from None
        self.guard = CommandGuard(body.joint_names, body.lower, body.upper, body.effort,
                                  math.inf, hold_posture=np.clip(body.initial_positions,
                                                                 body.lower, body.upper))
        self._pubs = {POSITION: self.create_publisher(Float64MultiArray, graph.POSITION_COMMANDS,
                                                      self._qos),
                      EFFORT: self.create_publisher(Float64MultiArray, graph.EFFORT_COMMANDS,
                                                    self._qos)}
        self._state_pub = self.create_publisher(Float64MultiArray, '~/state', self._qos)
        self._subscribe()              # every sensor topic: the controller is not built yet
        self.add_on_set_parameters_callback(self._judge)
        self.add_post_set_parameters_callback(self._apply)
        if self._build_in_thread:
            # building the controller (network, numba warm-up) can take seconds: not in the
            # executor thread, which other nodes of a composed graph share
            import threading
            self.get_logger().info(f'building controller {self.name} (numba compiles on first use '
                                   'after an install: up to ~20 s once, then cached)')
            threading.Thread(target=self._start, name='controller_build', daemon=True).start()
        else:
            self._start()

    def _start(self) -> None:
        try:
            controller = self._build({})
            self._warm_up()
            self._prepare(controller)
        except (ConfigError, ParameterException) as error:
            if not self._build_in_thread:
                raise ConfigError(f'{self.get_fully_qualified_name()}: {error}') from None
            self._fail(f'{self.get_fully_qualified_name()}: {error}')
            return
        except Exception as error:
            if not self._build_in_thread:
                raise
            # a crash in the build thread must end the node, not leave it silently waiting
            self._fail(f'{self.get_fully_qualified_name()}: building controller {self.name} '
                       f'failed: {error!r}')
            return
        self.controller = controller
        body = self.body
        self.get_logger().info(
            f'controller {self.name} on {body.robot} ({len(body.joint_names)} joints), gait '
            f'{getattr(controller, "gait", "-")}, drive {getattr(controller, "drive", "-")}, '
            f'sensors {sorted(getattr(controller, "sensors", ()))}')

    def _warm_up(self) -> None:
        """Step a throwaway copy of the controller on a synthetic standing observation, so
        numba compiles before the first real joint_states (not while the body waits)."""
        from .types import Observation
        b = self.body
        n, f = len(b.joint_names), len(b.foot_names)
        q = np.clip(b.initial_positions, b.lower, b.upper)
        obs = Observation(time=0.0, joint_names=b.joint_names, position=q, velocity=np.zeros(n),
                          effort=np.zeros(n), base_position=np.array([0.0, 0.0, 1.0]),
                          base_orientation=np.array([0.0, 0.0, 0.0, 1.0]),
                          base_linear_velocity=np.zeros(3), base_angular_velocity=np.zeros(3),
                          foot_names=b.foot_names, foot_forces=np.full(f, 100.0),
                          imu_angular_velocity=np.zeros(3),
                          imu_linear_acceleration=np.array([0.0, 0.0, 9.81]))
        try:
            ctrl = self._build({})
            ctrl.reset(obs)
            dt = self.node_params['control_dt']
            for k in range(3):
                obs.time = (k + 1) * dt
                ctrl.step(obs, dt)
        except Exception as error:       # a warm-up is best effort; the real loop reports
            self.get_logger().debug(f'warm-up step failed: {error}')

    def _values(self, changes: dict | None = None) -> dict:
        values = {s.name: self.ctrl_params[s.name] for s in self.ctrl_params.specs}
        values.update(changes or {})
        return values

    def _build(self, changes: dict, gait=None, drive=None):
        gait = self.node_params['gait'] if gait is None else gait
        drive = self.node_params['drive'] if drive is None else drive
        return build_controller(self.name, self.body, gait, drive, self._values(changes))

    def _subscribe(self) -> None:
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Float64MultiArray

        from . import graph
        sensors = getattr(self.controller, 'sensors', None) or {'joints', 'base', 'contacts'}
        wanted = {graph.JOINT_STATES: (JointState, self._on_joints)}
        if 'base' in sensors or self.name == 'reflex':
            wanted[graph.IMU] = (Imu, lambda m: self._msgs.__setitem__('imu', m))
        if 'contacts' in sensors:
            wanted[graph.FOOT_CONTACTS] = (Float64MultiArray,
                                           lambda m: self._msgs.__setitem__('contacts', m))
        for topic, (kind, callback) in wanted.items():
            if topic not in self._subs:
                self._subs[topic] = self.create_subscription(kind, topic, callback, self._qos)

    # ------------------------------------------------------------------ parameters
    def _judge(self, parameters):
        from rcl_interfaces.msg import SetParametersResult

        from .ros_params import plain
        own = {s.name for s in self.ctrl_params.specs}
        changes = {p.name: plain(p.value) for p in parameters if p.name in own}
        node = {p.name: plain(p.value) for p in parameters if p.name in self._rebuild_names()}
        self._candidate = None
        if self.controller is None:
            if changes or node:
                return SetParametersResult(successful=False,
                                           reason='the controller is being built')
            return SetParametersResult(successful=True)     # e.g. a declaration by _prepare
        try:
            if changes or node:
                self.ctrl_params.set.judge(changes)
                self._candidate = self._build(changes, node.get('gait'), node.get('drive'))
            self._judge_more(parameters, self.controller if self._candidate is None
                             else self._candidate)
        except ConfigError as error:
            self._candidate = None
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _judge_more(self, parameters, controller) -> None:
        """Hook: judge the rest of the batch against ``controller`` (the one that will run after
        it); raise ConfigError to refuse it. Must change nothing."""

    def _apply_more(self, parameters) -> None:
        """Hook: apply the rest of an accepted batch (after any rebuild)."""

    def _prepare(self, controller) -> None:
        """Hook: a controller was just built and is about to run (ConfigError refuses it)."""

    def _rebuild_names(self) -> tuple:
        """Node parameters whose change rebuilds the controller."""
        return ('gait', 'drive')

    def _apply(self, parameters) -> None:
        # rclpy calls the callbacks last-registered first: NodeParams has not stored the batch
        # yet, rclpy has (get_parameter)
        period_ns = int(round(self.get_parameter('diagnostics_period').value * 1e9))
        if self._diag_timer.timer_period_ns != period_ns:
            self._diag_timer.timer_period_ns = period_ns
        candidate, self._candidate = self._candidate, None
        if candidate is None:
            self._apply_more(parameters)
            return
        try:
            self._prepare(candidate)
        except ConfigError as error:
            self.get_logger().error(f'rebuilt controller not used: {error}')
            return
        self.controller = candidate
        self._needs_reset = True
        self.stats['rebuilds'] += 1
        self._subscribe()
        if self._last_obs is not None:
            self._reset(self._last_obs)
        self.get_logger().info(f'controller {self.name} rebuilt: gait '
                               f'{getattr(candidate, "gait", "-")}, drive '
                               f'{getattr(candidate, "drive", "-")}')
        self._apply_more(parameters)

    # ------------------------------------------------------------------ control loop
    def _observation(self, msg):
        from . import ros_convert as c
        body = self.body
        extra = {}
        names = list(msg.name)
        if 'root_x' in names and 'root_z' in names:     # a planar root: the base pose is in it
            i, k = names.index('root_x'), names.index('root_z')
            extra['base_position'] = [msg.position[i], 0.0, msg.position[k]]
            if len(msg.velocity) == len(names):
                extra['base_linear_velocity'] = [msg.velocity[i], 0.0, msg.velocity[k]]
        imu = self._msgs.get('imu')
        if imu is not None:
            q, w, _ = c.imu_arrays(imu)
            extra['base_angular_velocity'] = _quat_rotate(q, w)
        contacts = self._msgs.get('contacts')
        feet = body.foot_names
        if contacts is not None and feet:
            try:
                c.contact_forces(contacts, feet)
            except ValueError:
                contacts = None
        return c.observation_from_msgs(body.joint_names, msg, imu, contacts, feet, **extra)

    def _reset(self, obs) -> None:
        self.controller.reset(obs)
        self._needs_reset = False
        self._last_stamp = obs.time
        self._after_reset()

    def _after_reset(self) -> None:
        """Hook: the controller has just been reset (first state, after a rebuild)."""

    def _on_joints(self, msg) -> None:
        if self.controller is None or not self.context.ok():
            return
        try:
            obs = self._observation(msg)
        except ValueError as error:
            self._warn('observation', str(error))
            return
        self._last_obs = obs
        t = obs.time
        # a controller with its own control_period_s (e.g. the salamander cpg, 4 ms) is stepped
        # that coarsely here too, as in the lock-step runner; never finer than control_dt
        step = max(self.node_params['control_dt'],
                   getattr(self.controller, 'control_period_s', 0.0))
        imu = self._msgs.get('imu')
        if imu is not None and (imu.header.stamp.sec, imu.header.stamp.nanosec) != \
                (msg.header.stamp.sec, msg.header.stamp.nanosec):
            self.stats['stale_imu'] += 1     # the imu of this state has not arrived (yet)
        if self._needs_reset:
            # reset, then answer this state with one control step, as the lock-step runner does
            # (reset(obs0), step(obs0, dt)): a lock-step sim_node waits for this answer
            self._reset(obs)
            n, sub = 1, step
        else:
            dt = t - self._last_stamp
            if not dt > 0:
                self.stats['skipped'] += 1
                return
            n = max(1, int(round(dt / step)))
            if n > MAX_SUBSTEPS:
                # the controller stalled (a rebuild, a CPU hiccup): resume from here (one
                # step, so a lock-step simulator gets its answer), do not catch up
                self._warn('gap', f'{dt:.3f} s between two joint_states: not caught up')
                n = 1
                dt = step
            self._last_stamp = t
            sub = dt / n
        try:
            for _ in range(n):
                command = self.controller.step(obs, sub)
        except (ValueError, FloatingPointError) as error:
            self._warn('step', f'controller step failed: {error}')
            return
        self.stats['steps'] += n
        verdict = self.guard.offer_command(command, t)
        if not verdict.accepted:
            self.stats['refused'] += 1
            self._warn(verdict.category, f'command not published: {verdict.reason}')
            return
        from . import ros_convert as c
        # the answered state's stamp in the layout label: sim_node's lock-step mode matches it
        self._pubs[verdict.mode].publish(c.command_msg(verdict.values,
                                                       stamp_ns=c.stamp_to_ns(msg.header.stamp)))
        self.stats['published'] += 1
        state = self._state()
        if state is not None:
            self._state_pub.publish(state_msg(state))

    def _state(self) -> dict | None:
        """What ``~/state`` carries: the controller's ``state_for_recording()``."""
        state = getattr(self.controller, 'state_for_recording', None)
        return None if state is None else state()

    def _warn(self, key, text: str) -> None:
        import time
        message = self._throttle.message(key, time.monotonic(), text)
        if message:
            self.get_logger().warning(message)

    def diagnostics(self) -> dict:
        """The CommandGuard's counters plus the node's (as sim_node's, for `neuroloco ros`)."""
        now = self._last_stamp if self._last_stamp is not None else 0.0
        d = self.guard.diagnostics(now) if self.body is not None else {}
        d.update(self.stats)
        d.update({'controller': self.name, 'sim_time': now,
                  'gait': getattr(self.controller, 'gait', None),
                  'drive': getattr(self.controller, 'drive', None)})
        return d


def state_msg(state: dict):
    """``state_for_recording()`` (name -> scalar or array) as one labelled Float64MultiArray."""
    from .ros_convert import labelled_array
    values, labels = [], []
    for key, value in (state or {}).items():
        arr = np.asarray(value, dtype=float).reshape(-1)
        values.extend(arr.tolist())
        labels.extend([key] if arr.size == 1 else [f'{key}[{i}]' for i in range(arr.size)])
    return labelled_array(values, labels)


def _read_only(description: str):
    from rcl_interfaces.msg import ParameterDescriptor
    return ParameterDescriptor(description=description, read_only=True)


def main(args=None, node_class=ControllerNode, prog='controller_node') -> int:
    """Console script main: ``<prog> [--executor events|single] [--ros-args ...]``."""
    from locomotion_sim.node import run_node
    return run_node(node_class, prog, sys.argv if args is None else args, failure_status=2)

