"""The PyBullet world: one body in an arena, stepped at a fixed rate, deterministic for a seed.

``World`` is a plain object (no rclpy): the lock-step runner and ``sim_node`` both drive it.
Commands are checked here too, as a last line of defence: a non-finite or wrong-length command
raises ``ValueError`` and never reaches PyBullet; positions and efforts are clamped to the URDF.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pybullet as pb

from neuro_locomotion.params import ConfigError, ParamSet, node_params
from neuro_locomotion.paths import config_file, urdf_file
from neuro_locomotion.types import EFFORT, POSITION, Command, Observation

from .arena import build_arena
from .body import read_urdf
from .settings import SIM_PARAMS
from .water import WaterForces

from numba import njit   # a hard requirement (requirements.txt), as in water.py

GRAVITY = 9.81
_ZERO3 = np.zeros(3)
_ZERO3.setflags(write=False)
_FLOAT64 = np.dtype(np.float64)
_NO_FORCES = np.zeros(0)
_NO_FORCES.setflags(write=False)


@njit(cache=True)
def _checked_clip(values, lo, hi, out):
    """out = np.minimum(np.maximum(values, lo), hi) element by element, bit for bit (numpy
    returns its second operand on a tie, e.g. the limit 0.0 for a value -0.0), if every value
    is finite: returns -1; else the index of the first non-finite value (``out`` unused)."""
    for i in range(values.shape[0]):
        if not math.isfinite(values[i]):
            return i
    for i in range(values.shape[0]):
        v = values[i]
        v = v if v > lo[i] else lo[i]
        out[i] = v if v < hi[i] else hi[i]
    return -1


def sim_params(robot: str, config: str | Path | None = None, overrides: dict | None = None) -> ParamSet:
    """The validated ``sim_node`` parameters of a robot's config file (plus overrides)."""
    params = node_params(config or config_file(robot), 'sim_node', SIM_PARAMS)
    if overrides:
        params.apply(overrides)
    if params['robot'] != robot:
        raise ConfigError(f'config is for robot {params["robot"]!r}, not {robot!r}')
    return params


