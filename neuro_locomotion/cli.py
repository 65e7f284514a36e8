"""``neuroloco``: run a body and a controller from the command line.

Errors (unknown names, malformed files, bad numbers) print one line and exit with status 2;
output files are written only when the run has finished, so nothing is half-written.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

from .params import ConfigError
from .paths import ROBOTS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):            # one line, exit status 2
        raise ConfigError(message)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}') from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f'must be a positive number of seconds, got {text}')
    return value


def _finite_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}') from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f'must be finite, got {text}')
    return value


def _output_path(suffix: str):
    def check(text: str) -> Path:
        path = Path(text)
        if not path.name.endswith(suffix):
            raise argparse.ArgumentTypeError(f'{text}: expected a {suffix} file')
        parent = path.parent if str(path.parent) else Path('.')
        if parent.exists() and not parent.is_dir():
            raise argparse.ArgumentTypeError(f'{parent} is not a directory')
        return path
    return check


def _schedule(text: str) -> str:
    """Syntax of ``--schedule`` (TIME:GAIT pairs, times increasing from 0); the controller
    checks the gait names."""
    from cpg_controller.gait_switching import parse_schedule
    try:
        entries = parse_schedule(text, gaits=_AnyGait())
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return ','.join(f'{t:g}:{g}' for t, g in entries)


class _AnyGait:
    def __contains__(self, name) -> bool:
        return isinstance(name, str) and bool(name)

    def __iter__(self):
        return iter(())


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f'file not found: {text}')
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog='neuroloco', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True, parser_class=_Parser)
    run = sub.add_parser('run', help='run body + controller in lock-step, as fast as the CPU allows')
    run.add_argument('robot', choices=ROBOTS)
    run.add_argument('--controller', default='hold')
    run.add_argument('--duration', type=_positive_seconds, default=10.0, help='simulated seconds')
    run.add_argument('--seed', type=int, default=0)
    run.add_argument('--arena', choices=('flat', 'water', 'amphibious'))
    run.add_argument('--config', type=_existing_file, help='ROS parameter file (default: the robot\'s)')
    run.add_argument('--gui', action='store_true', help='open a PyBullet window, paced to wall clock')
    run.add_argument('--metrics-json', type=_output_path('.json'), metavar='FILE')
    run.add_argument('--plot', type=_output_path('.png'), metavar='FILE.png')
    run.add_argument('--record', type=_output_path('.mcap'), metavar='FILE.mcap',
                     help='record ROS 2 messages to MCAP')
    run.add_argument('--gait', help='gait name, for controllers that have gaits (e.g. cpg)')
    run.add_argument('--drive', type=_finite_number, help='tonic drive, for CPG controllers')
    run.add_argument('--schedule', type=_schedule, metavar='T:GAIT,...',
                     help='gait schedule, e.g. "0:walk,10:trot,20:bound" (cpg: one network, '
                          'gaits switched by neuromodulators)')
    run.add_argument('--params', type=_existing_file, metavar='FILE',
                     help='controller parameter file (e.g. an optimizer result)')
    ros = sub.add_parser('ros', help="run the robot's ROS 2 node graph in one process "
                         '(what ros2 launch starts), paced to wall clock')
    ros.add_argument('robot', choices=ROBOTS)
    ros.add_argument('--duration', type=_positive_seconds, help='wall-clock seconds (default: '
                     'until Ctrl-C)')
    ros.add_argument('--namespace', default='', help='namespace of every node and topic')
    ros.add_argument('--arena', choices=('flat', 'water', 'amphibious'))
    ros.add_argument('--record', type=_output_path('.mcap'), metavar='FILE.mcap',
                     help='record the graph\'s topics to MCAP')
    from .optimize import add_parser as add_optimize_parser
    add_optimize_parser(sub)
    return parser


def _write_atomically(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def print_table(metrics: dict) -> None:
    for key, value in metrics.items():
        if isinstance(value, float):
            text = f'{value:.4g}'
        elif isinstance(value, (list, tuple)):
            text = '[' + ', '.join(f'{v:.3g}' if isinstance(v, float) else str(v) for v in value) + ']'
        else:
            text = str(value)
        print(f'  {key:<22} {text}')


def cmd_run(args) -> int:
    from .runner import run
    options = {name: getattr(args, name) for name in ('gait', 'drive', 'params', 'schedule')
               if getattr(args, name) is not None}
    result = run(args.robot, controller=args.controller, duration=args.duration, seed=args.seed,
                 arena=args.arena, gui=args.gui, config=args.config, record=args.record, **options)
    print(f'neuroloco run {args.robot} --controller {args.controller}')
    print_table(result.metrics)
    if args.metrics_json:
        _write_atomically(args.metrics_json,
                          lambda tmp: Path(tmp).write_text(json.dumps(result.metrics, indent=2) + '\n'))
    if args.plot:
        from .plots import plot_run
        _write_atomically(args.plot, lambda tmp: plot_run(result, tmp))
    return 0


def cmd_ros(args) -> int:
    from .bringup import run_graph
    return run_graph(args.robot, duration=args.duration, namespace=args.namespace,
                     arena=args.arena, record=args.record)


def cmd_optimize(args) -> int:
    from .optimize import cmd_optimize as run_optimize
    return run_optimize(args)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        return {'run': cmd_run, 'ros': cmd_ros, 'optimize': cmd_optimize}[args.command](args)
    except ConfigError as error:
        print(f'neuroloco: error: {error}', file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
