"""Write the CMA-ES *mean* of a ``neuroloco optimize`` checkpoint as a best.yaml-style file.

best.yaml holds the lowest objective evaluated, which under a noisy objective (the opt-in
``robust_trials`` term: a few random perturbations per candidate) is the luckiest candidate; the
distribution mean is where CMA-ES believes the good region is, and it was the robust one
(docs/walking.md, *robust re-optimization*, 2026-12-07). The mean is evaluated once with the run's
objective (and seed ``--seed``) and written with the same provenance fields as best.yaml
(``kind: CMA-ES mean``), so ``neuroloco optimize ... --check FILE`` re-evaluates it bit for bit:

    PYTHONPATH=$PWD .venv/bin/python bench/cma_mean_yaml.py out/optimize/RUN/checkpoint.pkl OUT.yaml
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import numpy as np

from neuro_locomotion.optimize import (REJECTED, best_yaml, evaluate, load_state, params_yaml,
                                       score_candidate)
from neuro_locomotion.params import ConfigError, read_ros_params


def mean_yaml(directory: Path, seed: int, values_file: str | None = None) -> tuple[str, dict]:
    """(file text, evaluation) of the checkpoint's CMA-ES mean, or with ``values_file`` of the
    values in that file's node section (e.g. a mean written at an earlier generation)."""
    state = load_state(directory)
    u = [float(v) for v in np.clip(state.es.mean, 0.0, 1.0)]
    if values_file is None:
        r = evaluate(state.problem, u, seed)
    else:
        values = read_ros_params(values_file)[state.problem.node]
        if set(values) != set(state.problem.base):
            raise ConfigError(f'{values_file}: not the tuned parameters of this optimization')
        values = {k: values[k] for k in state.problem.base}
        specs = {c.name: c.spec for c in state.problem.coordinates}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / 'values.yaml'
            path.write_text(params_yaml(state.problem, values))
            score, _ = score_candidate(state.problem, values, seed, path, specs)
        r = {'value': score.value, 'values': values, 'terms': score.terms, 'error': None}
    if r['error'] or not r['value'] < REJECTED:
        raise ConfigError(f'the CMA-ES mean could not be evaluated: {r["error"]}')
    mean = copy.copy(state)
    mean.best = {'value': r['value'], 'values': r['values'], 'terms': r['terms'],
                 'generation': state.generation, 'index': -1, 'seed': seed, 'u': u}
    what = (f'the CMA-ES MEAN after {state.generation} generations (sigma {state.es.sigma:.4g})'
            if values_file is None else
            f'the values of {values_file} (a CMA-ES mean of this run written earlier)')
    text = best_yaml(mean)
    text = text.replace(
        '# neuroloco optimize: the BEST parameter set so far = the candidate with the lowest\n'
        '# objective of all evaluated ones. It is NOT the CMA-ES mean (that is never evaluated\n'
        '# and not saved).\n',
        f'# neuroloco optimize: {what},\n# evaluated once (bench/cma_mean_yaml.py); not the '
        'lowest objective evaluated.\n', 1)
    text = text.replace(f'# found in generation {state.generation} (candidate -1, ',
                        f'# checkpoint at generation {state.generation} (', 1)
    text = text.replace('kind: best (lowest objective evaluated; not the CMA-ES mean)',
                        f'kind: "{what}"', 1)
    return text, r


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='checkpoint.pkl of an optimization (or its directory)')
    parser.add_argument('out', help='the parameter file to write')
    parser.add_argument('--seed', type=int, default=0, help='evaluation seed (default 0)')
    parser.add_argument('--values', help='evaluate the node section of this file instead of the '
                        'mean (e.g. a mean written at an earlier generation)')
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f'--seed must not be negative, got {args.seed}')
    directory = Path(args.checkpoint)
    directory = directory.parent if directory.is_file() else directory
    try:
        text, r = mean_yaml(directory, args.seed, args.values)
    except (ConfigError, FileNotFoundError) as e:
        print(f'cma_mean_yaml: {e}', file=sys.stderr)
        return 2
    Path(args.out).write_text(text)
    print(f'{args.out}: objective {r["value"]!r}, terms {r["terms"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
