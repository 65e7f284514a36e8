"""``oscillator``: the non-spiking reference CPGs driving the bodies through the shared decoders.

- quadruped: :class:`~cpg_controller.oscillators.HopfCPG` (Righetti & Ijspeert 2008) ->
  :class:`~cpg_controller.decoding.QuadrupedDecoder` (CPG-RL foot space + leg IK);
- salamander: :class:`~cpg_controller.oscillators.SalamanderCPG` (Ijspeert 2007) ->
  :class:`~cpg_controller.decoding.SalamanderDecoder`.

Options (from ``neuroloco run --gait --drive --params``):

- quadruped ``gait`` in walk, trot, pace, bound, gallop (transverse gallop); ``drive`` d gives the
  stride frequency ``f = drive.per_drive_hz · d + drive.offset_hz`` (Hz), allowed for d in
  ``drive.range``; without ``--drive`` each gait's ``gaits.<gait>.drive``. The stance and swing
  frequencies follow from the gait's duty factor β: ω_st = π f / β, ω_sw = π f / (1 − β).
- salamander ``drive`` d in [1, 5] (Ijspeert's saturation range): d < 3 walks, d > 3 swims;
  ``gait`` walk | swim is a shortcut for ``oscillator.walk_drive`` / ``oscillator.swim_drive``.
- ``params``: a parameter file whose ``cpg_node`` section (ROS format) or top-level mapping of
  dotted names overrides the robot's ``config/<robot>.yaml`` ``cpg_node`` values.

The shared metrics code (:func:`touchdown_metrics`, :func:`swimming_metrics`) measures gait
frequency, duty factor and phase offsets from what the body did (foot contact forces, body joint
angles), not from the oscillator, so the spiking CPG controllers can reuse it unchanged.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np

from neuro_locomotion.controllers import BodyInfo
from neuro_locomotion.params import (ConfigError, ParamSet, ParamSpec, node_params, read_ros_params,
                                     read_yaml)
from neuro_locomotion.types import EFFORT, POSITION, Command, Observation

from . import phase as P
from .decoding import (QUADRUPED_DECODER_PARAMS, SALAMANDER_DECODER_PARAMS, QuadrupedDecoder,
                       SalamanderDecoder)
from .kinematics import _support_rows
from .oscillators import BODY_SATURATION, LIMB_SATURATION, HopfCPG, SalamanderCPG

from numba import njit   # a hard requirement (requirements.txt), as in kernel.py

NODE = 'cpg_node'
QUADRUPED_GAITS = ('walk', 'trot', 'pace', 'bound', 'gallop')
GAIT_TABLE_NAME = {'gallop': 'transverse_gallop'}          # --gait name -> config/gaits row
SALAMANDER_GAITS = ('walk', 'swim')
SALAMANDER_DRIVE_RANGE = (BODY_SATURATION.d_low, BODY_SATURATION.d_high)
SWIM_DRIVE = LIMB_SATURATION.d_high                       # d > 3: limbs silent, swimming

# ---------------------------------------------------------------------------------------------
# parameters (section cpg_node of config/<robot>.yaml)

_GAIT_DEFAULTS = {   # drive (= stride Hz with the default mapping), duty factor, stroke, clearance
    'walk': (1.5, 0.75, 0.10, 0.05),
    'trot': (2.5, 0.6, 0.16, 0.06),
    'pace': (2.5, 0.6, 0.12, 0.06),
    'bound': (2.5, 0.6, 0.10, 0.06),
    'gallop': (2.5, 0.6, 0.10, 0.06),
}

_COMMON_METRIC_PARAMS = [
    ParamSpec('metrics.settle_s', 3.0, 'metrics ignore the first seconds of a run (start-up '
              'transient)', 's', min=0.0, max=600.0),
    ParamSpec('metrics.contact_threshold_n', 5.0, 'normal force above which a foot counts as '
              'on the ground', 'N', min=0.0, max=1000.0),
    ParamSpec('metrics.min_contact_s', 0.02, 'contact changes shorter than this are flicker and '
              'ignored (debounce)', 's', min=0.0, max=1.0),
]

_CONTROL_PARAMS = [
    ParamSpec('control_period_s', 0.001, 'lock-step runner: the controller is stepped (and the '
              'body sensed and commanded) this often, its command held in between; physics '
              'keeps its own rate (a whole number of physics steps); in the ROS graph each '
              'joint_states interval is stepped in sub-steps of about this length', 's',
              min=0.001, max=0.02),
]

QUADRUPED_PARAMS = [
    ParamSpec('oscillator.gait', 'trot', 'gait when --gait is not given', choices=QUADRUPED_GAITS),
    ParamSpec('oscillator.coupling', 'phase', "Hopf coupling: 'phase' (phase-difference "
              "matrices from the gait table, any gait), 'righetti' (published ±1 matrices, "
              "no gallop) or 'auto'", choices=('phase', 'righetti', 'auto')),
    ParamSpec('oscillator.coupling_strength', 1.0, 'coupling gain k of the Hopf network', '1',
              min=0.0, max=20.0),
    ParamSpec('oscillator.settle_s', 5.0, 'the CPG runs alone this long before the first step, '
              'so the legs start in the locked gait', 's', min=0.0, max=60.0),
    ParamSpec('oscillator.seed', 0, 'seed of the CPG\'s random initial phases', '', min=0,
              max=2**31 - 1),
    ParamSpec('oscillator.ramp_s', 1.0, 'amplitude ramps from 0 (standing) to 1 over this time '
              'at start-up', 's', min=0.0, max=30.0),
    ParamSpec('drive.per_drive_hz', 1.0, 'stride frequency per unit of drive', 'Hz',
              min=0.01, max=10.0),
    ParamSpec('drive.offset_hz', 0.0, 'stride frequency at drive 0', 'Hz', min=-10.0, max=10.0),
    ParamSpec('drive.range', [0.5, 5.0], 'allowed drive (min, max); outside is an error', '1',
              min=0.0, max=100.0, length=2),
    ParamSpec('servo.mode', 'position', "'position': send the decoder's targets as position "
              "commands (the body's servo closes the loop); 'pd': send efforts "
              "kp (q* − q) − kd q̇ computed here (reads the joint sensors), a compliant servo "
              "with gains in physical units", choices=('position', 'pd')),
    ParamSpec('servo.kp', [60.0, 60.0, 60.0], 'PD stiffness per joint kind (hip_abad, hip_flex, '
              'knee), servo.mode pd', 'N·m/rad', min=0.0, max=1000.0, length=3),
    ParamSpec('servo.kd', [1.0, 1.0, 1.0], 'PD damping per joint kind (hip_abad, hip_flex, knee), '
              'servo.mode pd', 'N·m·s/rad', min=0.0, max=100.0, length=3),
    ParamSpec('servo.weight_feedforward', 1.0, 'servo.mode pd: fraction of the body weight the '
              'stance legs carry by feedforward torque −Jᵀ(0, 0, m g / n_stance) (no sag, so the '
              'feet touch down when the decoder says)', '1', min=0.0, max=2.0),
    ParamSpec('posture.pitch_deadband_rad', 0.07, 'posture reflex: silent while the trunk '
              'pitch is within +-this of level (steady gaits stay inside: |pitch| <= 3.5 deg)',
              'rad', min=0.0, max=1.0),
    ParamSpec('posture.pitch_rate_gain', 0.0, 'posture reflex, servo.mode pd: while the pitch '
              'is beyond the deadband, the feet on the ground get extra support force gain x '
              'pitch rate (body frame, + nose down), + at the front and - at the hind: damps a '
              'rearing or a nose-dive; 0 = off', 'N·s/rad', min=0.0, max=500.0),
    ParamSpec('heading.gain', 0.0, 'steering: stroke-length difference between the sides per '
              'rad of yaw away from the start heading (0 with integral_gain 0: open loop, reads '
              'no base sensor)', '1/rad', min=0.0, max=5.0),
    ParamSpec('heading.integral_gain', 0.0, 'steering: stroke-length difference per rad·s of '
              'accumulated yaw error (cancels a gait\'s own turning, e.g. the gallop\'s)',
              '1/(rad·s)', min=0.0, max=5.0),
] + [spec for gait, (drive, duty, length, height) in _GAIT_DEFAULTS.items() for spec in (
    ParamSpec(f'gaits.{gait}.drive', drive, f'default drive of the {gait}', '1', min=0.0,
              max=100.0),
    ParamSpec(f'gaits.{gait}.duty_factor', duty, f'stance fraction of the cycle of the {gait}',
              '1', min=0.05, max=0.95),
    ParamSpec(f'gaits.{gait}.step_length_m', length, f'stroke length of the {gait} (overrides '
              'decoder.step_length_m)', 'm', min=0.0, max=0.30),
    ParamSpec(f'gaits.{gait}.step_height_m', height, f'swing clearance of the {gait} '
              '(overrides decoder.step_height_m)', 'm', min=0.0, max=0.15),
    ParamSpec(f'gaits.{gait}.steer_front_share', 0.5, f'share of the steering stroke difference '
              f'made by the front legs in the {gait} (0.5: front and hind alike; 1: front legs '
              'only, at twice the difference)', '1', min=0.0, max=1.0),
)] + QUADRUPED_DECODER_PARAMS + _COMMON_METRIC_PARAMS + _CONTROL_PARAMS

SALAMANDER_PARAMS = [
    ParamSpec('oscillator.walk_drive', 2.0, 'drive of --gait walk (and the default)', '1',
              min=SALAMANDER_DRIVE_RANGE[0], max=SWIM_DRIVE),
    ParamSpec('oscillator.swim_drive', 4.0, 'drive of --gait swim', '1', min=SWIM_DRIVE,
              max=SALAMANDER_DRIVE_RANGE[1]),
    ParamSpec('oscillator.gait', 'walk', 'gait when neither --gait nor --drive is given',
              choices=SALAMANDER_GAITS),
    ParamSpec('oscillator.limb_phase_offset_rad', math.pi, 'decoder phase = limb oscillator '
              'phase − this (the limb is at its front touchdown point at this oscillator phase)',
              'rad', min=-2 * math.pi, max=2 * math.pi),
    ParamSpec('oscillator.settle_s', 0.0, 'the CPG runs alone this long before the first step',
              's', min=0.0, max=60.0),
    ParamSpec('oscillator.seed', 0, 'seed of the CPG\'s random initial state', '', min=0,
              max=2**31 - 1),
] + SALAMANDER_DECODER_PARAMS + _COMMON_METRIC_PARAMS + _CONTROL_PARAMS


def controller_params(body: BodyInfo, overrides=None) -> ParamSet:
    """The validated ``cpg_node`` parameters for ``body`` (+ a ``--params`` file)."""
    specs = {'quadruped': QUADRUPED_PARAMS, 'salamander': SALAMANDER_PARAMS}.get(body.robot)
    if specs is None:
        raise ConfigError(f'controller oscillator has no model for robot {body.robot!r} '
                          '(quadruped, salamander)')
    params = node_params(body.config, NODE, specs)
    if overrides is not None:
        params.apply(_override_values(overrides))
    return params


def _override_values(overrides) -> dict:
    if isinstance(overrides, Mapping):
        return dict(overrides)
    path = Path(overrides)
    tree = read_yaml(path, 'parameter file')
    if isinstance(tree, dict) and any(isinstance(v, dict) and 'ros__parameters' in v
                                      for v in tree.values()):
        nodes = read_ros_params(path)
        if NODE not in nodes and '**' not in nodes:
            raise ConfigError(f'{path}: no {NODE} section')
        merged = dict(nodes.get('**', {}))
        merged.update(nodes.get(NODE, {}))
        merged.pop('use_sim_time', None)
        return merged
    if not isinstance(tree, dict):
        raise ConfigError(f'{path}: expected a mapping of parameter names to values')
    from neuro_locomotion.params import flatten
    return flatten(tree)


def _check_drive(drive, lo: float, hi: float, what: str) -> float | None:
    if drive is None:
        return None
    if isinstance(drive, bool) or not isinstance(drive, (int, float)):
        raise ConfigError(f'{what}: drive must be a number, got {drive!r}')
    if not math.isfinite(drive):
        raise ConfigError(f'{what}: drive {drive!r} is not finite')
    if not lo <= drive <= hi:
        raise ConfigError(f'{what}: drive {drive} is out of range [{lo}, {hi}]')
    return float(drive)


# ---------------------------------------------------------------------------------------------
# shared metrics

class _Recorder:
    """Per-step rows appended in chunks (cheap in the control loop)."""

    def __init__(self, width: int, chunk: int = 8192, dtype=np.float32):
        self.width, self.chunk, self.dtype = width, chunk, dtype
        self.clear()

    def clear(self) -> None:
        self._done: list = []
        self._buf = np.empty((self.chunk, self.width), dtype=self.dtype)
        self._t = np.empty(self.chunk)
        self._k = 0
        self._times: list = []

    def add(self, t: float, row) -> None:
        k = self._k
        if k == self.chunk:
            self._done.append(self._buf)
            self._times.append(self._t)
            self._buf = np.empty((self.chunk, self.width), dtype=self.dtype)
            self._t = np.empty(self.chunk)
            k = 0
        self._buf[k] = row
        self._t[k] = t
        self._k = k + 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._done + [self._buf[:self._k]]
        times = self._times + [self._t[:self._k]]
        return np.concatenate(times), np.concatenate(rows).astype(float)


def _round(x, nd=4):
    if x is None:
        return None
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_round(v, nd) for v in x]
    return round(float(x), nd)


def touchdown_metrics(t, forces, target=None, *, threshold: float = 5.0, min_on: float = 0.02,
                      t_start: float = 0.0) -> dict:
    """Gait numbers from foot normal forces (N), samples x feet, feet in leg order.

    ``frequency_hz``: median stride frequency over the feet (touchdown intervals);
    ``duty_factor``: per foot; ``phase_offsets``: touchdown delays relative to the first foot
    (cycles, [0, 1)); ``phase_error``: largest deviation from ``target`` (cycles) or ``None``;
    ``phase_locking``: resultant length of each offset (1 = every cycle the same).
    """
    t = np.asarray(t, dtype=float)
    forces = np.asarray(forces, dtype=float)
    keep = t >= t_start
    t, forces = t[keep], forces[keep]
    contact = forces > threshold
    out = {'frequency_hz': None, 'duty_factor': None, 'phase_offsets': None,
           'phase_error': None, 'phase_locking': None, 'touchdowns': None}
    if t.size < 2:
        return out
    touchdowns = [P.onsets(contact[:, j], t, min_on=min_on, min_off=min_on)
                  for j in range(contact.shape[1])]
    freqs = [P.frequency(e) for e in touchdowns]
    freqs = [f for f in freqs if f is not None]
    out['touchdowns'] = [int(e.size) for e in touchdowns]
    out['frequency_hz'] = _round(np.median(freqs)) if freqs else None
    out['duty_factor'] = _round(P.duty_factor(contact, t, min_on=min_on, min_off=min_on))
    offsets, strength = P.phase_offsets(touchdowns, return_strength=True)
    if offsets is not None:
        out['phase_offsets'] = _round(offsets)
        out['phase_locking'] = _round(strength)
        if target is not None:
            out['phase_error'] = _round(P.phase_error(offsets, target))
    return out


def swimming_metrics(t, angles, *, wavelengths: float = 1.0, t_start: float = 0.0,
                     min_amplitude: float = 0.02) -> dict:
    """Travelling-wave numbers from body joint angles (rad), samples x segments (head to tail).

    Events are upward zero crossings of each joint angle. ``phase_offsets``: delay of each
    segment relative to the first (cycles, [0, 1)); target: ``k · wavelengths / n`` for segment
    k (one wavelength along the body by default); ``phase_error``: largest deviation from it.
    """
    t = np.asarray(t, dtype=float)
    angles = np.asarray(angles, dtype=float)
    keep = t >= t_start
    t, angles = t[keep], angles[keep]
    out = {'frequency_hz': None, 'duty_factor': None, 'phase_offsets': None, 'phase_error': None,
           'phase_locking': None, 'wave_lags': None}
    if t.size < 2:
        return out
    n = angles.shape[1]
    events = [P.threshold_crossings(angles[:, k], t, threshold=0.0, min_amplitude=min_amplitude)
              for k in range(n)]
    freqs = [P.frequency(e) for e in events]
    freqs = [f for f in freqs if f is not None]
    out['frequency_hz'] = _round(np.median(freqs)) if freqs else None
    offsets, strength = P.phase_offsets(events, return_strength=True)
    if offsets is not None:
        target = np.mod(np.arange(n) * wavelengths / n, 1.0)
        out['phase_offsets'] = _round(offsets)
        out['phase_locking'] = _round(strength)
        out['phase_error'] = _round(P.phase_error(offsets, target))
    lags = P.travelling_wave_lags(events)
    out['wave_lags'] = _round(lags)
    return out


# ---------------------------------------------------------------------------------------------
# quadruped servo: PD + weight feedforward in one numba kernel (a few µs per step)

@njit(cache=True)
def _servo_effort(q_leg, phase, amp, weight, position, velocity, kp, kd, order, d, l1, l2,
                  force, ff, tau, extra):
    """tau[k] = kp (q* − q) − kd q̇ + support torque, output joint k = leg-major index order[k].

    The legs on the ground (the stance legs, and every leg as its amplitude goes to 0) share
    ``weight`` (N) equally; ``extra`` (N, per leg; the posture reflex) is added where it is not
    0, the sum kept >= 0; support torque −Jᵀ(0, 0, F) at the target posture."""
    total = 0.0
    for i in range(4):
        a = min(max(amp[i], 0.0), 1.0)
        st = 1.0 if (phase[i] % (2.0 * math.pi)) < math.pi else 0.0
        force[i] = (1.0 - a) + a * st
        total += force[i]
    for i in range(4):
        force[i] = weight * force[i] / total if total > 1e-9 else 0.0
        if extra[i] != 0.0:
            force[i] = max(force[i] + extra[i], 0.0)
    _support_rows(q_leg, force, d, l1, l2, ff)
    for k in range(order.shape[0]):
        m = order[k]
        i, j = m // 3, m % 3
        tau[k] = kp[k] * (q_leg[i, j] - position[k]) - kd[k] * velocity[k] + ff[i, j]


# ---------------------------------------------------------------------------------------------
# controllers

def OscillatorController(body: BodyInfo, gait: str | None = None, drive: float | None = None,
                         params=None, **options):
    """Registry factory: the reference-oscillator controller for ``body.robot``."""
    if options:
        raise ConfigError(f'controller oscillator: unknown options {sorted(options)}')
    if body.robot == 'quadruped':
        return QuadrupedOscillatorController(body, gait=gait, drive=drive, params=params)
    if body.robot == 'salamander':
        return SalamanderOscillatorController(body, gait=gait, drive=drive, params=params)
    raise ConfigError(f'controller oscillator has no model for robot {body.robot!r} '
                      '(quadruped, salamander)')


class QuadrupedOscillatorController:
    """Hopf CPG -> CPG-RL foot space -> leg IK -> position targets, every physics step."""

    name = 'oscillator'

    def __init__(self, body: BodyInfo, gait: str | None = None, drive: float | None = None,
                 params=None):
        p = controller_params(body, params)
        self.params = p
        self.control_period_s = p['control_period_s']
        gait = p['oscillator.gait'] if gait is None else gait
        if gait not in QUADRUPED_GAITS:
            raise ConfigError(f'controller oscillator: unknown gait {gait!r} for the quadruped; '
                              f'choose one of {list(QUADRUPED_GAITS)}')
        lo, hi = p['drive.range']
        if lo >= hi:
            raise ConfigError(f'{NODE}: drive.range {p["drive.range"]} must be (min, max)')
        drive = _check_drive(drive, lo, hi, 'controller oscillator')
        self.gait = gait
        self.drive = p[f'gaits.{gait}.drive'] if drive is None else drive
        if not lo <= self.drive <= hi:
            raise ConfigError(f'{NODE}: gaits.{gait}.drive {self.drive} is out of drive.range '
                              f'[{lo}, {hi}]')
        self.frequency = p['drive.per_drive_hz'] * self.drive + p['drive.offset_hz']
        if not self.frequency > 0:
            raise ConfigError(f'drive {self.drive} gives a stride frequency {self.frequency} Hz '
                              '<= 0')
        self.duty = p[f'gaits.{gait}.duty_factor']
        w_st = math.pi * self.frequency / self.duty
        w_sw = math.pi * self.frequency / (1.0 - self.duty)
        self.table = P.load_gait_tables()[GAIT_TABLE_NAME.get(gait, gait)]
        self.target_offsets = np.asarray(self.table['offsets'], dtype=float)
        coupling = p['oscillator.coupling']
        try:
            self.cpg = HopfCPG(self.target_offsets if coupling == 'phase' else
                               GAIT_TABLE_NAME.get(gait, gait), omega_stance=w_st,
                               omega_swing=w_sw, coupling=coupling,
                               k=p['oscillator.coupling_strength'], seed=p['oscillator.seed'])
        except (ValueError, KeyError) as error:
            raise ConfigError(f'controller oscillator: {error}') from None
        self.cpg.gait = gait
        self.decoder = QuadrupedDecoder(p, _body_geometry(body), joint_names=body.joint_names)
        self.decoder.configure(step_length_m=p[f'gaits.{gait}.step_length_m'],
                               step_height_m=p[f'gaits.{gait}.step_height_m'])
        self.heading_gain = p['heading.gain']
        self.heading_ki = p['heading.integral_gain']
        self._steer = self.heading_gain > 0 or self.heading_ki > 0
        share = p[f'gaits.{gait}.steer_front_share']
        self._steer_legs = (2.0 * share, 2.0 * (1.0 - share))
        self.pd = p['servo.mode'] == 'pd'
        column = [0 if n.endswith('hip_abad') else 1 if n.endswith('hip_flex') else 2
                  for n in body.joint_names]          # joint kind: abad, flex, knee
        self.kp = np.asarray(p['servo.kp'], dtype=float)[column]
        self.kd = np.asarray(p['servo.kd'], dtype=float)[column]
        geometry = self.decoder.geometry
        self._weight = float(p['servo.weight_feedforward'] * geometry.total_mass * 9.81)
        self._ff = np.zeros((4, 3))
        self._force = np.zeros(4)
        self._extra = np.zeros(4)
        self._posture = self.pd and p['posture.pitch_rate_gain'] > 0
        self._pitch_band = p['posture.pitch_deadband_rad']
        self._pitch_c = p['posture.pitch_rate_gain']
        self._on_ground = p['metrics.contact_threshold_n']
        self.posture_active_s = 0.0
        sensors = {'contacts'}
        if self._steer or self._posture:
            sensors.add('base')
        if self.pd:
            sensors.add('joints')
        self.sensors = frozenset(sensors)
        self.lower, self.upper = np.asarray(body.lower), np.asarray(body.upper)
        self._n_feet = len(body.foot_names)
        self._contacts = _Recorder(self._n_feet)
        self._amp = np.ones(4)
        self._phase = np.zeros(4)
        self._yaw0 = 0.0
        self._t0 = 0.0

    def initial_state(self) -> dict:
        """Start standing in the decoder's posture (amplitude 0) at its height."""
        q = self.decoder.standing_posture()
        return {'initial_joint_positions': q.tolist(),
                'base_start_position': [0.0, 0.0, float(self.decoder.standing_height_m) + 0.005]}

    def reset(self, observation: Observation) -> None:
        p = self.params
        self.cpg.reset()
        settle = p['oscillator.settle_s']
        if settle > 0:
            self.cpg.run(settle, dt=0.01)
        self.cpg.t = 0.0
        self._t0 = observation.time
        self._contacts.clear()
        self.decoder.clipped = 0
        self._ramp = p['oscillator.ramp_s']
        self._yaw_integral = 0.0
        self._extra[:] = 0.0
        self.posture_active_s = 0.0
        if self._steer and observation.base_orientation is not None:
            self._yaw0 = _yaw(observation.base_orientation)

    def step(self, observation: Observation, dt: float) -> Command:
        cpg = self.cpg
        out = cpg.step(dt)
        t = observation.time - self._t0
        amp = out.amplitude / math.sqrt(cpg.mu)
        if t < self._ramp:
            amp = amp * (t / self._ramp)
        if self._steer and observation.base_orientation is not None:
            err = _wrap(_yaw(observation.base_orientation) - self._yaw0)
            if t >= self._ramp and self.heading_ki > 0:
                bound = 0.5 / self.heading_ki
                self._yaw_integral = min(max(self._yaw_integral + err * dt, -bound), bound)
            s = self.heading_gain * err + self.heading_ki * self._yaw_integral
            s = min(max(s, -0.5), 0.5)
            # yaw to the left (err > 0): lengthen the left strokes, shorten the right ones
            f, h = self._steer_legs
            self.decoder.set_side_scale(1 + f * s, 1 - f * s, 1 + h * s, 1 - h * s)
        self._phase, self._amp = out.phase, amp
        if observation.foot_forces is not None and observation.foot_forces.size == self._n_feet:
            self._contacts.add(observation.time, observation.foot_forces)
        if not self.pd:
            return Command(POSITION, self.decoder.decode(out.phase, amp))
        q_leg = self.decoder.decode_legs(out.phase, amp)
        g = self.decoder.geometry
        tau = np.empty(12)
        if self._posture:
            self._posture_reflex(observation, dt)
        _servo_effort(q_leg, out.phase, amp, self._weight, observation.position,
                      observation.velocity, self.kp, self.kd, self.decoder.output_order,
                      g.lateral_offset, g.thigh, g.calf, self._force, self._ff, tau, self._extra)
        return Command(EFFORT, tau)

    def _posture_reflex(self, observation: Observation, dt: float) -> None:
        """A safety reflex, silent near level: while the trunk pitch is beyond
        ``posture.pitch_deadband_rad`` the feet on the ground get extra support force
        M = c x pitch rate (body frame, + nose down), + M at the front and - M at the hind: the
        front feet yield to a nose-up throw and the hind ones push against a rearing (the
        first-bound-cycle hop that grew into a fall, docs/neuromodulation.md)."""
        extra = self._extra
        q, f = observation.base_orientation, observation.foot_forces
        if q is None or f is None or f.size != 4:
            extra[:] = 0.0
            return
        x, y, z, w = q.tolist()
        pitch = math.asin(min(max(2.0 * (w * y - z * x), -1.0), 1.0))
        if -self._pitch_band <= pitch <= self._pitch_band:
            if extra[0] or extra[1] or extra[2] or extra[3]:
                extra[:] = 0.0
            return
        wx, wy, wz = observation.base_angular_velocity.tolist()
        # body-frame pitch rate: the body y axis (column 2 of the rotation matrix) . omega
        rate = (2.0 * (x * y - z * w)) * wx + (1.0 - 2.0 * (x * x + z * z)) * wy \
            + (2.0 * (y * z + x * w)) * wz
        m = self._pitch_c * rate
        on = f.tolist()
        g = self._on_ground
        extra[0] = m if on[0] > g else 0.0
        extra[1] = m if on[1] > g else 0.0
        extra[2] = -m if on[2] > g else 0.0
        extra[3] = -m if on[3] > g else 0.0
        self.posture_active_s += dt

    def state_for_recording(self) -> dict:
        return {'phase': self._phase, 'amplitude': self._amp}

    def metrics(self) -> dict:
        p = self.params
        t, forces = self._contacts.arrays()
        m = touchdown_metrics(t, forces, self.target_offsets,
                              threshold=p['metrics.contact_threshold_n'],
                              min_on=p['metrics.min_contact_s'],
                              t_start=self._t0 + p['metrics.settle_s'])
        return {
            'gait': self.gait,
            'drive': self.drive,
            'frequency_hz': m['frequency_hz'],
            'nominal_frequency_hz': round(self.frequency, 4),
            'duty_factor': m['duty_factor'],
            'nominal_duty_factor': self.duty,
            'phase_offsets': m['phase_offsets'],
            'target_phase_offsets': _round(self.target_offsets),
            'phase_error': m['phase_error'],
            'phase_locking': m['phase_locking'],
            'touchdowns': m['touchdowns'],
            'ik_clipped_legs': int(self.decoder.clipped),
            **({'posture_active_s': round(self.posture_active_s, 3)} if self._posture else {}),
        }


