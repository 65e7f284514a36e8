"""Salamander walk <-> swim transitions over many switch times (issue 5's target).

Each run swims (or walks) from 0 s, switches at ``T`` by the schedule (the serotonin target
only) and runs ``--after`` s more: swim -> walk on flat ground (``0:swim,T:walk``), walk -> swim
in water (``0:walk,T:swim``). Printed per ``spiking.seed`` (initial potentials and noise; the
connectivity is the network template's own ``seed``, 1, or ``--template-seed``, which runs a copy
of ``config/networks/salamander.yaml`` with another connectivity draw): how many runs reach the
new gait's table
within 2 of its cycles (``transitions[0].cycles``: limb touchdowns within 0.05 cycle of the walk
table, or the body wave's lags within 0.05 of the swim table, counted from the switch), the
cycles of every run, and falls.

    .venv/bin/python bench/bench_salamander_switch.py                        # 6-15 s, step 0.5
    .venv/bin/python bench/bench_salamander_switch.py --times 6.25:14.25:1 --seeds 0 2 3
    .venv/bin/python bench/bench_salamander_switch.py --to swim --json out/w2s.json
    .venv/bin/python bench/bench_salamander_switch.py --times 6:14:2 --template-seed 2
    .venv/bin/python bench/bench_salamander_switch.py --set spiking.readout_min_half_s=0.03

The numbers in docs/neuromodulation.md ("the limb readout after a swim") are these sets: grid
``6:15:0.5`` and held out ``6.25:14.25:1``, ``6.75:14.75:1``, ``6.4:14.4:1`` on seed 0;
``6:13:1``, ``6.5:13.5:1``, ``6.2:13.2:1`` on seeds 1-4; since the limb network of fixed
in-degree (2026-12-07): grid ``6:15:0.5`` and ``6.25:14.25:1``, ``6.75:14.75:1``,
``6.4:14.4:1`` on seed 0, ``6:13:1`` on seeds 1-4, and held out ``6.6:14.6:1`` on seed 0 and
``6.3:13.3:1`` on seeds 5 and 6; since the readout ignores restart blips (sixth session), also
``6.15:14.15:1`` on seeds 7 and 8, ``6.85:13.85:1`` on seed 0 and ``6:14:2`` on template seeds
2-4. About 5 s of CPU per run.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import yaml

from cpg_controller.gait_networks import load_template
from neuro_locomotion.params import ConfigError
from neuro_locomotion.runner import run

WITHIN = 2.0        # cycles of the new gait (the target)


def switch_times(text: str) -> list[float]:
    """``a:b:step`` (inclusive) or ``t1,t2,...`` -> switch times (s), each positive."""
    try:
        if ':' in text:
            a, b, step = (float(x) for x in text.split(':'))
            if not (step > 0 and math.isfinite(a) and math.isfinite(b) and b >= a):
                raise ValueError
            n = int(math.floor((b - a) / step + 1e-9)) + 1
            times = [round(a + k * step, 6) for k in range(n)]
        else:
            times = [float(x) for x in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError(f'bad switch times {text!r}: expected a:b:step with '
                                         f'step > 0 and b >= a, or t1,t2,...') from None
    if not times or not all(math.isfinite(t) and t > 0 for t in times):
        raise argparse.ArgumentTypeError(f'switch times must be positive seconds, got {text!r}')
    return times


def param(text: str) -> tuple[str, object]:
    """``name=value`` (value read as YAML: 1.0, true, a string) -> (name, value)."""
    name, sep, value = text.partition('=')
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f'expected name=value, got {text!r}')
    return name.strip(), yaml.safe_load(value)


def one(job):
    """One closed-loop run; its transition's numbers (or the error) as a dict."""
    to, t, seed, after, network, extra = job
    old = 'walk' if to == 'swim' else 'swim'
    params = {**extra, 'spiking.seed': seed}
    if network is not None:
        params['spiking.network'] = network
    c0 = time.process_time()
    try:
        m = run('salamander', controller='cpg', duration=t + after,
                arena='water' if to == 'swim' else 'flat', schedule=f'0:{old},{t:g}:{to}',
                params=params).metrics
    except (ConfigError, ValueError) as e:
        return {'to': to, 't': t, 'seed': seed, 'error': str(e)}
    tr = m['transitions'][0]
    return {'to': to, 't': t, 'seed': seed, 'cycles': tr['cycles'],
            'transition_s': tr['transition_s'], 'fell': bool(m['fell']),
            'cpu_s': round(time.process_time() - c0, 2)}


