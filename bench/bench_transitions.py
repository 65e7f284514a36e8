"""Body transition times of the modulated quadruped over many command times (issue 5's target).

Each run holds the old gait for ``t`` seconds, then the schedule changes the modulator targets to
the new gait's (nothing else) and runs 6 s more; ``t = T0 + 0.067 k`` for every ``T0`` and
``k = 0 .. K-1``, so the command lands at different phases of the old gait. Printed per
transition: how many runs reach the new gait's phase table within 2 body cycles (the
``transitions[0].cycles`` metric: foot touchdowns within 0.05 cycle, counted from the command),
the range and median of body and network cycles, the same body measure counted from the
modulator change itself (``cycles_from_release``: a phase-timed change is released at its
leg's phase, up to one old cycle after the command), falls, and the new gait's speed and phase error
over its last seconds.

    .venv/bin/python bench/bench_transitions.py                     # 4 transitions x 3 times
    .venv/bin/python bench/bench_transitions.py --t0 6 8 10 --k 12 --workers 2 --json out/tr.json
    .venv/bin/python bench/bench_transitions.py --k 12 --params bench/params/multirate_4ms.yaml

The default is a quick look (12 runs, ~1 min on 2 cores); the numbers in docs/performance.md use
``--t0 6 8 10 --k 12`` (144 runs).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time

from neuro_locomotion.runner import run

PAIRS = ('walk-trot', 'trot-bound', 'bound-trot', 'trot-walk')
AFTER_S = 6.0          # s of the new gait after the command
STEP_S = 0.067         # s between command times (not a divisor of any gait period)


def one(job):
    """One closed-loop run; the transition's numbers (or the error) as a dict."""
    old, new, t, params = job
    c0 = time.process_time()
    try:
        result = run('quadruped', controller='cpg', duration=t + AFTER_S,
                     schedule=f'0:{old},{t}:{new}', params=params)
    except Exception as e:          # reported in the table, not hidden
        return dict(old=old, new=new, t=t, error=repr(e))
    m = result.metrics
    tr, seg = m['transitions'][0], m['segments'][1]
    return dict(old=old, new=new, t=t, cycles=tr['cycles'], network_cycles=tr['network_cycles'],
                cycles_from_release=tr.get('cycles_from_release'),
                fell=bool(tr['fell'] or m.get('fell')), speed_mps=seg['speed_mps'],
                phase_error=seg['phase_error'], cpu_s=round(time.process_time() - c0, 2))


def _span(values):
    got = [v for v in values if v is not None]
    if not got:
        return 'never'
    never = len(values) - len(got)
    text = f'{min(got):.2f}-{max(got):.2f}'
    return text + (f' ({never} never)' if never else '')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pairs', nargs='+', default=list(PAIRS), help='old-new gait pairs')
    ap.add_argument('--t0', nargs='+', type=float, default=[6.0],
                    help='seconds of the old gait before the first command time')
    ap.add_argument('--k', type=int, default=3, help='command times per T0 (0.067 s apart)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--json', help='write every run as JSON here')
    ap.add_argument('--params', help='controller parameter file (cpg_node overrides, e.g. '
                    'bench/params/multirate_4ms.yaml)')
    a = ap.parse_args(argv)
    pairs = [p.split('-') for p in a.pairs]
    for p in pairs:
        if len(p) != 2:
            ap.error(f'a pair is OLD-NEW, got {"-".join(p)!r}')
    if a.k < 1 or a.workers < 1 or any(t <= 0 for t in a.t0):
        ap.error('--k and --workers must be >= 1 and every --t0 > 0')
    jobs = [(o, n, round(t0 + STEP_S * k, 3), a.params) for o, n in pairs for t0 in a.t0
            for k in range(a.k)]
    with mp.get_context('spawn').Pool(a.workers) as pool:
        rows = pool.map(one, jobs, chunksize=1)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(rows, f, indent=1)
    print('| transition | runs | within 2 body cycles | body cycles | median | network cycles '
          '| from the release: within 2 / range | falls | new gait speed m/s '
          '| phase error max |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for o, n in pairs:
        rr = [r for r in rows if r['old'] == o and r['new'] == n]
        bad = [r for r in rr if 'error' in r]
        ok = [r for r in rr if 'error' not in r]
        cycles = [r['cycles'] for r in ok]
        within = sum(1 for c in cycles if c is not None and c <= 2.0)
        median = statistics.median([c if c is not None else float('inf') for c in cycles]) \
            if cycles else float('nan')
        released = [r['cycles_from_release'] for r in ok]
        within_released = sum(1 for c in released if c is not None and c <= 2.0)
        speeds = [r['speed_mps'] for r in ok]
        errors = [r['phase_error'] for r in ok if r['phase_error'] is not None]
        print(f'| {o} -> {n} | {len(rr)} | {within} | {_span(cycles)} | {median:.2f} '
              f'| {_span([r["network_cycles"] for r in ok])} '
              f'| {within_released} / {_span(released)} | {sum(r["fell"] for r in ok)} '
              f'| {_span(speeds)} | {max(errors) if errors else float("nan"):.3f} |')
        for r in bad:
            print(f'  error at t = {r["t"]}: {r["error"]}')


if __name__ == '__main__':
    main()
