"""Gait quality of the quadruped ``cpg`` under controller parameter files (e.g. multi-rate control)
against the shipped config: the issue-4/5 closed-loop targets, one line per run.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_multirate_quality.py \
        --params config bench/params/multirate_2ms.yaml bench/params/multirate_4ms.yaml

Per parameter set ('config' = config/quadruped.yaml as shipped): trot 60 s (target >= 0.5 m/s,
no fall), walk / trot / pace / bound / gallop 30 s each (no fall; phase error against the gait
table), and the modulated schedule "0:walk,10:trot,20:bound,30:trot,40:walk" for 50 s (speeds,
phase errors and body transition cycles per segment). The same runs as ``neuroloco run
quadruped --controller cpg --gait G --duration D [--params FILE]``; seed 0.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from neuro_locomotion.runner import run

GAITS = ('walk', 'trot', 'pace', 'bound', 'gallop')
SCHEDULE = '0:walk,10:trot,20:bound,30:trot,40:walk'


def one(params, **kw) -> dict:
    c0 = time.process_time()
    m = run('quadruped', 'cpg', params=None if params == 'config' else params, **kw).metrics
    out = {k: m.get(k) for k in ('speed_mps', 'forward_m', 'lateral_m', 'fell', 'fell_at_s',
                                 'phase_error', 'frequency_hz', 'duty_factor',
                                 'control_period_s', 'servo_period_s', 'posture_active_s')}
    if 'segments' in m:
        out['segments'] = [{k: s.get(k) for k in ('gait', 'speed_mps', 'phase_error')}
                           for s in m['segments']]
        out['transitions'] = [{k: t.get(k) for k in ('from', 'to', 'cycles', 'fell')}
                              for t in m['transitions']]
    out['cpu_s'] = round(time.process_time() - c0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--params', nargs='+', default=['config'])
    ap.add_argument('--json', help='write every run as JSON here')
    ap.add_argument('--skip', nargs='*', default=[], choices=('trot60', 'gaits', 'schedule'))
    a = ap.parse_args()
    print(f'load average at start: {os.getloadavg()[0]:.2f} (2 cores)', flush=True)
    rows = []
    for params in a.params:
        runs = []
        if 'trot60' not in a.skip:
            runs.append(('trot 60 s', dict(gait='trot', duration=60.0)))
        if 'gaits' not in a.skip:
            runs += [(f'{g} 30 s', dict(gait=g, duration=30.0)) for g in GAITS]
        if 'schedule' not in a.skip:
            runs.append(('schedule 50 s', dict(schedule=SCHEDULE, duration=50.0)))
        for label, kw in runs:
            r = one(params, **kw)
            r.update(params=params, run=label)
            rows.append(r)
            line = (f'| {params} | {label} | {r["speed_mps"]:.3f} | {r["fell"]} '
                    f'| {r["phase_error"]} | {r["frequency_hz"]} | {r["cpu_s"]} |')
            if 'segments' in r:
                line += ' segments ' + ', '.join(
                    f'{s["gait"]} {s["speed_mps"]:.3f} m/s err {s["phase_error"]}'
                    for s in r['segments'])
                line += '; transitions ' + ', '.join(
                    f'{t["from"]}->{t["to"]} {t["cycles"]} cycles'
                    + (' FELL' if t['fell'] else '') for t in r['transitions'])
            print(line, flush=True)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(rows, f, indent=1)
    print(f'load average at end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    from neuro_locomotion.params import ConfigError
    try:
        main()
    except ConfigError as error:      # a bad file or value: one line, not a traceback
        raise SystemExit(f'bench_multirate_quality: {error}') from None
