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
from .decoding import (_DEC_CALF, _DEC_D, _DEC_HI, _DEC_LENGTH, _DEC_LO, _DEC_Q, _DEC_SCALE,
                       _DEC_STEP_LENGTH, _DEC_THIGH, QUADRUPED_DECODER_PARAMS, SALAMANDER_DECODER_PARAMS,
                       QuadrupedDecoder, _decode_packed,
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
    ParamSpec('metrics.swim_crossing_hysteresis_rad', 0.02, 'Schmitt band of the upward zero '
              'crossings of the body joint angles that time a switch into swimming: a joint '
              'has to swing this far either side of straight for a wave cycle to count (a '
              'noise floor; a band scaled to the steady swim amplitude missed the first, still '
              'growing wave cycles)', 'rad', min=0.0, max=0.5),
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
    ParamSpec('servo.period_s', 0.0, 'multi-rate control, servo.mode pd: the joint PD servo '
              'kp (q* − q) − kd q̇ + feedforward runs this often (reading only the joints), the '
              'pattern (network, decoder, IK, heading, posture reflex: everything that needs '
              'contacts or the base) every control_period_s, its targets and feedforward held '
              'in between (servo.between_ticks); control_period_s must be a whole multiple of '
              'it; 0 (or control_period_s): the servo runs with the pattern only', 's',
              min=0.0, max=0.02),
    ParamSpec('servo.between_ticks', 'hold', "multi-rate servo (servo.period_s): 'hold' keeps "
              "the pattern's last joint targets between its ticks; 'extrapolate' continues "
              "them linearly along the last pattern step (q*_k + s (q*_k − q*_k−1), s = time "
              "since the tick / control_period_s); the feedforward is held either way",
              choices=('hold', 'extrapolate')),
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
            k = self.reserve(1)
        self._buf[k] = row
        self._t[k] = t
        self._k = k + 1

    def reserve(self, rows: int) -> int:
        """Room for ``rows`` more rows in the current chunk (a new chunk when they do not fit):
        returns the index of the first. A caller that writes into ``_buf`` / ``_t`` itself (a
        numba kernel) sets ``_k`` to the index after its last row."""
        k = self._k
        if k + rows > self.chunk:
            self._done.append(self._buf[:k])
            self._times.append(self._t[:k])
            self._buf = np.empty((self.chunk, self.width), dtype=self.dtype)
            self._t = np.empty(self.chunk)
            self._k = k = 0
        return k

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
# quadruped: everything after the rhythm in one numba call (_quadruped_tail)

# QuadrupedOscillatorController._ca, a float arena: per-joint and per-leg arrays, then numbers
_CA_KP, _CA_KD, _CA_FORCE, _CA_FF, _CA_EXTRA, _CA_AMP = 0, 12, 24, 28, 40, 44
(_CA_T0, _CA_RAMP, _CA_STEER, _CA_YAW0, _CA_YAW_INT, _CA_GAIN, _CA_KI, _CA_STEER_F, _CA_STEER_H,
 _CA_WEIGHT, _CA_POSTURE, _CA_BAND, _CA_PITCH_C, _CA_ON_GROUND, _CA_POSTURE_S, _CA_PD,
 _CA_N_FEET) = range(48, 65)
_CA_SIZE = 65
_FLOAT64 = np.dtype(np.float64)
_EMPTY = np.zeros(0)      # an absent channel (writable like the others: one numba signature)
_TAIL_ERRORS = {-1: 'base_orientation must have 4 values (x, y, z, w)',
                -2: 'the posture reflex needs base_angular_velocity (3 values)',
                -3: 'servo.mode pd needs joint position and velocity for every joint'}


@njit(cache=True)
def _py_clip(v, lo, hi):
    """min(max(v, lo), hi) with Python's tie rules (max keeps v unless lo > v; min keeps it
    unless hi < it)."""
    if lo > v:
        v = lo
    if hi < v:
        v = hi
    return v


@njit(cache=True)
def _wrap_nb(a):
    return (a + math.pi) % (2 * math.pi) - math.pi


@njit(cache=True)
def _tail_check(ca, order, orientation, angvel, forces, position, velocity):
    """0, or the (negative) code of a malformed observation, before anything changes."""
    if orientation.shape[0] != 0 and orientation.shape[0] != 4:
        return -1
    if ca[_CA_POSTURE] != 0.0 and orientation.shape[0] == 4 and forces.shape[0] == 4 \
            and angvel.shape[0] != 3:
        return -2
    if ca[_CA_PD] != 0.0 and (position.shape[0] != order.shape[0]
                              or velocity.shape[0] != order.shape[0]):
        return -3
    return 0


@njit(cache=True)
def _quadruped_tail(ca, dec, order, phase, amp_raw, sqrt_mu, time, dt, orientation, angvel,
                    forces, position, velocity, cbuf, ct, ck, tau):
    """One control step of :class:`QuadrupedOscillatorController` after its rhythm generator:
    amplitude and start-up ramp, heading PI (stroke scale per side), contact record (row ``ck``
    of ``cbuf`` / ``ct``; none if ck < 0), foot targets + IK (``_decode_packed``), posture reflex
    and PD servo with weight feedforward (``_servo_effort``) into ``tau``. The operations of the
    former Python step, in its order (bit-identical). Empty arrays stand for absent channels.
    Returns 0, or a negative code (``_TAIL_ERRORS``) with nothing changed."""
    code = _tail_check(ca, order, orientation, angvel, forces, position, velocity)
    if code != 0:
        return code
    t = time - ca[_CA_T0]
    ramp = ca[_CA_RAMP]
    amp = ca[_CA_AMP:_CA_AMP + 4]
    for i in range(4):
        amp[i] = amp_raw[i] / sqrt_mu
    if t < ramp:
        r = t / ramp
        for i in range(4):
            amp[i] = amp[i] * r
    if ca[_CA_STEER] != 0.0 and orientation.shape[0] == 4:
        x, y, z, w = orientation[0], orientation[1], orientation[2], orientation[3]
        err = _wrap_nb(math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
                       - ca[_CA_YAW0])
        ki = ca[_CA_KI]
        if t >= ramp and ki > 0:
            bound = 0.5 / ki
            ca[_CA_YAW_INT] = _py_clip(ca[_CA_YAW_INT] + err * dt, -bound, bound)
        s = _py_clip(ca[_CA_GAIN] * err + ki * ca[_CA_YAW_INT], -0.5, 0.5)
        # yaw to the left (err > 0): lengthen the left strokes, shorten the right ones
        f, h = ca[_CA_STEER_F], ca[_CA_STEER_H]
        sc = dec[_DEC_SCALE:_DEC_SCALE + 4]
        sc[0] = _py_clip(1 + f * s, -1.5, 1.5)
        sc[1] = _py_clip(1 - f * s, -1.5, 1.5)
        sc[2] = _py_clip(1 + h * s, -1.5, 1.5)
        sc[3] = _py_clip(1 - h * s, -1.5, 1.5)
        length = dec[_DEC_STEP_LENGTH]
        for i in range(4):
            dec[_DEC_LENGTH + i] = sc[i] * length
    if ck >= 0:
        for j in range(forces.shape[0]):
            cbuf[ck, j] = forces[j]
        ct[ck] = time
    _decode_packed(dec, phase, amp)
    if ca[_CA_PD] == 0.0:
        return 0
    extra = ca[_CA_EXTRA:_CA_EXTRA + 4]
    if ca[_CA_POSTURE] != 0.0:
        # posture reflex, a safety reflex silent near level: while the trunk pitch is beyond
        # posture.pitch_deadband_rad the feet on the ground get extra support force
        # M = c x pitch rate (body frame, + nose down), + M at the front and - M at the hind: the
        # front feet yield to a nose-up throw and the hind ones push against a rearing (the
        # first-bound-cycle hop that grew into a fall, docs/neuromodulation.md)
        if orientation.shape[0] != 4 or forces.shape[0] != 4:
            extra[:] = 0.0
        else:
            x, y, z, w = orientation[0], orientation[1], orientation[2], orientation[3]
            pitch = math.asin(_py_clip(2.0 * (w * y - z * x), -1.0, 1.0))
            band = ca[_CA_BAND]
            if -band <= pitch and pitch <= band:
                if extra[0] != 0.0 or extra[1] != 0.0 or extra[2] != 0.0 or extra[3] != 0.0:
                    extra[:] = 0.0
            else:
                wx, wy, wz = angvel[0], angvel[1], angvel[2]
                # body-frame pitch rate: the body y axis (column 2 of the rotation matrix) . omega
                rate = (2.0 * (x * y - z * w)) * wx + (1.0 - 2.0 * (x * x + z * z)) * wy \
                    + (2.0 * (y * z + x * w)) * wz
                m = ca[_CA_PITCH_C] * rate
                g = ca[_CA_ON_GROUND]
                extra[0] = m if forces[0] > g else 0.0
                extra[1] = m if forces[1] > g else 0.0
                extra[2] = -m if forces[2] > g else 0.0
                extra[3] = -m if forces[3] > g else 0.0
                ca[_CA_POSTURE_S] += dt
    _servo_effort(dec[_DEC_Q:_DEC_Q + 12].reshape((4, 3)), phase, amp, ca[_CA_WEIGHT], position,
                  velocity, ca[_CA_KP:_CA_KP + 12], ca[_CA_KD:_CA_KD + 12], order,
                  dec[_DEC_D:_DEC_D + 4], dec[_DEC_THIGH], dec[_DEC_CALF],
                  ca[_CA_FORCE:_CA_FORCE + 4], ca[_CA_FF:_CA_FF + 12].reshape((4, 3)), tau, extra)
    return 0


# ---------------------------------------------------------------------------------------------
# multi-rate control (servo.period_s): the PD servo alone between pattern ticks

# QuadrupedOscillatorController._sa, the servo arena: the last pattern tick's joint targets
# q*_k and the ones before q*_k-1 (leg-major, as the decoder's), then numbers
_SA_Q, _SA_QPREV = 0, 12
_SA_STEP, _SA_S, _SA_EXTRAPOLATE, _SA_LATCHED = 24, 25, 26, 27
_SA_SIZE = 28
_SERVO_ERRORS = {-1: 'servo needs one joint position and one velocity per joint',
                 -2: 'servo: a joint position or velocity is not finite'}


@njit(cache=True)
def _servo_latch(sa, dec):
    """After a pattern tick (extrapolating servo): its targets become q*_k, the previous ones
    q*_k-1 (the same on the first tick: no slope), the time since the tick 0."""
    first = sa[_SA_LATCHED] == 0.0
    for m in range(12):
        sa[_SA_QPREV + m] = dec[_DEC_Q + m] if first else sa[_SA_Q + m]
        sa[_SA_Q + m] = dec[_DEC_Q + m]
    sa[_SA_LATCHED] = 1.0
    sa[_SA_S] = 0.0


@njit(cache=True)
def _servo_only(ca, dec, sa, order, position, velocity, tau):
    """One servo tick between pattern ticks: tau[k] = kp (q* − q) − kd q̇ + ff for output joint
    k (leg-major index order[k]); q* and ff are the last pattern tick's (``dec`` targets and the
    ``ca`` feedforward: the very expression :func:`_servo_effort` evaluates), or with
    ``sa[_SA_EXTRAPOLATE]`` q*_k + s (q*_k − q*_k-1), s advanced by ``sa[_SA_STEP]`` (servo
    period / pattern period) per call. Returns 0, or a negative code (``_SERVO_ERRORS``: wrong
    length, a non-finite reading) with nothing changed."""
    n = order.shape[0]
    if position.shape[0] != n or velocity.shape[0] != n:
        return -1
    for k in range(n):
        if not (math.isfinite(position[k]) and math.isfinite(velocity[k])):
            return -2
    if sa[_SA_EXTRAPOLATE] != 0.0:
        s = sa[_SA_S] + sa[_SA_STEP]
        sa[_SA_S] = s
        for k in range(n):
            m = order[k]
            q = sa[_SA_Q + m]
            target = _py_clip(q + s * (q - sa[_SA_QPREV + m]), dec[_DEC_LO + m], dec[_DEC_HI + m])
            tau[k] = ca[_CA_KP + k] * (target - position[k]) - ca[_CA_KD + k] * velocity[k] \
                + ca[_CA_FF + m]
    else:
        for k in range(n):
            m = order[k]
            tau[k] = ca[_CA_KP + k] * (dec[_DEC_Q + m] - position[k]) \
                - ca[_CA_KD + k] * velocity[k] + ca[_CA_FF + m]
    return 0


def _arena_slot(index: int, doc: str):
    """A float attribute kept in the controller's arena ``_ca`` (read and written by the
    numba step)."""
    def get(self):
        return float(self._ca[index])

    def put(self, value):
        self._ca[index] = value
    return property(get, put, doc=doc)


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

    # numbers the numba step reads or writes live in the arena _ca (layout: _CA_*)
    _t0 = _arena_slot(_CA_T0, 'body time at reset (s)')
    _ramp = _arena_slot(_CA_RAMP, 'amplitude ramp duration (s)')
    _yaw0 = _arena_slot(_CA_YAW0, 'start heading (rad)')
    _yaw_integral = _arena_slot(_CA_YAW_INT, 'heading error integral (rad s)')
    _weight = _arena_slot(_CA_WEIGHT, 'weight the stance legs carry by feedforward (N)')
    posture_active_s = _arena_slot(_CA_POSTURE_S, 'time the posture reflex acted (s)')

    def __init__(self, body: BodyInfo, gait: str | None = None, drive: float | None = None,
                 params=None):
        self._ca = np.zeros(_CA_SIZE)
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
        self._configure_servo_rate(p)
        column = [0 if n.endswith('hip_abad') else 1 if n.endswith('hip_flex') else 2
                  for n in body.joint_names]          # joint kind: abad, flex, knee
        ca = self._ca
        self.kp = ca[_CA_KP:_CA_KP + 12]
        self.kd = ca[_CA_KD:_CA_KD + 12]
        self.kp[:] = np.asarray(p['servo.kp'], dtype=float)[column]
        self.kd[:] = np.asarray(p['servo.kd'], dtype=float)[column]
        geometry = self.decoder.geometry
        self._weight = float(p['servo.weight_feedforward'] * geometry.total_mass * 9.81)
        self._ff = ca[_CA_FF:_CA_FF + 12].reshape(4, 3)
        self._force = ca[_CA_FORCE:_CA_FORCE + 4]
        self._extra = ca[_CA_EXTRA:_CA_EXTRA + 4]
        self._posture = self.pd and p['posture.pitch_rate_gain'] > 0
        self._pitch_band = p['posture.pitch_deadband_rad']
        self._pitch_c = p['posture.pitch_rate_gain']
        self._on_ground = p['metrics.contact_threshold_n']
        self.posture_active_s = 0.0
        ca[_CA_STEER], ca[_CA_GAIN], ca[_CA_KI] = self._steer, self.heading_gain, self.heading_ki
        ca[_CA_STEER_F], ca[_CA_STEER_H] = self._steer_legs
        ca[_CA_POSTURE], ca[_CA_BAND] = self._posture, self._pitch_band
        ca[_CA_PITCH_C], ca[_CA_ON_GROUND], ca[_CA_PD] = self._pitch_c, self._on_ground, self.pd
        sensors = {'contacts'}
        if self._steer or self._posture:
            sensors.add('base')
        if self.pd:
            sensors.add('joints')
        self.sensors = frozenset(sensors)
        self.lower, self.upper = np.asarray(body.lower), np.asarray(body.upper)
        self._n_feet = len(body.foot_names)
        ca[_CA_N_FEET] = self._n_feet
        self._contacts = _Recorder(self._n_feet)
        self._amp = ca[_CA_AMP:_CA_AMP + 4]      # the last step's amplitudes (after the ramp)
        self._amp[:] = 1.0
        self._phase = np.zeros(4)
        self._yaw0 = 0.0
        self._t0 = 0.0

    def _configure_servo_rate(self, p) -> None:
        """Multi-rate control (``servo.period_s``): ``servo_period_s`` (None: the servo runs
        with the pattern only) and the servo arena ``_sa``."""
        self.servo_period_s = None
        self._sa = np.zeros(_SA_SIZE)
        self._latch = False
        servo, pattern = p['servo.period_s'], p['control_period_s']
        if servo == 0.0 or abs(servo - pattern) <= 1e-9 * pattern:
            return
        if not self.pd:
            raise ConfigError(f'{NODE}: servo.period_s {servo:g} s needs servo.mode pd (the '
                              'position servo runs in the body)')
        ratio = pattern / servo
        n = int(round(ratio))
        if n < 2 or abs(n - ratio) > 1e-9 * ratio:
            raise ConfigError(f'{NODE}: control_period_s {pattern:g} s must be a whole multiple '
                              f'(>= 2) of servo.period_s {servo:g} s')
        self.servo_period_s = servo
        self._sa[_SA_STEP] = 1.0 / n
        self._latch = p['servo.between_ticks'] == 'extrapolate'
        self._sa[_SA_EXTRAPOLATE] = self._latch

    def servo(self, position, velocity) -> np.ndarray:
        """Multi-rate control: one tick of the joint PD servo between pattern ticks (every
        ``servo_period_s``; the runner calls it at the physics steps where ``step`` is not
        called). Reads only the joints (``position`` rad, ``velocity`` rad/s, one value per
        joint in the body's joint order); the targets and the weight feedforward are the last
        ``step``'s, held or extrapolated (``servo.between_ticks``). Returns the joint efforts
        (N·m, a fresh array in joint order: an effort command's values); ValueError (nothing
        changed) for a wrong length or a non-finite reading."""
        if position.__class__ is not np.ndarray or position.dtype is not _FLOAT64:
            position = np.asarray(position, dtype=float)
        if velocity.__class__ is not np.ndarray or velocity.dtype is not _FLOAT64:
            velocity = np.asarray(velocity, dtype=float)
        if position.ndim != 1 or velocity.ndim != 1 or self.servo_period_s is None:
            raise ValueError(f'controller {self.name}: ' + (
                'servo needs 1-D joint position and velocity arrays' if self.servo_period_s
                else 'servo() needs servo.period_s (multi-rate control), which is off'))
        tau = np.empty(12)
        code = _servo_only(self._ca, self.decoder._arena, self._sa, self.decoder.output_order,
                           position, velocity, tau)
        if code:
            raise ValueError(f'controller {self.name}: {_SERVO_ERRORS[code]}')
        return tau

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
        self._sa[_SA_LATCHED] = 0.0
        self.posture_active_s = 0.0
        if self._steer and observation.base_orientation is not None:
            self._yaw0 = _yaw(observation.base_orientation)

    def step(self, observation: Observation, dt: float) -> Command:
        args = self._tail_args(observation)
        code = _tail_check(self._ca, self.decoder.output_order, *args[:5])
        if code:        # refused before the rhythm advances: nothing changes
            return self._command(code, -1, None, None)
        cpg = self.cpg
        out = cpg.step(dt)
        return self._finish(observation, dt, out.phase, out.amplitude, math.sqrt(cpg.mu), args)

    def _tail_args(self, observation: Observation):
        """(orientation, angular velocity, foot forces, position, velocity, contact row) for
        :func:`_quadruped_tail`: absent channels as empty arrays; the row reserved in the
        contact record, -1 when the forces are absent or of another size."""
        o, w = observation.base_orientation, observation.base_angular_velocity
        f, q, qd = observation.foot_forces, observation.position, observation.velocity
        ck = -1
        if f is None:
            f = _EMPTY
        elif f.size == self._n_feet:
            rec = self._contacts
            ck = rec._k if rec._k < rec.chunk else rec.reserve(1)
        return (_EMPTY if o is None else o, _EMPTY if w is None else w, f,
                _EMPTY if q is None else q, _EMPTY if qd is None else qd, ck)

    def _finish(self, observation: Observation, dt: float, phase, amplitude,
                sqrt_mu: float, args) -> Command:
        """Amplitude ramp, steering, contact record, decoder + IK, posture reflex and PD servo:
        one numba call (:func:`_quadruped_tail`) on the rhythm's ``phase`` / ``amplitude``;
        ``args``: this observation's :meth:`_tail_args`."""
        o, w, f, q, qd, ck = args
        tau = np.empty(12)
        rec = self._contacts
        code = _quadruped_tail(self._ca, self.decoder._arena, self.decoder.output_order, phase,
                               amplitude, sqrt_mu, observation.time, dt, o, w, f, q, qd,
                               rec._buf, rec._t, ck, tau)
        return self._command(code, ck, phase, tau)

    def _command(self, code: int, ck: int, phase, tau) -> Command:
        if code:
            raise ValueError(f'controller {self.name}: {_TAIL_ERRORS[code]}')
        if ck >= 0:
            self._contacts._k = ck + 1
        if self._latch:         # extrapolating multi-rate servo: these targets are q*_k now
            _servo_latch(self._sa, self.decoder._arena)
        self._phase = phase
        if not self.pd:
            return Command(POSITION, self.decoder.last_leg_targets.reshape(12)[
                self.decoder.output_order])
        return Command.adopt(EFFORT, tau)

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
        return Command.adopt(POSITION, q)   # q: the decoder's fresh array

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
