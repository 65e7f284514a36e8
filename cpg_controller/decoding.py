"""From rhythm to joints: the decoders shared by the reference oscillators and the spiking CPG.

The input is a small, explicit **rhythm state** that any rhythm generator can produce
(:class:`RhythmState`):

- per limb a **phase** (rad) and an **amplitude** (0..1). Phase convention (the Hopf CPG's):
  ``0`` = touchdown, ``[0, π)`` = stance (foot on the ground moving backward), ``π`` = lift-off,
  ``[π, 2π)`` = swing (foot lifted, moving forward). Amplitude 0 = the limb stands still (or
  folds, salamander), 1 = full step.
- or per limb **flexor** and **extensor** activities (normalised 0..1), from which
  :class:`FlexorExtensorPhase` derives phase and amplitude (swing while the flexor dominates,
  stance while the extensor does; progress inside each half from the durations of the last ones).
- for the salamander body, per segment **left** and **right** activity (0..1): body joint
  ``k = A_k · (left_k − right_k)``.

Two decoders turn a rhythm state into position targets in the URDF's actuated-joint order,
clipped to the URDF limits, finite for any finite input:

- :class:`QuadrupedDecoder`: CPG-RL-style foot-space mapping (Bellegarda & Ijspeert 2022, reference
  sheet §8) then leg inverse kinematics (:mod:`cpg_controller.kinematics`). Trajectory 'cpg_rl'::

      x = x_0 + a · L/2 · cos φ                    (front at touchdown, back at lift-off)
      z = z_0 − a · g_p · sin φ   if sin φ ≥ 0      (stance: slight ground penetration)
      z = z_0 − a · g_c · sin φ   if sin φ < 0      (swing: clearance g_c at mid-swing)
      y = ±(d + y_0),  z_0 = −(H − r_foot)          (d: hip-flexion joint offset, + left)

  Trajectory 'cycloid' (default): the same end points, constant foot speed in stance and a
  cycloid swing (no touchdown impact); see docs/decoding.md.

- :class:`SalamanderDecoder`: body bends from left−right activity with a per-segment amplitude
  that blends between a walking and a swimming profile; limbs protract/retract with the phase and
  lift in swing; limbs whose amplitude falls to 0 (swimming) fold back along the body.

All parameters are :class:`~neuro_locomotion.params.ParamSpec` (unit, range) read from the
``cpg_node`` section of ``config/<robot>.yaml``; see docs/decoding.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from neuro_locomotion.params import ConfigError, ParamSpec

from .kinematics import LEGS, LegGeometry, _ik_rows, quadruped_geometry

from numba import njit   # a hard requirement (requirements.txt), as in kernel.py

TWO_PI = 2.0 * math.pi

__all__ = ['RhythmState', 'FlexorExtensorPhase', 'QuadrupedDecoder', 'SalamanderDecoder',
           'QUADRUPED_DECODER_PARAMS', 'SALAMANDER_DECODER_PARAMS', 'warp_phase', 'in_stance']


# ============================================================================================
# rhythm state

@dataclass
class RhythmState:
    """What a rhythm generator hands to a decoder (see the module docstring for conventions).

    ``phase`` (rad, any real value; 0 = touchdown, [0, π) stance) and ``amplitude`` (0..1) have
    one entry per limb (LF, RF, LH, RH); ``body_left`` / ``body_right`` (0..1) one per body
    segment (salamander, head to tail), else ``None``.
    """

    phase: np.ndarray
    amplitude: np.ndarray
    body_left: np.ndarray | None = None
    body_right: np.ndarray | None = None

    @classmethod
    def from_flexor_extensor(cls, estimator: 'FlexorExtensorPhase', flexor, extensor, dt: float,
                             body_left=None, body_right=None) -> 'RhythmState':
        phase, amplitude = estimator.update(flexor, extensor, dt)
        return cls(phase, amplitude, body_left, body_right)


def in_stance(phase) -> np.ndarray:
    """True where a phase (rad) is in stance, i.e. in [0, π) modulo 2π."""
    return np.mod(np.asarray(phase, dtype=float), TWO_PI) < math.pi


def warp_phase(phase, duty_factor: float) -> np.ndarray:
    """Map a uniform phase (rad, 0 = touchdown, grows at a constant rate) with stance lasting
    ``duty_factor`` of the cycle onto the decoder convention (stance [0, π), swing [π, 2π)).

    For rhythm generators whose phase advances uniformly (a phase oscillator, a spike-train phase
    estimate): the decoder then gives the intended duty factor.
    """
    if not 0.0 < duty_factor < 1.0:
        raise ValueError(f'duty factor must be in (0, 1), got {duty_factor!r}')
    u = np.mod(np.asarray(phase, dtype=float), TWO_PI) / TWO_PI
    return np.where(u < duty_factor, math.pi * u / duty_factor,
                    math.pi + math.pi * (u - duty_factor) / (1.0 - duty_factor))


def _vector(x, n: int, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float).reshape(-1)
    if a.size == 1 and n != 1:
        a = np.full(n, a[0])
    if a.size != n:
        raise ValueError(f'{what}: expected {n} values, got {a.size}')
    return a


# ============================================================================================
# flexor / extensor -> phase

class FlexorExtensorPhase:
    """Phase and amplitude of each limb from its flexor and extensor activities (0..1).

    A limb is in **swing while its flexor dominates** (flexor − extensor > ``hysteresis``) and in
    **stance while its extensor dominates** (extensor − flexor > ``hysteresis``); in between it
    keeps its state. Each switch sets the phase to the start of the half (0 at touchdown, π at
    lift-off); inside a half the phase advances at π per expected half duration, the expected
    durations being running averages (weight ``adapt``) of the measured ones, and it never
    passes the end of the half before the activities switch (the foot waits at the end of its
    stroke). A half longer than ``max_half_s`` is a pause, not a stride (e.g. the limbs silenced
    while the salamander swims): it does not update the expected duration. A half ends no
    sooner than ``min_half_s`` after it began, so flips faster than that (flexor and extensor
    restarting together) are not strides either, and a half shorter than
    ``learn_min_fraction`` of its expected duration ends the half but is not learned (a restart
    blip, not a stride: learned, it shortens the next real half's trajectory for several
    strides). The expected durations then follow a rhythm that shortens its halves to no less
    than that fraction at once; a faster change needs them set (e.g. at a gait switch).
    Amplitude: the peak of max(flexor, extensor), held and decaying with time constant
    ``amplitude_decay_s``; a limb whose activities stay below ``min_activity`` fades to 0.
    """

    def __init__(self, n: int = 4, *, stance_s: float = 0.3, swing_s: float = 0.15,
                 hysteresis: float = 0.05, adapt: float = 0.5, amplitude_decay_s: float = 0.3,
                 min_activity: float = 0.05, max_half_s: float = math.inf,
                 min_half_s: float = 0.0, learn_min_fraction: float = 0.0):
        for name, v in (('stance_s', stance_s), ('swing_s', swing_s),
                        ('amplitude_decay_s', amplitude_decay_s)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f'{name} must be positive, got {v!r}')
        if not max_half_s > 0:          # also refuses NaN; inf: every half counts
            raise ValueError(f'max_half_s must be positive, got {max_half_s!r}')
        if not 0.0 <= min_half_s < max_half_s:          # also refuses NaN
            raise ValueError(f'min_half_s must be in [0, max_half_s = {max_half_s}), '
                             f'got {min_half_s!r}')
        if not 0.0 <= learn_min_fraction < 1.0:         # also refuses NaN
            raise ValueError(f'learn_min_fraction must be in [0, 1), got {learn_min_fraction!r}')
        if not (0.0 <= hysteresis < 1.0 and 0.0 < adapt <= 1.0 and 0.0 <= min_activity < 1.0):
            raise ValueError('hysteresis in [0, 1), adapt in (0, 1], min_activity in [0, 1)')
        self.n = int(n)
        self.hysteresis, self.adapt = float(hysteresis), float(adapt)
        self.decay_s, self.min_activity = float(amplitude_decay_s), float(min_activity)
        self.max_half_s, self.min_half_s = float(max_half_s), float(min_half_s)
        self.learn_min_fraction = float(learn_min_fraction)
        self._init = (float(stance_s), float(swing_s))
        self.reset()

    def reset(self) -> None:
        self.swing = np.zeros(self.n, dtype=bool)          # start in stance
        self.elapsed = np.zeros(self.n)                    # s since the current half began
        self.expected = np.array([self._init] * self.n)    # (n, 2): stance, swing durations
        self.amplitude = np.zeros(self.n)
        self.phase = np.zeros(self.n)
        self.touchdowns = 0

    def update(self, flexor, extensor, dt: float) -> tuple[np.ndarray, np.ndarray]:
        f = np.clip(_vector(flexor, self.n, 'flexor'), 0.0, 1.0)
        e = np.clip(_vector(extensor, self.n, 'extensor'), 0.0, 1.0)
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(e))):
            raise ValueError('flexor and extensor activities must be finite')
        u = f - e
        held = self.elapsed >= self.min_half_s
        to_swing = ~self.swing & (u > self.hysteresis) & held
        to_stance = self.swing & (u < -self.hysteresis) & held
        switched = to_swing | to_stance
        if switched.any():
            k = np.nonzero(switched)[0]
            half = self.swing[k].astype(int)               # the half that just ended
            measured = self.elapsed[k]
            ok = (measured > 1e-3) & (measured <= self.max_half_s) & \
                (measured >= self.learn_min_fraction * self.expected[k, half])
            rows, cols = k[ok], half[ok]
            self.expected[rows, cols] += self.adapt * (measured[ok] - self.expected[rows, cols])
            self.swing[k] = ~self.swing[k]
            self.elapsed[k] = 0.0
            self.touchdowns += int(to_stance.sum())
        self.elapsed += dt
        half = self.swing.astype(int)
        progress = np.minimum(self.elapsed / self.expected[np.arange(self.n), half], 0.999)
        self.phase = math.pi * (half + progress)
        peak = np.maximum(f, e)
        peak = np.where(peak >= self.min_activity, peak, 0.0)
        self.amplitude = np.maximum(peak, self.amplitude * math.exp(-dt / self.decay_s))
        return self.phase.copy(), self.amplitude.copy()


# ============================================================================================
# quadruped

QUADRUPED_DECODER_PARAMS = [
    ParamSpec('decoder.standing_height_m', 0.30, 'height of the hip axes above flat ground with '
              'the feet in stance at amplitude 0', 'm', min=0.15, max=0.37),
    ParamSpec('decoder.step_length_m', 0.12, 'stroke length L: foot travel from touchdown (front) '
              'to lift-off (back), at amplitude 1 (CPG-RL 2 d_step)', 'm', min=0.0, max=0.30),
    ParamSpec('decoder.step_height_m', 0.06, 'swing clearance g_c: foot lift at mid-swing, at '
              'amplitude 1', 'm', min=0.0, max=0.15),
    ParamSpec('decoder.ground_penetration_m', 0.01, 'stance depth g_p: how far the stance '
              'target goes below the ground at mid-stance (keeps the foot loaded)', 'm',
              min=0.0, max=0.05),
    ParamSpec('decoder.foot_x_offset_m', [0.0, 0.0], 'neutral foot x relative to the hip axis '
              '(+ forward), front legs then hind legs', 'm', min=-0.15, max=0.15, length=2),
    ParamSpec('decoder.trajectory', 'cycloid', "foot path: 'cpg_rl' (x = L/2 cos φ, "
              "z = −h − g sin φ, as CPG-RL) or 'cycloid' (constant foot speed in stance, cycloid "
              "swing: the foot lands and lifts with zero vertical speed)",
              choices=('cpg_rl', 'cycloid')),
    ParamSpec('decoder.foot_y_offset_m', 0.0, 'neutral foot y outward of the hip-flexion joint '
              '(+ away from the midline)', 'm', min=-0.08, max=0.10),
]


@njit(cache=True)
def _quadruped_feet(phase, amp, length, height, penetration, z0, x0, y0, shape, out):
    for i in range(phase.shape[0]):
        a = amp[i]
        if not (a > 0.0):          # also NaN
            a = 0.0
        elif a > 1.0:
            a = 1.0
        ph = phase[i]
        if not math.isfinite(ph):
            ph = 0.0
        ph = ph % (2.0 * math.pi)
        out[i, 1] = y0[i]
        if shape == 0:          # CPG-RL: x = L/2 cos φ, z from sin φ
            c, s = math.cos(ph), math.sin(ph)
            out[i, 0] = x0[i] + a * 0.5 * length[i] * c
            if ph < math.pi:
                out[i, 2] = z0 - a * penetration * s
            else:
                out[i, 2] = z0 - a * height[i] * s
        else:                   # linear stance, cycloid swing: no impact, no stance slip
            if ph < math.pi:
                u = ph / math.pi
                out[i, 0] = x0[i] + a * length[i] * (0.5 - u)
                out[i, 2] = z0 - a * penetration * math.sin(ph)
            else:
                u = (ph - math.pi) / math.pi
                out[i, 0] = x0[i] + a * length[i] * (u - math.sin(2.0 * math.pi * u)
                                                       / (2.0 * math.pi) - 0.5)
                out[i, 2] = z0 + a * height[i] * 0.5 * (1.0 - math.cos(2.0 * math.pi * u))


# QuadrupedDecoder's float arena: per-leg arrays, (4, 3) arrays (flat), then numbers
_DEC_SCALE, _DEC_LENGTH, _DEC_HEIGHT, _DEC_X0, _DEC_Y0, _DEC_D = 0, 4, 8, 12, 16, 20
_DEC_LO, _DEC_HI, _DEC_FEET, _DEC_Q = 24, 36, 48, 60
(_DEC_PENETRATION, _DEC_Z0, _DEC_SHAPE, _DEC_THIGH, _DEC_CALF, _DEC_RMIN, _DEC_RMAX,
 _DEC_STEP_LENGTH, _DEC_CLIPPED) = range(72, 81)
_DEC_SIZE = 81


@njit(cache=True)
def _decode_packed(dec, phase, amp):
    """Foot targets then leg IK from the decoder's arena (``QuadrupedDecoder._arena``): the
    :func:`_quadruped_feet` + :func:`~cpg_controller.kinematics._ik_rows` calls of
    ``decode_legs`` with the same arguments, in one call; adds the clipped legs to the count."""
    feet = dec[_DEC_FEET:_DEC_FEET + 12].reshape((4, 3))
    _quadruped_feet(phase, amp, dec[_DEC_LENGTH:_DEC_LENGTH + 4], dec[_DEC_HEIGHT:_DEC_HEIGHT + 4],
                    dec[_DEC_PENETRATION], dec[_DEC_Z0], dec[_DEC_X0:_DEC_X0 + 4],
                    dec[_DEC_Y0:_DEC_Y0 + 4], int(dec[_DEC_SHAPE]), feet)
    dec[_DEC_CLIPPED] += _ik_rows(feet, dec[_DEC_D:_DEC_D + 4], dec[_DEC_THIGH], dec[_DEC_CALF],
                                  dec[_DEC_LO:_DEC_LO + 12].reshape((4, 3)),
                                  dec[_DEC_HI:_DEC_HI + 12].reshape((4, 3)), dec[_DEC_RMIN],
                                  dec[_DEC_RMAX], dec[_DEC_Q:_DEC_Q + 12].reshape((4, 3)))


class QuadrupedDecoder:
    """Phase/amplitude per leg (LF, RF, LH, RH) -> 12 position targets (see module docstring).

    ``params``: a mapping with the :data:`QUADRUPED_DECODER_PARAMS` names (a ParamSet works);
    missing names take their defaults. ``joint_names`` gives the output order (default: the
    URDF command order ``<leg>_hip_abad, <leg>_hip_flex, <leg>_knee`` for LF, RF, LH, RH).
    ``step_scale`` (per leg, settable) multiplies the stroke length: 1 everywhere walks
    straight, less on one side turns towards it, negative walks backward.
    """

    def __init__(self, params: Mapping | None = None, geometry: LegGeometry | None = None,
                 joint_names: Sequence[str] | None = None):
        self.geometry = g = geometry or quadruped_geometry()
        values = {s.name: s.default for s in QUADRUPED_DECODER_PARAMS}
        if params is not None:
            values.update({k: params[k] for k in values if _has(params, k)})
        self._order = _leg_joint_order(joint_names)
        self.output_order = self._order        # output joint k = (leg, joint) flat index [k]
        # every array and number the per-tick decode reads or writes, in one float arena (one
        # numba argument instead of fifteen; layout: _DEC_* below); the attributes are views
        self._arena = a = np.zeros(_DEC_SIZE)
        self.step_scale = a[_DEC_SCALE:_DEC_SCALE + 4]
        self._length = a[_DEC_LENGTH:_DEC_LENGTH + 4]
        self._height = a[_DEC_HEIGHT:_DEC_HEIGHT + 4]
        self._x0 = a[_DEC_X0:_DEC_X0 + 4]
        self._y0 = a[_DEC_Y0:_DEC_Y0 + 4]
        self._d = a[_DEC_D:_DEC_D + 4]
        self._lo = a[_DEC_LO:_DEC_LO + 12].reshape(4, 3)
        self._hi = a[_DEC_HI:_DEC_HI + 12].reshape(4, 3)
        self._feet = a[_DEC_FEET:_DEC_FEET + 12].reshape(4, 3)
        self._q = a[_DEC_Q:_DEC_Q + 12].reshape(4, 3)
        self._d[:] = g.lateral_offset
        self._lo[:] = g.lower
        self._hi[:] = g.upper
        self._rmin, self._rmax = g.reach
        a[_DEC_THIGH], a[_DEC_CALF] = g.thigh, g.calf
        a[_DEC_RMIN], a[_DEC_RMAX] = self._rmin, self._rmax
        self.step_scale[:] = 1.0
        self.configure(**{k.split('.', 1)[1]: v for k, v in values.items()})

    def configure(self, *, standing_height_m=None, step_length_m=None, step_height_m=None,
                  ground_penetration_m=None, foot_x_offset_m=None, foot_y_offset_m=None,
                  trajectory=None) -> None:
        """Change decoder parameters on the fly (e.g. per gait); values are range-checked."""
        specs = {s.name.split('.', 1)[1]: s for s in QUADRUPED_DECODER_PARAMS}
        given = dict(standing_height_m=standing_height_m, step_length_m=step_length_m,
                     step_height_m=step_height_m, ground_penetration_m=ground_penetration_m,
                     foot_x_offset_m=foot_x_offset_m, foot_y_offset_m=foot_y_offset_m,
                     trajectory=trajectory)
        for name, value in given.items():
            if value is None:
                continue
            if isinstance(value, np.ndarray):
                value = value.tolist()
            setattr(self, name, specs[name].check(value))
        g = self.geometry
        self._z0 = -(self.standing_height_m - g.foot_radius)
        fx, hx = self.foot_x_offset_m
        self._x0[:] = (fx, fx, hx, hx)
        self._y0[:] = g.lateral_offset + np.sign(g.lateral_offset) * self.foot_y_offset_m
        np.multiply(self.step_scale, self.step_length_m, out=self._length)
        self._height[:] = float(self.step_height_m)
        self._shape = 0 if self.trajectory == 'cpg_rl' else 1
        a = self._arena
        a[_DEC_PENETRATION], a[_DEC_Z0] = self.ground_penetration_m, self._z0
        a[_DEC_SHAPE], a[_DEC_STEP_LENGTH] = self._shape, self.step_length_m

    @property
    def clipped(self) -> int:
        """Legs projected/clipped by the IK, cumulative (reset by assigning 0)."""
        return int(self._arena[_DEC_CLIPPED])

    @clipped.setter
    def clipped(self, value: int) -> None:
        self._arena[_DEC_CLIPPED] = value

    def set_step_scale(self, scale) -> None:
        """Per-leg stroke multiplier (LF, RF, LH, RH), clipped to [-1.5, 1.5]."""
        s = _vector(scale, 4, 'step_scale')
        if not np.all(np.isfinite(s)):
            raise ValueError('step_scale must be finite')
        self.set_side_scale(s[0], s[1], s[2], s[3])

    def set_side_scale(self, lf: float, rf: float, lh: float, rh: float) -> None:
        """Fast path of :meth:`set_step_scale` for finite floats (steering every control tick)."""
        sc = self.step_scale
        sc[0], sc[1], sc[2], sc[3] = (min(max(v, -1.5), 1.5) for v in (lf, rf, lh, rh))
        np.multiply(sc, self.step_length_m, out=self._length)

    def feet(self, phase, amplitude=1.0) -> np.ndarray:
        """Foot-sphere targets (4, 3) in the leg frames (origin at each ab/adduction joint)."""
        ph = np.ascontiguousarray(_vector(phase, 4, 'phase'))
        am = np.ascontiguousarray(np.nan_to_num(_vector(amplitude, 4, 'amplitude'), nan=0.0))
        out = np.empty((4, 3))
        _quadruped_feet(ph, am, self._length, self._height, self.ground_penetration_m, self._z0,
                        self._x0, self._y0, self._shape, out)
        return out

    def decode(self, phase, amplitude=1.0) -> np.ndarray:
        """12 joint targets (rad, output order) for per-leg phases (rad) and amplitudes (0..1).

        Non-finite phases count as touchdown, non-finite amplitudes as 0: the output is always
        finite and within the URDF limits.
        """
        return self.decode_legs(phase, amplitude).reshape(12)[self._order]

    def decode_legs(self, phase, amplitude=1.0) -> np.ndarray:
        """Like :meth:`decode`, as (4 legs LF, RF, LH, RH) x (abad, flex, knee); a view of an
        internal buffer that the next call overwrites."""
        ph = phase if (type(phase) is np.ndarray and phase.shape == (4,)
                       and phase.dtype == np.float64) else _vector(phase, 4, 'phase')
        am = amplitude if (type(amplitude) is np.ndarray and amplitude.shape == (4,)
                           and amplitude.dtype == np.float64) else \
            _vector(amplitude, 4, 'amplitude')
        _decode_packed(self._arena, ph, am)
        return self._q

    @property
    def last_feet(self) -> np.ndarray:
        """Foot targets (4, 3) of the last :meth:`decode`, leg frames, a view."""
        return self._feet

    @property
    def last_leg_targets(self) -> np.ndarray:
        """The last :meth:`decode` result as (4 legs, 3 joints) (abad, flex, knee), a view."""
        return self._q

    def decode_state(self, state: RhythmState) -> np.ndarray:
        return self.decode(state.phase, state.amplitude).copy()

    def standing_posture(self) -> np.ndarray:
        """Joint targets at amplitude 0 (the posture the decoder stands in)."""
        return self.decode(np.zeros(4), np.zeros(4)).copy()


def _has(params, key) -> bool:
    try:
        params[key]
        return True
    except KeyError:
        return False


def _leg_joint_order(joint_names) -> np.ndarray:
    """Index into the (4 legs x 3 joints) array for each output joint."""
    default = [f'{leg.lower()}_{j}' for leg in LEGS for j in ('hip_abad', 'hip_flex', 'knee')]
    if joint_names is None:
        return np.arange(12)
    names = list(joint_names)
    if sorted(names) != sorted(default):
        raise ConfigError(f'quadruped decoder needs the joints {default}, got {names}')
    return np.array([default.index(n) for n in names])


# ============================================================================================
# salamander

N_SEG = 8

SALAMANDER_DECODER_PARAMS = [
    ParamSpec('decoder.body_amplitude_swim_rad', [0.4] * N_SEG, 'body joint bend per unit of '
              'left-right activity difference while swimming (limbs silent), head to tail',
              'rad', min=0.0, max=1.0, length=N_SEG),
    ParamSpec('decoder.body_amplitude_walk_rad', [0.4] * N_SEG, 'body joint bend per unit of '
              'left-right activity difference while walking (limbs active), head to tail',
              'rad', min=0.0, max=1.0, length=N_SEG),
    ParamSpec('decoder.protraction_amplitude_rad', [0.5, 0.5], 'limb protraction swing '
              '(half the fore-aft range) at amplitude 1, forelimbs then hindlimbs', 'rad',
              min=0.0, max=1.2, length=2),
    ParamSpec('decoder.protraction_offset_rad', [0.0, 0.0], 'neutral limb protraction '
              '(+ forward), forelimbs then hindlimbs', 'rad', min=-1.2, max=1.2, length=2),
    ParamSpec('decoder.stance_elevation_rad', -0.25, 'limb elevation in stance (negative '
              'pushes the foot down and lifts the body)', 'rad', min=-1.2, max=1.2),
    ParamSpec('decoder.stance_elevation_offset_rad', [0.0, 0.0], 'added to the stance elevation '
              'per girdle, forelimbs then hindlimbs (negative lowers that girdle\'s feet and '
              'raises it): the body\'s pitch, which sets which feet reach the ground first',
              'rad', min=-0.5, max=0.5, length=2),
    ParamSpec('decoder.swing_lift_rad', 0.5, 'extra elevation at mid-swing, at amplitude 1',
              'rad', min=0.0, max=1.2),
    ParamSpec('decoder.fold_protraction_rad', -1.2, 'protraction of a silent limb (folded back '
              'along the body when swimming)', 'rad', min=-1.2, max=1.2),
    ParamSpec('decoder.fold_elevation_rad', 0.0, 'elevation of a silent limb', 'rad',
              min=-1.2, max=1.2),
    ParamSpec('decoder.fold_below_amplitude', 0.2, 'limb amplitude under which the limb blends '
              'into the folded posture (fully folded at 0)', '1', min=0.01, max=1.0),
]


def _f64(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a if a.ndim == 1 else a.reshape(-1)


@njit(cache=True)
def _finite_or(x, default):
    return x if math.isfinite(x) else default


@njit(cache=True)
def _salamander_joints(left, right, phase, amp, a_walk, a_swim, p_off, p_amp, e_off, st_elev,
                       lift, fold_p, fold_e, fold_below, body, prot, elev, lower, upper, out):
    n = left.shape[0]
    w = np.empty(4)
    a = np.empty(4)
    wm = 0.0
    for i in range(4):
        a[i] = min(max(_finite_or(amp[i], 0.0), 0.0), 1.0)
        w[i] = min(a[i] / fold_below, 1.0)
        wm += 0.25 * w[i]
    for k in range(n):
        d = _finite_or(left[k], 0.0) - _finite_or(right[k], 0.0)
        d = min(max(d, -1.0), 1.0)
        out[body[k]] = (wm * a_walk[k] + (1.0 - wm) * a_swim[k]) * d
    for i in range(4):
        ph = _finite_or(phase[i], 0.0)
        p = p_off[i] + a[i] * p_amp[i] * math.cos(ph)
        e = st_elev + e_off[i] + a[i] * lift * max(0.0, -math.sin(ph))
        out[prot[i]] = w[i] * p + (1.0 - w[i]) * fold_p
        out[elev[i]] = w[i] * e + (1.0 - w[i]) * fold_e
    for j in range(out.shape[0]):
        out[j] = min(max(out[j], lower[j]), upper[j])


class SalamanderDecoder:
    """Salamander rhythm state -> 16 position targets (8 body yaw joints, 4 x 2 limb joints).

    Body joint k (head to tail): ``A_k · (left_k − right_k)``, with ``A_k`` blended from the
    walking profile (limbs active) to the swimming profile (limbs silent) by the mean limb
    activity weight ``w = mean(clip(a_i / fold_below_amplitude, 0, 1))``. Positive = concave to
    the left (``body_i`` > 0), i.e. left activity bends the body to the left.

    Limb i (phase φ, amplitude a, weight w_i = clip(a / fold_below_amplitude, 0, 1))::

        protraction = w_i (p_0 + a P cos φ) + (1 − w_i) p_fold        (front at touchdown φ = 0)
        elevation   = w_i (e_st + e_g + a lift max(0, −sin φ)) + (1 − w_i) e_fold

    (lifted in swing; ``e_g``: the stance elevation offset of the limb's girdle).
    """

    def __init__(self, params: Mapping | None = None, joint_names: Sequence[str] | None = None,
                 lower=None, upper=None, n_seg: int = N_SEG):
        values = {s.name: s.default for s in SALAMANDER_DECODER_PARAMS}
        if params is not None:
            values.update({k: params[k] for k in values if _has(params, k)})
        self.n_seg = int(n_seg)
        names = list(joint_names) if joint_names is not None else (
            [f'body_{k + 1}' for k in range(self.n_seg)]
            + [f'{leg.lower()}_limb_{j}' for leg in LEGS for j in ('protraction', 'elevation')])
        self.joint_names = tuple(names)
        try:
            self._body = np.array([names.index(f'body_{k + 1}') for k in range(self.n_seg)])
            self._prot = np.array([names.index(f'{leg.lower()}_limb_protraction') for leg in LEGS])
            self._elev = np.array([names.index(f'{leg.lower()}_limb_elevation') for leg in LEGS])
        except ValueError as error:
            raise ConfigError(f'salamander decoder: joint missing ({error})') from None
        n = len(names)
        self.lower = np.full(n, -1e9) if lower is None else np.array(lower, dtype=float)
        self.upper = np.full(n, 1e9) if upper is None else np.array(upper, dtype=float)
        self._out = np.zeros(n)
        self.configure(**{k.split('.', 1)[1]: v for k, v in values.items()})

    def configure(self, **values) -> None:
        specs = {s.name.split('.', 1)[1]: s for s in SALAMANDER_DECODER_PARAMS}
        for name, value in values.items():
            if name not in specs:
                raise ConfigError(f'salamander decoder: unknown parameter {name!r}')
            if value is None:
                continue
            if isinstance(value, np.ndarray):
                value = value.tolist()
            if specs[name].length == N_SEG and self.n_seg != N_SEG:
                value = list(np.interp(np.linspace(0, 1, self.n_seg),
                                       np.linspace(0, 1, N_SEG), value))
                setattr(self, name, value)
                continue
            setattr(self, name, specs[name].check(value))
        self._a_swim = np.array(self.body_amplitude_swim_rad, dtype=float)
        self._a_walk = np.array(self.body_amplitude_walk_rad, dtype=float)
        fore_hind = np.array([0, 0, 1, 1])
        self._p_amp_even = np.array(self.protraction_amplitude_rad, dtype=float)[fore_hind]
        self._p_amp = self._p_amp_even
        self._p_off = np.array(self.protraction_offset_rad, dtype=float)[fore_hind]
        self._e_off = np.array(self.stance_elevation_offset_rad, dtype=float)[fore_hind]

    def set_side_scale(self, left: float, right: float) -> None:
        """Scale the protraction amplitude of the left (LF, LH) and right (RF, RH) limbs
        (steering by stroke length while walking; 1, 1 = even, clipped to [0, 1.5])."""
        left, right = min(max(left, 0.0), 1.5), min(max(right, 0.0), 1.5)
        if left == 1.0 and right == 1.0:
            self._p_amp = self._p_amp_even
        else:
            self._p_amp = self._p_amp_even * np.array([left, right, left, right])

    def limb_weight(self, amplitude) -> np.ndarray:
        a = np.nan_to_num(np.asarray(amplitude, dtype=float), nan=0.0)
        return np.clip(a / self.fold_below_amplitude, 0.0, 1.0)

    def decode(self, body_left, body_right, limb_phase, limb_amplitude) -> np.ndarray:
        """16 joint targets (rad, output order); always finite and within the limits.

        Non-finite activities and amplitudes count as 0, non-finite phases as touchdown."""
        left = _f64(body_left)
        right = _f64(body_right)
        if left.shape != (self.n_seg,) or right.shape != (self.n_seg,):
            raise ValueError(f'body activities need {self.n_seg} values per side')
        ph = _f64(limb_phase)
        am = _f64(limb_amplitude)
        if ph.shape != (4,) or am.shape != (4,):
            ph, am = _vector(ph, 4, 'limb_phase'), _vector(am, 4, 'limb_amplitude')
        out = np.empty(self._out.shape[0])
        _salamander_joints(left, right, ph, am, self._a_walk, self._a_swim, self._p_off,
                           self._p_amp, self._e_off, float(self.stance_elevation_rad),
                           float(self.swing_lift_rad), float(self.fold_protraction_rad),
                           float(self.fold_elevation_rad), float(self.fold_below_amplitude),
                           self._body, self._prot, self._elev, self.lower, self.upper, out)
        return out

    def decode_state(self, state: RhythmState) -> np.ndarray:
        return self.decode(state.body_left, state.body_right, state.phase, state.amplitude).copy()
