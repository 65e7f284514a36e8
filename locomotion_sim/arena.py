"""Ground and water: flat ground, a water volume, and land that ramps down into water."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pybullet as pb


@dataclass(frozen=True)
class Water:
    """A water volume with a horizontal surface; forces apply to the parts of links below it."""

    surface_z: float
    fluid_density: float
    x_min: float = -math.inf        # water exists only where x >= x_min


@dataclass(frozen=True)
class ArenaLayout:
    kind: str
    water: Water | None
    shore_x: float | None = None            # amphibious: land for x < shore_x
    ramp_end_x: float | None = None         # amphibious: pool floor for x > ramp_end_x
    floor_z: float = 0.0

    def ground_height(self, x: float) -> float:
        """Height of the ground at position x (m)."""
        if self.kind != 'amphibious':
            return self.floor_z
        if x <= self.shore_x:
            return 0.0
        if x >= self.ramp_end_x:
            return self.floor_z
        return -(x - self.shore_x) * (-self.floor_z) / (self.ramp_end_x - self.shore_x)

    def is_water(self, x: float, z: float) -> bool:
        """True where a point lies in the water volume."""
        w = self.water
        return w is not None and x >= w.x_min and z < w.surface_z and z > self.ground_height(x)


def build_arena(client: int, kind: str, params, friction: float) -> ArenaLayout:
    """Create the static ground bodies in ``client`` and return the arena's layout."""
    rho = params['water.fluid_density_kg_m3']
    if kind == 'flat':
        _plane(client, 0.0, friction)
        return ArenaLayout('flat', None)
    if kind == 'water':
        surface = params['water.surface_z_m']
        floor = surface - params['water.depth_m']
        _plane(client, floor, friction)
        return ArenaLayout('water', Water(surface, rho), floor_z=floor)
    if kind == 'amphibious':
        shore = params['amphibious.shore_x_m']
        depth = params['amphibious.water_depth_m']
        slope = params['amphibious.ramp_slope_rad']
        ramp_length = depth / math.tan(slope)
        _plane(client, -depth, friction)
        # Land: a thick box whose top is z = 0, ending at the shore.
        half = 50.0
        _box(client, [half, 5.0, depth / 2 + 0.5], [shore - half, 0.0, -(depth / 2 + 0.5)], 0.0, friction)
        # Ramp: a thin box tilted down from the shore to the pool floor.
        thickness = 0.2
        hyp = math.hypot(ramp_length, depth)
        cx = shore + ramp_length / 2 - math.sin(slope) * thickness / 2
        cz = -depth / 2 - math.cos(slope) * thickness / 2
        _box(client, [hyp / 2 + 0.01, 5.0, thickness / 2], [cx, 0.0, cz], slope, friction)
        surface = -params['amphibious.surface_below_land_m']
        return ArenaLayout('amphibious', Water(surface, rho, x_min=shore), shore_x=shore,
                           ramp_end_x=shore + ramp_length, floor_z=-depth)
    raise ValueError(f'unknown arena {kind!r}')


def _plane(client: int, z: float, friction: float) -> int:
    shape = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=client)
    body = pb.createMultiBody(0, shape, basePosition=[0, 0, z], physicsClientId=client)
    pb.changeDynamics(body, -1, lateralFriction=friction, physicsClientId=client)
    return body


def _box(client: int, half_extents, position, pitch: float, friction: float) -> int:
    shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half_extents, physicsClientId=client)
    visual = pb.createVisualShape(pb.GEOM_BOX, halfExtents=half_extents,
                                  rgbaColor=[0.55, 0.45, 0.3, 1], physicsClientId=client)
    orientation = pb.getQuaternionFromEuler([0, pitch, 0])
    body = pb.createMultiBody(0, shape, visual, basePosition=position, baseOrientation=orientation,
                              physicsClientId=client)
    pb.changeDynamics(body, -1, lateralFriction=friction, physicsClientId=client)
    return body
