"""The launch files, checked without launch/launch_ros (not installable from pip).

Recording stand-ins for the ``launch`` and ``launch_ros`` modules are put in ``sys.modules`` for
these tests only; ``generate_launch_description()`` is evaluated against them, its OpaqueFunction
is performed with the declared defaults (and overrides), and every Node is checked: a console
script of this package, a parameter file that exists and parses for that node's name, and the same
arguments ``neuroloco ros`` passes. A last test runs the real launch_ros when it is installed.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest
from rclpy.parameter import Parameter, parameter_dict_from_yaml_file

from locomotion_sim.node import ALL_PARAMS
from neuro_locomotion.graph import GRAPH, build_graph
from neuro_locomotion.params import ParamSet
from neuro_locomotion.paths import ROBOTS
from neuro_locomotion.ros_params import plain

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILES = {robot: ROOT / 'launch' / f'{robot}.launch.py' for robot in ROBOTS}
NODE_KWARGS = {'package', 'executable', 'name', 'namespace', 'parameters', 'remappings',
               'output', 'arguments', 'exec_name', 'ros_arguments', 'respawn', 'condition'}
NODE_SPECS = {'sim_node': ALL_PARAMS}     # parameter specs of the nodes whose YAML is validated


def console_scripts() -> dict:
    """{script: 'module:function'} from setup.py's entry_points (the source of truth)."""
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == 'console_scripts':
                    entries = ast.literal_eval(value)
                    return dict((part.strip() for part in e.split('=', 1)) for e in entries)
    raise AssertionError('setup.py has no console_scripts')


# ---------------------------------------------------------------- stand-ins for launch/launch_ros
class Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchDescription(Recorded):
    @property
    def entities(self):
        return list(self.args[0]) if self.args else list(self.kwargs.get('initial_entities', []))


class DeclareLaunchArgument(Recorded):
    @property
    def name(self):
        return self.args[0] if self.args else self.kwargs['name']


class OpaqueFunction(Recorded):
    def perform(self, context):
        function = self.kwargs.get('function') or self.args[0]
        return function(context, *self.kwargs.get('args', []), **self.kwargs.get('kwargs', {}))


class LaunchConfiguration(Recorded):
    def perform(self, context):
        return context.launch_configurations[self.args[0]]


class Node(Recorded):
    pass


class Context:
    def __init__(self, configurations):
        self.launch_configurations = dict(configurations)


