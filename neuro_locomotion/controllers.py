"""Controllers by name, and what a controller is told about the body it drives."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .params import ConfigError


@dataclass(frozen=True)
class BodyInfo:
    """The body as a controller sees it (no simulator handle: a real robot gives the same)."""

    robot: str
    joint_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    effort: np.ndarray
    foot_names: tuple[str, ...]
    initial_positions: np.ndarray
    config: Path                       # the robot's ROS parameter file
    extra: dict = field(default_factory=dict)


# name -> "module:factory"; a factory is called as factory(body, **options) -> Controller.
REGISTRY = {
    'hold': 'neuro_locomotion.hold:HoldController',
    'pose': 'neuro_locomotion.pose:PoseController',
    'reflex': 'reflex_modules.walker:ReflexWalker',
    'oscillator': 'cpg_controller.controllers:OscillatorController',
    'cpg': 'cpg_controller.spiking:CpgController',
}


def controller_names() -> list[str]:
    return sorted(REGISTRY)


def make_controller(name: str, body: BodyInfo, **options):
    """Build a controller by name; ConfigError for an unknown name or bad options."""
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError(f'unknown controller {name!r}; choose one of {controller_names()}')
    module, attr = target.split(':')
    factory = getattr(importlib.import_module(module), attr)
    return factory(body, **options)