class SalamanderOscillatorController:
    """Ijspeert 2007 CPG -> salamander decoder: walking (d < 3) or swimming (d > 3)."""

    name = 'oscillator'

    def __init__(self, body: BodyInfo, gait: str | None = None, drive: float | None = None,
                 params=None):
        p = controller_params(body, params)
        self.params = p
        self.control_period_s = p['control_period_s']
        if gait is not None and gait not in SALAMANDER_GAITS:
            raise ConfigError(f'controller oscillator: unknown gait {gait!r} for the salamander; '
                              f'choose one of {list(SALAMANDER_GAITS)}')
        drive = _check_drive(drive, *SALAMANDER_DRIVE_RANGE, 'controller oscillator')
        if drive is None:
            gait = gait or p['oscillator.gait']
            drive = p[f'oscillator.{gait}_drive']
        self.drive = drive
        self.swimming = drive > SWIM_DRIVE
        self.gait = 'swim' if self.swimming else 'walk'
        if gait is not None and gait != self.gait:
            raise ConfigError(f'controller oscillator: --gait {gait} contradicts --drive {drive} '
                              f'(d > {SWIM_DRIVE} swims, d <= {SWIM_DRIVE} walks)')
        n_seg = sum(1 for n in body.joint_names if n.startswith('body_'))
        self.cpg = SalamanderCPG(n_seg=n_seg, drive=drive, seed=p['oscillator.seed'])
        self.decoder = SalamanderDecoder(p, joint_names=body.joint_names, lower=body.lower,
                                         upper=body.upper, n_seg=n_seg)
        self._body_scale = 1.0 / (2.0 * BODY_SATURATION(BODY_SATURATION.d_high)[1])
        self._limb_scale = 1.0 / LIMB_SATURATION(LIMB_SATURATION.d_high)[1]
        self._limb_offset = p['oscillator.limb_phase_offset_rad']
        tables = P.load_gait_tables(robot='salamander')
        self.table = tables[self.gait]
        self.target_offsets = (np.asarray(self.table['offsets'], dtype=float)
                               if 'offsets' in self.table else None)
        # the metrics read joint angles when swimming, foot contacts when walking
        self.sensors = frozenset({'joints'} if self.swimming else {'contacts', 'joints'})
        self._body_idx = np.array([body.joint_names.index(f'body_{k + 1}') for k in range(n_seg)])
        self._n_feet = len(body.foot_names)
        self._angles = _Recorder(n_seg)
        self._contacts = _Recorder(self._n_feet)
        self._left, self._right = self.cpg.left, self.cpg.right
        self._limbs = self.cpg.limbs
        self._t0 = 0.0

    def reset(self, observation: Observation) -> None:
        self.cpg.reset()
        settle = self.params['oscillator.settle_s']
        if settle > 0:
            self.cpg.run(settle, dt=0.01)
        self.cpg.t = 0.0
        self._t0 = observation.time
        self._angles.clear()
        self._contacts.clear()

    def step(self, observation: Observation, dt: float) -> Command:
        out = self.cpg.step(dt)
        x = out.signal * self._body_scale
        limb_phase = out.phase[self._limbs] - self._limb_offset
        limb_amp = out.amplitude[self._limbs] * self._limb_scale
        q = self.decoder.decode(x[self._left], x[self._right], limb_phase, limb_amp)
        if observation.position is not None:
            self._angles.add(observation.time, observation.position[self._body_idx])
        if observation.foot_forces is not None and observation.foot_forces.size == self._n_feet:
            self._contacts.add(observation.time, observation.foot_forces)
        return Command(POSITION, q)

    def metrics(self) -> dict:
        p = self.params
        t_start = self._t0 + p['metrics.settle_s']
        if self.swimming:
            t, angles = self._angles.arrays()
            m = swimming_metrics(t, angles, wavelengths=self.table.get('wavelengths_per_body', 1.0),
                                 t_start=t_start)
            target = _round(np.mod(np.arange(angles.shape[1]) / angles.shape[1], 1.0))
        else:
            t, forces = self._contacts.arrays()
            m = touchdown_metrics(t, forces, self.target_offsets,
                                  threshold=p['metrics.contact_threshold_n'],
                                  min_on=p['metrics.min_contact_s'], t_start=t_start)
            target = _round(self.target_offsets)
        return {
            'gait': self.gait,
            'drive': self.drive,
            'frequency_hz': m['frequency_hz'],
            'nominal_frequency_hz': SalamanderCPG.expected_frequency(self.drive),
            'duty_factor': m['duty_factor'],
            'phase_offsets': m['phase_offsets'],
            'target_phase_offsets': target,
            'phase_error': m['phase_error'],
            'phase_locking': m['phase_locking'],
        }


def _body_geometry(body: BodyInfo):
    """Leg geometry of the URDF the body's config names (sim_node.urdf), else the default."""
    from neuro_locomotion.paths import urdf_file

    from .kinematics import quadruped_geometry
    try:
        name = read_ros_params(body.config).get('sim_node', {}).get('urdf', 'quadruped.urdf')
    except ConfigError:
        name = 'quadruped.urdf'
    try:
        return quadruped_geometry(urdf_file(name))
    except (OSError, ValueError, AttributeError) as error:
        raise ConfigError(f'controller oscillator: cannot read the leg geometry of {name}: '
                          f'{error}') from None


def _yaw(q) -> float:
    x, y, z, w = q.tolist() if isinstance(q, np.ndarray) else q     # floats: no numpy scalars
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi
