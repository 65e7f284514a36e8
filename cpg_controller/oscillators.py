"""Non-spiking reference oscillators: the yardstick for the spiking CPGs.

Two published models, integrated at a fixed step (1 ms by default) by numba kernels:

- :class:`SalamanderCPG`: Ijspeert et al. 2007 (Science 315:1416) amplitude-controlled phase
  oscillators, 2 x n_seg body oscillators plus 4 limb oscillators; drive switches walking
  (standing wave, limb frequency) to swimming (travelling wave) at d = 3.
- :class:`HopfCPG`: Righetti & Ijspeert 2008 (ICRA) Hopf network for a quadruped (LF, RF, LH,
  RH), with separate stance and swing frequencies and the published coupling matrices for trot,
  pace, bound and walk, plus a phase-difference coupling built from any phase table (gallops).

Both share one small interface (see :class:`ReferenceOscillator` and docs/oscillators.md):
``reset(seed) -> OscillatorOutput``, ``step(dt) -> OscillatorOutput`` (one control tick, any
number of internal integration steps), ``run(duration, dt, control) -> Trace``, ``phases()``,
``amplitudes()``, ``outputs()``. Outputs carry phases, amplitudes, oscillator signals, the
instantaneous frequency and joint-level setpoint signals for a decoder. Nothing here imports
rclpy or PyBullet.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from numba import njit   # a hard requirement (requirements.txt), as in kernel.py

from .phase import LEGS, load_gait_tables

TWO_PI = 2.0 * math.pi

__all__ = [
    'LEGS', 'Saturation', 'BODY_SATURATION', 'LIMB_SATURATION', 'OscillatorOutput', 'Trace',
    'ReferenceOscillator', 'SalamanderCPG', 'HopfCPG', 'RIGHETTI_COUPLING',
    'phase_difference_coupling',
]


# ============================================================================================
# common interface

@dataclass
class OscillatorOutput:
    """What a reference oscillator exposes after one control tick.

    ``phase``, ``amplitude``, ``signal`` and ``frequency`` have one entry per oscillator (order
    ``names``); ``setpoint`` has one entry per joint-level channel (order ``setpoint_names``),
    ready for a decoder that maps them to joints. ``stance`` is a per-oscillator boolean where the
    model defines one (Hopf: y > 0), else ``None``.
    """

    t: float                      # s, time at the end of the tick
    phase: np.ndarray             # rad in [0, 2π)
    amplitude: np.ndarray         # oscillator amplitude r
    signal: np.ndarray            # oscillator output (Ijspeert x = r(1 + cos θ); Hopf x)
    frequency: np.ndarray         # Hz, instantaneous dθ/dt / 2π
    setpoint: np.ndarray          # joint-level signals (rad for the salamander body bends)
    stance: np.ndarray | None = None


@dataclass
class Trace:
    """Time series from :meth:`ReferenceOscillator.run`: one row per control tick."""

    t: np.ndarray                 # (T,)
    phase: np.ndarray             # (T, n) rad in [0, 2π)
    phase_unwrapped: np.ndarray   # (T, n) rad, continuous
    amplitude: np.ndarray         # (T, n)
    signal: np.ndarray            # (T, n)
    frequency: np.ndarray         # (T, n) Hz
    setpoint: np.ndarray          # (T, m)
    stance: np.ndarray | None     # (T, n) bool or None
    names: tuple[str, ...] = ()
    setpoint_names: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)   # e.g. 'drive': (T, k) as applied per tick

    def column(self, name: str) -> np.ndarray:
        """One oscillator's signal (by oscillator name) or one setpoint (by setpoint name)."""
        if name in self.names:
            return self.signal[:, self.names.index(name)]
        if name in self.setpoint_names:
            return self.setpoint[:, self.setpoint_names.index(name)]
        raise KeyError(name)


