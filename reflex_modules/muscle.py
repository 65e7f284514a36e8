"""Hill-type muscle-tendon units (MTUs) of Geyer & Herr 2010, vectorised over muscles.

Equations (docs/reflexes.md has the derivations and sources). With x = l_ce/l_opt,
eps = l_se/l_slack - 1 and v0 = v_ce/(v_max*l_opt) (negative = shortening):

    f_l  = exp(c*|(x - 1)/w|^3)                       force-length, c = ln 0.05
    f_v  = (1 + v0)/(1 - K*v0)                 v0 <= 0   force-velocity
         = N + (N - 1)*(v0 - 1)/(7.56*K*v0 + 1) v0 > 0
    f_se = (eps/eps_ref)^2  (eps > 0)                 series elastic (tendon)
    f_pe = ((x - 1)/w)^2    (x > 1)                   parallel elastic
    f_be = ((x - (1 - w))/(w/2))^2  (x < 1 - w)       buffer (prevents CE collapse)
    f_se + f_be = f_v*(f_pe + A*f_l)                  force balance, solved for v_ce
    dA/dt = (S - A)/tau,  S clipped to [stim_min, 1]  excitation-contraction coupling

Geometry per muscle and joint (inner joint angles phi, radians, GH2010 convention: knee and hip
pi = straight, ankle about pi/2 neutral; larger angle = extension, for the ankle = plantarflexion):

    ankle, knee (kind COSINE):  r = r0*cos(phi - phi_max)
                                dl = sign*rho*r0*(sin(phi - phi_max) - sin(phi_ref - phi_max))
    hip (kind CONSTANT):        r = r0
                                dl = sign*rho*r0*(phi - phi_ref)
    l_mtc = l_opt + l_slack + sum over the muscle's joints of dl
    joint torque += -sign * r * F_max * f_se

``sign`` is +1 when the MTU lengthens as the inner angle grows (a flexor of that joint) and -1 when
it shortens (an extensor). **Torque sign convention: a positive joint torque increases the inner
angle** (extends hip and knee, plantarflexes the ankle), so extensors give positive torque.
Length uses rho*r while torque uses r (GH2010's deliberate virtual-work inconsistency, kept).

Integration, one fixed step of ``dt`` (1 ms intended):
  1. A is advanced with the exact solution of the linear ODE for a stimulation held over the step
     (A += (S - A)*(1 - exp(-dt/tau))), unconditionally stable and exact at the sample times.
  2. l_ce is advanced by backward Euler: l_new is the root of g(l) = l - l_old - dt*v_ce(l),
     found by Newton's method on the analytic dv_ce/dl_ce, safeguarded by a bracket (bisection
     when a Newton step leaves it) to 1e-14 l_opt (typically 2-5 iterations). At low activation the
     tendon is stiff relative to the CE and explicit Euler at 1 ms is unstable (dt*dv/dl reaches
     -5 and beyond); a single linearised (Rosenbrock) step is stable but lags badly near the
     eccentric plateau of f_v, where dv/df changes 80-fold within a step. Backward Euler is
     stable for any stiffness and first-order accurate (1 ms vs 0.01 ms: < 2 % of F_max for
     3 Hz joint oscillations of +-30 deg with activation swinging 0.01-0.99).
  3. The tendon force and joint torques are evaluated at the new l_ce and the given angles.

Robustness of the force-balance inversion (f = (f_se + f_be)/(f_pe + A*f_l), v0 = f_v^-1(f)):
  * the denominator f_pe + A*f_l is floored at ``DEN_MIN``; with A >= stim_min it only gets that
    small when l_ce < 0.25 l_opt, where f_be already pushes the CE back out;
  * f_v^-1 is exact for f in [0, N] (v0 in [-1, 1]); GH2010's eccentric branch saturates at
    N + (N - 1)/(7.56 K) ~ 1.5132 so no v0 exists for larger f. Beyond f = N the inverse is
    continued linearly with the slope it has at f = N, (1 + 7.56 K)/(N - 1) (C1 continuation),
    so an over-stretched weak muscle lengthens fast but finitely instead of diverging;
  * l_ce is kept in [L_CE_MIN, L_CE_MAX] * l_opt (never reached in the GH2010 joint ranges).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numba import njit

# Geometry kinds of a (muscle, joint) pair.
NONE, COSINE, CONSTANT = 0, 1, 2

DEN_MIN = 1e-9          # floor of f_pe + A*f_l in the force balance
L_CE_MIN = 0.1          # l_ce bounds in units of l_opt
L_CE_MAX = 3.0
FV_CURVATURE = 7.56     # the constant in GH2010's eccentric force-velocity branch
NEWTON_TOL = 1e-14      # l_ce tolerance of the implicit step, in l_opt
NEWTON_MAX_ITER = 60

# Indices into the packed arrays handed to the numba kernels.
_P_FMAX, _P_VMAX, _P_LOPT, _P_LSLACK, _P_ON = range(5)
_G_KIND, _G_SIGN, _G_R0, _G_PHIMAX, _G_PHIREF, _G_RHO = range(6)
_C_TAU, _C_W, _C_C, _C_N, _C_K, _C_EPS, _C_SMIN, _C_SMAX = range(8)
_S_A, _S_LCE = range(2)
_O_FORCE, _O_FSE, _O_VCE, _O_LMTC = range(4)


# ----------------------------------------------------------------------------------------------
# Scalar equations (numba; the numpy-facing wrappers below call these, so there is one source).
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _f_l(x, w, c):
    u = abs((x - 1.0) / w)
    return math.exp(c * u * u * u)


@njit(cache=True)
def _f_v(v0, n_ecc, k_shape):
    if v0 <= 0.0:
        return (1.0 + v0) / (1.0 - k_shape * v0)
    return n_ecc + (n_ecc - 1.0) * (v0 - 1.0) / (FV_CURVATURE * k_shape * v0 + 1.0)


@njit(cache=True)
def _f_v_inverse(f, n_ecc, k_shape):
    """v0 = f_v^-1(f) and dv0/df (exact on [0, N], C1 linear continuation above N)."""
    if f <= 1.0:
        den = 1.0 + k_shape * f
        return (f - 1.0) / den, (1.0 + k_shape) / (den * den)
    if f <= n_ecc:
        den = (n_ecc - 1.0) - FV_CURVATURE * k_shape * (f - n_ecc)
        return (f - 1.0) / den, (den + FV_CURVATURE * k_shape * (f - 1.0)) / (den * den)
    slope = (1.0 + FV_CURVATURE * k_shape) / (n_ecc - 1.0)
    return 1.0 + slope * (f - n_ecc), slope


@njit(cache=True)
def _f_se(strain, eps_ref):
    if strain <= 0.0:
        return 0.0
    q = strain / eps_ref
    return q * q


@njit(cache=True)
def _f_pe(x, w):
    if x <= 1.0:
        return 0.0
    q = (x - 1.0) / w
    return q * q


@njit(cache=True)
def _f_be(x, w):
    d = x - (1.0 - w)
    if d >= 0.0:
        return 0.0
    q = d / (0.5 * w)
    return q * q


@njit(cache=True)
def _balance(l_ce, l_mtc, act, l_opt, l_slack, w, c, eps_ref):
    """Numerator and denominator of f = (f_se + f_be)/(f_pe + A f_l), and their d/dl_ce."""
    x = l_ce / l_opt
    d = x - 1.0
    u = abs(d) / w
    fl = math.exp(c * u * u * u)
    dfl = fl * c * 3.0 * u * u / w / l_opt
    if d < 0.0:
        dfl = -dfl
    fpe = 0.0
    dfpe = 0.0
    if d > 0.0:
        fpe = (d / w) ** 2
        dfpe = 2.0 * d / (w * w) / l_opt
    fbe = 0.0
    dfbe = 0.0
    xb = x - (1.0 - w)
    if xb < 0.0:
        hw = 0.5 * w
        fbe = (xb / hw) ** 2
        dfbe = 2.0 * xb / (hw * hw) / l_opt
    strain = (l_mtc - l_ce) / l_slack - 1.0
    fse = 0.0
    dfse = 0.0
    if strain > 0.0:
        fse = (strain / eps_ref) ** 2
        dfse = -2.0 * strain / (eps_ref * eps_ref) / l_slack
    return fse + fbe, dfse + dfbe, fpe + act * fl, dfpe + act * dfl


@njit(cache=True)
def _velocity(l_ce, l_mtc, act, l_opt, l_slack, v_max, w, c, n_ecc, k_shape, eps_ref):
    """CE velocity (m/s) from the force balance and its derivative dv/dl_ce (1/s)."""
    num, dnum, den, dden = _balance(l_ce, l_mtc, act, l_opt, l_slack, w, c, eps_ref)
    if den < DEN_MIN:
        den = DEN_MIN
        dden = 0.0
    f = num / den
    df = (dnum * den - num * dden) / (den * den)
    v0, dv0 = _f_v_inverse(f, n_ecc, k_shape)
    scale = v_max * l_opt
    return v0 * scale, dv0 * df * scale


@njit(cache=True)
def _implicit_lce(l_old, l_mtc, act, dt, l_opt, l_slack, v_max, w, c, n_ecc, k_shape, eps_ref):
    """Backward Euler for l_ce: the root of g(l) = l - l_old - dt*v(l), by safeguarded Newton.

    g(lo) <= 0 at lo = l_old - dt*v_max*l_opt because v >= -v_max*l_opt, and g(hi) > 0 at any
    hi >= l_old where tendon and buffer are slack (f = 0, v = -v_max*l_opt), so a root is
    bracketed; Newton steps that leave the bracket are replaced by bisection.
    """
    scale = v_max * l_opt
    lo = l_old - dt * scale
    hi = max(max(l_old, l_mtc - l_slack), (1.0 - w) * l_opt) + NEWTON_TOL * l_opt
    tol = NEWTON_TOL * l_opt
    l = l_old
    for _ in range(NEWTON_MAX_ITER):
        v, jac = _velocity(l, l_mtc, act, l_opt, l_slack, v_max, w, c, n_ecc, k_shape, eps_ref)
        g = l - l_old - dt * v
        if g > 0.0:
            hi = l
        else:
            lo = l
        dg = 1.0 - dt * jac
        if dg > 0.0:
            step = g / dg
            if abs(step) <= tol:
                return l - step
            l_next = l - step
            if not (lo <= l_next <= hi):
                l_next = 0.5 * (lo + hi)
        else:
            l_next = 0.5 * (lo + hi)
        if abs(l_next - l) <= tol:
            return l_next
        l = l_next
    return l


@njit(cache=True)
def _mtc_length(m, phi, prm, geo):
    l_mtc = prm[m, _P_LOPT] + prm[m, _P_LSLACK]
    for j in range(phi.shape[0]):
        kind = geo[_G_KIND, m, j]
        if kind == COSINE:
            pm = geo[_G_PHIMAX, m, j]
            l_mtc += (geo[_G_SIGN, m, j] * geo[_G_RHO, m, j] * geo[_G_R0, m, j]
                      * (math.sin(phi[j] - pm) - math.sin(geo[_G_PHIREF, m, j] - pm)))
        elif kind == CONSTANT:
            l_mtc += (geo[_G_SIGN, m, j] * geo[_G_RHO, m, j] * geo[_G_R0, m, j]
                      * (phi[j] - geo[_G_PHIREF, m, j]))
    return l_mtc


@njit(cache=True)
def _moment_arm(m, j, phi_j, geo):
    kind = geo[_G_KIND, m, j]
    if kind == COSINE:
        return geo[_G_R0, m, j] * math.cos(phi_j - geo[_G_PHIMAX, m, j])
    if kind == CONSTANT:
        return geo[_G_R0, m, j]
    return 0.0


@njit(cache=True)
def _step_kernel(stim, phi, dt, prm, geo, cst, state, out, torque):
    """One step for all muscles; returns False (state untouched) if an input is not finite."""
    for m in range(stim.shape[0]):
        if not math.isfinite(stim[m]):
            return False
    for j in range(phi.shape[0]):
        if not math.isfinite(phi[j]):
            return False
    tau = cst[_C_TAU]
    w = cst[_C_W]
    c = cst[_C_C]
    n_ecc = cst[_C_N]
    k_shape = cst[_C_K]
    eps_ref = cst[_C_EPS]
    s_min = cst[_C_SMIN]
    s_max = cst[_C_SMAX]
    decay = 1.0 - math.exp(-dt / tau)
    n_joints = phi.shape[0]
    for j in range(n_joints):
        torque[j] = 0.0
    for m in range(prm.shape[0]):
        if prm[m, _P_ON] == 0.0:        # an absent muscle: no state change, no force
            continue
        l_opt = prm[m, _P_LOPT]
        l_slack = prm[m, _P_LSLACK]
        s = min(max(stim[m], s_min), s_max)
        act = state[_S_A, m]
        act += (s - act) * decay
        state[_S_A, m] = act
        l_mtc = _mtc_length(m, phi, prm, geo)
        l_ce = state[_S_LCE, m]
        l_new = _implicit_lce(l_ce, l_mtc, act, dt, l_opt, l_slack, prm[m, _P_VMAX], w, c,
                              n_ecc, k_shape, eps_ref)
        l_new = min(max(l_new, L_CE_MIN * l_opt), L_CE_MAX * l_opt)
        state[_S_LCE, m] = l_new
        fse = _f_se((l_mtc - l_new) / l_slack - 1.0, eps_ref)
        force = prm[m, _P_FMAX] * fse
        out[_O_FORCE, m] = force
        out[_O_FSE, m] = fse
        out[_O_VCE, m] = (l_new - l_ce) / dt
        out[_O_LMTC, m] = l_mtc
        for j in range(n_joints):
            if geo[_G_KIND, m, j] != NONE:
                torque[j] -= geo[_G_SIGN, m, j] * _moment_arm(m, j, phi[j], geo) * force
    return True


@njit(cache=True)
def _equilibrium_kernel(phi, act, prm, geo, cst, state, out):
    """Per muscle, the l_ce where v_ce = 0 (f_se + f_be = f_pe + A f_l), by bisection."""
    w = cst[_C_W]
    c = cst[_C_C]
    eps_ref = cst[_C_EPS]
    for m in range(prm.shape[0]):
        l_opt = prm[m, _P_LOPT]
        l_slack = prm[m, _P_LSLACK]
        l_mtc = _mtc_length(m, phi, prm, geo)
        lo = L_CE_MIN * l_opt
        hi = min(max(l_mtc - l_slack, (1.0 - w) * l_opt), L_CE_MAX * l_opt)
        num, _, den, _ = _balance(lo, l_mtc, act[m], l_opt, l_slack, w, c, eps_ref)
        if num - den <= 0.0:
            l_ce = lo
        else:
            num, _, den, _ = _balance(hi, l_mtc, act[m], l_opt, l_slack, w, c, eps_ref)
            if num - den > 0.0:
                l_ce = hi
            else:
                for _ in range(200):
                    mid = 0.5 * (lo + hi)
                    if mid <= lo or mid >= hi:
                        break
                    num, _, den, _ = _balance(mid, l_mtc, act[m], l_opt, l_slack, w, c, eps_ref)
                    if num - den > 0.0:
                        lo = mid
                    else:
                        hi = mid
                l_ce = 0.5 * (lo + hi)
        state[_S_A, m] = act[m]
        state[_S_LCE, m] = l_ce
        fse = _f_se((l_mtc - l_ce) / l_slack - 1.0, eps_ref) if prm[m, _P_ON] != 0.0 else 0.0
        out[_O_FORCE, m] = prm[m, _P_FMAX] * fse
        out[_O_FSE, m] = fse
        out[_O_VCE, m] = 0.0
        out[_O_LMTC, m] = l_mtc


# ----------------------------------------------------------------------------------------------
# numpy-facing equations (for tests, plots and documentation; same scalar code as the kernel)
# ----------------------------------------------------------------------------------------------
def _scalar_or_array(fn, *args):
    result = np.vectorize(fn, otypes=[float])(*args)
    return float(result) if np.ndim(result) == 0 else result


@njit(cache=True)
def _f_v_inverse_value(f, n_ecc, k_shape):
    return _f_v_inverse(f, n_ecc, k_shape)[0]


def f_l(l_norm, w=0.56, c=math.log(0.05)):
    """Force-length factor at l_ce/l_opt = ``l_norm``."""
    return _scalar_or_array(_f_l, l_norm, w, c)


def f_v(v0, n_ecc=1.5, k_shape=5.0):
    """Force-velocity factor at v0 = v_ce/(v_max l_opt) (negative = shortening)."""
    return _scalar_or_array(_f_v, v0, n_ecc, k_shape)


def f_v_inverse(f, n_ecc=1.5, k_shape=5.0):
    """v0 with f_v(v0) = f, exact for f in [0, N]; C1 linear continuation above N."""
    return _scalar_or_array(_f_v_inverse_value, f, n_ecc, k_shape)


def f_se(strain, eps_ref=0.04):
    """Tendon force / F_max at ``strain`` = l_se/l_slack - 1."""
    return _scalar_or_array(_f_se, strain, eps_ref)


def f_pe(l_norm, w=0.56):
    """Parallel elastic force / F_max at l_ce/l_opt = ``l_norm``."""
    return _scalar_or_array(_f_pe, l_norm, w)


def f_be(l_norm, w=0.56):
    """Buffer elastic force / F_max at l_ce/l_opt = ``l_norm``."""
    return _scalar_or_array(_f_be, l_norm, w)


def f_v_limit(n_ecc: float = 1.5, k_shape: float = 5.0) -> float:
    """lim f_v(v0) for v0 -> inf: N + (N - 1)/(7.56 K) (= 1.51323 for N = 1.5, K = 5)."""
    return n_ecc + (n_ecc - 1.0) / (FV_CURVATURE * k_shape)


# ----------------------------------------------------------------------------------------------
# MuscleSet
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JointAttachment:
    """One muscle's attachment to one joint. ``phi_max`` is ignored for kind CONSTANT (hip)."""

    joint: str
    kind: int            # COSINE (ankle, knee) or CONSTANT (hip)
    sign: int            # +1: lengthens as the inner angle grows (flexor); -1: extensor
    r0: float            # m
    phi_ref: float       # rad, angle at which this joint's length term is zero
    rho: float           # 1, pennation/compliance factor of the length term
    phi_max: float = 0.0  # rad, angle of maximum moment arm (COSINE only)


