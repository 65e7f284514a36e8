"""``pose``: a joint PD controller (effort commands) holding the quadruped at a standing height.

A small but real tunable controller: its standing height and PD gains are declared in
:data:`TUNABLE`, so ``neuroloco optimize quadruped --controller pose --objective stand`` can tune
them. The objective ``stand`` (hold the base at a target height with little effort) has a known
optimum: the settled base height equals the target.

The standing posture puts every foot straight below its hip-flexion axis at ``standing_height_m``
(trunk origin above the ground; feet are spheres of radius ``FOOT_RADIUS_M`` touching z = 0):
``knee = -2 acos(d / 2 l)``, ``hip_flex = -knee / 2`` with ``d = height - FOOT_RADIUS_M`` and
``l`` the thigh (= shank) length, hip ab/adduction 0 (docs/bodies.md, quadruped).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .controllers import BodyInfo
from .params import ConfigError, ParamSet, ParamSpec, read_ros_params
from .types import EFFORT, Command, Observation

NODE = 'pose_controller'
LEG_LENGTH_M = 0.20           # quadruped thigh = shank length (urdf/quadruped.urdf)
FOOT_RADIUS_M = 0.02

POSE_PARAMS = [
    ParamSpec('pose.standing_height_m', 0.30, 'trunk origin height above the ground of the held '
              'posture (feet straight below the hips)', 'm', min=0.15, max=0.36),
    ParamSpec('pose.kp', 40.0, 'PD stiffness, every joint', 'N·m/rad', min=2.0, max=200.0),
    ParamSpec('pose.kd', 0.5, 'PD damping, every joint (above ~2 the explicit 1 kHz loop on the '
              'light shank becomes unstable)', 'N·m·s/rad', min=0.02, max=2.0),
]

# What `neuroloco optimize` may tune (names of POSE_PARAMS; their min/max are the search range).
TUNABLE = ['pose.standing_height_m', 'pose.kp', 'pose.kd']
PARAM_SPECS = POSE_PARAMS
OBJECTIVE = 'stand'            # the default objective of `neuroloco optimize --controller pose`


def pose_params(config: str | Path | None, params: str | Path | None) -> ParamSet:
    """Defaults < the robot's ``pose_controller`` section < the ``params`` file's."""
    values = ParamSet(POSE_PARAMS, where=NODE)
    for path in (config, params):
        if path is None:
            continue
        nodes = read_ros_params(path)
        merged = dict(nodes.get('**', {}))
        merged.update(nodes.get(NODE, {}))
        merged.pop('use_sim_time', None)
        values.where = f'{path} [{NODE}]'
        values.apply(merged)
    values.where = NODE
    return values


def standing_posture(height: float, joint_names) -> np.ndarray:
    """Joint angles (actuated order) putting every foot straight below its hip at ``height``."""
    d = height - FOOT_RADIUS_M
    ratio = d / (2.0 * LEG_LENGTH_M)
    if not 0.0 < ratio < 1.0:
        raise ConfigError(f'{NODE}: standing height {height} m is out of the legs\' reach')
    knee = -2.0 * math.acos(ratio)
    by_kind = {'hip_abad': 0.0, 'hip_flex': -knee / 2.0, 'knee': knee}
    q = []
    for name in joint_names:
        kind = next((k for k in by_kind if name.endswith(k)), None)
        if kind is None:
            raise ConfigError(f'controller pose: joint {name!r} is not a hip_abad, hip_flex '
                              'or knee')
        q.append(by_kind[kind])
    return np.array(q)


class PoseController:
    """tau = kp (q_ref - q) - kd qdot, clipped to the URDF effort limits."""

    name = 'pose'
    sensors = frozenset({'joints'})

    def __init__(self, body: BodyInfo, params: str | Path | None = None, **options):
        if options:
            raise ConfigError(f'controller pose takes only params, got {sorted(options)}')
        if body.robot != 'quadruped':
            raise ConfigError('controller pose has a posture only for the quadruped, not '
                              f'{body.robot!r}')
        self.params = p = pose_params(body.config, params)
        self.height = p['pose.standing_height_m']
        self.target = np.clip(standing_posture(self.height, body.joint_names), body.lower,
                              body.upper)
        self.kp, self.kd = p['pose.kp'], p['pose.kd']
        self.effort = np.asarray(body.effort, dtype=float)
        self._sum_sq = 0.0
        self._steps = 0

    def reset(self, observation: Observation) -> None:
        self._sum_sq = 0.0
        self._steps = 0

    def step(self, observation: Observation, dt: float) -> Command:
        tau = self.kp * (self.target - observation.position) - self.kd * observation.velocity
        tau = np.clip(tau, -self.effort, self.effort)
        self._sum_sq += float(tau @ tau)
        self._steps += 1
        return Command(EFFORT, tau)

    def metrics(self) -> dict:
        n = self._steps * len(self.target)
        return {
            'pose_height_m': self.height,
            'pose_kp': self.kp,
            'pose_kd': self.kd,
            'effort_rms_nm': math.sqrt(self._sum_sq / n) if n else 0.0,
        }