@pytest.fixture
def fake_launch(monkeypatch):
    modules = {
        'launch': {'LaunchDescription': LaunchDescription},
        'launch.actions': {'DeclareLaunchArgument': DeclareLaunchArgument,
                           'OpaqueFunction': OpaqueFunction},
        'launch.substitutions': {'LaunchConfiguration': LaunchConfiguration},
        'launch_ros': {},
        'launch_ros.actions': {'Node': Node},
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f'_launch_{path.stem.replace(".", "_")}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(path: Path, **overrides):
    """(declared arguments {name: kwargs}, Node kwargs list) of a launch file."""
    description = load(path).generate_launch_description()
    assert isinstance(description, LaunchDescription)
    declared, nodes, pending = {}, [], list(description.entities)
    for entity in pending:
        if isinstance(entity, DeclareLaunchArgument):
            declared[entity.name] = entity.kwargs
    configurations = {name: kw.get('default_value', '') for name, kw in declared.items()}
    configurations.update(overrides)
    context = Context(configurations)
    while pending:
        entity = pending.pop(0)
        if isinstance(entity, OpaqueFunction):
            pending.extend(entity.perform(context) or [])
        elif isinstance(entity, Node):
            nodes.append(entity.kwargs)
    return declared, nodes


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize('robot', ROBOTS)
def test_launch_file_is_valid_python_with_the_standard_entry_point(robot):
    tree = ast.parse(LAUNCH_FILES[robot].read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
               for n in tree.body)


@pytest.mark.parametrize('robot', ROBOTS)
def test_launch_arguments_are_declared(fake_launch, robot):
    declared, _ = evaluate(LAUNCH_FILES[robot])
    assert set(declared) >= {'robot', 'arena', 'use_sim_time', 'namespace'}
    assert declared['robot']['default_value'] == robot
    assert declared['use_sim_time']['default_value'] == 'true'
    assert all(kw.get('description') for kw in declared.values())


@pytest.mark.parametrize('robot', ROBOTS)
@pytest.mark.parametrize('namespace', ['', 'q1'])
def test_nodes_are_console_scripts_with_parsable_parameter_files(fake_launch, robot, namespace):
    _, nodes = evaluate(LAUNCH_FILES[robot], namespace=namespace)
    scripts = console_scripts()
    expected = [e.name for e in GRAPH if robot in e.robots]
    assert [n['name'] for n in nodes] == expected and expected
    for kwargs in nodes:
        assert set(kwargs) <= NODE_KWARGS
        assert kwargs['package'] == 'neuro_locomotion'
        assert kwargs['executable'] in scripts, f'{kwargs["executable"]} is not a console script'
        module, _, function = scripts[kwargs['executable']].partition(':')
        assert callable(getattr(importlib.import_module(module), function))
        assert kwargs['namespace'] == ('/' + namespace if namespace else '')
        files = [p for p in kwargs['parameters'] if isinstance(p, str)]
        overrides = [p for p in kwargs['parameters'] if isinstance(p, dict)]
        assert files and all(Path(f).is_file() for f in files)
        assert overrides and overrides[-1]['use_sim_time'] is True
        fqn = f'{kwargs["namespace"]}/{kwargs["name"]}'
        for path in files:
            parsed = parameter_dict_from_yaml_file(path, use_wildcard=True, target_nodes=[fqn])
            values = {k: plain(Parameter.from_parameter_msg(v).value) for k, v in parsed.items()}
            values.pop('use_sim_time', None)
            if kwargs['name'] == 'sim_node':
                assert values['robot'] == robot
            specs = NODE_SPECS.get(kwargs['name'])
            if specs is not None:
                ParamSet(specs, values)         # every value known to the node and in range


def test_launch_overrides_reach_the_nodes(fake_launch):
    _, nodes = evaluate(LAUNCH_FILES['salamander'], arena='water', use_sim_time='false')
    sim, = [n for n in nodes if n['name'] == 'sim_node']
    assert sim['parameters'][-1] == {'use_sim_time': False, 'arena': 'water'}


def test_launch_and_neuroloco_ros_start_the_same_nodes(fake_launch):
    for robot in ROBOTS:
        _, nodes = evaluate(LAUNCH_FILES[robot], namespace='q1')
        specs = build_graph(robot, 'q1')
        assert nodes == [s.launch_kwargs() for s in specs]
        for spec in specs:
            args = spec.ros_args()
            assert args[:3] == ['--ros-args', '-r', f'__node:={spec.name}']
            assert ['-r', '__ns:=/q1'] == args[3:5]
            assert ['--params-file', str(spec.params_file)] == args[5:7]
            assert '-p' in args and 'use_sim_time:=true' in args


def test_real_launch_ros_loads_the_launch_files():
    pytest.importorskip('launch_ros')
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument as RealDeclare
    from launch.launch_description_sources import get_launch_description_from_python_launch_file
    from launch_ros.actions import Node as RealNode
    for robot, path in LAUNCH_FILES.items():
        description = get_launch_description_from_python_launch_file(str(path))
        context = LaunchContext()
        names, pending = set(), list(description.entities)
        while pending:
            entity = pending.pop(0)
            if isinstance(entity, RealDeclare):
                names.add(entity.name)
            children = entity.visit(context) or []
            if isinstance(entity, RealNode):
                assert entity.node_executable in console_scripts()
            pending.extend(children)
        assert names >= {'robot', 'arena', 'use_sim_time', 'namespace'}
