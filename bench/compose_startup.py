"""Compose a parameter file with a start-up gait: START's reflex values become ``startup.reflex.*``
(and its ``initial.*`` the start state), WALK's reflex values the walking set ``reflex.*``.

GH2010's published gains walk in this body once under way but not from its first steps
(docs/walking.md, "A start-up gait"); an optimized set that survives the start carries the body
there:

    PYTHONPATH=$PWD .venv/bin/python bench/compose_startup.py config/reflex/human_walk_fast.yaml \\
        config/reflex/gh2010_published.yaml OUT.yaml --duration 4 --blend 2
"""
from __future__ import annotations

import argparse
import sys

from neuro_locomotion.params import ConfigError, read_ros_params
from reflex_modules.ablation import write_params
from reflex_modules.walker import NODE, STARTUP_FIELDS, walker_params


def compose(start: str, walk: str, duration: float, blend: float) -> dict:
    """The ``reflex_node`` values: WALK's section, START's ``initial.*``, START's reflex values
    (defaults filled in) as ``startup.reflex.*``, and the two times."""
    start_values = walker_params(None, start)
    walk_nodes = read_ros_params(walk)
    values = {k: v for k, v in {**walk_nodes.get('**', {}), **walk_nodes.get(NODE, {})}.items()
              if not k.startswith(('initial.', 'startup.'))}
    start_nodes = read_ros_params(start)
    values.update({k: v for k, v in {**start_nodes.get('**', {}),
                                     **start_nodes.get(NODE, {})}.items()
                   if k.startswith('initial.')})
    values.update({f'startup.reflex.{name}': start_values[f'reflex.{name}']
                   for name in STARTUP_FIELDS})
    values['startup.duration'] = float(duration)
    values['startup.blend'] = float(blend)
    walker_params(None, None, values)        # refuse what the node would refuse
    return values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('start', help='parameter file of the start-up gait')
    parser.add_argument('walk', help='parameter file of the walking set')
    parser.add_argument('out', help='the composed parameter file')
    parser.add_argument('--duration', type=float, default=4.0, help='startup.duration (s)')
    parser.add_argument('--blend', type=float, default=2.0, help='startup.blend (s)')
    args = parser.parse_args(argv)
    try:
        values = compose(args.start, args.walk, args.duration, args.blend)
    except (ConfigError, OSError) as err:
        print(f'compose_startup: {err}', file=sys.stderr)
        return 2
    write_params(args.out, values)
    print(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