def summary(rows: list[dict]) -> dict:
    """Per seed: runs, within 2 cycles, the largest count (None = never settled), falls."""
    out = {}
    for seed in sorted({r['seed'] for r in rows}):
        mine = [r for r in rows if r['seed'] == seed and 'error' not in r]
        cycles = [r['cycles'] for r in mine]
        within = sum(c is not None and c <= WITHIN for c in cycles)
        out[seed] = {'runs': len(mine), 'within_2': within,
                     'never': sum(c is None for c in cycles),
                     'max_cycles': max((c for c in cycles if c is not None), default=None),
                     'falls': sum(r['fell'] for r in mine),
                     'errors': sum('error' in r for r in rows if r['seed'] == seed)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--to', choices=('walk', 'swim'), default='walk',
                        help='the new gait (default walk: swim -> walk on flat ground)')
    parser.add_argument('--times', type=switch_times, default=switch_times('6:15:0.5'),
                        help='switch times, a:b:step or t1,t2,... (default 6:15:0.5)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0],
                        help='spiking.seed values (noise and initial potentials)')
    parser.add_argument('--after', type=float, default=10.0,
                        help='seconds run after the switch (default 10)')
    parser.add_argument('--template-seed', type=int, default=None,
                        help='connectivity draw: run a copy of the salamander network template '
                             'with this seed (default: the template\'s own, 1)')
    parser.add_argument('--set', type=param, action='append', default=[], metavar='NAME=VALUE',
                        help='a controller parameter for every run, e.g. spiking.adapt=1.0 '
                             '(repeatable; refused before the runs if the controller refuses it)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--json', help='write every run and the summary here')
    args = parser.parse_args(argv)
    if not (math.isfinite(args.after) and args.after > 0):
        parser.error(f'--after must be a positive number of seconds, got {args.after}')
    if args.workers < 1 or any(s < 0 for s in args.seeds):
        parser.error('--workers must be >= 1 and --seeds not negative')
    if args.json and not Path(args.json).resolve().parent.is_dir():
        parser.error(f'--json: folder of {args.json!r} not found')   # before the long runs
    if args.template_seed is not None and args.template_seed < 0:
        parser.error(f'--template-seed must not be negative, got {args.template_seed}')
    if args.set:                    # judged once, before the long runs
        try:
            run('salamander', controller='cpg', duration=0.004, params=dict(args.set))
        except (ConfigError, ValueError) as e:
            parser.error(f'--set: {e}')
    with tempfile.TemporaryDirectory() as tmp:
        network = None
        if args.template_seed is not None:
            template = load_template('salamander')
            template.pop('_source', None)
            template['seed'] = args.template_seed
            network = str(Path(tmp) / f'salamander_seed{args.template_seed}.yaml')
            Path(network).write_text(yaml.safe_dump(template, sort_keys=False))
        extra = dict(args.set)
        jobs = [(args.to, t, seed, args.after, network, extra) for seed in args.seeds
                for t in args.times]
        if args.workers == 1:
            rows = [one(j) for j in jobs]
        else:
            with mp.get_context('spawn').Pool(args.workers) as pool:
                rows = pool.map(one, jobs, chunksize=1)
    for r in rows:
        print(json.dumps(r), flush=True)
    table = summary(rows)
    for seed, s in table.items():
        print(f'{args.to}: spiking.seed {seed}: {s["within_2"]} of {s["runs"]} within '
              f'{WITHIN:g} cycles, never settled {s["never"]}, max {s["max_cycles"]}, '
              f'falls {s["falls"]}, errors {s["errors"]}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'runs': rows, 'summary': {str(k): v for k, v in table.items()}}, f,
                      indent=1)
    return 1 if any(s['errors'] for s in table.values()) else 0


if __name__ == '__main__':
    raise SystemExit(main())
