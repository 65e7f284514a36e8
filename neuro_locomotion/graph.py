"""The ROS 2 node graph of each robot, described once in plain Python (no rclpy, no launch).

Both ways of starting the graph read this description:

* ``launch/<robot>.launch.py`` turns each :class:`NodeSpec` into a ``launch_ros.actions.Node``
  (:meth:`NodeSpec.launch_kwargs`), for a full ROS 2 install (``ros2 launch``);
* ``neuroloco ros ROBOT`` (:mod:`neuro_locomotion.bringup`) builds the same nodes in one process,
  passing each the command-line arguments launch_ros would build (:meth:`NodeSpec.ros_args`).

Adding a node to the graph is one :class:`NodeEntry` in :data:`GRAPH`. For example, a CPG node
that drives the position controller of the quadruped and salamander would be::

    NodeEntry('cpg_node', executable='cpg_node', factory='cpg_controller.node:CpgNode',
              robots=('quadruped', 'salamander')),

Its parameters go in a ``cpg_node:`` section of ``config/<robot>.yaml`` (one file per robot, the
same file the lock-step runner reads), and remaps (``('from', 'to')`` pairs) in ``remaps``.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .params import ConfigError, read_ros_params, read_yaml
from .paths import PACKAGE, ROBOTS, config_file, urdf_file

# Standard topic names (relative, so a namespace applies; ros2_control conventions).
CLOCK = '/clock'                      # absolute: one clock per ROS domain, as with Gazebo
JOINT_STATES = 'joint_states'
IMU = 'imu'
FOOT_CONTACTS = 'foot_contacts'
BASE_POSE = 'base_pose'
ROBOT_DESCRIPTION = 'robot_description'
POSITION_COMMANDS = 'forward_position_controller/commands'
EFFORT_COMMANDS = 'forward_effort_controller/commands'
NEUROMODULATORS = 'cpg/neuromodulators'   # modulator targets by name (cpg_node, modulated)


@dataclass(frozen=True)
class NodeEntry:
    """One node of the graph, independent of robot and namespace."""

    name: str                                   # node name, also its section in config/<robot>.yaml
    executable: str                             # console script of the package (ros2 run / launch)
    factory: str                                # 'module:Class' of the rclpy Node, for composition
    robots: tuple[str, ...] = ROBOTS            # the robots whose graph includes this node
    remaps: tuple[tuple[str, str], ...] = ()    # (from, to) topic/service remaps
    parameters: tuple[tuple[str, object], ...] = ()   # fixed -p overrides (after the YAML file)
    package: str = PACKAGE
    # per-robot settings written into the node's section of the (rewritten) parameter file:
    # ((robot, ((name, value), ...)), ...)
    robot_parameters: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()
    # a controller whose ``initial_state()`` gives sim_node's start state (written into the
    # sim_node section), e.g. the reflex walker's walking posture and speed; '' = none
    start_state_of: str = ''


#: sim_node in lock-step with the controller (docs/ros.md, "Lock-step"): the controllers run
#: exactly as in the lock-step runner whatever the CPU load, at the highest real-time factor the
#: loop reaches (paced to real time when it is faster). The human's reflex walker needs its
#: 1 kHz loop (a torque held 5 ms makes it fall), with /clock at 100 Hz (a message per state
#: less for every node); the quadruped's PD servo trots at 200 Hz.
SIM_GRAPH_PARAMETERS = (
    ('quadruped', (('lockstep', True), ('publish_rate', 200.0), ('real_time_factor', 1.0))),
    ('salamander', (('lockstep', True), ('publish_rate', 200.0), ('real_time_factor', 1.0))),
    ('human', (('lockstep', True), ('publish_rate', 1000.0), ('real_time_factor', 1.0),
               ('clock_rate', 100.0))),
)

#: The graph. Others add the CPG and reflex nodes here (one entry each).
GRAPH: tuple[NodeEntry, ...] = (
    NodeEntry('sim_node', executable='sim_node', factory='locomotion_sim.node:SimNode',
              robot_parameters=SIM_GRAPH_PARAMETERS),
    NodeEntry('cpg_node', executable='cpg_node', factory='cpg_controller.node:CpgNode',
              robots=('quadruped', 'salamander')),
    NodeEntry('reflex_node', executable='reflex_node', factory='reflex_modules.node:ReflexNode',
              robots=('human',), start_state_of='reflex'),
)


@dataclass(frozen=True)
class NodeSpec:
    """A node of one robot's graph, resolved: everything launch_ros needs to start it."""

    package: str
    executable: str
    factory: str
    name: str
    namespace: str                              # '' or '/ns'
    params_file: Path
    parameters: dict = field(default_factory=dict)     # -p overrides, in order
    remaps: tuple[tuple[str, str], ...] = ()

    @property
    def fully_qualified_name(self) -> str:
        return f'{self.namespace}/{self.name}'

    def ros_args(self) -> list[str]:
        """The arguments launch_ros builds for this node (launch_ros/actions/node.py)."""
        args = ['--ros-args', '-r', f'__node:={self.name}']
        if self.namespace:
            args += ['-r', f'__ns:={self.namespace}']
        args += ['--params-file', str(self.params_file)]
        for key, value in self.parameters.items():
            args += ['-p', f'{key}:={_yaml_scalar(value)}']
        for src, dst in self.remaps:
            args += ['-r', f'{src}:={dst}']
        return args

    def launch_kwargs(self) -> dict:
        """Keyword arguments of ``launch_ros.actions.Node`` for this node."""
        return {
            'package': self.package,
            'executable': self.executable,
            'name': self.name,
            'namespace': self.namespace,
            'parameters': [str(self.params_file), dict(self.parameters)],
            'remappings': list(self.remaps),
            'output': 'screen',
        }

    def node_class(self):
        """Import the rclpy Node class (for composing the graph in one process)."""
        module, _, attr = self.factory.partition(':')
        return getattr(importlib.import_module(module), attr)


