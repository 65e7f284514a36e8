"""Parameter schemas: one declaration per parameter, with unit, range and description.

The same :class:`ParamSpec` list validates a YAML file for the lock-step runner and declares the
ROS parameters (with ranges, so NaN is refused) on a node. A batch of changes is judged whole
before any of it is applied, so a refused change is never half-applied.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml


class ConfigError(ValueError):
    """A parameter file or value is malformed or out of range; the message names the problem."""


@dataclass(frozen=True)
class ParamSpec:
    name: str                       # dotted ROS parameter name
    default: Any
    description: str
    unit: str = ''
    min: float | None = None        # inclusive numeric range (scalars and every array element)
    max: float | None = None
    choices: tuple | None = None    # allowed values for strings
    length: int | None = None       # required array length (None: any non-empty length)
    read_only: bool = False

    @property
    def kind(self) -> type:
        d = self.default
        if isinstance(d, bool):
            return bool
        if isinstance(d, int):
            return int
        if isinstance(d, float):
            return float
        if isinstance(d, str):
            return str
        if isinstance(d, (list, tuple)):
            return list
        raise TypeError(f'unsupported default for {self.name}: {d!r}')

    def check(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's type, or raise ConfigError with a reason."""
        kind = self.kind
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f'{self.name}: expected true/false, got {value!r}')
            return value
        if kind is str:
            if not isinstance(value, str):
                raise ConfigError(f'{self.name}: expected a string, got {value!r}')
            if self.choices is not None and value not in self.choices:
                raise ConfigError(f'{self.name}: {value!r} is not one of {list(self.choices)}')
            return value
        if kind in (int, float):
            return self._check_number(value, kind)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{self.name}: expected a list, got {value!r}')
        if self.length is not None and len(value) != self.length:
            raise ConfigError(f'{self.name}: expected {self.length} values, got {len(value)}')
        element_kind = float
        if self.default and all(isinstance(v, str) for v in self.default):
            element_kind = str
        if element_kind is str:
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(f'{self.name}: expected a list of strings, got {value!r}')
            return list(value)
        return [self._check_number(v, float) for v in value]

    def _check_number(self, value: Any, kind: type) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'{self.name}: expected a number, got {value!r}')
        if kind is int and not float(value).is_integer():
            raise ConfigError(f'{self.name}: expected an integer, got {value!r}')
        if not math.isfinite(value):
            raise ConfigError(f'{self.name}: {value!r} is not finite')
        if self.min is not None and value < self.min:
            raise ConfigError(f'{self.name}: {value!r} is below the minimum {self.min} {self.unit}'.rstrip())
        if self.max is not None and value > self.max:
            raise ConfigError(f'{self.name}: {value!r} is above the maximum {self.max} {self.unit}'.rstrip())
        return kind(value)


def flatten(tree: Mapping, prefix: str = '') -> dict:
    """Nested YAML mapping -> dotted ROS parameter names."""
    flat = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


class ParamSet:
    """Validated values for a list of specs; unknown names and bad values are errors."""

    def __init__(self, specs: Iterable[ParamSpec], values: Mapping | None = None, where: str = ''):
        self.specs = {s.name: s for s in specs}
        self.values = {name: s.default for name, s in self.specs.items()}
        self.where = where
        if values:
            self.values.update(self.judge(values))

    def judge(self, changes: Mapping) -> dict:
        """Check a whole batch; return the coerced values or raise ConfigError naming every problem."""
        problems, checked = [], {}
        for name, value in changes.items():
            spec = self.specs.get(name)
            if spec is None:
                problems.append(f'{name}: unknown parameter')
                continue
            try:
                checked[name] = spec.check(value)
            except ConfigError as error:
                problems.append(str(error))
        if problems:
            where = f'{self.where}: ' if self.where else ''
            raise ConfigError(where + '; '.join(problems))
        return checked

    def apply(self, changes: Mapping) -> None:
        self.values.update(self.judge(changes))

    def __getitem__(self, name: str):
        return self.values[name]

    def as_dict(self) -> dict:
        return dict(self.values)


def read_yaml(path: str | Path, what: str = 'file') -> Any:
    """The parsed YAML of ``path``; ConfigError in one line when the file is missing
    (``<what> not found: PATH``), unreadable or not valid YAML (``PATH: invalid YAML: ...``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'{what} not found: {path}')
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f'{path}: cannot read: {error.strerror or error}') from None
    except yaml.YAMLError as error:
        raise ConfigError(f'{path}: invalid YAML: {str(error).splitlines()[0]}') from None


def read_ros_params(path: str | Path) -> dict:
    """Read a ROS 2 parameter file: ``{node_name: {dotted.param: value}}``.

    Raises ConfigError for a missing file, invalid YAML or a file not in ROS format.
    """
    path = Path(path)
    tree = read_yaml(path, 'parameter file')
    if not isinstance(tree, dict):
        raise ConfigError(f'{path}: expected a mapping of node names to ros__parameters')
    nodes = {}
    for node, body in tree.items():
        if not isinstance(body, dict) or 'ros__parameters' not in body:
            raise ConfigError(f'{path}: node {node!r} has no ros__parameters section')
        params = body['ros__parameters'] or {}
        if not isinstance(params, dict):
            raise ConfigError(f'{path}: {node}.ros__parameters must be a mapping')
        nodes[str(node).lstrip('/')] = flatten(params)
    return nodes


def node_params(path: str | Path, node: str, specs: Iterable[ParamSpec]) -> ParamSet:
    """The validated parameters of one node in a ROS parameter file (``/**`` applies to all)."""
    nodes = read_ros_params(path)
    merged = dict(nodes.get('**', {}))
    merged.update(nodes.get(node, {}))
    merged.pop('use_sim_time', None)
    return ParamSet(specs, merged, where=f'{path} [{node}]')
