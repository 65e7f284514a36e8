"""Quadruped leg kinematics: hip ab/adduction, hip flexion, knee (Unitree A1 conventions).

Geometry and joint limits are read once from the URDF (``urdf/quadruped.urdf``), never typed in
twice. Conventions (docs/bodies.md): x forward, y left, z up; every leg has the same axes:

- ``hip_abad`` (q1) turns about +x: q1 > 0 moves the foot towards +y;
- ``hip_flex`` (q2) turns about +y: q2 > 0 swings the foot backward;
- ``knee`` (q3) turns about +y: q3 < 0 bends the knee (the calf folds forward under the thigh).

Foot positions are those of the foot sphere's centre, in the trunk-aligned frame whose origin is
the leg's ab/adduction joint (the "leg frame"); add :attr:`LegGeometry.hip_positions` for the
trunk frame. Forward kinematics of one leg (thigh ``l1``, calf ``l2``, signed lateral offset
``d`` of the hip-flexion joint from the ab/adduction joint, + for left legs)::

    x  = -l1 sin q2 - l2 sin(q2 + q3)                (sagittal plane of the leg)
    z' = -l1 cos q2 - l2 cos(q2 + q3)
    p  = (x,  d cos q1 - z' sin q1,  d sin q1 + z' cos q1)

The inverse takes the branch with the foot below the hip in the leg plane (z' < 0) and the knee
bent backwards (q3 < 0), which is the A1's. Points out of reach are projected onto the reachable
set (the lateral distance at least |d|, the hip-foot distance within what the knee limits allow)
and the result is clipped to the URDF limits, so :func:`leg_ik` always returns a finite,
admissible posture. The kernels are numba-compiled: one call costs ~1 µs for four legs.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from numba import njit   # a hard requirement (requirements.txt), as in kernel.py

LEGS = ('LF', 'RF', 'LH', 'RH')
_PREFIX = ('lf', 'rf', 'lh', 'rh')
TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class LegGeometry:
    """Quadruped leg geometry and joint limits, legs LF, RF, LH, RH (all lengths in m)."""

    hip_positions: np.ndarray      # (4, 3) ab/adduction joints in the trunk frame
    lateral_offset: np.ndarray     # (4,) signed y of the hip-flexion joint from the abad joint
    thigh: float                   # hip-flexion axis to knee axis
    calf: float                    # knee axis to foot-sphere centre
    foot_radius: float
    lower: np.ndarray              # (4, 3) joint lower limits (abad, flex, knee) per leg
    upper: np.ndarray              # (4, 3)
    total_mass: float = 0.0        # kg, sum of every link's <inertial> mass
    source: str = ''

    @property
    def reach(self) -> tuple[float, float]:
        """Smallest and largest hip-flexion-axis-to-foot distance the knee limits allow."""
        lo, hi = reach_limits(self.thigh, self.calf, self.lower[0, 2], self.upper[0, 2])
        return lo, hi

    def standing_height(self, q=(0.0, 0.8, -1.5)) -> float:
        """Height of the hip axes above flat ground for a posture with the foot under the hip."""
        p = leg_fk(np.asarray(q, float), self, 0)
        return float(-p[2] + self.foot_radius)

    @classmethod
    def from_urdf(cls, path: str | Path | None = None) -> 'LegGeometry':
        """Read the leg chain (abad -> flex -> knee -> foot) from a quadruped URDF."""
        if path is None:
            from neuro_locomotion.paths import urdf_file
            path = urdf_file('quadruped.urdf')
        path = Path(path)
        root = ET.parse(path).getroot()
        joints = {j.get('name'): j for j in root.findall('joint')}
        links = {link.get('name'): link for link in root.findall('link')}

        def origin(name):
            joint = joints.get(name)
            if joint is None:
                raise ValueError(f'{path}: no joint {name!r}')
            o = joint.find('origin')
            xyz = [0.0] * 3 if o is None else [float(v) for v in o.get('xyz', '0 0 0').split()]
            rpy = [0.0] * 3 if o is None else [float(v) for v in o.get('rpy', '0 0 0').split()]
            if any(abs(v) > 1e-12 for v in rpy):
                raise ValueError(f'{path}: joint {name!r} has a rotated origin; '
                                 'not an A1-style leg')
            return np.array(xyz)

        def axis(name):
            a = joints[name].find('axis')
            return np.array([float(v) for v in a.get('xyz').split()])

        def limits(name):
            lim = joints[name].find('limit')
            return float(lim.get('lower')), float(lim.get('upper'))

        hips, lateral, thighs, calves, radii, lo, hi = [], [], [], [], [], [], []
        for leg in _PREFIX:
            names = (f'{leg}_hip_abad', f'{leg}_hip_flex', f'{leg}_knee', f'{leg}_foot_fixed')
            for n, want in zip(names[:3], ((1, 0, 0), (0, 1, 0), (0, 1, 0))):
                if not np.allclose(axis(n), want):
                    raise ValueError(f'{path}: joint {n!r} axis {axis(n)} is not {want}')
            o_abad, o_flex, o_knee, o_foot = (origin(n) for n in names)
            if abs(o_flex[0]) > 1e-12 or abs(o_flex[2]) > 1e-12:
                raise ValueError(f'{path}: {names[1]} must be offset along y only')
            if abs(o_knee[0]) > 1e-12 or abs(o_knee[1]) > 1e-12 or abs(o_foot[0]) > 1e-12 \
                    or abs(o_foot[1]) > 1e-12:
                raise ValueError(f'{path}: thigh and calf must hang along -z')
            hips.append(o_abad)
            lateral.append(o_flex[1])
            thighs.append(-o_knee[2])
            calves.append(-o_foot[2])
            sphere = links[f'{leg}_foot'].find('collision/geometry/sphere')
            radii.append(float(sphere.get('radius')) if sphere is not None else 0.0)
            lims = [limits(n) for n in names[:3]]
            lo.append([v[0] for v in lims])
            hi.append([v[1] for v in lims])
        if np.ptp(thighs) > 1e-12 or np.ptp(calves) > 1e-12:
            raise ValueError(f'{path}: legs of different lengths are not supported')
        mass = sum(float(m.get('value')) for m in root.findall('link/inertial/mass'))
        return cls(np.array(hips), np.array(lateral), float(thighs[0]), float(calves[0]),
                   float(radii[0]), np.array(lo), np.array(hi), mass, str(path))


@lru_cache(maxsize=4)
def _default_geometry(path: str | None) -> LegGeometry:
    return LegGeometry.from_urdf(path)


def quadruped_geometry(path: str | Path | None = None) -> LegGeometry:
    """The (cached) geometry of ``urdf/quadruped.urdf`` or of the given URDF."""
    return _default_geometry(None if path is None else str(path))


def reach_limits(l1: float, l2: float, knee_lower: float, knee_upper: float) -> tuple[float, float]:
    """Hip-to-foot distance range for knee angles in [knee_lower, knee_upper] (all < 0)."""
    def dist(q3):
        return math.sqrt(l1 * l1 + l2 * l2 + 2 * l1 * l2 * math.cos(q3))
    a, b = dist(knee_lower), dist(knee_upper)
    lo, hi = min(a, b), max(a, b)
    if knee_lower < 0.0 < knee_upper:      # straight knee reachable
        hi = l1 + l2
    return lo, hi


# ---------------------------------------------------------------------------------------------
# numba kernels (rows = legs or samples; each row has its own lateral offset)

@njit(cache=True)
def _fk_rows(q, d, l1, l2, out):
    for i in range(q.shape[0]):
        q1, q2, q3 = q[i, 0], q[i, 1], q[i, 2]
        x = -l1 * math.sin(q2) - l2 * math.sin(q2 + q3)
        zp = -l1 * math.cos(q2) - l2 * math.cos(q2 + q3)
        c, s = math.cos(q1), math.sin(q1)
        out[i, 0] = x
        out[i, 1] = d[i] * c - zp * s
        out[i, 2] = d[i] * s + zp * c


@njit(cache=True)
def _ik_rows(p, d, l1, l2, lo, hi, rmin, rmax, out):
    """IK per row; lo/hi are (rows, 3) limits. Returns the number of rows projected/clipped."""
    clipped = 0
    for i in range(p.shape[0]):
        x, y, z = p[i, 0], p[i, 1], p[i, 2]
        di = d[i]
        moved = False
        # ab/adduction: (y, z) = R(q1) (d, z'), z' = -sqrt(y^2 + z^2 - d^2)
        ryz2 = y * y + z * z
        if ryz2 < di * di + 1e-12:
            ryz2 = di * di + 1e-12
            moved = True
        zp = -math.sqrt(ryz2 - di * di)
        q1 = math.atan2(z, y) - math.atan2(zp, di)
        if q1 > math.pi:
            q1 -= 2.0 * math.pi
        elif q1 < -math.pi:
            q1 += 2.0 * math.pi
        # sagittal plane: hip-foot distance within reach
        r2 = x * x + zp * zp
        r = math.sqrt(r2)
        if r < rmin:
            if r < 1e-12:
                x, zp, r = 0.0, -rmin, rmin
            else:
                x, zp, r = x * rmin / r, zp * rmin / r, rmin
            moved = True
        elif r > rmax:
            x, zp, r = x * rmax / r, zp * rmax / r, rmax
            moved = True
        c3 = (r * r - l1 * l1 - l2 * l2) / (2.0 * l1 * l2)
        if c3 > 1.0:
            c3 = 1.0
        elif c3 < -1.0:
            c3 = -1.0
        q3 = -math.acos(c3)
        # foot in the thigh frame before the hip rotation: v = (-l2 sin q3, -l1 - l2 cos q3)
        vx = -l2 * math.sin(q3)
        vz = -l1 - l2 * math.cos(q3)
        q2 = math.atan2(vz, vx) - math.atan2(zp, x)
        # wrap into [lower, lower + 2π)
        q2 = lo[i, 1] + ((q2 - lo[i, 1]) % (2.0 * math.pi))
        q = (q1, q2, q3)
        for k in range(3):
            v = q[k]
            if v < lo[i, k]:
                v = lo[i, k]
                moved = True
            elif v > hi[i, k]:
                v = hi[i, k]
                moved = True
            out[i, k] = v
        if moved:
            clipped += 1
    return clipped


@njit(cache=True)
def _support_rows(q, force, d, l1, l2, out):
    """Joint torques that hold a vertical ground reaction ``force`` (N, up) at each foot:
    tau = -J^T (0, 0, F), J the foot Jacobian in the leg frame."""
    for i in range(q.shape[0]):
        q1, q2, q3 = q[i, 0], q[i, 1], q[i, 2]
        f = force[i]
        zp = -l1 * math.cos(q2) - l2 * math.cos(q2 + q3)
        c1, s1 = math.cos(q1), math.sin(q1)
        y = d[i] * c1 - zp * s1
        s23 = math.sin(q2 + q3)
        out[i, 0] = -f * y
        out[i, 1] = -f * c1 * (l1 * math.sin(q2) + l2 * s23)
        out[i, 2] = -f * c1 * l2 * s23


def support_torques(q, force, geometry: LegGeometry | None = None) -> np.ndarray:
    """Joint torques (4, 3) (N·m) that make the feet push down with vertical forces ``force``
    (4,) (N, the ground's reaction upward) in postures ``q`` (4, 3): τ = −Jᵀ (0, 0, F)."""
    g = geometry or quadruped_geometry()
    q = np.ascontiguousarray(np.asarray(q, dtype=float).reshape(4, 3))
    out = np.empty((4, 3))
    _support_rows(q, np.ascontiguousarray(np.asarray(force, dtype=float).reshape(4)),
                  g.lateral_offset, g.thigh, g.calf, out)
    return out


def _rows(a, legs, geometry, what):
    """Broadcast (..., 3) arrays and a leg index (int or array) to rows with per-row offsets."""
    a = np.asarray(a, dtype=float)
    if a.shape[-1] != 3:
        raise ValueError(f'{what} must end in a dimension of 3, got shape {a.shape}')
    if legs is None:
        if a.ndim < 2 or a.shape[-2] != 4:
            raise ValueError(f'{what}: without legs=..., the shape must be (..., 4, 3), '
                             f'got {a.shape}')
        legs = np.arange(4)
    legs = np.broadcast_to(np.asarray(legs), a.shape[:-1])
    flat = np.ascontiguousarray(a.reshape(-1, 3))
    idx = legs.reshape(-1).astype(np.int64)
    return flat, idx


def leg_fk(q, geometry: LegGeometry | None = None, legs=None) -> np.ndarray:
    """Foot-sphere centre in the leg frame (m) for joint angles ``q`` (..., 3) = (abad, flex, knee).

    ``legs``: leg index (0..3 = LF, RF, LH, RH) or array of them broadcast against ``q[..., 0]``;
    by default ``q`` has shape (..., 4, 3) in leg order.
    """
    g = geometry or quadruped_geometry()
    flat, idx = _rows(q, legs, g, 'q')
    out = np.empty_like(flat)
    _fk_rows(flat, g.lateral_offset[idx], g.thigh, g.calf, out)
    return out.reshape(np.shape(q))


def leg_ik(p, geometry: LegGeometry | None = None, legs=None, *, return_clipped: bool = False):
    """Joint angles (..., 3) that put the foot-sphere centre at ``p`` (leg frame, m).

    Same ``legs`` rule as :func:`leg_fk`. Out-of-reach targets are projected and the angles
    clipped to the URDF limits; ``return_clipped`` also returns how many legs needed it.
    """
    g = geometry or quadruped_geometry()
    flat, idx = _rows(p, legs, g, 'p')
    if not np.all(np.isfinite(flat)):
        raise ValueError('foot positions must be finite')
    rmin, rmax = g.reach
    out = np.empty_like(flat)
    n = _ik_rows(flat, g.lateral_offset[idx], g.thigh, g.calf, np.ascontiguousarray(g.lower[idx]),
                 np.ascontiguousarray(g.upper[idx]), rmin, rmax, out)
    q = out.reshape(np.shape(p))
    return (q, int(n)) if return_clipped else q


def foot_positions(q12, geometry: LegGeometry | None = None) -> np.ndarray:
    """Foot-sphere centres (4, 3) in the trunk frame from the 12 joint angles (command order)."""
    g = geometry or quadruped_geometry()
    q = np.asarray(q12, dtype=float).reshape(4, 3)
    return leg_fk(q, g) + g.hip_positions


def joint_targets(feet, geometry: LegGeometry | None = None) -> np.ndarray:
    """The 12 joint angles (command order) for foot centres (4, 3) in the trunk frame."""
    g = geometry or quadruped_geometry()
    return leg_ik(np.asarray(feet, dtype=float) - g.hip_positions, g).reshape(12)