class World:
    """A body in an arena. ``step()`` advances one physics step of ``dt`` seconds."""

    def __init__(self, robot: str = 'quadruped', arena: str | None = None, seed: int = 0,
                 gui: bool = False, params: ParamSet | None = None, urdf: str | Path | None = None):
        overrides = {'arena': arena} if arena else None
        if params is None:
            params = sim_params(robot, overrides=overrides)
        elif overrides:
            params.apply(overrides)
        self.params = params
        self.robot = robot
        self.dt = 1.0 / params['physics_rate_hz']
        self.description = read_urdf(urdf or urdf_file(params['urdf']))
        self.joint_names = self.description.joint_names
        self.limits = self.description.actuated
        self.n = len(self.joint_names)
        lim = self.limits       # (lower, upper) for efforts [False] and positions [True]
        self._limit_arrays = tuple(tuple(np.ascontiguousarray(a, dtype=float) for a in pair)
                                   for pair in ((-lim.effort, lim.effort), (lim.lower, lim.upper)))
        self.client = pb.connect(pb.GUI if gui else pb.DIRECT)
        try:
            self._build(seed)
        except Exception:
            pb.disconnect(self.client)
            raise

    # -- construction ---------------------------------------------------------------------
    def _build(self, seed: int) -> None:
        c, p = self.client, self.params
        pb.resetSimulation(physicsClientId=c)
        pb.setGravity(0, 0, -GRAVITY, physicsClientId=c)
        pb.setPhysicsEngineParameter(fixedTimeStep=self.dt, numSolverIterations=p['solver_iterations'],
                                     deterministicOverlappingPairs=1, physicsClientId=c)
        self.layout = build_arena(c, p['arena'], p, p['lateral_friction'])
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        fixed = self.robot == 'human'   # the planar model hangs from a massless, fixed world link
        try:
            self.body = pb.loadURDF(str(self.description.path), p['base_start_position'],
                                    pb.getQuaternionFromEuler(p['base_start_rpy']), useFixedBase=fixed,
                                    flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
        except pb.error as error:
            raise ConfigError(f'{self.description.path}: PyBullet cannot load it ({error})') from None
        self._index_joints()
        if p['arena'] == 'amphibious':
            pass  # start positions are on land (z = 0), as on flat ground
        for link in range(-1, pb.getNumJoints(self.body, physicsClientId=c)):
            pb.changeDynamics(self.body, link, lateralFriction=p['lateral_friction'],
                              linearDamping=0.0, angularDamping=0.0, physicsClientId=c)
        if p['contact_stiffness'] > 0:      # compliant feet (e.g. GH2010's BW / 1 cm per point)
            for link in self.foot_index:
                pb.changeDynamics(self.body, int(link), contactStiffness=p['contact_stiffness'],
                                  contactDamping=p['contact_damping'], physicsClientId=c)
        # Disable the default velocity motors on every joint (torque control works only then).
        all_joints = list(range(pb.getNumJoints(self.body, physicsClientId=c)))
        pb.setJointMotorControlArray(self.body, all_joints, pb.VELOCITY_CONTROL,
                                     forces=[0.0] * len(all_joints), physicsClientId=c)
        self._mode = None
        self._last_targets = None
        self._last_list = None              # the last position targets sent, as a list
        self._last_command = None
        self._gains, self._servo_lists = None, None
        self._torque_set = False
        self.water = None
        if self.layout.water is not None:
            self.water = WaterForces(c, self.body, self.layout.water, p['water.drag_coefficients'],
                                     p['water.body_density_kg_m3'])
        self.reset(seed)

    def _index_joints(self) -> None:
        c = self.client
        by_name, link_by_name = {}, {}
        for j in range(pb.getNumJoints(self.body, physicsClientId=c)):
            info = pb.getJointInfo(self.body, j, physicsClientId=c)
            by_name[info[1].decode()] = j
            link_by_name[info[12].decode()] = j
        missing = [n for n in self.joint_names if n not in by_name]
        if missing:
            raise ConfigError(f'{self.description.path}: PyBullet did not load joints {missing}')
        self.joint_index = [by_name[n] for n in self.joint_names]
        feet = [f for f in self.params['foot_links'] if f]
        unknown = [f for f in feet if f not in link_by_name]
        if unknown:
            raise ConfigError(f'foot_links {unknown} are not links of {self.description.path.name}')
        self.foot_names = tuple(feet)
        self.foot_index = np.array([link_by_name[f] for f in feet], dtype=int)
        self._foot_slot = {int(link): k for k, link in enumerate(self.foot_index)}
        passive = [j for j in self.params['passive_joints'] if j]
        unknown = [j for j in passive if j not in by_name]
        if unknown:
            raise ConfigError(f'passive_joints {unknown} are not joints of {self.description.path.name}')
        self.passive_names = tuple(passive)
        self.passive_index = [by_name[j] for j in passive]
        planar = ('root_x', 'root_z', 'root_pitch')
        self._planar_root = (tuple(passive.index(j) for j in planar)
                             if all(j in passive for j in planar) else None)
        self._by_name, self._link_by_name = by_name, link_by_name

    # -- state ----------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        """Put the body back at its start state (same seed, same trajectory)."""
        c, p = self.client, self.params
        if seed is not None:
            self.seed, self.rng = seed, np.random.default_rng(seed)
        q0 = np.asarray(p['initial_joint_positions'], dtype=float)
        if q0.size == 1 and self.n != 1:
            q0 = np.full(self.n, q0[0])
        if q0.size != self.n:
            raise ConfigError(f'initial_joint_positions has {q0.size} values, the body has {self.n} '
                              f'actuated joints {list(self.joint_names)}')
        q0 = np.clip(q0, self.limits.lower, self.limits.upper)
        self.initial_positions = q0
        pb.resetBasePositionAndOrientation(self.body, p['base_start_position'],
                                           pb.getQuaternionFromEuler(p['base_start_rpy']), physicsClientId=c)
        pb.resetBaseVelocity(self.body, p['base_start_velocity'], [0, 0, 0], physicsClientId=c)
        for j, q in zip(self.joint_index, q0):
            pb.resetJointState(self.body, j, float(q), 0.0, physicsClientId=c)
        passive_q = [v for v in p['passive_initial_positions']]
        for k, j in enumerate(self.passive_index):
            value = passive_q[k] if k < len(passive_q) else 0.0
            velocity = p['base_start_velocity'][0] if self.passive_names[k] == 'root_x' else 0.0
            pb.resetJointState(self.body, j, float(value), velocity, physicsClientId=c)
        self.time = 0.0
        self.steps = 0
        self._applied_effort = np.zeros(self.n)
        self._prev_base_velocity = np.array(p['base_start_velocity'], dtype=float)
        self._prev_imu_time = 0.0
        self._imu_acc = np.array([0.0, 0.0, GRAVITY])
        self.hold(q0)
        self.start_position = self.base_position()
        return self.observe()

    def hold(self, positions) -> None:
        """Command a posture (position mode)."""
        self.apply(Command(POSITION, positions))

    def apply(self, command: Command) -> np.ndarray:
        """Send a command to the joints; returns what was applied (after clamping).

        Raises ValueError (and changes nothing) for a wrong length or non-finite values.
        """
        if command is self._last_command:
            return self._last_targets       # the very same (immutable) command: nothing to do
        values = np.asarray(command.values, dtype=float)
        if values.shape != (self.n,):
            raise ValueError(f'command size {values.size} does not match {self.n} joints')
        position = command.mode == POSITION
        # finiteness and the clamp to the URDF limits in one numba call (np.clip's values)
        lo, hi = self._limit_arrays[position]
        clipped = np.empty(self.n)
        bad = _checked_clip(values, lo, hi, clipped)
        if bad >= 0:
            raise ValueError(f'non-finite value at index {bad} ({self.joint_names[bad]})')
        values = clipped
        c = self.client
        if position:
            targets = values.tolist()
            p = self.params
            gains = (p['position_gain'], p['velocity_gain'])
            if (self._mode == POSITION and self._last_targets is not None
                    and targets == self._last_list and gains == self._gains):
                self._last_command = command
                return values   # PyBullet's position servo keeps its last target and gains
            if gains != self._gains:        # the servo's argument lists, rebuilt on a change
                self._gains = gains
                self._servo_lists = (self.limits.effort.tolist(), [gains[0]] * self.n,
                                     [gains[1]] * self.n)
            forces, kp, kd = self._servo_lists
            pb.setJointMotorControlArray(
                self.body, self.joint_index, pb.POSITION_CONTROL, targetPositions=targets,
                forces=forces, positionGains=kp, velocityGains=kd, physicsClientId=c)
            self._last_list = targets
        else:
            self._set_effort(values)
        if command.mode != POSITION:
            self._last_list = None
        self._mode, self._last_targets, self._last_command = command.mode, values, command
        return values

    def apply_effort(self, values: np.ndarray) -> np.ndarray:
        """Joint efforts (N·m, one per actuated joint, in joint order) without a Command: what
        ``apply`` does for an effort command (the same checks and clamp; ValueError and nothing
        changed for a wrong length or a non-finite value), for a joint servo called every
        physics step. Returns what was applied."""
        if values.__class__ is not np.ndarray or values.dtype is not _FLOAT64:
            values = np.asarray(values, dtype=float)
        if values.shape != (self.n,):
            raise ValueError(f'effort size {values.size} does not match {self.n} joints')
        lo, hi = self._limit_arrays[False]
        clipped = np.empty(self.n)
        bad = _checked_clip(values, lo, hi, clipped)
        if bad >= 0:
            raise ValueError(f'non-finite value at index {bad} ({self.joint_names[bad]})')
        self._set_effort(clipped)
        self._mode, self._last_targets, self._last_command = EFFORT, clipped, None
        self._last_list = None
        return clipped

    def _set_effort(self, values: np.ndarray) -> None:
        """Send checked, clamped efforts for the next physics step."""
        c = self.client
        if self._mode != EFFORT:   # switch the servo off, or it keeps fighting the torque
            pb.setJointMotorControlArray(self.body, self.joint_index, pb.VELOCITY_CONTROL,
                                         forces=[0.0] * self.n, physicsClientId=c)
        if not self._torque_set:
            pb.setJointMotorControlArray(self.body, self.joint_index, pb.TORQUE_CONTROL,
                                         forces=values.tolist(), physicsClientId=c)
        else:   # already set for this step: replace, don't add
            delta = values - self._applied_effort
            pb.setJointMotorControlArray(self.body, self.joint_index, pb.TORQUE_CONTROL,
                                         forces=delta.tolist(), physicsClientId=c)
        self._torque_set = True
        self._applied_effort = values

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps (torques and water forces are re-applied every step)."""
        c = self.client
        if n == 1 and self.water is None and (self._torque_set or self._mode != EFFORT):
            pb.stepSimulation(physicsClientId=c)    # the common case, nothing to re-apply
        else:
            effort = self._mode == EFFORT
            water = self.water.apply if self.water is not None else None
            step_simulation = pb.stepSimulation
            for _ in range(n):
                if effort and not self._torque_set:
                    # PyBullet adds joint torques and clears them after each step: set them
                    # once per step.
                    pb.setJointMotorControlArray(self.body, self.joint_index, pb.TORQUE_CONTROL,
                                                 forces=self._applied_effort.tolist(),
                                                 physicsClientId=c)
                if water is not None:
                    water()
                step_simulation(physicsClientId=c)
                self._torque_set = False
        self._torque_set = False
        self.steps += n
        self.time = self.steps * self.dt

    # -- sensing --------------------------------------------------------------------------
    def base_position(self) -> np.ndarray:
        """Position of the body's root (the human's hip, since its URDF base is the fixed world)."""
        return self.base_pose()[0]

    def base_pose(self):
        """Root position (m) and orientation quaternion (x, y, z, w) in the world."""
        if self._planar_root is not None:
            states = pb.getJointStates(self.body, self.passive_index, physicsClientId=self.client)
            ix, iz, ip = self._planar_root
            half = 0.5 * states[ip][0]
            return (np.array([states[ix][0], 0.0, states[iz][0]]),
                    np.array([0.0, math.sin(half), 0.0, math.cos(half)]))
        pos, orn = pb.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        return np.array(pos), np.array(orn)

    def observe(self, contacts: bool = True, imu: bool = True, joints: bool = True,
                base: bool = True) -> Observation:
        """Read the sensors; each channel costs PyBullet calls, so a caller asks only for what it
        uses. Channels not asked for are None (joints: position/velocity/effort; base: the four
        base fields). The IMU needs the base."""
        c = self.client
        obs = Observation(self.time, self.joint_names, None, None, None, None, None, None, None,
                          self.foot_names, _NO_FORCES, _ZERO3, _ZERO3, {})
        if joints:
            position, velocity, _, effort = zip(*pb.getJointStates(self.body, self.joint_index,
                                                                   physicsClientId=c))
            n = self.n      # one flat array from one tuple (~1.2 us less than a 3 x n one)
            if self._mode == EFFORT:
                values = np.array(position + velocity)
                obs.effort = self._applied_effort
            else:
                values = np.array(position + velocity + effort)
                obs.effort = values[2 * n:]
            obs.position, obs.velocity = values[:n], values[n:2 * n]
        passive = None
        if self.passive_index and (joints or base or imu):
            passive = np.array([s[:2] for s in pb.getJointStates(self.body, self.passive_index,
                                                                 physicsClientId=c)]).T
            obs.extra['passive_names'] = self.passive_names
            obs.extra['passive_position'] = passive[0]
            obs.extra['passive_velocity'] = passive[1]
        if base or imu:
            if self._planar_root is not None:
                # Planar root (prismatic x, prismatic z, pitch): the root pose is the joint state.
                ix, iz, ip = self._planar_root
                half = 0.5 * passive[0, ip]
                root = np.array([passive[0, ix], 0.0, passive[0, iz], 0.0, math.sin(half), 0.0,
                                 math.cos(half), passive[1, ix], 0.0, passive[1, iz], 0.0, passive[1, ip], 0.0])
            else:
                pose = pb.getBasePositionAndOrientation(self.body, physicsClientId=c)
                twist = pb.getBaseVelocity(self.body, physicsClientId=c)
                root = np.array(pose[0] + pose[1] + twist[0] + twist[1])
            obs.base_position, obs.base_orientation = root[0:3], root[3:7]
            obs.base_linear_velocity, obs.base_angular_velocity = root[7:10], root[10:13]
        if contacts:
            obs.foot_forces = self.foot_forces()
        if imu:
            orn, lin, ang = obs.base_orientation, obs.base_linear_velocity, obs.base_angular_velocity
            rot = np.array(pb.getMatrixFromQuaternion(orn)).reshape(3, 3)
            obs.imu_angular_velocity = rot.T @ ang
            elapsed = self.time - self._prev_imu_time
            accel = (lin - self._prev_base_velocity) / elapsed if elapsed > 0 else np.zeros(3)
            obs.imu_linear_acceleration = rot.T @ (accel + np.array([0.0, 0.0, GRAVITY]))
            self._prev_base_velocity, self._prev_imu_time = lin, self.time
        return obs

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Actuated joint positions (rad) and velocities (rad/s), from one getJointStates: the
        only reading a joint servo needs (``observe`` builds a whole Observation)."""
        position, velocity, _, _ = zip(*pb.getJointStates(self.body, self.joint_index,
                                                          physicsClientId=self.client))
        values = np.array(position + velocity)
        n = self.n
        return values[:n], values[n:]

    def foot_forces(self) -> np.ndarray:
        """Total normal contact force on each foot link (N), from one PyBullet query."""
        forces = [0.0] * len(self.foot_names)
        slot, body = self._foot_slot, self.body
        for point in pb.getContactPoints(bodyA=body, physicsClientId=self.client):
            k = slot.get(point[3])
            if k is not None and point[2] != body:
                forces[k] += point[9]
        return np.array(forces)

    def ground_height(self, x: float) -> float:
        return self.layout.ground_height(x)

    def has_fallen(self, position=None, orientation=None) -> bool:
        """True when the base is below the fall height above the ground or tilted too far."""
        if position is None:
            position, orientation = self.base_pose()
        height = position[2] - self.layout.ground_height(position[0])
        if height < self.params['fall_height_m']:
            return True
        roll, pitch, _ = pb.getEulerFromQuaternion(orientation)
        if self.robot == 'human':
            tilt = abs(pitch)
        else:
            tilt = math.acos(max(-1.0, min(1.0, math.cos(roll) * math.cos(pitch))))
        return tilt > self.params['fall_tilt_rad']

    def total_mass(self) -> float:
        c = self.client
        return sum(pb.getDynamicsInfo(self.body, link, physicsClientId=c)[0]
                   for link in range(-1, pb.getNumJoints(self.body, physicsClientId=c)))

    def close(self) -> None:
        if self.client is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