@dataclass(frozen=True)
class MuscleSpec:
    """One MTU's parameters (SI)."""

    name: str
    f_max: float         # N
    v_max: float         # l_opt/s
    l_opt: float         # m
    l_slack: float       # m
    joints: tuple[JointAttachment, ...]
    enabled: bool = True  # False: the MTU is absent (no force, state frozen, same array slot)


@dataclass(frozen=True)
class MuscleConstants:
    """Constants shared by all MTUs (GH2010 values as defaults)."""

    tau: float = 0.01                 # s, excitation-contraction time constant
    w: float = 0.56                   # width of f_l, in l_opt
    c: float = math.log(0.05)         # f_l = exp(c) = 0.05 at l_opt*(1 +- w)
    n_ecc: float = 1.5                # N, eccentric force enhancement
    k_shape: float = 5.0              # K, force-velocity curvature
    eps_ref: float = 0.04             # tendon strain at F_max
    stim_min: float = 0.01            # lower clip of the stimulation (and activation)


class MuscleSet:
    """A fixed set of MTUs acting on a fixed list of joints; state A and l_ce per muscle.

    ``step(stimulation, phi, dt)`` takes the stimulation of every muscle (clipped to
    [stim_min, 1]) and the inner angle of every joint (rad), advances the state by ``dt`` and
    returns the joint torques (N m, positive = increases the inner angle).
    """

    def __init__(self, muscles: Sequence[MuscleSpec], joint_names: Sequence[str],
                 constants: MuscleConstants = MuscleConstants()):
        self.names = tuple(m.name for m in muscles)
        self.joint_names = tuple(joint_names)
        if len(set(self.names)) != len(self.names):
            raise ValueError(f'muscle names must be unique: {self.names}')
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError(f'joint names must be unique: {self.joint_names}')
        self.constants = constants
        nm, nj = len(muscles), len(self.joint_names)
        if nm == 0 or nj == 0:
            raise ValueError('a MuscleSet needs at least one muscle and one joint')
        _check_constants(constants)
        self._prm = np.zeros((nm, 5))
        self._geo = np.zeros((6, nm, nj))
        index = {name: j for j, name in enumerate(self.joint_names)}
        for m, spec in enumerate(muscles):
            values = (spec.f_max, spec.v_max, spec.l_opt, spec.l_slack)
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise ValueError(f'{spec.name}: f_max, v_max, l_opt, l_slack must be finite '
                                 'and > 0')
            self._prm[m] = values + (1.0 if spec.enabled else 0.0,)
            if not spec.joints:
                raise ValueError(f'{spec.name}: a muscle needs at least one joint')
            for att in spec.joints:
                if att.joint not in index:
                    raise ValueError(f'{spec.name}: unknown joint {att.joint!r}')
                if att.kind not in (COSINE, CONSTANT) or att.sign not in (-1, 1):
                    raise ValueError(f'{spec.name}/{att.joint}: kind must be COSINE or '
                                     'CONSTANT and sign +1 or -1')
                j = index[att.joint]
                if self._geo[_G_KIND, m, j] != NONE:
                    raise ValueError(f'{spec.name}: joint {att.joint!r} attached twice')
                self._geo[:, m, j] = (att.kind, att.sign, att.r0, att.phi_max, att.phi_ref, att.rho)
        self._cst = np.array([constants.tau, constants.w, constants.c, constants.n_ecc,
                              constants.k_shape, constants.eps_ref, constants.stim_min, 1.0])
        self._state = np.zeros((2, nm))
        self._out = np.zeros((4, nm))
        self._torque = np.zeros(nj)
        self.specs = tuple(muscles)
        self.reset(np.full(nj, math.pi))

    # -- sizes and parameters -----------------------------------------------------------------
    @property
    def n_muscles(self) -> int:
        return self._prm.shape[0]

    @property
    def n_joints(self) -> int:
        return self._geo.shape[2]

    @property
    def f_max(self) -> np.ndarray:
        return self._prm[:, _P_FMAX].copy()

    @property
    def enabled(self) -> np.ndarray:
        """Per muscle, True where the MTU is present (an absent one keeps its slot, no force)."""
        return self._prm[:, _P_ON] != 0.0

    @property
    def l_opt(self) -> np.ndarray:
        return self._prm[:, _P_LOPT].copy()

    # -- state and outputs (copies, safe to keep for plots) -------------------------------------
    @property
    def activation(self) -> np.ndarray:
        return self._state[_S_A].copy()

    @property
    def l_ce(self) -> np.ndarray:
        """Contractile element length (m)."""
        return self._state[_S_LCE].copy()

    @property
    def v_ce(self) -> np.ndarray:
        """CE velocity over the last step (m/s, negative = shortening)."""
        return self._out[_O_VCE].copy()

    @property
    def force(self) -> np.ndarray:
        """MTU (tendon) force (N)."""
        return self._out[_O_FORCE].copy()

    @property
    def l_mtc(self) -> np.ndarray:
        """Muscle-tendon path length at the last angles (m)."""
        return self._out[_O_LMTC].copy()

    @property
    def normalized_force(self) -> np.ndarray:
        """F / F_max (the reflexes' force signal)."""
        return self._out[_O_FSE].copy()

    @property
    def normalized_length(self) -> np.ndarray:
        """l_ce / l_opt (the reflexes' length signal)."""
        return self._state[_S_LCE] / self._prm[:, _P_LOPT]

    @property
    def torque(self) -> np.ndarray:
        """Joint torques of the last step (N m, positive = increases the inner angle)."""
        return self._torque.copy()

    # -- geometry ---------------------------------------------------------------------------------
    def _angles(self, phi) -> np.ndarray:
        phi = np.asarray(phi, dtype=float)
        if phi.shape != (self.n_joints,):
            raise ValueError(f'expected {self.n_joints} joint angles {self.joint_names}, '
                             f'got shape {phi.shape}')
        if not np.isfinite(phi).all():
            raise ValueError(f'non-finite joint angle: {dict(zip(self.joint_names, phi.tolist()))}')
        return phi

    def mtc_length(self, phi) -> np.ndarray:
        """l_MTC (m) of every muscle at joint angles ``phi`` (rad)."""
        phi = self._angles(phi)
        return np.array([_mtc_length(m, phi, self._prm, self._geo) for m in range(self.n_muscles)])

    def moment_arms(self, phi) -> np.ndarray:
        """(n_muscles, n_joints) moment arms r (m, >= 0 in range; 0 where not attached)."""
        phi = self._angles(phi)
        return np.array([[_moment_arm(m, j, phi[j], self._geo) for j in range(self.n_joints)]
                         for m in range(self.n_muscles)])

    def torque_signs(self) -> np.ndarray:
        """(n_muscles, n_joints): +1 where the muscle extends the joint, -1 flexes, 0 none."""
        return -self._geo[_G_SIGN] * (self._geo[_G_KIND] != NONE)

    # -- state changes ----------------------------------------------------------------------------
    def reset(self, phi, activation=None) -> np.ndarray:
        """Set A and put every CE at its isometric equilibrium (v_ce = 0) for angles ``phi``.

        ``activation``: scalar or per-muscle, clipped to [stim_min, 1] (default stim_min).
        Returns the joint torques of that state.
        """
        phi = self._angles(phi)
        if activation is None:
            activation = self.constants.stim_min
        act = np.broadcast_to(np.asarray(activation, dtype=float), (self.n_muscles,))
        if not np.isfinite(act).all():
            raise ValueError('non-finite initial activation')
        act = np.clip(act, self.constants.stim_min, 1.0)
        _equilibrium_kernel(phi, act, self._prm, self._geo, self._cst, self._state, self._out)
        self._torque[:] = 0.0
        for m in range(self.n_muscles):
            for j in range(self.n_joints):
                if self._geo[_G_KIND, m, j] != NONE and self._prm[m, _P_ON] != 0.0:
                    arm = _moment_arm(m, j, phi[j], self._geo)
                    self._torque[j] -= self._geo[_G_SIGN, m, j] * arm * self._out[_O_FORCE, m]
        return self._torque.copy()

    init_equilibrium = reset

    def set_state(self, activation, l_ce) -> None:
        """Set A and l_ce directly (e.g. to restore a recorded state)."""
        act = np.broadcast_to(np.asarray(activation, dtype=float), (self.n_muscles,))
        lce = np.broadcast_to(np.asarray(l_ce, dtype=float), (self.n_muscles,))
        if not (np.isfinite(act).all() and np.isfinite(lce).all()):
            raise ValueError('non-finite muscle state')
        self._state[_S_A] = np.clip(act, self.constants.stim_min, 1.0)
        lopt = self._prm[:, _P_LOPT]
        self._state[_S_LCE] = np.clip(lce, L_CE_MIN * lopt, L_CE_MAX * lopt)

    def step(self, stimulation, phi, dt: float) -> np.ndarray:
        """Advance by ``dt`` s with ``stimulation`` (n_muscles) at angles ``phi`` (n_joints, rad).

        Returns the joint torques (N m, positive increases the inner angle); a new array.
        Non-finite or wrongly shaped inputs raise ValueError and leave the state untouched.
        """
        stim = np.asarray(stimulation, dtype=float)
        phi = np.asarray(phi, dtype=float)
        if stim.shape != (self._prm.shape[0],) or phi.shape != (self._geo.shape[2],):
            raise ValueError(f'expected {self.n_muscles} stimulations and {self.n_joints} angles, '
                             f'got shapes {stim.shape} and {phi.shape}')
        if not (dt > 0.0 and math.isfinite(dt)):
            raise ValueError(f'dt must be finite and > 0, got {dt!r}')
        if not _step_kernel(stim, phi, float(dt), self._prm, self._geo, self._cst, self._state,
                            self._out, self._torque):
            raise ValueError('non-finite input to MuscleSet.step: stimulation '
                             f'{stim.tolist()}, joint angles {phi.tolist()}')
        return self._torque.copy()


def _check_constants(k: MuscleConstants) -> None:
    problems = []
    if not (k.tau > 0):
        problems.append('tau must be > 0')
    if not (0 < k.w < 1):
        problems.append('w must be in (0, 1)')
    if not (k.c < 0):
        problems.append('c must be < 0')
    if not (k.n_ecc > 1):
        problems.append('N must be > 1')
    if not (k.k_shape > 0):
        problems.append('K must be > 0')
    if not (k.eps_ref > 0):
        problems.append('eps_ref must be > 0')
    if not (0 < k.stim_min < 1):
        problems.append('stim_min must be in (0, 1)')
    values = (k.tau, k.w, k.c, k.n_ecc, k.k_shape, k.eps_ref, k.stim_min)
    if not all(math.isfinite(v) for v in values):
        problems.append('constants must be finite')
    if problems:
        raise ValueError('muscle constants: ' + '; '.join(problems))