def _yaml_scalar(value) -> str:
    """A value as the YAML text ``-p name:=value`` expects."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_yaml_scalar(v) for v in value) + ']'
    return str(value)


def normalize_namespace(namespace: str | None) -> str:
    """'' for the root namespace, else '/a/b' (checked like rcl checks it)."""
    ns = (namespace or '').strip()
    if ns in ('', '/'):
        return ''
    ns = '/' + ns.strip('/')
    for part in ns[1:].split('/'):
        if not part or not (part[0].isalpha() or part[0] == '_') or \
                not all(c.isalnum() or c == '_' for c in part):
            raise ConfigError(f'invalid namespace {namespace!r}: use names of letters, digits and _ '
                              'separated by /, not starting with a digit')
    return ns


def namespaced_params_file(path: str | Path, namespace: str, out_dir: str | Path | None = None) -> Path:
    """``path`` with its node sections keyed by fully qualified name under ``namespace``.

    rcl matches a section named ``sim_node`` only to the node ``/sim_node``; a node in a namespace
    needs ``/ns/sim_node`` (or a wildcard). Rather than duplicating the robot's file per namespace,
    the file is rewritten (as Nav2's RewrittenYaml does): ``sim_node`` -> ``/ns/sim_node``;
    wildcard (``/**``) and already qualified sections are kept. Same input, same output file.
    """
    return rewritten_params_file(path, namespace, None, out_dir)


def rewritten_params_file(path: str | Path, namespace: str, rewrites: dict | None = None,
                          out_dir: str | Path | None = None) -> Path:
    """``path`` with ``rewrites`` ({node: {parameter: value}}) set in the nodes' sections
    (as Nav2's RewrittenYaml ``param_rewrites``) and the sections put under ``namespace``
    (:func:`namespaced_params_file`). Nothing to do: ``path`` itself. Same input, same file
    (``$TMPDIR/neuro_locomotion_params/<stem>[_ns]_<hash>.yaml``)."""
    path = Path(path)
    rewrites = {k: v for k, v in (rewrites or {}).items() if v}
    if not namespace and not rewrites:
        return path
    tree = read_yaml(path, 'parameter file')
    if not isinstance(tree, dict):
        raise ConfigError(f'{path}: expected a mapping of node names to ros__parameters')
    for node, values in rewrites.items():
        section = tree.setdefault(node, {})
        if not isinstance(section, dict):
            raise ConfigError(f'{path}: section {node} is not a mapping')
        params = section.setdefault('ros__parameters', {})
        if not isinstance(params, dict):
            raise ConfigError(f'{path}: {node}.ros__parameters is not a mapping')
        params.update(values)
    rewritten = {}
    for key, body in tree.items():
        key = str(key)
        if namespace and not key.startswith('/'):
            key = f'{namespace}/{key}'
        rewritten[key] = body
    what = []
    if namespace:
        what.append(f'node sections under namespace {namespace}')
    if rewrites:
        what.append('the node graph\'s settings (neuro_locomotion/graph.py) for '
                    + ', '.join(sorted(rewrites)))
    text = f'# {path} with {" and ".join(what)} (generated)\n' + \
        yaml.safe_dump(rewritten, sort_keys=False)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    out_dir = Path(out_dir) if out_dir else Path(tempfile.gettempdir()) / f'{PACKAGE}_params'
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f'{path.stem}{namespace.replace("/", "_")}_{digest}.yaml'
    if not out.is_file():
        tmp = out.with_suffix(f'.{os.getpid()}.tmp')
        tmp.write_text(text)
        os.replace(tmp, out)
    return out


def build_graph(robot: str, namespace: str | None = '', arena: str | None = None,
                use_sim_time: bool = True, config: str | Path | None = None,
                params_dir: str | Path | None = None) -> list[NodeSpec]:
    """The resolved nodes of ``robot``'s graph.

    ``arena`` (if given) overrides the simulator's arena; ``config`` replaces the robot's
    parameter file; ``params_dir`` is where a namespaced copy of it is written.
    """
    if robot not in ROBOTS:
        raise ConfigError(f'unknown robot {robot!r}; choose one of {list(ROBOTS)}')
    ns = normalize_namespace(namespace)
    source = Path(config) if config else config_file(robot)
    if not source.is_file():
        raise ConfigError(f'parameter file not found: {source}')
    # the graph's settings for this robot go into (a rewritten copy of) the parameter file, the
    # node's own section; -p carries only use_sim_time, arena and NodeEntry.parameters
    rewrites = {}
    for entry in GRAPH:
        if robot in entry.robots:
            rewrites.setdefault(entry.name, {}).update(dict(dict(entry.robot_parameters).get(robot, ())))
            if entry.start_state_of:
                rewrites.setdefault('sim_node', {}).update(
                    controller_start_state(entry.start_state_of, robot, source))
    params_file = rewritten_params_file(source, ns, rewrites, params_dir)
    nodes = []
    for entry in GRAPH:
        if robot not in entry.robots:
            continue
        parameters = {'use_sim_time': bool(use_sim_time)}
        if arena and entry.name == 'sim_node':
            parameters['arena'] = arena
        parameters.update(dict(entry.parameters))
        nodes.append(NodeSpec(entry.package, entry.executable, entry.factory, entry.name, ns,
                              params_file, parameters, tuple(entry.remaps)))
    return nodes


def controller_start_state(controller: str, robot: str, config: str | Path | None = None) -> dict:
    """sim_node -p overrides that start the body in ``controller``'s initial condition (its
    ``initial_state()``, built from ``config``'s parameters), or {} if it has none."""
    ctrl = build_controller(controller, body_from_urdf(robot, config=config), '', 0.0, {})
    state = getattr(ctrl, 'initial_state', None)
    if state is None:
        return {}
    return {k: [float(v) for v in values] for k, values in state().items()}


def body_from_urdf(text_or_robot: str, robot: str | None = None, control_dt: float = 0.001,
                   config: str | Path | None = None) -> 'BodyInfo':
    """BodyInfo from URDF text (``robot_description``) or, for a robot name, the share's URDF.

    Feet and start posture come from the ``sim_node`` section of ``config`` (default: the
    robot's ``config/<robot>.yaml``). Used by the controller nodes and by :func:`build_graph`.
    """
    import numpy as np

    from locomotion_sim.body import read_urdf

    from .controllers import BodyInfo
    if robot is None:                                 # a robot name: the package's URDF
        robot = text_or_robot
        desc = read_urdf(urdf_file(robot))
    else:
        with tempfile.NamedTemporaryFile('w', suffix='.urdf', delete=False) as f:
            f.write(text_or_robot)
        try:
            desc = read_urdf(f.name)
        finally:
            Path(f.name).unlink(missing_ok=True)
    if robot not in ROBOTS:
        raise ConfigError(f'unknown robot {robot!r}; choose one of {list(ROBOTS)}')
    config = Path(config) if config else config_file(robot)
    sim = read_ros_params(config).get('sim_node', {})
    lim = desc.actuated
    n = len(lim.names)
    q0 = np.asarray(sim.get('initial_joint_positions', [0.0]), dtype=float)
    q0 = np.full(n, q0[0]) if q0.size == 1 else q0
    return BodyInfo(robot, tuple(lim.names), lim.lower, lim.upper, lim.effort,
                    tuple(sim.get('foot_links', ())), q0, config,
                    extra={'dt': control_dt, 'arena': sim.get('arena', 'flat')})


def build_controller(name: str, body: 'BodyInfo', gait: str, drive: float, values: dict):
    """The controller with ``gait`` ('' = default), ``drive`` (0 = default) and its values."""
    import inspect

    from .controllers import REGISTRY as reg
    from .controllers import make_controller
    module, attr = reg[name].split(':')
    factory = getattr(__import__(module, fromlist=[attr]), attr)
    accepted = inspect.signature(factory).parameters
    options = {}
    if gait and 'gait' in accepted:
        options['gait'] = gait
    elif gait:
        raise ConfigError(f'controller {name} has no gaits (gait {gait!r})')
    if drive and 'drive' in accepted:
        options['drive'] = float(drive)
    elif drive:
        raise ConfigError(f'controller {name} takes no drive')
    if values:
        if 'overrides' in accepted:
            options['overrides'] = dict(values)
        elif 'params' in accepted:
            options['params'] = dict(values)
    try:
        ctrl = make_controller(name, body, **options)
    except (ValueError, KeyError) as error:
        raise ConfigError(f'controller {name}: {error}') from None
    if getattr(ctrl, 'servo_period_s', None) is not None:
        # the node steps its controller once per control tick from /joint_states: nothing
        # would call the servo between ticks, so the setting would be silently ignored
        raise ConfigError(f'controller {name}: servo.period_s (multi-rate control) runs only in '
                          'the lock-step runner (neuroloco run); on the ROS graph the joint servo '
                          "between pattern ticks is the body's (sim_node, ros2_control): set it "
                          'to 0')
    return ctrl
