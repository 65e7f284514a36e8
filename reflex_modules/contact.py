"""Compliant heel and ball contacts for the GH2010 human in PyBullet.

GH2010's ground model is a vertical spring k = BW / 0.01 m per contact point (78.5 kN/m for 80 kg)
whose damping makes it relax at most at 0.03 m/s (F = k d (1 + dd / 0.03 m/s)), plus Coulomb and
stiction friction. Applied with ``applyExternalForce`` it is explicit, and its damping k d / 0.03
(13 kN s/m at the 5 mm of one loaded foot) times the 1 ms step is 10 to 60 times the effective
mass of a foot point (about 3 kg at the heel, 0.2 kg at the ball for the foot turning about a
torque-driven ankle): unstable. PyBullet's own soft contact (``changeDynamics(contactStiffness,
contactDamping)``, an ERP/CFM constraint) is the same linear spring with a linear damper, solved
implicitly, so it is stable at 1 ms; friction stays PyBullet's (Coulomb, mu = lateral_friction).

:func:`soft_contact` is the whole hook (stiffness and damping on some links of a body);
:func:`gh2010_contact` gives GH2010's stiffness. The simulator owns when it is called (the
``reflex`` controller never touches PyBullet). Until ``locomotion_sim.World`` applies it from its
parameters, :func:`soft_feet_runs` runs the lock-step runner with it (measurements, tests), and
``python -m reflex_modules.contact`` is ``neuroloco run human --controller reflex`` on soft feet.
docs/walking.md has the numbers.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math

import pybullet as pb

GRAVITY = 9.81
#: The damping shipped with the walker (N s/m per contact sphere): see docs/walking.md.
DEFAULT_DAMPING = 800.0


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


@contextlib.contextmanager
def soft_feet_runs(stiffness: float | None = None, damping: float = DEFAULT_DAMPING):
    """Within the block, ``neuro_locomotion.runner.run`` builds its World with soft feet
    (GH2010 stiffness by default). A stand-in for the World hook, for measurements and tests."""
    from locomotion_sim.world import World
    from neuro_locomotion import runner

    k = gh2010_contact()[0] if stiffness is None else stiffness

    class SoftFeetWorld(World):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            soft_feet(self, k, damping)

    original = runner.World
    runner.World = SoftFeetWorld
    try:
        yield
    finally:
        runner.World = original


def main(argv=None) -> int:
    """``neuroloco run human --controller reflex`` with the soft heel and ball contacts."""
    parser = argparse.ArgumentParser(prog='python -m reflex_modules.contact', description=main.__doc__)
    parser.add_argument('--duration', type=float, default=10.0)
    parser.add_argument('--stiffness', type=float, default=None, help='N/m (default BW / 1 cm)')
    parser.add_argument('--damping', type=float, default=DEFAULT_DAMPING, help='N s/m')
    parser.add_argument('--params', help='reflex_node parameter file')
    parser.add_argument('--foot-height', type=float, default=0.02,
                        help='initial.foot_height (default: the spheres just touch the ground)')
    parser.add_argument('--plot', help='PNG file')
    parser.add_argument('--metrics-json', help='JSON file')
    args = parser.parse_args(argv)
    from neuro_locomotion.cli import print_table
    from neuro_locomotion.runner import run

    k = gh2010_contact()[0] if args.stiffness is None else args.stiffness
    # The spheres start just touching: starting sunk by the static load (5 mm) makes the contact
    # push 1 BW up at t = 0 on a leg whose muscles are still at 0.01, and the foot pops up.
    options = {'overrides': {'initial.foot_height': args.foot_height}}
    if args.params:
        options['params'] = args.params
    with soft_feet_runs(k, args.damping):
        result = run('human', 'reflex', duration=args.duration, **options)
    print(f'reflex walker on soft feet: k = {k:.0f} N/m, c = {args.damping:.0f} N s/m per sphere')
    print_table(result.metrics)
    if args.metrics_json:
        with open(args.metrics_json, 'w') as f:
            json.dump(result.metrics, f, indent=2)
    if args.plot:
        from neuro_locomotion.plots import plot_run
        plot_run(result, args.plot)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