class ReferenceOscillator:
    """Common driver for the reference oscillator networks.

    Subclasses hold their state in numpy arrays and implement ``_integrate(h, nsteps)`` (advance
    the state by ``nsteps`` steps of ``h`` seconds, updating ``self._theta_unwrapped`` and
    ``self._dtheta``) and ``_output()``. ``dt`` is the integration step; a control tick of any
    length is split into equal steps no longer than ``dt``.
    """

    names: tuple[str, ...] = ()
    setpoint_names: tuple[str, ...] = ()

    def __init__(self, dt: float = 1e-3, method: str = 'rk2', seed: int | None = 0):
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f'integration step must be positive, got {dt!r}')
        if method not in ('rk2', 'rk4'):
            raise ValueError(f"method must be 'rk2' or 'rk4', got {method!r}")
        self.dt = float(dt)
        self.method = method
        self.t = 0.0
        self._seed = seed

    # -- interface -----------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> OscillatorOutput:
        """Random initial state from ``seed`` (the constructor's seed if ``None``); t = 0."""
        rng = np.random.default_rng(self._seed if seed is None else seed)
        self.t = 0.0
        self._init_state(rng)
        self._integrate(self.dt, 0)        # derivative at t = 0 for the frequency output
        return self.outputs()

    def step(self, dt: float | None = None) -> OscillatorOutput:
        """Advance one control tick of ``dt`` seconds (default: one integration step)."""
        dt = self.dt if dt is None else float(dt)
        if not (dt > 0 and math.isfinite(dt)):
            raise ValueError(f'tick length must be positive and finite, got {dt!r}')
        n = max(1, int(math.ceil(dt / self.dt - 1e-9)))
        self._integrate(dt / n, n)
        self.t += dt
        return self.outputs()

    def run(self, duration: float, dt: float | None = None,
            control: Callable[[float, 'ReferenceOscillator'], None] | None = None) -> Trace:
        """Run ``duration`` seconds in ticks of ``dt`` and return the time series.

        ``control(t, self)`` is called before each tick (t = time at the start of the tick); use
        it to change the drive, gait or feedback on the fly. Rows are recorded after each tick.
        """
        dt = self.dt if dt is None else float(dt)
        n = int(round(duration / dt))
        k = len(self.names)
        m = len(self.setpoint_names)
        t = np.empty(n)
        ph, phu, amp, sig, fr = (np.empty((n, k)) for _ in range(5))
        sp = np.empty((n, m))
        st = None
        drives = []
        for i in range(n):
            if control is not None:
                control(self.t, self)
            o = self.step(dt)
            t[i] = o.t
            ph[i], amp[i], sig[i] = o.phase, o.amplitude, o.signal
            fr[i], sp[i] = o.frequency, o.setpoint
            phu[i] = self._theta_unwrapped
            if o.stance is not None:
                if st is None:
                    st = np.zeros((n, k), dtype=bool)
                st[i] = o.stance
            drives.append(self._drive_record())
        extra = {}
        if drives and drives[0] is not None:
            extra['drive'] = np.asarray(drives, dtype=float)
        return Trace(t, ph, phu, amp, sig, fr, sp, st, tuple(self.names),
                     tuple(self.setpoint_names), extra)

    def phases(self, unwrapped: bool = False) -> np.ndarray:
        """Oscillator phases (rad): in [0, 2π), or continuous since reset with ``unwrapped``."""
        p = self._theta_unwrapped.copy()
        return p if unwrapped else np.mod(p, TWO_PI)

    def amplitudes(self) -> np.ndarray:
        return self._amplitude().copy()

    def shift_phases(self, dtheta) -> OscillatorOutput:
        """Perturb: advance each oscillator's phase by ``dtheta`` (rad, scalar or one per
        oscillator) without changing its amplitude. For phase-resetting experiments, and to
        leave an equilibrium of a new coupling after ``set_gait`` (see docs/oscillators.md)."""
        d = np.broadcast_to(np.asarray(dtheta, dtype=float), (len(self.names),))
        if not np.all(np.isfinite(d)):
            raise ValueError(f'phase shifts must be finite, got {dtheta!r}')
        self._shift(d)
        self._integrate(self.dt, 0)
        return self.outputs()

    def outputs(self) -> OscillatorOutput:
        return self._output()

    # -- for subclasses ------------------------------------------------------------------------
    def _init_state(self, rng: np.random.Generator) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _integrate(self, h: float, nsteps: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _amplitude(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _output(self) -> OscillatorOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def _shift(self, d: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _drive_record(self):
        return None


# ============================================================================================
# Ijspeert 2007 salamander CPG

@dataclass(frozen=True)
class Saturation:
    """Drive -> (ν, R): linear inside [d_low, d_high], ``(nu_sat, R_sat)`` outside (Table S1)."""

    d_low: float
    d_high: float
    c_nu1: float          # Hz per drive unit
    c_nu0: float          # Hz
    c_R1: float           # rad per drive unit
    c_R0: float           # rad
    nu_sat: float = 0.0
    R_sat: float = 0.0

    def __call__(self, d: float) -> tuple[float, float]:
        d = float(d)
        if self.d_low <= d <= self.d_high:
            return self.c_nu1 * d + self.c_nu0, self.c_R1 * d + self.c_R0
        return self.nu_sat, self.R_sat


# Table S1 of Ijspeert 2007 as given in the reference sheet §1 (c_R0 0.196 / 0.131; the 1.196 /
# 1.131 in the EPFL course's salam_cpg_osc.m is a typo).
BODY_SATURATION = Saturation(1.0, 5.0, 0.2, 0.3, 0.065, 0.196)
LIMB_SATURATION = Saturation(1.0, 3.0, 0.2, 0.0, 0.131, 0.131)


@njit(cache=True, fastmath=False)
def _sal_deriv(theta, r, rd, nu, R, a, src, dst, w, phi, dth, dr, drd):
    n = theta.shape[0]
    for i in range(n):
        dth[i] = 2.0 * math.pi * nu[i]
        dr[i] = rd[i]
        drd[i] = a * (0.25 * a * (R[i] - r[i]) - rd[i])
    for e in range(src.shape[0]):
        i = dst[e]
        j = src[e]
        dth[i] += r[j] * w[e] * math.sin(theta[j] - theta[i] - phi[e])


@njit(cache=True, fastmath=False)
def _sal_integrate(theta, r, rd, nu, R, a, src, dst, w, phi, h, nsteps, rk4, dth_out):
    n = theta.shape[0]
    k1t = np.empty(n); k1r = np.empty(n); k1d = np.empty(n)
    k2t = np.empty(n); k2r = np.empty(n); k2d = np.empty(n)
    k3t = np.empty(n); k3r = np.empty(n); k3d = np.empty(n)
    k4t = np.empty(n); k4r = np.empty(n); k4d = np.empty(n)
    tt = np.empty(n); tr = np.empty(n); td = np.empty(n)
    for _ in range(nsteps):
        _sal_deriv(theta, r, rd, nu, R, a, src, dst, w, phi, k1t, k1r, k1d)
        if rk4:
            for i in range(n):
                tt[i] = theta[i] + 0.5 * h * k1t[i]
                tr[i] = r[i] + 0.5 * h * k1r[i]
                td[i] = rd[i] + 0.5 * h * k1d[i]
            _sal_deriv(tt, tr, td, nu, R, a, src, dst, w, phi, k2t, k2r, k2d)
            for i in range(n):
                tt[i] = theta[i] + 0.5 * h * k2t[i]
                tr[i] = r[i] + 0.5 * h * k2r[i]
                td[i] = rd[i] + 0.5 * h * k2d[i]
            _sal_deriv(tt, tr, td, nu, R, a, src, dst, w, phi, k3t, k3r, k3d)
            for i in range(n):
                tt[i] = theta[i] + h * k3t[i]
                tr[i] = r[i] + h * k3r[i]
                td[i] = rd[i] + h * k3d[i]
            _sal_deriv(tt, tr, td, nu, R, a, src, dst, w, phi, k4t, k4r, k4d)
            for i in range(n):
                theta[i] += h / 6.0 * (k1t[i] + 2.0 * k2t[i] + 2.0 * k3t[i] + k4t[i])
                r[i] += h / 6.0 * (k1r[i] + 2.0 * k2r[i] + 2.0 * k3r[i] + k4r[i])
                rd[i] += h / 6.0 * (k1d[i] + 2.0 * k2d[i] + 2.0 * k3d[i] + k4d[i])
        else:  # Heun's RK2
            for i in range(n):
                tt[i] = theta[i] + h * k1t[i]
                tr[i] = r[i] + h * k1r[i]
                td[i] = rd[i] + h * k1d[i]
            _sal_deriv(tt, tr, td, nu, R, a, src, dst, w, phi, k2t, k2r, k2d)
            for i in range(n):
                theta[i] += 0.5 * h * (k1t[i] + k2t[i])
                r[i] += 0.5 * h * (k1r[i] + k2r[i])
                rd[i] += 0.5 * h * (k1d[i] + k2d[i])
    _sal_deriv(theta, r, rd, nu, R, a, src, dst, w, phi, dth_out, k1r, k1d)


class SalamanderCPG(ReferenceOscillator):
    """Ijspeert 2007 salamander CPG: 2 x ``n_seg`` body oscillators + 4 limb oscillators.

    Equations (reference sheet §1)::

        θ̇_i = 2π ν_i + Σ_j r_j w_ij sin(θ_j − θ_i − φ_ij)
        r̈_i = a (a/4 (R_i − r_i) − ṙ_i),          a = 20
        x_i = r_i (1 + cos θ_i);   body joint k setpoint = x_L,k − x_R,k

    Oscillator order (``names``): left body 0..n_seg−1 (head to tail), right body 0..n_seg−1,
    limbs LF, RF, LH, RH. Couplings: axial neighbours w = 10, φ = ±2π/n_seg (+ for descending,
    i.e. the caudal receiver lags); left–right w = 10, φ = π; limb → body w = 30, φ = 0 (each
    forelimb drives its side's segments 0..girdle−1, each hindlimb segments girdle..n_seg−1, with
    girdle = n_seg // 2); limb–limb w = 10, φ = π between LF–RF, LH–RH, LF–LH, RF–RH (a trot).
    Only limb → body, no body → limb coupling.

    Drive: ``set_drive(d)`` sets body and limbs; ``set_drive(body=..., limb=...)`` sets them
    separately, and ``body=(d_left, d_right)`` sets the two body sides separately (turning).
    """

    def __init__(self, n_seg: int = 8, drive: float = 1.0, *, dt: float = 1e-3,
                 method: str = 'rk2', a: float = 20.0, girdle: int | None = None,
                 w_axial: float = 10.0, w_contra: float = 10.0, w_limb_body: float = 30.0,
                 w_limb_limb: float = 10.0, phase_lag: float | None = None,
                 body_saturation: Saturation = BODY_SATURATION,
                 limb_saturation: Saturation = LIMB_SATURATION, seed: int | None = 0):
        super().__init__(dt, method, seed)
        if n_seg < 2:
            raise ValueError(f'n_seg must be at least 2, got {n_seg}')
        self.n_seg = int(n_seg)
        self.girdle = self.n_seg // 2 if girdle is None else int(girdle)
        if not 1 <= self.girdle <= self.n_seg - 1:
            raise ValueError(f'girdle must be in 1..n_seg-1, got {self.girdle}')
        self.a = float(a)
        self.phase_lag = 1.0 / self.n_seg if phase_lag is None else float(phase_lag)
        self.body_saturation = body_saturation
        self.limb_saturation = limb_saturation
        n = self.n_seg
        self.n_osc = 2 * n + 4
        self.names = tuple([f'body_L{k}' for k in range(n)] + [f'body_R{k}' for k in range(n)]
                           + [f'limb_{leg}' for leg in LEGS])
        self.setpoint_names = tuple(f'body_{k}' for k in range(n))
        self.left = np.arange(n)
        self.right = np.arange(n, 2 * n)
        self.limbs = np.arange(2 * n, 2 * n + 4)        # LF, RF, LH, RH
        self._build_couplings(w_axial, w_contra, w_limb_body, w_limb_limb)
        self.nu = np.zeros(self.n_osc)
        self.R = np.zeros(self.n_osc)
        self._drive_body = (float(drive), float(drive))
        self._drive_limb = float(drive)
        self._apply_drive()
        self._theta = np.zeros(self.n_osc)
        self._r = np.zeros(self.n_osc)
        self._rd = np.zeros(self.n_osc)
        self._dtheta = np.zeros(self.n_osc)
        self.reset()

    # -- network --------------------------------------------------------------------------------
    def _build_couplings(self, w_axial, w_contra, w_limb_body, w_limb_limb) -> None:
        n, g = self.n_seg, self.girdle
        dphi = TWO_PI * self.phase_lag
        edges = []                                      # (receiver, sender, w, φ)
        for side in (self.left, self.right):
            for k in range(n - 1):
                edges.append((side[k + 1], side[k], w_axial, dphi))     # descending
                edges.append((side[k], side[k + 1], w_axial, -dphi))    # ascending
        for k in range(n):
            edges.append((self.left[k], self.right[k], w_contra, math.pi))
            edges.append((self.right[k], self.left[k], w_contra, math.pi))
        lf, rf, lh, rh = self.limbs
        for limb, side, segs in ((lf, self.left, range(g)), (rf, self.right, range(g)),
                                 (lh, self.left, range(g, n)), (rh, self.right, range(g, n))):
            for k in segs:
                edges.append((side[k], limb, w_limb_body, 0.0))
        for p, q in ((lf, rf), (lh, rh), (lf, lh), (rf, rh)):
            edges.append((p, q, w_limb_limb, math.pi))
            edges.append((q, p, w_limb_limb, math.pi))
        e = np.asarray(edges, dtype=float)
        self._dst = e[:, 0].astype(np.int64)
        self._src = e[:, 1].astype(np.int64)
        self._w = e[:, 2].copy()
        self._phi = e[:, 3].copy()

    def coupling_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense (W, Φ), row = receiver, column = sender, as in salam_cpg_osc.m."""
        W = np.zeros((self.n_osc, self.n_osc))
        P = np.zeros((self.n_osc, self.n_osc))
        W[self._dst, self._src] = self._w
        P[self._dst, self._src] = self._phi
        return W, P

    # -- drive ----------------------------------------------------------------------------------
    def set_drive(self, d: float | None = None, *, body=None, limb: float | None = None) -> None:
        """Set the drive: ``d`` for everything, or ``body`` (scalar or (left, right)) and
        ``limb`` separately."""
        if d is not None:
            body = d if body is None else body
            limb = d if limb is None else limb
        if body is not None:
            if np.ndim(body) == 0:
                body = (body, body)
            bl, br = (float(v) for v in body)
            if not (math.isfinite(bl) and math.isfinite(br)):
                raise ValueError(f'body drive must be finite, got {body!r}')
            self._drive_body = (bl, br)
        if limb is not None:
            if not math.isfinite(float(limb)):
                raise ValueError(f'limb drive must be finite, got {limb!r}')
            self._drive_limb = float(limb)
        self._apply_drive()

    @property
    def drive(self) -> dict:
        return {'body_left': self._drive_body[0], 'body_right': self._drive_body[1],
                'limb': self._drive_limb}

    def _apply_drive(self) -> None:
        nl, Rl = self.body_saturation(self._drive_body[0])
        nr, Rr = self.body_saturation(self._drive_body[1])
        nlimb, Rlimb = self.limb_saturation(self._drive_limb)
        self.nu[self.left], self.R[self.left] = nl, Rl
        self.nu[self.right], self.R[self.right] = nr, Rr
        self.nu[self.limbs], self.R[self.limbs] = nlimb, Rlimb

    def _drive_record(self):
        return (self._drive_body[0], self._drive_body[1], self._drive_limb)

    # -- state ----------------------------------------------------------------------------------
    def _init_state(self, rng: np.random.Generator) -> None:
        # random phases; small amplitudes so a robot is not thrown by the first ticks
        self._theta = rng.uniform(-math.pi, math.pi, self.n_osc)
        self._r = rng.uniform(0.0, 0.1, self.n_osc)
        self._rd = np.zeros(self.n_osc)
        self._dtheta = np.zeros(self.n_osc)

    def _integrate(self, h: float, nsteps: int) -> None:
        _sal_integrate(self._theta, self._r, self._rd, self.nu, self.R, self.a, self._src,
                       self._dst, self._w, self._phi, float(h), int(nsteps),
                       self.method == 'rk4', self._dtheta)

    @property
    def _theta_unwrapped(self) -> np.ndarray:
        return self._theta

    def _shift(self, d: np.ndarray) -> None:
        self._theta += d

    def _amplitude(self) -> np.ndarray:
        return self._r

    def _output(self) -> OscillatorOutput:
        x = self._r * (1.0 + np.cos(self._theta))
        return OscillatorOutput(
            t=self.t, phase=np.mod(self._theta, TWO_PI), amplitude=self._r.copy(), signal=x,
            frequency=self._dtheta / TWO_PI, setpoint=x[self.left] - x[self.right], stance=None)

    # -- conveniences ---------------------------------------------------------------------------
    def body_setpoint(self) -> np.ndarray:
        """Body joint angles (rad), head to tail: x_L − x_R."""
        return self._output().setpoint

    def limb_phases(self) -> np.ndarray:
        """Limb phases (rad in [0, 2π)), LF, RF, LH, RH; a limb with R = 0 stops rotating."""
        return np.mod(self._theta[self.limbs], TWO_PI)

    @staticmethod
    def expected_frequency(d: float) -> float | None:
        """Steady-state rhythm frequency (Hz) from the saturation table: the limb frequency
        while the limbs are active (1 ≤ d ≤ 3), the body frequency above, ``None`` if silent."""
        nl, _ = LIMB_SATURATION(d)
        if nl > 0:
            return nl
        nb, _ = BODY_SATURATION(d)
        return nb if nb > 0 else None


# ============================================================================================
# Righetti & Ijspeert 2008 Hopf network

# Coupling matrices k (row = receiver, column = sender), legs LF, RF, LH, RH; from the reference
# sheet §2 (farms_network righetti08/run.py; Ercelik's ROS reimplementation).
RIGHETTI_COUPLING = {
    'trot': np.array([[0, -1, -1, 1], [-1, 0, 1, -1], [-1, 1, 0, -1], [1, -1, -1, 0]], float),
    'pace': np.array([[0, -1, 1, -1], [-1, 0, -1, 1], [1, -1, 0, -1], [-1, 1, -1, 0]], float),
    'bound': np.array([[0, 1, -1, -1], [1, 0, -1, -1], [-1, -1, 0, 1], [-1, -1, 1, 0]], float),
    'walk': np.array([[0, -1, 1, -1], [-1, 0, -1, 1], [-1, 1, 0, -1], [1, -1, -1, 0]], float),
}


def phase_difference_coupling(offsets: Sequence[float], k: float = 1.0
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Coupling (K_y, K_x) that makes a Hopf network lock to a phase table (delays, cycles).

    Each oscillator is pulled towards every other one's state rotated by the desired phase
    difference Δ_ij = 2π (o_j − o_i) (Righetti & Ijspeert 2006, "programmable CPGs"), applied, as
    in Righetti 2008, to the y equation only::

        ẏ_i += k Σ_j (sin Δ_ij · x_j + cos Δ_ij · y_j)

    For trot, pace, bound and pronk (Δ ∈ {0, π}) this is exactly the ±1 matrix of Righetti 2008.
    """
    o = np.asarray(offsets, dtype=float).ravel()
    delta = TWO_PI * (o[None, :] - o[:, None])
    off = 1.0 - np.eye(o.size)
    return k * np.cos(delta) * off, k * np.sin(delta) * off


@njit(cache=True, fastmath=False)
def _hopf_deriv(x, y, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, dx, dy):
    n = x.shape[0]
    for i in range(n):
        r2 = x[i] * x[i] + y[i] * y[i]
        by = b * y[i]
        if by > 50.0:           # ω_st/(e^{−by}+1) + ω_sw/(e^{by}+1), overflow-safe
            om = w_st
        elif by < -50.0:
            om = w_sw
        else:
            om = w_st / (math.exp(-by) + 1.0) + w_sw / (math.exp(by) + 1.0)
        dx[i] = alpha * (mu - r2) * x[i] - om * y[i]
        c = 0.0
        for j in range(n):
            c += Ky[i, j] * y[j] + Kx[i, j] * x[j]
        dy[i] = beta * (mu - r2) * y[i] + om * x[i] + c + u[i]


@njit(cache=True, fastmath=False)
def _hopf_integrate(x, y, phase, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, h, nsteps, rk4,
                    dphase_out):
    n = x.shape[0]
    k1x = np.empty(n); k1y = np.empty(n); k2x = np.empty(n); k2y = np.empty(n)
    k3x = np.empty(n); k3y = np.empty(n); k4x = np.empty(n); k4y = np.empty(n)
    tx = np.empty(n); ty = np.empty(n)
    for _ in range(nsteps):
        _hopf_deriv(x, y, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, k1x, k1y)
        if rk4:
            for i in range(n):
                tx[i] = x[i] + 0.5 * h * k1x[i]
                ty[i] = y[i] + 0.5 * h * k1y[i]
            _hopf_deriv(tx, ty, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, k2x, k2y)
            for i in range(n):
                tx[i] = x[i] + 0.5 * h * k2x[i]
                ty[i] = y[i] + 0.5 * h * k2y[i]
            _hopf_deriv(tx, ty, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, k3x, k3y)
            for i in range(n):
                tx[i] = x[i] + h * k3x[i]
                ty[i] = y[i] + h * k3y[i]
            _hopf_deriv(tx, ty, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, k4x, k4y)
            for i in range(n):
                tx[i] = x[i] + h / 6.0 * (k1x[i] + 2.0 * k2x[i] + 2.0 * k3x[i] + k4x[i])
                ty[i] = y[i] + h / 6.0 * (k1y[i] + 2.0 * k2y[i] + 2.0 * k3y[i] + k4y[i])
        else:
            for i in range(n):
                tx[i] = x[i] + h * k1x[i]
                ty[i] = y[i] + h * k1y[i]
            _hopf_deriv(tx, ty, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, k2x, k2y)
            for i in range(n):
                tx[i] = x[i] + 0.5 * h * (k1x[i] + k2x[i])
                ty[i] = y[i] + 0.5 * h * (k1y[i] + k2y[i])
        for i in range(n):      # track the continuous phase atan2(y, x) step by step
            d = math.atan2(ty[i], tx[i]) - math.atan2(y[i], x[i])
            if d > math.pi:
                d -= 2.0 * math.pi
            elif d < -math.pi:
                d += 2.0 * math.pi
            phase[i] += d
            x[i] = tx[i]
            y[i] = ty[i]
    _hopf_deriv(x, y, alpha, beta, mu, b, w_st, w_sw, Ky, Kx, u, k1x, k1y)
    for i in range(n):
        r2 = x[i] * x[i] + y[i] * y[i]
        dphase_out[i] = (x[i] * k1y[i] - y[i] * k1x[i]) / r2 if r2 > 1e-300 else 0.0


class HopfCPG(ReferenceOscillator):
    """Righetti & Ijspeert 2008 Hopf CPG for a quadruped, legs LF, RF, LH, RH.

    Equations (reference sheet §2)::

        ẋ_i = α (μ − r_i²) x_i − ω_i y_i
        ẏ_i = β (μ − r_i²) y_i + ω_i x_i + Σ_j (K_y,ij y_j + K_x,ij x_j) + u_i
        ω_i = ω_st / (e^{−b y_i} + 1) + ω_sw / (e^{b y_i} + 1)

    y > 0 is stance (ω → ω_st), y < 0 swing, so the phase θ = atan2(y, x) is 0 at touchdown and π
    at lift-off; stance lasts π/ω_st, the period is ≈ π/ω_st + π/ω_sw and the duty factor
    ω_sw/(ω_st + ω_sw). α = β = b = 100, μ = 1 as in the reference re-run.

    ``coupling='righetti'`` uses the published ±1 matrices (trot, pace, bound, walk; K_x = 0);
    ``'phase'`` builds :func:`phase_difference_coupling` from the gait's phase table in
    config/gaits/quadruped.yaml (any gait: gallops, pronk, ...); ``'auto'`` (default) takes the
    published matrix where there is one. ``gait`` may also be a sequence of 4 offsets (cycles).

    Setpoints: ``LF_x, RF_x, LH_x, RH_x, LF_y, ..., RH_y`` (the oscillator states, amplitude √μ);
    ``stance`` is y > 0. Sensory feedback enters through ``set_feedback(u)``.
    """

    def __init__(self, gait='trot', *, omega_stance: float = TWO_PI * 0.5,
                 omega_swing: float = TWO_PI * 1.5, alpha: float = 100.0, beta: float = 100.0,
                 b: float = 100.0, mu: float = 1.0, coupling: str = 'auto', k: float = 1.0,
                 dt: float = 1e-3, method: str = 'rk4', seed: int | None = 0):
        super().__init__(dt, method, seed)
        self.names = tuple(LEGS)
        self.setpoint_names = tuple([f'{leg}_x' for leg in LEGS] + [f'{leg}_y' for leg in LEGS])
        self.alpha, self.beta, self.b = float(alpha), float(beta), float(b)
        if not mu > 0:
            raise ValueError(f'mu must be positive, got {mu!r}')
        self.mu = float(mu)
        self.set_frequencies(omega_stance, omega_swing)
        self.u = np.zeros(4)
        self._x = np.zeros(4)
        self._y = np.zeros(4)
        self._phase = np.zeros(4)
        self._dtheta = np.zeros(4)
        self.set_gait(gait, coupling=coupling, k=k)
        self.reset()

    # -- configuration --------------------------------------------------------------------------
    def set_frequencies(self, omega_stance: float, omega_swing: float) -> None:
        """Stance and swing frequencies (rad/s)."""
        if not (omega_stance > 0 and omega_swing > 0
                and math.isfinite(omega_stance) and math.isfinite(omega_swing)):
            raise ValueError(f'frequencies must be positive, got {omega_stance}, {omega_swing}')
        self.omega_stance, self.omega_swing = float(omega_stance), float(omega_swing)

    @property
    def duty_factor(self) -> float:
        """Nominal duty factor ω_sw/(ω_st + ω_sw)."""
        return self.omega_swing / (self.omega_stance + self.omega_swing)

    @property
    def nominal_period(self) -> float:
        """Nominal period π/ω_st + π/ω_sw (s)."""
        return math.pi / self.omega_stance + math.pi / self.omega_swing

    def set_gait(self, gait, *, coupling: str = 'auto', k: float = 1.0,
                 tables: Mapping | None = None) -> None:
        """Switch the coupling to ``gait`` (a name in the gait file or 4 offsets) on the fly."""
        if coupling not in ('auto', 'righetti', 'phase'):
            raise ValueError(f"coupling must be 'auto', 'righetti' or 'phase', got {coupling!r}")
        if isinstance(gait, str):
            name = gait
            if coupling in ('auto', 'righetti') and name in RIGHETTI_COUPLING:
                self.Ky = k * RIGHETTI_COUPLING[name].copy()
                self.Kx = np.zeros((4, 4))
                self.coupling = 'righetti'
                tbl = tables if tables is not None else _gait_tables()
                self.target_offsets = tbl[name]['offsets'].copy() if name in tbl else None
                self.gait = name
                return
            if coupling == 'righetti':
                raise ValueError(f'no published Righetti 2008 matrix for {name!r}; '
                                 f'known: {sorted(RIGHETTI_COUPLING)}')
            tbl = tables if tables is not None else _gait_tables()
            if name not in tbl:
                raise KeyError(f'unknown gait {name!r}; known: {sorted(tbl)}')
            offsets = tbl[name]['offsets']
        else:
            name = 'custom'
            offsets = np.asarray(gait, dtype=float).ravel()
            if offsets.shape != (4,) or not np.all(np.isfinite(offsets)):
                raise ValueError(f'a gait table needs 4 finite offsets, got {gait!r}')
        self.Ky, self.Kx = phase_difference_coupling(offsets, k)
        self.coupling = 'phase'
        self.target_offsets = np.mod(np.asarray(offsets, dtype=float), 1.0)
        self.gait = name

    def set_feedback(self, u) -> None:
        """Additive input u_i to the y equations (e.g. −sign(y)·F to hold a leg in stance)."""
        u = np.asarray(u, dtype=float).ravel()
        if u.shape != (4,) or not np.all(np.isfinite(u)):
            raise ValueError(f'feedback needs 4 finite values, got {u!r}')
        self.u = u.copy()

    # -- state ----------------------------------------------------------------------------------
    def _init_state(self, rng: np.random.Generator) -> None:
        th = rng.uniform(0.0, TWO_PI, 4)            # random phases on the limit cycle
        rad = math.sqrt(self.mu)
        self._x = rad * np.cos(th)
        self._y = rad * np.sin(th)
        self._phase = th.copy()
        self._dtheta = np.zeros(4)

    def _integrate(self, h: float, nsteps: int) -> None:
        _hopf_integrate(self._x, self._y, self._phase, self.alpha, self.beta, self.mu, self.b,
                        self.omega_stance, self.omega_swing, self.Ky, self.Kx, self.u, float(h),
                        int(nsteps), self.method == 'rk4', self._dtheta)

    @property
    def _theta_unwrapped(self) -> np.ndarray:
        return self._phase

    def _shift(self, d: np.ndarray) -> None:
        c, s = np.cos(d), np.sin(d)
        self._x, self._y = c * self._x - s * self._y, s * self._x + c * self._y
        self._phase += d

    def _amplitude(self) -> np.ndarray:
        return np.hypot(self._x, self._y)

    def _output(self) -> OscillatorOutput:
        return OscillatorOutput(
            t=self.t, phase=np.mod(self._phase, TWO_PI), amplitude=self._amplitude(),
            signal=self._x.copy(), frequency=self._dtheta / TWO_PI,
            setpoint=np.concatenate([self._x, self._y]), stance=self._y > 0.0)

    def _drive_record(self):
        return (self.omega_stance, self.omega_swing)


_GAIT_CACHE: dict = {}


def _gait_tables() -> dict:
    if 'tables' not in _GAIT_CACHE:
        _GAIT_CACHE['tables'] = load_gait_tables()
    return _GAIT_CACHE['tables']


# ============================================================================================
# agreement report: python -m cpg_controller.oscillators

def agreement_report(tick: float = 0.01) -> dict:
    """Measure both models against the reference tables (the numbers in docs/oscillators.md)."""
    from . import phase as P

    rep: dict = {'salamander': {}, 'hopf': {}}
    cpg = SalamanderCPG(n_seg=8)
    for d in (1.0, 2.0, 2.9, 3.1, 4.0, 5.0):
        walking = d <= 3
        cpg.set_drive(d)
        cpg.reset(seed=0)
        cpg.run(5.0 if walking else 10.0, dt=tick)
        tr = cpg.run(max(20.0 / (0.2 * d), 5.0) if walking else 5.0, dt=tick)
        ev = [P.threshold_crossings(tr.setpoint[:, k], tr.t, threshold=0.0) for k in range(8)]
        lags = P.travelling_wave_lags(ev)
        lr = P.phase_offsets([P.threshold_crossings(tr.signal[:, 0], tr.t),
                              P.threshold_crossings(tr.signal[:, 8], tr.t)])
        rep['salamander'][d] = {
            'f': P.frequency(ev[0]), 'f_expected': SalamanderCPG.expected_frequency(d),
            'lags': None if lags is None else lags.round(4).tolist(),
            'left_right': None if lr is None else float(lr[1]),
            'R_body': float(tr.amplitude[-1, 0]), 'R_expected': BODY_SATURATION(d)[1]}
    switch = {}
    for d0, d1 in ((2.7, 3.3), (3.3, 2.7)):
        cpg.set_drive(d0)
        cpg.reset(seed=0)
        cpg.run(8.0, dt=tick)
        t0, rate = cpg.t, 0.05 * math.copysign(1.0, d1 - d0)
        tr = cpg.run(abs(d1 - d0) / 0.05, dt=tick,
                     control=lambda t, c: c.set_drive(d0 + rate * (t - t0)))
        f = P.instantaneous_frequency(tr.phase_unwrapped[:, 0], tr.t, window=0.5)
        k = int(np.argmax(f > 0.75) if d1 > d0 else np.argmax(f < 0.75))
        switch['up' if d1 > d0 else 'down'] = float(tr.extra['drive'][k, 0])
    rep['salamander']['switch'] = switch

    tables = P.load_gait_tables()
    for gait, coupling in (('trot', 'righetti'), ('pace', 'righetti'), ('bound', 'righetti'),
                           ('walk', 'righetti'), ('walk', 'phase'),
                           ('transverse_gallop', 'phase'), ('rotary_gallop', 'phase'),
                           ('pronk', 'phase')):
        h = HopfCPG(gait, coupling=coupling, seed=0)
        h.run(30.0, dt=0.005)
        tr = h.run(10.0, dt=0.005)
        td = [P.threshold_crossings(tr.setpoint[:, 4 + j], tr.t, threshold=0.0) for j in range(4)]
        off = P.phase_offsets(td)
        rep['hopf'][f'{gait}/{coupling}'] = {
            'offsets': None if off is None else off.round(3).tolist(),
            'phase_error': P.phase_error(off, tables[gait]['offsets']),
            'duty': [round(v, 3) for v in P.duty_factor(tr.stance, tr.t)],
            'duty_expected': h.duty_factor,
            'period': P.period(td[0]), 'period_expected': h.nominal_period}
    return rep


if __name__ == '__main__':  # pragma: no cover
    import json
    print(json.dumps(agreement_report(), indent=1, default=float))
