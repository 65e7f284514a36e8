"""Hydrodynamic forces on links below a water surface (FARMS-style, per link, per local axis).

Drag: F_i = -1/2 rho C_d,i A_i v_i |v_i| along each link axis i (v relative to still water, in the
link's inertial frame), where A_i is the link's area projected across axis i from its collision
box. The coefficients are (axial, lateral, vertical): the axial one applies along the link's
longest axis, whatever local axis that is (a limb rod along y, a trunk segment along x); the other
two apply to the remaining axes in order. A link with no clear long axis (longest < 1.2 x the
next) is treated as bluff: the lateral coefficient on every axis. Buoyancy: rho g V f upward at the link's centre of mass, with V = mass / body density and f the
immersed fraction of the link's height. Both scale with f, so nothing acts above the surface.
"""
from __future__ import annotations

import numpy as np
import pybullet as pb
from numba import njit

from .arena import Water

GRAVITY = 9.81


class WaterForces:
    """Precomputed per-link geometry; ``apply`` computes and applies forces for one step."""

    def __init__(self, client: int, body: int, water: Water, drag_coefficients, body_density: float):
        self.client, self.body, self.water = client, body, water
        n_links = pb.getNumJoints(body, physicsClientId=client)
        self.links = list(range(-1, n_links))          # -1 is the base
        extents, volumes = [], []
        for link in self.links:
            mass = pb.getDynamicsInfo(body, link, physicsClientId=client)[0]
            extents.append(_local_extents(client, body, link))
            volumes.append(mass / body_density)
        self.extents = np.array(extents)                # (n, 3) local box size, m
        ex, ey, ez = self.extents.T
        areas = np.stack([ey * ez, ex * ez, ex * ey], axis=1)   # projected across x, y, z
        coefficients = np.array([_axis_coefficients(e, drag_coefficients) for e in self.extents])
        self.drag_gain = 0.5 * water.fluid_density * coefficients * areas
        self.buoyancy = water.fluid_density * GRAVITY * np.array(volumes)
        self.height = np.maximum(self.extents[:, 2], 1e-3)
        self.last_forces = np.zeros((len(self.links), 3))

    def apply(self) -> float:
        """Apply this step's forces; returns the total immersed fraction (0 when out of water)."""
        client, body = self.client, self.body
        table = _link_table(client, body, self.links)
        water = self.water
        forces = np.empty((len(self.links), 3))
        immersed = np.empty(len(self.links))
        if not _water_forces(table, self.height, self.drag_gain, self.buoyancy,
                             float(water.surface_z), float(water.x_min), immersed, forces):
            self.last_forces[:] = 0.0
            return 0.0
        links, force_rows, pos_rows = self.links, forces.tolist(), table[:, 0:3].tolist()
        for k in np.flatnonzero(immersed).tolist():
            pb.applyExternalForce(body, links[k], force_rows[k], pos_rows[k], pb.WORLD_FRAME,
                                  physicsClientId=client)
        self.last_forces = forces
        return float(immersed.sum())


@njit(cache=True, fastmath=False)
def _water_forces(table, height, drag_gain, buoyancy, surface_z, x_min, immersed, forces):
    """Per-link immersed fraction and world force (drag + buoyancy) into ``immersed``/``forces``
    from the ``_link_table`` rows; True if any link is immersed. The same operations, in the same order, as the numpy form
    (``_rotation_matrices``, R^T v, -k v|v|, R f): one compiled loop instead of ~20 small array
    operations per physics step."""
    rot = np.empty((3, 3))
    v = np.empty(3)
    f = np.empty(3)
    any_immersed = False
    for n in range(table.shape[0]):
        h = height[n]
        frac = (surface_z - (table[n, 2] - h / 2)) / h
        frac = min(max(frac, 0.0), 1.0)
        if table[n, 0] < x_min:
            frac = 0.0
        immersed[n] = frac
        if frac != 0.0:
            any_immersed = True
        x, y, z, w = table[n, 3], table[n, 4], table[n, 5], table[n, 6]
        rot[0, 0] = 1 - 2 * (y * y + z * z)
        rot[0, 1] = 2 * (x * y - z * w)
        rot[0, 2] = 2 * (x * z + y * w)
        rot[1, 0] = 2 * (x * y + z * w)
        rot[1, 1] = 1 - 2 * (x * x + z * z)
        rot[1, 2] = 2 * (y * z - x * w)
        rot[2, 0] = 2 * (x * z - y * w)
        rot[2, 1] = 2 * (y * z + x * w)
        rot[2, 2] = 1 - 2 * (x * x + y * y)
        for i in range(3):      # R^T v, summed in einsum('nji,nj->ni')'s order
            v[i] = (rot[0, i] * table[n, 7] + rot[1, i] * table[n, 8]) + rot[2, i] * table[n, 9]
        for i in range(3):
            f[i] = -drag_gain[n, i] * v[i] * abs(v[i])
        for i in range(3):      # numpy's einsum('nij,nj->ni') sums terms 0 and 2 first
            forces[n, i] = frac * ((rot[i, 0] * f[0] + rot[i, 2] * f[2]) + rot[i, 1] * f[1])
        forces[n, 2] += frac * buoyancy[n]
    return any_immersed


