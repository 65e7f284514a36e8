"""Compliant heel and ball contacts for the GH2010 human in PyBullet.

GH2010's ground model is a vertical spring k = BW / 0.01 m per contact point (78.5 kN/m for 80 kg)
whose damping makes it relax at most at 0.03 m/s (F = k d (1 + dd / 0.03 m/s)), plus Coulomb and
stiction friction. Applied with ``applyExternalForce`` it is explicit, and its damping k d / 0.03
(13 kN s/m at the 5 mm of one loaded foot) times the 1 ms step is 10 to 60 times the effective
mass of a foot point (about 3 kg at the heel, 0.2 kg at the ball for the foot turning about a
torque-driven ankle): unstable. Measured with the damping bounded at c_max on top of PyBullet's
spring: the walker walks up to c_max = 500 N s/m and falls from 1000 on (ball chatter). PyBullet's own soft contact (``changeDynamics(contactStiffness,
contactDamping)``, an ERP/CFM constraint) is the same linear spring with a linear damper, solved
implicitly, so it is stable at 1 ms; friction stays PyBullet's (Coulomb, mu = lateral_friction).

:func:`gh2010_contact` gives GH2010's stiffness; ``locomotion_sim.World`` applies it to the foot
links from the ``sim_node`` parameters ``contact_stiffness`` and ``contact_damping`` (set in
``config/human.yaml``); the ``reflex`` controller never touches PyBullet. docs/walking.md has the
numbers.
"""
from __future__ import annotations

import math

GRAVITY = 9.81
#: The damping shipped with the walker (N s/m per contact sphere): with the shipped gait 600-800
#: give the lowest GRF peak of 0-1600 (less damping raises it); see docs/walking.md.
DEFAULT_DAMPING = 800.0


def gh2010_contact(mass: float = 80.0, penetration: float = 0.01, damping_ratio: float = 1.0,
                   supported_mass: float | None = None) -> tuple[float, float]:
    """(stiffness N/m, damping N s/m) per contact point: k = m g / ``penetration`` (GH2010:
    one body weight per 1 cm) and the damping that gives ``damping_ratio`` for the body mass
    shared by two points (one foot: heel and ball) unless ``supported_mass`` is given."""
    k = mass * GRAVITY / penetration
    m = mass / 2.0 if supported_mass is None else supported_mass
    return k, 2.0 * damping_ratio * math.sqrt(k * m)
