"""Shared data types between a body (simulated or real) and a controller.

Everything is SI and radians. Joint arrays are in the URDF's actuated-joint order (the order of
the ``<ros2_control>`` block), the same order as the ros2_control forward command controllers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

_FLOAT64 = np.dtype(np.float64)     # (builtin dtypes are singletons)

POSITION = 'position'
EFFORT = 'effort'
COMMAND_MODES = (POSITION, EFFORT)


@dataclass
class Observation:
    """What a controller may sense at one instant.

    A channel the reader did not ask for (see ``Controller.sensors``) is None.
    """

    time: float                                  # s, simulation (or robot) time
    joint_names: tuple[str, ...]
    position: np.ndarray                         # rad or m, actuated joints
    velocity: np.ndarray                         # rad/s or m/s
    effort: np.ndarray                           # N·m or N, last applied
    base_position: np.ndarray                    # m, world frame (3,)
    base_orientation: np.ndarray                 # quaternion x, y, z, w (4,)
    base_linear_velocity: np.ndarray             # m/s, world frame (3,)
    base_angular_velocity: np.ndarray            # rad/s, world frame (3,)
    foot_names: tuple[str, ...] = ()
    foot_forces: np.ndarray = field(default_factory=lambda: np.zeros(0))  # N, normal, per foot
    imu_angular_velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))  # rad/s, body
    imu_linear_acceleration: np.ndarray = field(default_factory=lambda: np.zeros(3))  # m/s², body
    extra: dict = field(default_factory=dict)    # body-specific channels (e.g. planar root state)


@dataclass
class Command:
    """A joint command for every actuated joint, as a forward command controller takes it."""

    mode: str                                    # 'position' (rad) or 'effort' (N·m)
    values: np.ndarray

    def __post_init__(self):
        if self.mode not in COMMAND_MODES:
            raise ValueError(f'command mode must be one of {COMMAND_MODES}, got {self.mode!r}')
        # A private, read-only copy: a command cannot change after it was checked and applied.
        self.values = np.array(self.values, dtype=float)
        self.values.setflags(write=False)

    @classmethod
    def adopt(cls, mode: str, values: np.ndarray) -> 'Command':
        """A command that takes ``values`` over instead of copying them: for a controller that
        hands a fresh float64 array it keeps no reference to (made read-only here). Anything
        else (another dtype or shape, a view, a non-array) is copied as by the constructor."""
        if values.__class__ is not np.ndarray or values.base is not None \
                or values.dtype is not _FLOAT64 or values.ndim != 1 or mode not in COMMAND_MODES:
            return cls(mode, values)            # (a bad mode raises there)
        command = cls.__new__(cls)
        values.setflags(write=False)
        command.mode = mode
        command.values = values
        return command


@runtime_checkable
class Controller(Protocol):
    """The one interface every controller implements (lock-step runner and ROS nodes alike)."""

    name: str
    sensors: frozenset          # subset of SENSORS this controller reads (unread ones are None)

    def reset(self, observation: Observation) -> None:
        """Start from the given state; called once before the first step."""

    def step(self, observation: Observation, dt: float) -> Command:
        """Advance the controller by ``dt`` seconds and return the command for the body."""

    def metrics(self) -> dict:
        """Controller-specific numbers added to the run's metrics JSON."""

    # Optional: ``initial_state() -> dict`` of sim_node start parameters (initial_joint_positions,
    # passive_initial_positions, base_start_velocity, ...) the runner applies before ``reset``.


# Sensor channels a controller can ask for (its ``sensors`` attribute); reading costs time.
SENSORS = frozenset({'joints', 'base', 'contacts', 'imu'})