def _rotation_matrices(quaternions: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) of unit quaternions (n, 4) given as x, y, z, w."""
    x, y, z, w = quaternions.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)


def _axis_coefficients(extents: np.ndarray, coefficients) -> np.ndarray:
    """Per local axis drag coefficients for a link of the given extents (see module docstring)."""
    axial, lateral, vertical = (float(c) for c in coefficients)
    order = np.argsort(-extents, kind='stable')
    if extents[order[0]] < 1.2 * extents[order[1]]:
        return np.full(3, lateral)
    long_axis = int(order[0])
    result = np.empty(3)
    result[long_axis] = axial
    others = [i for i in range(3) if i != long_axis]
    result[others[0]], result[others[1]] = lateral, vertical
    return result


def _local_extents(client: int, body: int, link: int) -> np.ndarray:
    """Size of the link's collision geometry along its own axes (a box around its shapes)."""
    shapes = pb.getCollisionShapeData(body, link, physicsClientId=client)
    if not shapes:
        return np.zeros(3)
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for shape in shapes:
        geom, dims, offset = shape[2], shape[3], np.array(shape[5])
        if geom == pb.GEOM_BOX:
            half = np.array(dims) / 2
        elif geom == pb.GEOM_SPHERE:
            half = np.full(3, dims[0])
        elif geom in (pb.GEOM_CYLINDER, pb.GEOM_CAPSULE):
            length, radius = dims[0], dims[1]
            half = np.array([radius, radius, length / 2 + (radius if geom == pb.GEOM_CAPSULE else 0)])
            rot = np.abs(np.array(pb.getMatrixFromQuaternion(shape[6])).reshape(3, 3))
            half = rot @ half
        elif geom == pb.GEOM_MESH:   # URDF cylinders load as convex meshes: measure the vertices
            count, vertices = pb.getMeshData(body, link, physicsClientId=client)
            vertices = np.asarray(vertices, dtype=float).reshape(-1, 3)
            half = (vertices.max(0) - vertices.min(0)) / 2 if count else np.full(3, 0.05)
        else:
            half = np.full(3, 0.05)
        lo, hi = np.minimum(lo, offset - half), np.maximum(hi, offset + half)
    return hi - lo


def _link_kinematics(client: int, body: int, links: list[int]):
    """World CoM positions (n, 3), orientations (n, 4: x, y, z, w) and linear velocities (n, 3)
    for the base (-1) and all links."""
    table = _link_table(client, body, links)
    return table[:, 0:3], table[:, 3:7], table[:, 7:10]


def _link_table(client: int, body: int, links: list[int]) -> np.ndarray:
    """(n, 10) C-contiguous rows of CoM position, orientation (x, y, z, w), linear velocity."""
    base_pos, base_orn = pb.getBasePositionAndOrientation(body, physicsClientId=client)
    base_lin, _ = pb.getBaseVelocity(body, physicsClientId=client)
    flat = list(base_pos + base_orn + base_lin)     # one flat list converts faster than rows
    if len(links) > 1:
        for state in pb.getLinkStates(body, links[1:], computeLinkVelocity=1,
                                      physicsClientId=client):
            flat += state[0]
            flat += state[1]
            flat += state[6]
    return np.array(flat).reshape(len(links), 10)
