"""``reflex``: the planar GH2010 human walking on Hill muscles and Geyer & Herr 2010 reflexes.

Every control step (1 ms, lock-step with the physics):

1. joint positions and velocities (URDF angles) -> GH2010 inner angles (:class:`JointMap`);
2. trunk pitch and its rate from the root orientation; leg load = (heel + ball normal force) / m g;
3. :class:`~reflex_modules.geyer2010.Gh2010Reflexes` -> 18 stimulations ->
   :class:`~reflex_modules.muscle.MuscleSet` -> joint torques (positive = increases the inner angle);
4. plus the GH2010 soft joint limits (:func:`soft_limit_torque`);
5. -> URDF torque signs, clipped to the URDF effort limits -> ``Command('effort', ...)``.

The controller reads only joints, base and contacts; it never touches the simulator, so the same
object drives a real planar rig. It starts the body in GH2010's initial condition through
``initial_state()`` (left leg in stance, foot flat, right leg in swing, vx0 = 1.3 m/s).

Parameters: section ``reflex_node`` of the robot's ROS parameter file (``GH2010_PARAMS`` for the
muscles and reflexes, plus ``WALKER_PARAMS`` below); a ``params`` file (``neuroloco run --params``)
overrides them (its ``reflex_node`` section, or ``/**``). See docs/walking.md.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np
from numba import njit

from neuro_locomotion.controllers import BodyInfo
from neuro_locomotion.params import ConfigError, ParamSet, ParamSpec, read_ros_params
from neuro_locomotion.types import EFFORT, Command, Observation

from .geyer2010 import (_CH_ANKLE_RATE, _CH_F, _CH_KNEE, _CH_KNEE_RATE, _CH_L, _CH_LOAD,
                        _CH_PITCH, _CH_PITCH_RATE)
from .geyer2010 import (_CFG_FIELDS, Gh2010Reflexes, ReflexSensors, _laws, _leg_angles, _phase,
                        _select_leg, _sg2015_knee, _since_touchdown, _supraspinal, _SS_ON,
                        knee_pathways_active)
from .metabolics import KIND as METABOLIC_KIND
from .metabolics import METABOLIC_PARAMS, _wang2012, muscle_masses
from .muscle import _O_FORCE, _O_FSE, _O_VCE, _P_LOPT, _S_A, _S_LCE, _step_kernel
from .parameters import (GH2010_MUSCLES, GH2010_PARAMS, JOINTS, KNEE_PATHWAY_FIELDS,
                         KNEE_PATHWAY_GAINS, LEGS, MUSCLES, REFLEX_PARAMS, SUPRASPINAL_PARAMS,
                         build_muscle_set, build_reflex_config)

GRAVITY = 9.81
DEG = math.pi / 180.0
NODE = 'reflex_node'

#: URDF joint-name prefix of each leg (LEGS order) and the inner-angle map of each joint:
#: phi = offset + sign * q; the same sign maps rates and torques (docs/bodies.md).
LEG_PREFIX = {'left': 'l_', 'right': 'r_'}
INNER_MAP = {'hip': (math.pi, +1.0), 'knee': (math.pi, -1.0), 'ankle': (math.pi / 2.0, +1.0)}

WALKER_PARAMS = [
    ParamSpec('walker.body_mass', 80.0, 'body mass; one body weight (BW) of leg load is m g', 'kg',
              min=1.0, max=1000.0),
    ParamSpec('walker.thigh_length', 0.5, 'hip to knee (sets the start height of the hip)', 'm',
              min=0.05, max=2.0),
    ParamSpec('walker.shank_length', 0.5, 'knee to ankle (sets the start height of the hip)', 'm',
              min=0.05, max=2.0),
    ParamSpec('limits.stiffness', 0.3 / DEG, 'GH2010 soft joint-limit stiffness c (0.3 N m/deg)',
              'N m/rad', min=0.0, max=10000.0),
    ParamSpec('limits.relax_speed', 1.0 * DEG, 'GH2010 soft-limit maximum relaxation speed: '
              'tau = c d (1 + dd/w), d = depth beyond the limit (1 deg/s)', 'rad/s',
              min=1e-4, max=100.0),
    ParamSpec('limits.damping_max', [200.0, 100.0, 3.0], 'cap on the soft-limit damping c d / w '
              'per joint (hip, knee, ankle) of a leg in swing: about I/dt of the distal segment, '
              'so the explicit 1 ms torque cannot reverse the motion within one step',
              'N m s/rad', min=0.0, max=1e5, length=3),
    ParamSpec('limits.damping_max_stance', [200.0, 200.0, 300.0], 'the same cap for a leg in '
              'stance (foot loaded: the body moves about the ankle, a far larger inertia)',
              'N m s/rad', min=0.0, max=1e5, length=3),
    ParamSpec('limits.hip_max', 230.0 * DEG, 'hip inner angle where the soft limit engages '
              '(hyper-extension)', 'rad', min=0.0, max=2 * math.pi),
    ParamSpec('limits.knee_max', 175.0 * DEG, 'knee inner angle where the soft limit engages '
              '(hyper-extension)', 'rad', min=0.0, max=2 * math.pi),
    ParamSpec('limits.ankle_min', 70.0 * DEG, 'ankle inner angle of the dorsiflexion soft limit',
              'rad', min=0.0, max=2 * math.pi),
    ParamSpec('limits.ankle_max', 130.0 * DEG, 'ankle inner angle of the plantarflexion soft limit',
              'rad', min=0.0, max=2 * math.pi),
    ParamSpec('initial.stance_leg', 'left', 'leg in stance at the start', choices=LEGS),
    ParamSpec('initial.stance_angles', [175.0 * DEG, 175.0 * DEG, 85.0 * DEG], 'GH2010 inner '
              'angles hip, knee, ankle of the stance leg at the start (175, 175, 85 deg)', 'rad',
              min=0.0, max=2 * math.pi, length=3),
    ParamSpec('initial.swing_angles', [140.0 * DEG, 175.0 * DEG, 90.0 * DEG], 'GH2010 inner '
              'angles hip, knee, ankle of the swing leg at the start (140, 175, 90 deg)', 'rad',
              min=0.0, max=2 * math.pi, length=3),
    ParamSpec('initial.speed', 1.3, 'forward speed vx0 of the whole body at the start', 'm/s',
              min=-5.0, max=5.0),
    ParamSpec('initial.foot_height', 0.02, 'height of the stance foot line (heel and ball '
              'centres) above the ground at the start: the contact-sphere radius, less the '
              'static penetration of a soft contact', 'm', min=-0.1, max=0.3),
    ParamSpec('initial.activation', [0.01], 'muscle activation at the start, one value for every '
              'muscle or 18 (MUSCLE_NAMES order: left HFL GLU HAM VAS GAS SOL TA RF BFSH, then '
              'right); '
              'every CE starts at its isometric equilibrium for the start angles', '1',
              min=0.01, max=1.0),
    ParamSpec('initial.stance_angle_offset', [0.0, 0.0, 0.0], 'added to initial.stance_angles '
              '(hip, knee, ankle): the start posture as optimizer variables with a zero default',
              'rad', min=-0.5, max=0.5, length=3),
    ParamSpec('initial.swing_angle_offset', [0.0, 0.0, 0.0], 'added to initial.swing_angles '
              '(hip, knee, ankle)', 'rad', min=-0.5, max=0.5, length=3),
    ParamSpec('initial.stance_preactivation', [0.0] * 7, 'added to initial.activation for the '
              "stance leg's GH2010 muscles (HFL GLU HAM VAS GAS SOL TA), the sum clipped to "
              '[0.01, 1]: a pre-loaded stance leg at the start', '1', min=0.0, max=1.0, length=7),
    ParamSpec('initial.swing_preactivation', [0.0] * 7, 'added to initial.activation for the '
              "swing leg's GH2010 muscles (HFL GLU HAM VAS GAS SOL TA), the sum clipped to "
              '[0.01, 1]', '1',
              min=0.0, max=1.0, length=7),
    ParamSpec('metrics.fall_hip_height', 0.7, 'the walker has fallen when its hip is lower '
              'than this above the ground', 'm', min=0.0, max=2.0),
    ParamSpec('metrics.fall_pitch', 1.0, 'the walker has fallen when the trunk leans more than '
              'this from vertical', 'rad', min=0.0, max=math.pi),
    ParamSpec('metrics.min_swing', 0.05, 'a lift-off shorter than this (a bounce, contact chatter) '
              'does not end a stance for the step metrics (the reflexes see every lift-off)', 's',
              min=0.0, max=1.0),
    ParamSpec('metrics.trace_period', 0.005, 'sampling period of the controller trace (plots, '
              'gait-cycle averages)', 's', min=0.001, max=1.0),
    ParamSpec('metrics.support_window_before', 0.15, 'the support metrics around each touchdown '
              '(support_deficit_bw, support_min_bw, touchdown_hip_fall_mps) start this long before '
              'it (the trailing leg unloads from 150 ms before touchdown: docs/walking.md)', 's',
              min=0.0, max=0.5),
    ParamSpec('metrics.support_window_after', 0.04, 'the support metrics around each touchdown '
              'end this long after it (the leading leg carries < 0.4 BW for 40 ms)', 's',
              min=0.0, max=0.3),
]

WALKER_PARAMS += METABOLIC_PARAMS

#: The reflex values a start-up gait may set (every numeric reflex gain, offset and window the
#: laws read, and the stance threshold; not the delays or the on/off switches).
STARTUP_FIELDS = ('stance_load_threshold',) + tuple(
    name for name in _CFG_FIELDS
    if name not in ('vas_inhibit_only_extending', 'length_positive_part'))


#: The supraspinal numbers a start-up gait may set (``startup.supraspinal.<name>``): a swing-stop
#: or foot-placement gain the walking gait needs may topple GH2010's first steps.
STARTUP_SUPRASPINAL_FIELDS = ('alpha0', 'c_d', 'c_v', 'hfl_g', 'hfl_d', 'glu_g', 'glu_d', 'ham_g',
                              'delta_alpha')


def _startup_specs() -> list[ParamSpec]:
    """``startup.duration``, ``startup.blend``, ``startup.reflex.<name>`` for every
    STARTUP_FIELDS name and ``startup.supraspinal.<name>`` for every STARTUP_SUPRASPINAL_FIELDS
    name, with the range, unit and default of ``reflex.<name>`` / ``supraspinal.<name>``."""
    specs = [
        ParamSpec('startup.duration', 0.0, 'the reflex laws use the start-up values '
                  'startup.reflex.* for this long from the start (0 = off: reflex.* throughout). '
                  'A gait that walks once under way may not survive GH2010\'s first steps; a '
                  'start-up gait carries it there (docs/walking.md, "A start-up gait")', 's',
                  min=0.0, max=60.0),
        ParamSpec('startup.blend', 1.0, 'after startup.duration every start-up value moves '
                  'linearly to its reflex.* value over this long', 's', min=0.0, max=30.0),
    ]
    by_name = {spec.name: spec for spec in REFLEX_PARAMS}
    for name in STARTUP_FIELDS:
        spec = by_name[f'reflex.{name}']
        specs.append(ParamSpec(f'startup.reflex.{name}', spec.default,
                               f'start-up value of reflex.{name} (used while startup.duration '
                               'lasts, then blended into it)', spec.unit, min=spec.min,
                               max=spec.max))
    by_name = {spec.name: spec for spec in SUPRASPINAL_PARAMS}
    for name in STARTUP_SUPRASPINAL_FIELDS:
        spec = by_name[f'supraspinal.{name}']
        specs.append(ParamSpec(f'startup.supraspinal.{name}', spec.default,
                               f'start-up value of supraspinal.{name} (used while '
                               'startup.duration lasts, then blended into it)', spec.unit,
                               min=spec.min, max=spec.max))
    return specs


STARTUP_PARAMS: list[ParamSpec] = _startup_specs()
WALKER_PARAMS += STARTUP_PARAMS

REFLEX_NODE_PARAMS: list[ParamSpec] = GH2010_PARAMS + WALKER_PARAMS

# -- what `neuroloco optimize human --controller reflex` tunes (docs/optimize.md, docs/walking.md) --
#: Search bounds per tuned number (the ParamSpecs' own [min, max] are the physical limits; these
#: are the sensible ones). ``--space range`` searches [lo, hi]; ``--space relative`` searches
#: default +- span |default| cut to [lo, hi]; a zero default (the start-state offsets and
#: pre-activations) searches [lo, hi] in both spaces.
_SEARCH = {
    'reflex.stance_load_threshold': (0.03, 0.3),
    'reflex.sol_g_f': (0.3, 3.0),
    'reflex.gas_g_f': (0.3, 3.0),
    'reflex.ta_g_l': (0.2, 3.0),
    'reflex.ta_l_off': (0.5, 0.95),
    'reflex.sol_ta_g_f': (0.0, 1.0),
    'reflex.vas_g_f': (0.3, 2.5),
    'reflex.vas_s0': (0.0, 0.3),
    'reflex.vas_k_phi': (0.0, 6.0),
    'reflex.vas_phi_off': (150.0 * DEG, 180.0 * DEG),
    'reflex.trunk_k_p': (0.5, 5.0),
    'reflex.trunk_k_d': (0.0, 1.0),
    'reflex.trunk_theta_ref': (-0.05, 0.3),
    'reflex.trunk_s0': (0.0, 0.3),
    'reflex.swing_prep_delta_s': (0.0, 0.6),
    'reflex.hfl_g_l': (0.05, 3.0),
    'reflex.hfl_l_off': (0.0, 0.9),      # 0.3 until 2026-12-07: a start-up search sat on it
    'reflex.ham_hfl_g_l': (0.0, 10.0),
    'reflex.ham_l_off': (0.4, 1.1),
    'reflex.hfl_k_lean': (0.0, 4.0),
    'reflex.ham_g_f': (0.1, 2.0),
    'reflex.glu_g_f': (0.05, 2.0),
    # loading-response / push-off pathways (issue 6; default 0 = off: searched over these bounds)
    'reflex.vas_k_bw': (0.0, 3.0),
    'reflex.vas_k_flex_rate': (0.0, 0.5),
    'reflex.vas_k_ext_rate': (0.0, 0.5),
    'reflex.ta_k_plantar_rate': (0.0, 0.5),
    'reflex.ta_rate_window': (0.02, 0.3),
    'reflex.trunk_load_mix': (0.0, 1.0),
    'reflex.gas_onset': (0.0, 0.5),
    'reflex.push_off_k_bw': (0.0, 2.0),
    # late single-support knee guard (2026-12-07; default 0 = off)
    'reflex.vas_k_knee_guard': (0.0, 5.0),
    'reflex.knee_guard_angle': (150.0 * DEG, 180.0 * DEG),
    'reflex.knee_guard_onset': (0.0, 0.5),
    # early-stance load limiter on VAS (2026-12-07, helper V; default 0 = off)
    'reflex.vas_k_load_limit': (0.0, 5.0),
    'reflex.load_limit_bw': (0.8, 2.5),
    'reflex.load_limit_window': (0.0, 0.6),
    'initial.speed': (0.5, 1.8),
    'initial.foot_height': (0.014, 0.024),
    'initial.stance_angle_offset': (-0.26, 0.26),      # +-15 deg
    'initial.swing_angle_offset': (-0.26, 0.26),
    'initial.stance_preactivation': (0.0, 0.9),
    'initial.swing_preactivation': (0.0, 0.9),
}
#: Array elements tuned (the others keep their value): all three start angles of each leg, all
#: seven stance-leg pre-activations, and HFL, HAM, TA of the swing leg (the other swing muscles
#: sit at S0 in swing and their start activation decays within ~30 ms).
_ELEMENTS = {'initial.swing_preactivation': (0, 2, 6)}


def _narrowed(spec: ParamSpec) -> ParamSpec:
    import dataclasses
    lo, hi = _SEARCH[spec.name]
    return dataclasses.replace(spec, min=lo, max=hi)


#: The node's parameters, with the search bounds above as [min, max] of the tuned ones (the
#: optimizer looks the TUNABLE names up here; the walker itself checks against REFLEX_NODE_PARAMS).
PARAM_SPECS: list[ParamSpec] = [_narrowed(s) if s.name in _SEARCH else s
                                for s in REFLEX_NODE_PARAMS]
#: 22 reflex gains/offsets/threshold + 8 loading-response pathways + 3 knee-guard numbers
#: + 3 load-limiter numbers + vx0, foot height, 6 start angles, 7 + 3 pre-activations (54).
TUNABLE: list[str] = [item for name in _SEARCH for item in
                      ([f'{name}[{i}]' for i in _ELEMENTS[name]] if name in _ELEMENTS
                       else [name])]
#: Tuned only when ``--tune`` names them, never by default (all are off by default): the
#: start-up schedule and gains (``startup.*``), the SG2015 supraspinal layer's numbers
#: (``supraspinal.*``) and SG2015's knee-muscle and contralateral pathways (``reflex.<name>``,
#: KNEE_PATHWAY_FIELDS; RF and BFSH need ``muscle.rf_bfsh``), searched within their ParamSpecs'
#: physical [min, max] (``--space relative``, the default +- span, is the sensible search).
TUNABLE_ON_REQUEST: list[str] = [spec.name for spec in STARTUP_PARAMS + SUPRASPINAL_PARAMS
                                 if spec.kind is not bool] + [
    f'reflex.{name}' for name in KNEE_PATHWAY_FIELDS]
OBJECTIVE = 'gait'

#: supraspinal numbers the SG2015 knee pathways read too (the leg-angle target of the swing phases)
_TARGET_NAMES = ('supraspinal.alpha0', 'supraspinal.c_d', 'supraspinal.c_v',
                 'supraspinal.delta_alpha')
#: knee-pathway numbers that act only on RF and BFSH (and the early/mid-swing latch they use)
_RF_BFSH_NAMES = tuple(f'reflex.{name}' for name in KNEE_PATHWAY_FIELDS
                       if name.startswith(('rf_', 'bfsh_')) or name == 'knee_sw_tgt')
_KNEE_GAINS = tuple(f'reflex.{name}' for name in KNEE_PATHWAY_GAINS)


def inactive_tunables(values: Mapping, tuned: set) -> dict:
    """The optimizer's check (``optimize.tunables``): of the ``tuned`` names, those that cannot
    change a run with the start ``values`` (every node parameter), each with the reason. A search
    over them would only burn CPU: the start-up numbers with ``startup.duration`` 0 (and not
    tuned), the supraspinal layer's with ``supraspinal.enabled`` false (its target also counts
    when an SG2015 knee pathway is on or tuned), the RF/BFSH pathways without
    ``muscle.rf_bfsh``."""
    knee_on = any(values.get(name) or name in tuned for name in _KNEE_GAINS)
    idle = {}
    for name in tuned:
        base = name.removeprefix('startup.')       # a start-up value idles as its walking one
        if (name.startswith('startup.') and name != 'startup.duration'
                and values['startup.duration'] <= 0.0 and 'startup.duration' not in tuned):
            idle[name] = 'startup.duration is 0: no start-up gait'
        elif (base.startswith('supraspinal.') and not values['supraspinal.enabled']
              and not (base in _TARGET_NAMES and knee_on)):
            idle[name] = 'supraspinal.enabled is false'
        elif name in _RF_BFSH_NAMES and not values['muscle.rf_bfsh']:
            idle[name] = 'muscle.rf_bfsh is false: no RF and BFSH'
    return idle


def walker_params(config: str | Path | None = None, params: str | Path | None = None,
                  overrides: dict | None = None) -> ParamSet:
    """The validated ``reflex_node`` parameters: defaults < ``config`` < ``params`` < overrides.

    ``config`` and ``params`` are ROS parameter files; each may have a ``reflex_node`` (or ``/**``)
    section; a file without one changes nothing.
    """
    values = ParamSet(REFLEX_NODE_PARAMS, where=NODE)
    for path in (config, params):
        if path is None:
            continue
        nodes = read_ros_params(path)
        merged = dict(nodes.get('**', {}))
        merged.update(nodes.get(NODE, {}))
        merged.pop('use_sim_time', None)
        values.where = f'{path} [{NODE}]'
        values.apply(merged)
    if overrides:
        values.where = f'overrides [{NODE}]'
        values.apply(overrides)
    values.where = NODE
    return values


# -- URDF <-> GH2010 inner angles ----------------------------------------------------------------
class JointMap:
    """URDF actuated joints <-> GH2010 inner angles in ``JOINT_NAMES`` order (leg-major).

    phi = offset + sign q (hip: pi + q, knee: pi - q, ankle: pi/2 + q); rates and torques carry
    the same sign (a torque that increases phi is +tau on hip and ankle, -tau on the knee).
    """

    def __init__(self, joint_names):
        names = tuple(joint_names)
        index, offset, sign = [], [], []
        for leg in LEGS:
            for joint in JOINTS:
                urdf = LEG_PREFIX[leg] + joint
                if urdf not in names:
                    raise ConfigError(f'the reflex walker needs joint {urdf!r}; the body has {names}')
                index.append(names.index(urdf))
                off, sgn = INNER_MAP[joint]
                offset.append(off)
                sign.append(sgn)
        self.joint_names = names
        self.index = np.array(index)                # inner slot k <- URDF joint index[k]
        self.offset = np.array(offset)
        self.sign = np.array(sign)
        self.n_urdf = len(names)

    def phi(self, q) -> np.ndarray:
        """URDF positions (body order) -> inner angles (JOINT_NAMES order)."""
        return self.offset + self.sign * np.asarray(q, dtype=float)[self.index]

    def rate(self, qd) -> np.ndarray:
        return self.sign * np.asarray(qd, dtype=float)[self.index]

    def q(self, phi) -> np.ndarray:
        """Inner angles -> URDF positions (body order; joints not mapped stay 0)."""
        out = np.zeros(self.n_urdf)
        out[self.index] = self.sign * (np.asarray(phi, dtype=float) - self.offset)
        return out

    def torque(self, tau_inner) -> np.ndarray:
        """Inner-angle torques (positive increases phi) -> URDF joint torques (body order)."""
        out = np.zeros(self.n_urdf)
        out[self.index] = self.sign * np.asarray(tau_inner, dtype=float)
        return out


def trunk_pitch(orientation) -> float:
    """Forward lean of the trunk (rotation about +y) from a quaternion (x, y, z, w), in (-pi, pi]."""
    x, y, z, w = (float(v) for v in orientation)
    return math.atan2(2.0 * (w * y - z * x), 1.0 - 2.0 * (x * x + y * y))


def soft_limit_torque(phi, phi_rate, lower, upper, stiffness, relax_speed, damping_max):
    """GH2010 soft joint limits (torque that increases the inner angle is positive).

    Beyond a limit by d > 0 (rate dd > 0 going further): tau = c d (1 + dd / w), pushing back and
    never pulling (clipped at 0): relaxing at w it exerts nothing. The damping c d / w is capped
    per joint at ``damping_max`` (numerical stability of the explicit 1 ms torque).
    lower/upper: per joint (-inf/+inf: no limit on that side).
    """
    phi = np.asarray(phi, dtype=float)
    over = phi - upper
    under = lower - phi
    tau = np.zeros_like(phi)
    if not ((over > 0.0).any() or (under > 0.0).any()):
        return tau
    rate = np.asarray(phi_rate, dtype=float)
    for depth, direction in ((over, 1.0), (under, -1.0)):
        d = np.maximum(depth, 0.0)
        damping = np.minimum(stiffness * d / relax_speed, damping_max)
        push = stiffness * d + damping * (direction * rate)      # >= 0 pushes back
        tau -= direction * np.maximum(push, 0.0)
    return tau


def standing_hip_height(angles, thigh, shank) -> tuple[float, float]:
    """(hip height above the foot line, trunk pitch) for a stance leg with inner angles
    (hip, knee, ankle) and the foot flat: segment pitches from the foot up."""
    hip, knee, ankle = angles
    q_hip, q_knee, q_ankle = hip - math.pi, math.pi - knee, ankle - math.pi / 2.0
    pitch = -(q_hip + q_knee + q_ankle)            # foot flat: pitch + q_hip + q_knee + q_ankle = 0
    thigh_pitch = pitch + q_hip
    shank_pitch = thigh_pitch + q_knee
    return thigh * math.cos(thigh_pitch) + shank * math.cos(shank_pitch), pitch


# -- the fused per-step kernel ---------------------------------------------------------------------
@njit(cache=True)
def _np_sum(a, n):
    """``np.sum(a[:n])`` bit for bit: numpy's pairwise summation (8 partial sums from n = 8 on;
    exact for n <= 128, which is all the walker needs)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


@njit(cache=True)
def _sum_positive(x, scratch):
    """``np.sum(x[x > 0.0])`` bit for bit."""
    n = 0
    for v in x:
        if v > 0.0:
            scratch[n] = v
            n += 1
    return _np_sum(scratch, n)


@njit(cache=True)
def _walker_kernel(q, qd, forces, quat, pitch_rate, speed, dt, weight,
                   index, offset, sign, foot_of,
                   cfg, threshold, lean_at_takeoff, step_count, buffer, read, head, channels,
                   delayed, stance, touchdown, lean, prep, stim,
                   prm, geo, cst, mstate, mout, mtorque,
                   lower, upper, stiffness, relax_speed, cap_swing, cap_stance, effort,
                   phi, rate, load, tau, info, scratch, ang, mmass, slow, since, flexed):
    """One walker step (``ReflexWalker.step`` without the metrics), the same arithmetic as the
    numpy/Python code it replaces, bit for bit. Returns 0, or 1 when a sensor value is not finite
    (nothing changed: the caller re-runs the checked Python path, which names the field), or 2
    when the muscles refused their input. info <- pitch, saturated (0/1), max |tau|, positive
    joint power sum (W), positive CE power sum (W), Wang 2012 metabolic rate of the muscles (W)."""
    n_legs, n_m = stance.shape[0], stim.shape[0] // stance.shape[0]
    nj = index.shape[0]
    # 1. inner angles and rates (JointMap.phi / rate)
    for k in range(nj):
        phi[k] = offset[k] + sign[k] * q[index[k]]
        rate[k] = sign[k] * qd[index[k]]
    # 2. leg loads (BW), trunk pitch
    for leg in range(n_legs):
        if forces.shape[0] == 0:
            load[leg] = 0.0
            continue
        n = 0
        for f in range(forces.shape[0]):
            if foot_of[f] == leg:
                scratch[n] = forces[f]
                n += 1
        load[leg] = _np_sum(scratch, n) / weight
    x, y, z, w = quat[0], quat[1], quat[2], quat[3]
    pitch = math.atan2(2.0 * (w * y - z * x), 1.0 - 2.0 * (x * x + y * y))
    # 3. the reflex sensors (Gh2010Reflexes._read): F/F_max and l_ce/l_opt of the last step
    width = channels.shape[1]
    for leg in range(n_legs):
        for m in range(n_m):
            i = leg * n_m + m
            channels[leg, _CH_F + m] = mout[_O_FSE, i]
            channels[leg, _CH_L + m] = mstate[_S_LCE, i] / prm[i, _P_LOPT]
        channels[leg, _CH_KNEE] = phi[3 * leg + 1]
        channels[leg, _CH_KNEE_RATE] = rate[3 * leg + 1]
        channels[leg, _CH_PITCH] = pitch
        channels[leg, _CH_PITCH_RATE] = pitch_rate
        channels[leg, _CH_LOAD] = load[leg]
        channels[leg, _CH_ANKLE_RATE] = rate[3 * leg + 2]
    for leg in range(n_legs):
        if not math.isfinite(load[leg]):
            return 1
        for c in range(width):
            if not math.isfinite(channels[leg, c]):
                return 1
    supra = cfg[_SS_ON] != 0.0
    knee = knee_pathways_active(cfg)
    if supra or knee:           # leg angles and foot-placement target (before the new phase)
        if not math.isfinite(speed):
            return 1
        _leg_angles(cfg, phi, rate, pitch, pitch_rate, speed, stance, ang)
    # 4. delay lines (DelayLine.step), phase and laws (Gh2010Reflexes.step)
    flat = buffer.reshape(-1)
    total = n_legs * width
    for c in range(total):
        buffer[head, c] = channels[c // width, c % width]
    for c in range(total):
        delayed[c // width, c % width] = flat[read[head, c]]
    _phase(load, threshold, step_count, lean_at_takeoff, delayed, stance, touchdown, lean, prep)
    if supra:
        _select_leg(cfg, ang, stance, prep)
    out = stim.reshape(n_legs, n_m)
    _since_touchdown(stance, touchdown, step_count, dt, since)
    _laws(cfg, stance, prep, delayed, lean, since, out)
    if supra:
        _supraspinal(cfg, ang, stance, prep, load, out)
    if knee:
        _sg2015_knee(cfg, stance, prep, delayed, ang, flexed, out)
    # 5. muscles (MuscleSet.step)
    if not _step_kernel(stim, phi, dt, prm, geo, cst, mstate, mout, mtorque):
        return 2
    # 6. soft joint limits (soft_limit_torque), the damping cap by the new stance
    exceeded = False
    for k in range(nj):
        if phi[k] - upper[k] > 0.0 or lower[k] - phi[k] > 0.0:
            exceeded = True
    for k in range(nj):
        limit = 0.0
        if exceeded:
            leg = k // 3
            cap = cap_stance[k % 3] if stance[leg] else cap_swing[k % 3]
            d = max(phi[k] - upper[k], 0.0)
            damping = min(stiffness * d / relax_speed, cap)
            push = stiffness * d + damping * (1.0 * rate[k])
            limit -= 1.0 * max(push, 0.0)
            d = max(lower[k] - phi[k], 0.0)
            damping = min(stiffness * d / relax_speed, cap)
            push = stiffness * d + damping * (-1.0 * rate[k])
            limit -= -1.0 * max(push, 0.0)
        phi_tau = mtorque[k] + limit
        # 7. URDF torques (JointMap.torque), clipped to the effort limits
        tau[index[k]] = sign[k] * phi_tau
    saturated = False
    for j in range(tau.shape[0]):
        if abs(tau[j]) > effort[j]:
            saturated = True
    big = 0.0
    for j in range(tau.shape[0]):
        if saturated:
            if tau[j] < -effort[j]:
                tau[j] = -effort[j]
            elif tau[j] > effort[j]:
                tau[j] = effort[j]
        big = max(big, abs(tau[j]))
    # 8. work of the joints and of the contractile elements over this step
    power = np.empty(tau.shape[0])
    for j in range(tau.shape[0]):
        power[j] = tau[j] * qd[j]
    fiber = np.empty(stim.shape[0])
    for i in range(stim.shape[0]):
        fiber[i] = -mout[_O_FORCE, i] * mout[_O_VCE, i]
    info[0] = pitch
    info[1] = 1.0 if saturated else 0.0
    info[2] = big
    info[3] = _sum_positive(power, scratch)
    info[4] = _sum_positive(fiber, scratch)
    info[5] = _wang2012(stim, mstate, mout, prm, cst, mmass, slow)
    return 0


#: Fields of the packed float buffer (``ReflexWalker._init_kernel``), in order.
_F_FIELDS = ('offset', 'sign', 'lower', 'upper', 'cap_swing', 'cap_stance', 'effort', 'cfg', 'prm',
             'geo', 'cst', 'lean', 'channels', 'delayed', 'stim', 'dbuf', 'mstate', 'mout',
             'mtorque', 'phi', 'rate', 'load', 'info', 'scratch', 'ang', 'mmass', 'slow', 'since',
             'flexed')
_I_FIELDS = ('index', 'foot_of', 'read', 'touchdown')


@njit(cache=True)
def _walker_packed(q, qd, forces, quat, pitch_rate, speed, dt, weight, F, I, B, lay, ilay, shapes,
                   threshold, lean_at_takeoff, step_count, head, stiffness, relax_speed, tau):
    """:func:`_walker_kernel` on the packed buffers: three arrays instead of thirty, because
    numba's dispatcher costs about 0.45 us per array argument."""
    n_legs, nm, nj, dl, dw = shapes[0], shapes[1], shapes[2], shapes[3], shapes[4]
    width = dw // n_legs
    return _walker_kernel(
        q, qd, forces, quat, pitch_rate, speed, dt, weight,
        I[ilay[0]:ilay[1]], F[lay[0]:lay[1]], F[lay[1]:lay[2]], I[ilay[1]:ilay[2]],
        F[lay[7]:lay[8]], threshold, lean_at_takeoff, step_count,
        F[lay[15]:lay[16]].reshape((dl, dw)), I[ilay[2]:ilay[3]].reshape((dl, dw)), head,
        F[lay[12]:lay[13]].reshape((n_legs, width)), F[lay[13]:lay[14]].reshape((n_legs, width)),
        B[0:n_legs], I[ilay[3]:ilay[4]], F[lay[11]:lay[12]], B[n_legs:2 * n_legs],
        F[lay[14]:lay[15]],
        F[lay[8]:lay[9]].reshape((nm, 5)), F[lay[9]:lay[10]].reshape((6, nm, nj)),
        F[lay[10]:lay[11]], F[lay[16]:lay[17]].reshape((2, nm)),
        F[lay[17]:lay[18]].reshape((4, nm)), F[lay[18]:lay[19]],
        F[lay[2]:lay[3]], F[lay[3]:lay[4]], stiffness, relax_speed, F[lay[4]:lay[5]],
        F[lay[5]:lay[6]], F[lay[6]:lay[7]],
        F[lay[19]:lay[20]], F[lay[20]:lay[21]], F[lay[21]:lay[22]], tau, F[lay[22]:lay[23]],
        F[lay[23]:lay[24]], F[lay[24]:lay[25]].reshape((3, n_legs)), F[lay[25]:lay[26]],
        F[lay[26]:lay[27]], F[lay[27]:lay[28]], F[lay[28]:lay[29]])


def _pack(fields: dict, dtype) -> tuple[np.ndarray, np.ndarray]:
    """One buffer of ``dtype`` holding every field's values; each owner's attribute is pointed
    at its slice (reshaped as the original array). Returns (buffer, boundaries)."""
    sizes = [np.asarray(values).size for _owner, _attr, values in fields.values()]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    buffer = np.zeros(int(bounds[-1]), dtype=dtype)
    for k, (owner, attr, values) in enumerate(fields.values()):
        values = np.asarray(values)
        view = buffer[bounds[k]:bounds[k + 1]].reshape(values.shape)
        view[...] = values
        setattr(owner, attr, view)
    return buffer, bounds


# -- the controller -------------------------------------------------------------------------------
class ReflexWalker:
    """GH2010 reflex walker on the planar human (``neuroloco run human --controller reflex``)."""

    name = 'reflex'
    sensors = frozenset({'joints', 'base', 'contacts'})

    def __init__(self, body: BodyInfo, params: str | Path | None = None,
                 overrides: dict | None = None, **options):
        if options:
            raise ConfigError(f'controller reflex takes only params, got {sorted(options)}')
        self.body = body
        self.params = p = walker_params(body.config, params, overrides)
        self.map = JointMap(body.joint_names)
        self.dt = float(body.extra.get('dt', 0.001))
        self.weight = p['walker.body_mass'] * GRAVITY
        self.muscles = build_muscle_set(p)
        self.reflexes = Gh2010Reflexes(build_reflex_config(p, p['walker.thigh_length'],
                                                           p['walker.shank_length']), dt=self.dt)
        feet = tuple(body.foot_names)
        self.foot_leg = []
        for leg in LEGS:
            mine = [i for i, f in enumerate(feet) if f.startswith(LEG_PREFIX[leg])]
            if not mine:
                raise ConfigError(f'no contact link of the {leg} leg among foot_links {feet}')
            self.foot_leg.append(np.array(mine))
        inf = math.inf
        lower, upper = [], []
        for _leg in LEGS:
            lower += [-inf, -inf, p['limits.ankle_min']]
            upper += [p['limits.hip_max'], p['limits.knee_max'], p['limits.ankle_max']]
        self.limit_lower, self.limit_upper = np.array(lower), np.array(upper)
        swing = np.asarray(p['limits.damping_max'], float)
        stance = np.asarray(p['limits.damping_max_stance'], float)
        # the damping cap of each joint for each (left, right) stance combination
        self._limit_cap = {(a, b): np.concatenate([stance if a else swing, stance if b else swing])
                           for a in (False, True) for b in (False, True)}
        # effort limits in inner order, to report saturation
        self.effort = np.asarray(body.effort, dtype=float)
        self.stance_leg = LEGS.index(p['initial.stance_leg'])
        # Wang 2012 metabolics: muscle masses (kg; 0 for an absent muscle) and slow-twitch
        # ratios, MUSCLE_NAMES order
        self._mmass = muscle_masses(self.muscles.f_max, self.muscles.l_opt,
                                    p['metabolics.specific_tension'],
                                    p['metabolics.muscle_density']) * self.muscles.enabled
        self._slow = np.tile(np.asarray(p['metabolics.slow_twitch_ratio'], dtype=float), len(LEGS))
        present = [(i, name) for i, name in enumerate(self.muscles.names)
                   if self.muscles.enabled[i]]
        self._state_keys = tuple([(i, f'{what}.{name}') for i, name in present]
                                 for what in ('activation', 'force_n'))
        self.plot_panels = _Panels(self)
        self._init_kernel()
        self._init_startup()
        self._reset_bookkeeping()

    def _init_startup(self) -> None:
        """The start-up schedule (``startup.*``): the packed reflex values of the walking set
        and the difference start - walk, blended by :meth:`_schedule`."""
        p, rx = self.params, self.reflexes
        self._startup_times = None
        self._startup_done = False
        #: the GRF and support metrics count from here (s after the start): the end of the
        #: start-up schedule, 0 without one
        self.gait_from_s = 0.0
        if p['startup.duration'] <= 0.0:
            return
        self.gait_from_s = float(p['startup.duration'] + p['startup.blend'])
        values = {spec.name: p[spec.name] for spec in GH2010_PARAMS}
        values.update({f'reflex.{name}': p[f'startup.reflex.{name}'] for name in STARTUP_FIELDS})
        values.update({f'supraspinal.{name}': p[f'startup.supraspinal.{name}']
                       for name in STARTUP_SUPRASPINAL_FIELDS})
        start = Gh2010Reflexes(build_reflex_config(values, p['walker.thigh_length'],
                                                  p['walker.shank_length']), dt=self.dt)
        self._cfg_walk = rx._cfg.copy()
        self._cfg_delta = start._cfg - self._cfg_walk
        self._threshold_walk = rx.stance_load_threshold
        self._threshold_delta = start.stance_load_threshold - self._threshold_walk
        self._startup_times = (float(p['startup.duration']), float(p['startup.blend']))

    def _schedule(self, t: float) -> None:
        """Set the reflex values for ``t`` s after the start: the start-up set until
        ``startup.duration``, then linearly to the walking set over ``startup.blend``; once there,
        the schedule ends (the walking values are exact: walk + 0 x delta)."""
        times = self._startup_times
        if times is None or self._startup_done:
            return
        duration, blend = times
        if t < duration:
            a = 1.0
        elif blend > 0.0 and t < duration + blend:
            a = 1.0 - (t - duration) / blend
        else:
            a = 0.0
            self._startup_done = True
        self.reflexes._cfg[:] = self._cfg_walk + a * self._cfg_delta   # in place: kernel buffer
        self.reflexes.stance_load_threshold = self._threshold_walk + a * self._threshold_delta

    def _init_kernel(self) -> None:
        """Pack every array the fused per-step kernel reads or writes into one float, one int
        and one bool buffer, and point the reflexes', muscles' and map's arrays at their slices
        (same values, same memory): the kernel then takes three arrays (numba's dispatcher costs
        about 0.45 us per array argument), and the objects' own methods (reset, metrics, the
        checked step) still see and update the same state."""
        rx, mu, delay, jm = self.reflexes, self.muscles, self.reflexes._delay, self.map
        feet = tuple(self.body.foot_names)
        foot_of = np.full(len(feet), -1, dtype=np.int64)
        for leg, idx in enumerate(self.foot_leg):
            foot_of[idx] = leg
        nj = len(jm.index)
        n_scratch = max(len(feet), mu.n_muscles, jm.n_urdf, 8)
        floats = {  # name: (owner, attribute or None, values)
            'offset': (jm, 'offset', jm.offset), 'sign': (jm, 'sign', jm.sign),
            'lower': (self, 'limit_lower', self.limit_lower),
            'upper': (self, 'limit_upper', self.limit_upper),
            'cap_swing': (self, '_cap_swing', np.asarray(self.params['limits.damping_max'], float)),
            'cap_stance': (self, '_cap_stance',
                           np.asarray(self.params['limits.damping_max_stance'], float)),
            'effort': (self, 'effort', self.effort), 'cfg': (rx, '_cfg', rx._cfg),
            'prm': (mu, '_prm', mu._prm), 'geo': (mu, '_geo', mu._geo), 'cst': (mu, '_cst', mu._cst),
            'lean': (rx, 'lean_pitch', rx.lean_pitch), 'channels': (rx, '_channels', rx._channels),
            'delayed': (self, '_delayed', np.zeros_like(rx._channels)),
            'stim': (rx, '_out', rx._out), 'dbuf': (delay, '_buffer', delay._buffer),
            'mstate': (mu, '_state', mu._state), 'mout': (mu, '_out', mu._out),
            'mtorque': (mu, '_torque', mu._torque), 'phi': (self, '_phi', np.zeros(nj)),
            'rate': (self, '_rate', np.zeros(nj)), 'load': (self, '_load', np.zeros(len(LEGS))),
            'info': (self, '_info', np.zeros(6)), 'scratch': (self, '_scratch', np.zeros(n_scratch)),
            'ang': (self, '_ang', np.zeros((3, len(LEGS)))),
            'mmass': (self, '_mmass', self._mmass), 'slow': (self, '_slow', self._slow),
            'since': (rx, 'since_touchdown', rx.since_touchdown),
            'flexed': (rx, 'knee_flexed', rx.knee_flexed),
        }
        ints = {'index': (self, '_index', jm.index.astype(np.int64)),
                'foot_of': (self, '_foot_of', foot_of),
                'read': (delay, '_read', delay._read.astype(np.int64)),
                'touchdown': (rx, '_touchdown', rx._touchdown)}
        assert tuple(floats) == _F_FIELDS and tuple(ints) == _I_FIELDS
        self._F, self._lay = _pack(floats, np.float64)
        self._I, self._ilay = _pack(ints, np.int64)
        self._B, _ = _pack({'stance': (rx, 'stance', rx.stance),
                            'prep': (rx, 'swing_prep', rx.swing_prep)}, np.bool_)
        delay._flat = delay._buffer.reshape(-1)
        self._shapes = np.array([len(LEGS), mu.n_muscles, nj, delay._buffer.shape[0],
                                 delay._buffer.shape[1]], dtype=np.int64)
        self._stiffness = float(self.params['limits.stiffness'])
        self._relax_speed = float(self.params['limits.relax_speed'])

    # -- initial condition ------------------------------------------------------------------------
    def initial_phi(self) -> np.ndarray:
        p = self.params
        phi = np.empty(len(LEGS) * len(JOINTS))
        for leg in range(len(LEGS)):
            key = 'stance' if leg == self.stance_leg else 'swing'
            phi[3 * leg:3 * leg + 3] = (np.asarray(p[f'initial.{key}_angles'], dtype=float)
                                        + np.asarray(p[f'initial.{key}_angle_offset'], dtype=float))
        return phi

    def initial_state(self) -> dict:
        """sim_node start parameters: GH2010 posture, stance foot flat on the ground, vx0."""
        p = self.params
        phi = self.initial_phi()
        height, pitch = standing_hip_height(phi[3 * self.stance_leg:3 * self.stance_leg + 3],
                                            p['walker.thigh_length'], p['walker.shank_length'])
        return {'initial_joint_positions': self.map.q(phi).tolist(),
                'passive_initial_positions': [0.0, height + p['initial.foot_height'], pitch],
                'base_start_velocity': [p['initial.speed'], 0.0, 0.0]}

    def _initial_activation(self) -> np.ndarray:
        p = self.params
        act = np.asarray(p['initial.activation'], dtype=float)
        n = self.muscles.n_muscles
        if act.size == 1:
            act = np.full(n, act[0])
        elif act.size != n:
            raise ConfigError(f'initial.activation has {act.size} values: give 1 or {n}')
        pre = np.asarray(p['initial.stance_preactivation'], dtype=float)
        swing = np.asarray(p['initial.swing_preactivation'], dtype=float)
        if pre.any() or swing.any():
            k, g = len(MUSCLES), len(GH2010_MUSCLES)
            act = act.copy()
            for leg in range(len(LEGS)):
                act[k * leg:k * leg + g] += pre if leg == self.stance_leg else swing
            act = np.clip(act, 0.01, 1.0)
        return act

    # -- Controller interface ---------------------------------------------------------------------
    def reset(self, observation: Observation) -> None:
        phi = self.map.phi(observation.position)
        rate = self.map.rate(observation.velocity)
        self._startup_done = False
        self._schedule(0.0)
        self.muscles.reset(phi, self._initial_activation())
        load = self._leg_load(observation)
        if not np.any(load > 0.0):
            # Before the first physics step there are no contact points yet: the start posture
            # puts the stance leg on the ground, so it starts in stance with the full weight.
            load = np.zeros(len(LEGS))
            load[self.stance_leg] = 1.0
        pitch, pitch_rate = self._pitch(observation)
        self.reflexes.reset(ReflexSensors(load, self.muscles.normalized_force,
                                          self.muscles.normalized_length, phi[[1, 4]],
                                          rate[[1, 4]], pitch, pitch_rate, rate[[2, 5]]))
        self._reset_bookkeeping()
        self._t0 = float(observation.time)
        self._x0 = float(observation.base_position[0])
        self._in_stance = self.reflexes.stance.copy()
        self._last_x = self._x0
        self._last_t = self._t0

    def step(self, observation: Observation, dt: float) -> Command:
        """One control step through the fused numba kernel (the same arithmetic as
        :meth:`step_checked`, bit for bit); input it cannot take goes the checked way."""
        forces = observation.foot_forces
        if not (type(forces) is np.ndarray and forces.dtype == np.float64
                and forces.ndim == 1 and abs(dt - self.reflexes.dt) <= 1e-12):
            return self.step_checked(observation, dt)
        rx, delay = self.reflexes, self.reflexes._delay
        if self._startup_times is not None:
            self._schedule(float(observation.time) - self._t0)
        q = np.asarray(observation.position, dtype=float)
        qd = np.asarray(observation.velocity, dtype=float)
        quat = np.asarray(observation.base_orientation, dtype=float)
        n = self.map.n_urdf
        if q.shape != (n,) or qd.shape != (n,) or quat.shape != (4,) or \
                forces.shape[0] not in (0, self._foot_of.shape[0]):
            return self.step_checked(observation, dt)     # the kernel does not check shapes
        tau = np.zeros(self.map.n_urdf)
        status = _walker_packed(
            q, qd, forces, quat, float(observation.base_angular_velocity[1]),
            float(observation.base_linear_velocity[0]), float(dt),
            self.weight, self._F, self._I, self._B, self._lay, self._ilay, self._shapes,
            rx.stance_load_threshold, rx.config.lean_at_takeoff, rx._step_count + 1,
            delay._head, self._stiffness, self._relax_speed, tau)
        if status == 1:                     # a sensor is not finite: raise naming it
            return self.step_checked(observation, dt)
        rx._step_count += 1
        head = delay._head + 1
        delay._head = head if head < delay.length else 0
        if status == 2:
            raise ValueError('non-finite input to MuscleSet.step: stimulation '
                             f'{rx.stimulation.tolist()}, joint angles {self._phi.tolist()}')
        info = self._info
        if info[1]:
            self._saturated += 1
        t = float(observation.time)
        x = float(observation.base_position[0])
        self._last_t, self._last_x = t, x
        self._max_tau = max(self._max_tau, float(info[2]))
        pitch = float(info[0])
        load = self._load
        if self._fell_at is None:
            if float(observation.base_position[2]) < self._fall_height or \
                    abs(pitch) > self._fall_pitch:
                self._fell_at, self._fall_x = t, x
            else:
                self._work_joint += info[3] * dt
                self._work_muscle += info[4] * dt
                self._energy += info[5] * dt
                self._load_sum.append(load[0] + load[1])
                self._hip_z.append(float(observation.base_position[2]))
                self._book_steps(t, x, load)
        if t >= self._next_trace:
            self._record(t, x, float(observation.base_position[2]), self._phi.copy(),
                         load.copy(), pitch, tau)
        return Command(EFFORT, tau)

    def step_checked(self, observation: Observation, dt: float) -> Command:
        """One control step through the checked objects (``Gh2010Reflexes.step``,
        ``MuscleSet.step``, :func:`soft_limit_torque`): the reference of the fused kernel, and the
        path that names a bad input."""
        if self._startup_times is not None:
            self._schedule(float(observation.time) - self._t0)
        phi = self.map.phi(observation.position)
        rate = self.map.rate(observation.velocity)
        load = self._leg_load(observation)
        pitch, pitch_rate = self._pitch(observation)
        angles = None
        if self.reflexes.needs_leg_angles():
            speed = float(observation.base_linear_velocity[0])
            if not math.isfinite(speed):
                raise ValueError(f'base_linear_velocity is not finite: {speed}')
            _leg_angles(self.reflexes._cfg, phi, rate, pitch, pitch_rate, speed,
                        self.reflexes.stance, self._ang)
            angles = self._ang
        stim = self.reflexes.step(ReflexSensors(load, self.muscles.normalized_force,
                                                self.muscles.normalized_length, phi[[1, 4]],
                                                rate[[1, 4]], pitch, pitch_rate, rate[[2, 5]]),
                                  dt, angles)
        tau_muscle = self.muscles.step(stim, phi, dt)
        stance = self.reflexes.stance
        cap = self._limit_cap[bool(stance[0]), bool(stance[1])]
        tau_limit = soft_limit_torque(phi, rate, self.limit_lower, self.limit_upper,
                                      self.params['limits.stiffness'],
                                      self.params['limits.relax_speed'], cap)
        tau = self.map.torque(tau_muscle + tau_limit)
        saturated = np.abs(tau) > self.effort
        if saturated.any():
            self._saturated += 1
            tau = np.clip(tau, -self.effort, self.effort)
        self._book(observation, phi, rate, load, pitch, tau, dt)
        return Command(EFFORT, tau)

    # -- sensing helpers --------------------------------------------------------------------------
    def _leg_load(self, obs: Observation) -> np.ndarray:
        forces = np.asarray(obs.foot_forces, dtype=float)
        if forces.size == 0:
            return np.zeros(len(LEGS))
        return np.array([forces[idx].sum() for idx in self.foot_leg]) / self.weight

    @staticmethod
    def _pitch(obs: Observation) -> tuple[float, float]:
        return trunk_pitch(obs.base_orientation), float(obs.base_angular_velocity[1])

    # -- metrics ----------------------------------------------------------------------------------
    def _reset_bookkeeping(self) -> None:
        self._t0 = self._x0 = 0.0
        self._last_t = self._last_x = 0.0
        self._fell_at = None
        self._fall_x = None
        self._gait_start = None         # (time, hip x) at the end of the start-up (gait_from_s)
        self._saturated = 0
        self._work_joint = 0.0          # positive mechanical work of the joint torques, J
        self._work_muscle = 0.0         # positive work of the contractile elements, J
        self._energy = 0.0              # Wang 2012 metabolic energy of the muscles, J (no basal)
        self._touchdowns = []           # (time, leg, hip x)
        self._stances = []              # per completed stance: dict of GRF numbers
        self._loads = [[], []]          # 1 kHz load of the current stance, per leg
        self._load_sum = []             # both legs' load (BW) per control step, until a fall
        self._hip_z = []                # hip height (m) per control step, until a fall
        self._td_index = []             # index into _load_sum of each touchdown (a step)
        self._stance_start = [None, None]
        self._in_stance = np.zeros(len(LEGS), dtype=bool)   # debounced stance (metrics)
        self._lift_time = [None, None]
        self._trace = {'time': [], 'phi': [], 'activation': [], 'load': [], 'stance': [],
                       'step_stance': [], 'x': [], 'z': [], 'pitch': [], 'tau': []}
        self._next_trace = 0.0
        self._max_tau = 0.0
        self._fall_height = self.params['metrics.fall_hip_height']
        self._fall_pitch = self.params['metrics.fall_pitch']
        self._min_swing = self.params['metrics.min_swing']

    def _book(self, obs, phi, rate, load, pitch, tau, dt) -> None:
        t = float(obs.time)
        x = float(obs.base_position[0])
        self._last_t, self._last_x = t, x
        self._max_tau = max(self._max_tau, float(np.max(np.abs(tau))))
        if self._fell_at is None:
            height = float(obs.base_position[2])
            if height < self._fall_height or abs(pitch) > self._fall_pitch:
                self._fell_at, self._fall_x = t, x
        if self._fell_at is None:
            power = tau * np.asarray(obs.velocity, dtype=float)
            self._work_joint += float(np.sum(power[power > 0.0])) * dt
            fiber = -self.muscles.force * self.muscles.v_ce
            self._work_muscle += float(np.sum(fiber[fiber > 0.0])) * dt
            mu = self.muscles
            self._energy += _wang2012(self.reflexes._out.reshape(-1), mu._state, mu._out, mu._prm,
                                      mu._cst, self._mmass, self._slow) * dt
            self._load_sum.append(load[0] + load[1])
            self._hip_z.append(float(obs.base_position[2]))
            self._book_steps(t, x, load)
        if t >= self._next_trace:
            self._record(t, x, float(obs.base_position[2]), phi, load, pitch, tau)

    def _record(self, t, x, z, phi, load, pitch, tau) -> None:
        self._next_trace = t + self.params['metrics.trace_period'] - 1e-9
        tr = self._trace
        tr['time'].append(t)
        tr['phi'].append(phi)
        tr['activation'].append(self.muscles.activation)
        tr['load'].append(load)
        tr['stance'].append(self.reflexes.stance.copy())
        tr['step_stance'].append(self._in_stance.copy())
        tr['x'].append(x)
        tr['z'].append(z)
        tr['pitch'].append(pitch)
        tr['tau'].append(tau)

    def _book_steps(self, t: float, x: float, load) -> None:
        """Steps for the metrics: the reflexes' stance, debounced: a lift-off shorter than
        ``metrics.min_swing`` (a bounce, or contact chatter) does not end the stance."""
        if self._gait_start is None and t - self._t0 >= self.gait_from_s:
            self._gait_start = (t, x)
        stance = self.reflexes.stance
        min_swing = self._min_swing
        for leg in range(len(LEGS)):
            if stance[leg]:
                if not self._in_stance[leg]:            # touchdown after a real swing: a step
                    self._in_stance[leg] = True
                    self._touchdowns.append((t, leg, x))
                    self._td_index.append(len(self._load_sum) - 1)
                    self._stance_start[leg] = t
                    self._loads[leg] = []
                self._lift_time[leg] = None
                self._loads[leg].append(load[leg])
            elif self._in_stance[leg]:
                if self._lift_time[leg] is None:
                    self._lift_time[leg] = t
                if t - self._lift_time[leg] >= min_swing:
                    self._in_stance[leg] = False
                    self._close_stance(leg, self._lift_time[leg])
                    self._lift_time[leg] = None
                else:
                    self._loads[leg].append(load[leg])

    def _close_stance(self, leg: int, t: float) -> None:
        start = self._stance_start[leg]
        self._stance_start[leg] = None
        if start is None:               # the stance the run started in is not a step
            return
        loads = np.asarray(self._loads[leg])
        # drop the samples of a final bounce after the lift-off
        loads = loads[:max(1, int(round((t - start) / self.dt)))]
        if loads.size < 20:
            # a contact of less than 20 ms (a swing toe scuffing the ground) is not a step: its
            # touchdown leaves the step count, cadence, stride and support windows too
            for k in range(len(self._touchdowns) - 1, -1, -1):
                if self._touchdowns[k][1] == leg and self._touchdowns[k][0] == start:
                    del self._touchdowns[k]
                    del self._td_index[k]
                    break
            return
        half = loads.size // 2
        first, second = int(np.argmax(loads[:half])), half + int(np.argmax(loads[half:]))
        n = loads.size
        # push-off rise: mean load over 65-85 % of the stance minus over 40-55 % (walking: the
        # second hump ~1.1 BW over a ~0.75 BW dip, about +0.3; a load that falls from the
        # loading peak to the lift-off gives a negative number, so it grades a missing hump)
        rise = float(loads[int(0.65 * n):int(0.85 * n)].mean()
                     - loads[int(0.40 * n):int(0.55 * n)].mean())
        self._stances.append({'leg': leg, 'start': start, 'end': t, 'peak': float(loads.max()),
                              'first': float(loads[first]), 'second': float(loads[second]),
                              'dip': float(loads[first:second + 1].min()), 'rise': rise})

    def _support_metrics(self) -> dict:
        """Support across the step-to-step transition (docs/walking.md, *What sets the 1.74 BW
        peak*), per touchdown whose whole window [-support_window_before, +support_window_after]
        was walked, then the median over touchdowns:

        - ``support_deficit_bw``: mean of max(0, 1 - both legs' load) over the window (BW; 0 when
          the two legs carry at least body weight throughout, 1 when neither touches);
        - ``support_min_bw``: the smallest summed load in the window (BW);
        - ``touchdown_hip_fall_mps``: the largest downward hip speed in the window (m/s, >= 0
          means falling; central differences of the 1 kHz hip height).

        NaN (None in ``metrics()``) before the first whole window."""
        before = int(round(self.params['metrics.support_window_before'] / self.dt))
        after = int(round(self.params['metrics.support_window_after'] / self.dt))
        total = np.asarray(self._load_sum, dtype=float)
        z = np.asarray(self._hip_z, dtype=float)
        deficit, low, fall = [], [], []
        first = int(round(self.gait_from_s / self.dt))     # samples of the start-up gait
        for i in self._td_index:
            if i < first:
                continue
            a, b = i - before, i + after + 1
            if a < 1 or b + 1 > total.size:
                continue
            window = total[a:b]
            deficit.append(float(np.mean(np.maximum(0.0, 1.0 - window))))
            low.append(float(window.min()))
            vz = (z[a + 1:b + 1] - z[a - 1:b - 1]) / (2.0 * self.dt)
            fall.append(float(-vz.min()))
        return {'support_deficit_bw': _median(deficit), 'support_min_bw': _median(low),
                'touchdown_hip_fall_mps': _median(fall)}

    def state_for_recording(self) -> dict:
        """Activation and tendon force (N) of every present muscle, keyed
        ``activation.<leg>_<MTU>`` and ``force_n.<leg>_<MTU>``: reflex_node's ``~/state`` (one
        labelled Float64MultiArray per step) and the runner's recordings."""
        mu = self.muscles
        act, force = mu._state[_S_A], mu._out[_O_FORCE]
        out = {key: act[i] for i, key in self._state_keys[0]}
        out.update({key: force[i] for i, key in self._state_keys[1]})
        return out

    def trace(self) -> dict:
        """The controller trace as arrays: time, phi (n, 6), activation (n, 18), load (n, 2),
        stance (n, 2) as the reflexes saw it, step_stance (n, 2) debounced, hip x and z, trunk
        pitch, tau (n, 6) URDF torques."""
        return {k: np.asarray(v) for k, v in self._trace.items()}

    def _metabolic_energy(self, walked: float) -> float:
        """Wang 2012 energy (J) over the walked time: the muscles' + basal rate x body mass."""
        return self._energy + self.params['metabolics.basal_rate'] * \
            self.params['walker.body_mass'] * walked

    def metrics(self) -> dict:
        fell = self._fell_at is not None
        end_t = self._fell_at if fell else self._last_t
        end_x = self._fall_x if fell else self._last_x
        walked = max(end_t - self._t0, 0.0)
        distance = end_x - self._x0
        m = self.params['walker.body_mass']
        tds = [td for td in self._touchdowns if td[0] <= end_t]
        steps = len(tds)
        cadence = stride = math.nan
        if steps >= 3:
            span = tds[-1][0] - tds[0][0]
            cadence = (steps - 1) / span if span > 0 else math.nan
            stride = 2.0 * (tds[-1][2] - tds[0][2]) / (steps - 1)
        # GRF: every completed stance after a touchdown (the start stance is not a step), from
        # the end of a start-up schedule on (the walking set's gait, not the start-up's)
        stances = [s for s in self._stances if s['start'] >= self._t0 + self.gait_from_s]
        peaks = [s['peak'] for s in stances]
        gait_speed = math.nan           # the walking set's speed: from the start-up's end on
        if self._gait_start is not None and end_t > self._gait_start[0]:
            gait_speed = (end_x - self._gait_start[1]) / (end_t - self._gait_start[0])
        out = {
            'walked_s': walked,
            'walker_fell': fell,
            'steps': steps,
            'cadence_hz': cadence,
            'stride_m': stride,
            'walk_distance_m': distance,
            'mean_speed_mps': distance / walked if walked > 0 else 0.0,
            'gait_speed_mps': gait_speed,
            'cost_of_transport': (self._work_joint / (m * GRAVITY * distance)
                                  if distance > 0.1 else math.nan),
            'cost_of_transport_kind': 'mechanical: positive joint work / (m g distance)',
            'muscle_cost_of_transport': (self._work_muscle / (m * GRAVITY * distance)
                                         if distance > 0.1 else math.nan),
            'metabolic_cost_of_transport': (self._metabolic_energy(walked) / (m * distance)
                                            if distance > 0.1 else math.nan),
            'metabolic_cost_of_transport_kind': METABOLIC_KIND,
            'metabolic_rate_w_per_kg': (self._metabolic_energy(walked) / (m * walked)
                                        if walked > 0 else math.nan),
            'grf_peak_bw': max(peaks) if peaks else math.nan,
            'grf_peak_median_bw': _median(peaks),
            'grf_first_hump_bw': _median([s['first'] for s in stances]),
            'grf_second_hump_bw': _median([s['second'] for s in stances]),
            'grf_dip_bw': _median([s['dip'] for s in stances]),
            'grf_push_off_rise_bw': _median([s['rise'] for s in stances]),
            'stance_s': _median([s['end'] - s['start'] for s in stances]),
            'gait_from_s': self.gait_from_s,
            'max_torque_nm': self._max_tau,
            'torque_saturated_steps': self._saturated,
            **self._support_metrics(),
        }
        # undefined numbers (too few steps, no distance) are None, as JSON has no NaN
        out = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in out.items()}
        cycle = gait_cycle_average(self.trace(), leg=0)
        if cycle is not None:
            act = cycle['activation'][:, :len(MUSCLES)]
            # per present muscle; None for one that stays at its floor (no pathway drives it)
            out['activation_peak_cycle_pct'] = {
                name: (float(cycle['percent'][int(np.argmax(act[:, i]))])
                       if np.ptp(act[:, i]) > 1e-9 else None)
                for i, name in enumerate(MUSCLES) if self.muscles.enabled[i]}
        return out


def _median(values) -> float:
    return float(np.median(values)) if len(values) else math.nan


# -- gait-cycle averages and plots ----------------------------------------------------------------
def gait_cycle_average(trace: dict, leg: int = 0, points: int = 101, skip: int = 1):
    """Mean of the trace over the gait cycles of ``leg`` (touchdown to touchdown), resampled on
    0..100 % ; None with fewer than 1 complete cycle after skipping ``skip`` cycles."""
    if not len(trace.get('time', ())):
        return None
    stance = trace['step_stance' if 'step_stance' in trace else 'stance'][:, leg]
    td = np.flatnonzero(stance[1:] & ~stance[:-1]) + 1
    td = td[skip:]
    if td.size < 2:
        return None
    pct = np.linspace(0.0, 100.0, points)
    out = {'percent': pct, 'cycles': td.size - 1}
    stance_frac = []
    for key in ('phi', 'activation', 'load'):
        rows = []
        for a, b in zip(td[:-1], td[1:]):
            seg = trace[key][a:b + 1]
            s = np.linspace(0.0, 100.0, len(seg))
            rows.append(np.column_stack([np.interp(pct, s, seg[:, j]) for j in range(seg.shape[1])]))
        out[key] = np.mean(rows, axis=0)
    for a, b in zip(td[:-1], td[1:]):
        stance_frac.append(float(np.mean(stance[a:b])))
    out['stance_fraction'] = float(np.mean(stance_frac))
    return out


class _Panels:
    """``plot_panels`` hook for neuro_locomotion.plots: gait-cycle joint angles and activations of
    the left leg, and the vertical GRF of both legs over time (the last, time-axis panel)."""

    count = 3

    def __init__(self, walker: ReflexWalker):
        self.walker = walker

    def __call__(self, axes, result) -> None:
        trace = self.walker.trace()
        cycle = gait_cycle_average(trace, leg=0)
        angle_ax, act_ax, grf_ax = axes
        for ax, title in ((angle_ax, 'left inner angles over the gait cycle (deg)'),
                          (act_ax, 'left activations over the gait cycle')):
            twin = ax.twiny()
            twin.set_xlabel('left gait cycle (%, touchdown to touchdown)', fontsize=7)
            twin.tick_params(labelsize=7)
            ax.set_ylabel(title.split(' over')[0], fontsize=8)
            if cycle is None:
                twin.text(0.5, 0.5, 'fewer than two left strides', transform=twin.transAxes,
                          ha='center')
                continue
            if ax is angle_ax:
                for j, name in enumerate(JOINTS):
                    twin.plot(cycle['percent'], np.degrees(cycle['phi'][:, j]), label=name)
            else:
                for i, name in enumerate(MUSCLES):
                    if not self.walker.muscles.enabled[i]:
                        continue
                    twin.plot(cycle['percent'], cycle['activation'][:, i], label=name)
            twin.axvline(100.0 * cycle['stance_fraction'], color='grey', linestyle=':')
            twin.set_xlim(0.0, 100.0)
            twin.legend(loc='upper right', fontsize=6, ncol=4)
        if len(trace['time']):
            for leg, name in enumerate(LEGS):
                grf_ax.plot(trace['time'], trace['load'][:, leg], linewidth=0.8, label=name)
        grf_ax.axhline(1.0, color='grey', linewidth=0.5)
        grf_ax.set_ylabel('vertical GRF (BW)')
        grf_ax.legend(loc='upper right', fontsize=7)
