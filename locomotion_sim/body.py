"""A robot body described by a URDF: actuated joints (from its ros2_control block) and limits."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuro_locomotion.params import ConfigError


@dataclass(frozen=True)
class JointLimits:
    names: tuple[str, ...]
    lower: np.ndarray        # rad or m
    upper: np.ndarray
    effort: np.ndarray       # N·m or N
    velocity: np.ndarray     # rad/s or m/s


@dataclass(frozen=True)
class BodyDescription:
    """What the URDF says about the body, parsed once and checked."""

    path: Path
    text: str
    name: str
    actuated: JointLimits            # in ros2_control (command) order
    links: tuple[str, ...]

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.actuated.names


def read_urdf(path: str | Path) -> BodyDescription:
    """Parse a URDF and its ``<ros2_control>`` joint list; ConfigError names any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f'URDF not found: {path}')
    text = path.read_text()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ConfigError(f'{path}: malformed URDF XML: {error}') from None
    if root.tag != 'robot':
        raise ConfigError(f'{path}: root element is <{root.tag}>, expected <robot>')
    joints = {j.get('name'): j for j in root.findall('joint')}
    links = tuple(link.get('name') for link in root.findall('link'))
    blocks = root.findall('ros2_control')
    if not blocks:
        raise ConfigError(f'{path}: no <ros2_control> block lists the actuated joints')
    names = [j.get('name') for block in blocks for j in block.findall('joint')]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f'{path}: the <ros2_control> joint list is empty or has duplicates')
    lower, upper, effort, velocity = [], [], [], []
    for name in names:
        joint = joints.get(name)
        if joint is None:
            raise ConfigError(f'{path}: ros2_control names joint {name!r}, which the URDF lacks')
        limit = joint.find('limit')
        if joint.get('type') not in ('revolute', 'prismatic') or limit is None:
            raise ConfigError(f'{path}: actuated joint {name!r} must be revolute or prismatic with <limit>')
        try:
            values = [float(limit.get(key)) for key in ('lower', 'upper', 'effort', 'velocity')]
        except (TypeError, ValueError):
            raise ConfigError(f'{path}: joint {name!r} needs numeric lower, upper, effort, velocity') from None
        lo, hi, eff, vel = values
        if not all(math.isfinite(v) for v in values) or lo >= hi or eff <= 0 or vel <= 0:
            raise ConfigError(f'{path}: joint {name!r} has invalid limits {values}')
        lower.append(lo), upper.append(hi), effort.append(eff), velocity.append(vel)
    limits = JointLimits(tuple(names), np.array(lower), np.array(upper), np.array(effort), np.array(velocity))
    return BodyDescription(path, text, root.get('name', path.stem), limits, links)
