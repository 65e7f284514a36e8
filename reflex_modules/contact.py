"""Compliant heel and ball contacts for the GH2010 human in PyBullet.

GH2010's ground model is a vertical spring k = BW / 0.01 m per contact point (78.5 kN/m for 80 kg)
with a damping that makes it relax at most at 0.03 m/s, and Coulomb/stiction friction. Applied
with ``applyExternalForce`` it is explicit, and its damping (k d / 0.03 m/s, 6.5 kN s/m at a
2.5 mm static penetration) times the 1 ms step exceeds twice the effective mass of a foot point
(about 0.2 to 3 kg): unstable. PyBullet's own soft contact (``changeDynamics(contactStiffness,
contactDamping)``, an ERP/CFM constraint) is the same linear spring and damper solved implicitly,
so it is stable at 1 ms; friction stays PyBullet's (Coulomb, mu = lateral_friction).

This module is the generic hook: :func:`soft_contact` sets stiffness and damping on some links of a
body; :func:`gh2010_contact` gives GH2010's values. Who calls it is the simulator's business (the
``reflex`` controller never touches PyBullet); docs/walking.md gives the numbers measured with it.
"""
from __future__ import annotations

import math

import pybullet as pb

GRAVITY = 9.81


def gh2010_contact(mass: float = 80.0, penetration: float = 0.01, damping_ratio: float = 1.0,
                   supported_mass: float | None = None) -> tuple[float, float]:
    """(stiffness N/m, damping N s/m) per contact point: k = m g / ``penetration`` (GH2010:
    one body weight per 1 cm) and the damping that gives ``damping_ratio`` for the body mass
    shared by two points (one foot: heel and ball) unless ``supported_mass`` is given."""
    k = mass * GRAVITY / penetration
    m = mass / 2.0 if supported_mass is None else supported_mass
    return k, 2.0 * damping_ratio * math.sqrt(k * m)


def soft_contact(client: int, body: int, links, stiffness: float, damping: float) -> None:
    """Make the collision shapes of ``links`` (PyBullet link indices) a linear spring-damper
    against anything they touch: penetration = F / stiffness in steady state."""
    if not (stiffness > 0 and damping >= 0 and math.isfinite(stiffness) and math.isfinite(damping)):
        raise ValueError(f'contact stiffness must be > 0 and damping >= 0, got {stiffness}, {damping}')
    for link in links:
        pb.changeDynamics(body, int(link), contactStiffness=float(stiffness),
                          contactDamping=float(damping), physicsClientId=client)


def soft_feet(world, stiffness: float, damping: float) -> None:
    """:func:`soft_contact` on a ``locomotion_sim.World``'s foot (contact) links."""
    soft_contact(world.client, world.body, world.foot_index, stiffness, damping)
