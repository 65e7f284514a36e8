"""Declare a node's ROS parameters from ParamSpecs, and judge every change as a whole batch.

Each numeric parameter gets a declared range (so rclpy itself refuses NaN and out-of-range values)
and a description with its unit. The on-set callback judges the whole batch with the same
ParamSpec checks the runner uses; the post-set callback applies it, so a refused change is never
half-applied.
"""
from __future__ import annotations

import array
from typing import Callable, Iterable

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.node import Node
from rclpy.parameter import Parameter

from .params import ConfigError, ParamSet, ParamSpec


def plain(value):
    """A ROS parameter value as the ParamSpecs expect it (rclpy gives arrays as array.array)."""
    if isinstance(value, array.array):
        return value.tolist()
    return value


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    unit = f' [{spec.unit}]' if spec.unit else ''
    choices = f' (one of {", ".join(spec.choices)})' if spec.choices else ''
    descriptor = ParameterDescriptor(description=spec.description + unit + choices,
                                     read_only=spec.read_only)
    if spec.min is not None and spec.max is not None:
        if spec.kind is int:
            descriptor.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max), step=0)]
        elif spec.kind is float:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(spec.min),
                                                                  to_value=float(spec.max), step=0.0)]
    return descriptor


class NodeParams:
    """The node's parameters as a validated ParamSet, kept in step with the ROS parameters.

    ``on_change(changed: dict)`` is called after a batch has been accepted and stored.
    """

    def __init__(self, node: Node, specs: Iterable[ParamSpec],
                 on_change: Callable[[dict], None] | None = None):
        self.node = node
        self.specs = list(specs)
        self.set = ParamSet(self.specs, where=node.get_fully_qualified_name())
        self.on_change = on_change
        self._pending: dict = {}
        for spec in self.specs:
            node.declare_parameter(spec.name, spec.default, _descriptor(spec))
        # Values from --params-file / -p overrides are in place now: judge them once, fail loudly.
        initial = {spec.name: plain(node.get_parameter(spec.name).value) for spec in self.specs}
        self.set.apply(initial)
        node.add_on_set_parameters_callback(self._judge)
        node.add_post_set_parameters_callback(self._apply)

    def __getitem__(self, name: str):
        return self.set[name]

    def _judge(self, parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: plain(p.value) for p in parameters if p.name in self.set.specs}
        try:
            self._pending = self.set.judge(changes)
        except ConfigError as error:
            self._pending = {}
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _apply(self, parameters: list[Parameter]) -> None:
        changed, self._pending = self._pending, {}
        if changed:
            self.set.values.update(changed)
            if self.on_change is not None:
                self.on_change(changed)
