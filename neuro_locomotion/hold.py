"""``hold``: a PD servo to a standing posture (position commands), the simplest controller."""
from __future__ import annotations

import numpy as np

from .controllers import BodyInfo
from .params import ConfigError, ParamSpec, node_params
from .types import POSITION, Command, Observation

HOLD_PARAMS = [
    ParamSpec('posture', [0.0], 'posture to hold, actuated-joint order; one value = the start posture',
              'rad', min=-6.3, max=6.3),
]


class HoldController:
    """Commands one fixed posture; the body's position servo does the PD."""

    name = 'hold'
    sensors = frozenset()          # reads nothing: the body's servo closes the loop

    def __init__(self, body: BodyInfo, **options):
        if options:
            raise ConfigError(f'controller hold takes no options, got {sorted(options)}')
        params = node_params(body.config, 'hold_controller', HOLD_PARAMS)
        posture = np.asarray(params['posture'], dtype=float)
        if posture.size == 1:
            posture = np.asarray(body.initial_positions, dtype=float)
        if posture.size != len(body.joint_names):
            raise ConfigError(f'hold_controller.posture has {posture.size} values for '
                              f'{len(body.joint_names)} joints')
        self.posture = np.clip(posture, body.lower, body.upper)
        self._command = Command(POSITION, self.posture)

    def reset(self, observation: Observation) -> None:
        pass

    def step(self, observation: Observation, dt: float) -> Command:
        return self._command

    def metrics(self) -> dict:
        return {}
