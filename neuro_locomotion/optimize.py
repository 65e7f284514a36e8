"""``neuroloco optimize``: CMA-ES over a controller's tunable parameters, many headless runs.

What is tuned (the TUNABLE convention)
--------------------------------------
A controller declares what may be tuned next to its factory (an attribute of the factory named in
``controllers.REGISTRY``, or of the factory's module):

- ``TUNABLE``: a list whose entries are ``ParamSpec`` objects or parameter names (``'servo.kp'``
  for every element of an array, ``'servo.kp[1]'`` for one element); or a mapping robot -> list;
  or a callable ``robot -> list``. The search range of an entry is its spec's [min, max].
- ``PARAM_SPECS``: the controller's ParamSpec list (or mapping robot -> list, or callable) that
  names in ``TUNABLE`` are looked up in.
- ``NODE``: the node section its parameter file uses (``reflex_node``, ``cpg_node``, ...), or a
  mapping robot -> node, or a callable.
- optionally ``OBJECTIVE``: the default objective name (otherwise ``gait``).
- optionally ``TUNABLE_ON_REQUEST``: entries (as in ``TUNABLE``) that are tuned only when a
  ``--tune`` pattern names them, never by default (e.g. the reflex walker's start-up gait).

and its factory accepts ``params=<file>``: a ROS parameter file whose ``NODE`` section holds values
for them (``reflex_node: ros__parameters: ...``); the file ``best.yaml`` is such a file.

CMA-ES searches normalised coordinates u in [0, 1]^n, ``value = lo + u (hi - lo)``: with
``--space range`` (default) [lo, hi] is the spec's [min, max]; with ``--space relative`` it is
``default ± span·|default|`` cut to [min, max]. Every value is clipped to [lo, hi], rounded for
integer parameters and checked by its ParamSpec before any run sees it.

Determinism
-----------
Every evaluation is a fresh lock-step run (:func:`neuro_locomotion.runner.run`, fresh World) of
``duration`` seconds with the seed ``evaluation_seed(run seed, generation, candidate index)``, so a
candidate's objective does not depend on the backend, the number of workers or the order in which
evaluations finish; CMA-ES draws its samples from its own ``RandomState(run seed)``, pickled
with it.
"""
from __future__ import annotations

import csv
import datetime
import fnmatch
import io
import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .params import ConfigError, ParamSpec, read_ros_params
from .paths import ROBOTS, config_file

FORMAT = 1                     # checkpoint format version
REJECTED = 1e9                 # objective of a candidate that could not be run (ranked last)
PROVENANCE_NODE = 'optimizer_provenance'
CHECKPOINT, HISTORY, BEST = 'checkpoint.pkl', 'history.csv', 'best.yaml'
HISTORY_COLUMNS = ('generation', 'best_so_far', 'generation_best', 'generation_mean', 'sigma',
                   'evaluations', 'rejected', 'generation_wall_s', 'total_wall_s',
                   'generation_cpu_s')
SPACES = ('range', 'relative')
BACKENDS = ('local', 'ray')


# -- what is tuned ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coordinate:
    """One searched number: a scalar parameter or one element of an array parameter."""

    name: str                    # dotted ROS parameter name
    index: int | None            # element of an array parameter, else None
    spec: ParamSpec
    lo: float                    # search range (inside the spec's [min, max])
    hi: float
    default: float               # the value in the robot's parameter file (or the spec default)
    integer: bool = False

    @property
    def label(self) -> str:
        return self.name if self.index is None else f'{self.name}[{self.index}]'

    def value(self, u: float):
        """Normalised coordinate -> a checked parameter value (clipped into [lo, hi])."""
        u = min(max(float(u), 0.0), 1.0)
        v = self.lo + u * (self.hi - self.lo)
        v = min(max(v, self.lo), self.hi)
        if self.integer:
            v = int(round(v))
        return v

    def coordinate(self, value: float) -> float:
        return min(max((value - self.lo) / (self.hi - self.lo), 0.0), 1.0)


def _registry_target(controller: str):
    from .controllers import REGISTRY, controller_names
    target = REGISTRY.get(controller)
    if target is None:
        raise ConfigError(f'unknown controller {controller!r}; choose one of {controller_names()}')
    module_name, attr = target.split(':')
    import importlib
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f'controller {controller!r}: cannot import {module_name} '
                          f'({error})') from None
    return getattr(module, attr), module


def _declared(controller: str, robot: str, name: str):
    factory, module = _registry_target(controller)
    value = getattr(factory, name, None)
    if value is None:
        value = getattr(module, name, None)
    if callable(value) and not isinstance(value, (list, tuple, Mapping, str, ParamSpec)):
        value = value(robot)
    if isinstance(value, Mapping):
        value = value.get(robot)
    return value


def default_objective(controller: str, robot: str) -> str:
    return _declared(controller, robot, 'OBJECTIVE') or 'gait'


def _node_values(robot: str, node: str) -> dict:
    nodes = read_ros_params(config_file(robot))
    merged = dict(nodes.get('**', {}))
    merged.update(nodes.get(node, {}))
    return merged


def _selected(controller: str, robot: str, tune=None) -> list:
    """The controller's TUNABLE (and TUNABLE_ON_REQUEST) entries whose parameter name matches
    one of the ``tune`` patterns (fnmatch, e.g. ``reflex.*``); every TUNABLE one without
    ``tune``."""
    entries = _declared(controller, robot, 'TUNABLE')
    if not entries:
        raise ConfigError(f'controller {controller!r} has no tunable parameters for the {robot} '
                          '(it declares no TUNABLE; see docs/optimize.md)')
    if tune is None:
        return list(entries)
    entries = list(entries) + list(_declared(controller, robot, 'TUNABLE_ON_REQUEST') or ())
    if isinstance(tune, str) or not all(isinstance(t, str) and t for t in tune) or not tune:
        raise ConfigError(f'tune must be a list of name patterns, got {tune!r}')

    def name(entry):
        return entry.name if isinstance(entry, ParamSpec) else str(entry).partition('[')[0]
    chosen = [e for e in entries if any(fnmatch.fnmatchcase(name(e), t) for t in tune)]
    if not chosen:
        raise ConfigError(f'--tune {" ".join(tune)} matches none of the tunable parameters of '
                          f'{controller!r} (e.g. {name(entries[0])})')
    return chosen


def tunables(controller: str, robot: str, space: str = 'range', span: float = 0.5,
             start: str | Path | None = None, tune=None,
             refuse_inactive: bool = True) -> tuple[str, tuple[Coordinate, ...], dict]:
    """(node, coordinates, base values of the tuned parameters) declared by ``controller``
    (only those matching ``tune``'s patterns, when given).

    The start values are the robot's config file's, overridden by the node section of ``start``
    (a parameter file such as a best.yaml) when given. With ``refuse_inactive`` (a new search),
    tuned names that change nothing with those values are refused (:func:`_refuse_inactive`)."""
    if space not in SPACES:
        raise ConfigError(f'space must be one of {list(SPACES)}, got {space!r}')
    if not (isinstance(span, (int, float)) and math.isfinite(span) and span > 0):
        raise ConfigError(f'span must be a positive number, got {span!r}')
    entries = _selected(controller, robot, tune)
    node = _declared(controller, robot, 'NODE')
    if not isinstance(node, str) or not node:
        raise ConfigError(f'controller {controller!r} declares TUNABLE but no NODE (its parameter '
                          'file section)')
    known = {s.name: s for s in (_declared(controller, robot, 'PARAM_SPECS') or ())}
    in_file = _node_values(robot, node)
    if start is not None:
        in_file.update(_start_values(start, node))
    coordinates, base = [], {}
    for entry in entries:
        index = None
        if isinstance(entry, ParamSpec):
            spec = entry
        elif isinstance(entry, str):
            name = entry
            if name.endswith(']') and '[' in name:
                name, _, rest = name.partition('[')
                try:
                    index = int(rest[:-1])
                except ValueError:
                    raise ConfigError(f'controller {controller!r}: bad TUNABLE entry '
                                      f'{entry!r}') from None
            spec = known.get(name)
            if spec is None:
                raise ConfigError(f'controller {controller!r}: TUNABLE names {name!r}, which '
                                  'is not in its PARAM_SPECS')
        else:
            raise ConfigError(f'controller {controller!r}: TUNABLE entry {entry!r} is neither a '
                              'ParamSpec nor a name')
        kind = spec.kind
        if kind not in (int, float, list):
            raise ConfigError(f'{spec.name}: only numbers can be tuned, not {kind.__name__}')
        default = spec.check(in_file[spec.name]) if spec.name in in_file else spec.default
        base[spec.name] = list(default) if kind is list else default
        if kind is list:
            if any(isinstance(v, str) for v in default):
                raise ConfigError(f'{spec.name}: only numbers can be tuned')
            indices = range(len(default)) if index is None else [index]
            for i in indices:
                if not 0 <= i < len(default):
                    raise ConfigError(f'{spec.name}[{i}]: no such element ({len(default)} values)')
                coordinates.append(_coordinate(spec, i, float(default[i]), False, space, span))
        else:
            if index is not None:
                raise ConfigError(f'{spec.name} is not an array')
            coordinates.append(_coordinate(spec, None, default, kind is int, space, span))
    labels = [c.label for c in coordinates]
    if len(set(labels)) != len(labels):
        raise ConfigError(f'controller {controller!r}: TUNABLE lists a parameter twice')
    if refuse_inactive:     # the start values checked (a malformed file: a clear ConfigError)
        _refuse_inactive(controller,
                         {s.name: s.check(in_file[s.name]) if s.name in in_file else s.default
                          for s in known.values()},
                         {c.name for c in coordinates})
    return node, tuple(coordinates), base


def _refuse_inactive(controller: str, values: dict, tuned: set) -> None:
    """A controller may define ``inactive_tunables(values, tuned) -> {name: reason}``: the tuned
    names that cannot change a run with these start values (a feature switched off). Such a
    search would only burn CPU, so it is refused, naming the switch."""
    factory, module = _registry_target(controller)
    hook = getattr(factory, 'inactive_tunables', None) or getattr(module, 'inactive_tunables',
                                                                   None)
    idle = hook(values, tuned) if hook is not None else {}
    if idle:
        by_reason = {}
        for name, reason in sorted(idle.items()):
            by_reason.setdefault(reason, []).append(name)
        parts = [', '.join(names[:4]) + (f' and {len(names) - 4} more' if len(names) > 4 else '')
                 + f' ({reason})' for reason, names in by_reason.items()]
        raise ConfigError('these tuned parameters change nothing with the start values: '
                          + '; '.join(parts)
                          + '; switch the feature on in the --start file or drop them from --tune')


def start_fixed(controller: str, robot: str, start: str | Path | None, tune=None) -> tuple:
    """(name, value) pairs of the ``start`` file's node values that the controller declares but
    does not tune, checked against their specs: the candidates carry them unchanged. A name the
    controller does not declare is refused (a typo would otherwise be dropped silently)."""
    if start is None:
        return ()
    node = _declared(controller, robot, 'NODE')
    known = {s.name: s for s in (_declared(controller, robot, 'PARAM_SPECS') or ())}
    tuned = {entry.name if isinstance(entry, ParamSpec) else entry.partition('[')[0]
             for entry in _selected(controller, robot, tune)}
    fixed = []
    for name, value in _start_values(start, node).items():
        if name in tuned or name == 'use_sim_time':
            continue
        if name not in known:
            raise ConfigError(f'{start}: {name!r} is not a parameter of {node}')
        fixed.append((name, known[name].check(value)))
    return tuple(fixed)


def _start_values(path: str | Path, node: str) -> dict:
    """The ``node`` section of a start parameter file (flat names), refused when it has none."""
    nodes = read_ros_params(path)
    if node not in nodes:
        raise ConfigError(f'{path}: no {node} section to start from')
    return dict(nodes[node])


def _coordinate(spec: ParamSpec, index, default, integer: bool, space: str, span: float):
    label = spec.name if index is None else f'{spec.name}[{index}]'
    mn, mx = spec.min, spec.max
    if space == 'range' and mn is not None and mx is not None:
        lo, hi = float(mn), float(mx)
    else:
        if default == 0:
            if mn is None or mx is None:
                raise ConfigError(f'{label}: default 0 and no [min, max]: no search range')
            lo, hi = float(mn), float(mx)
        else:
            half = span * abs(default)
            lo, hi = default - half, default + half
            lo = lo if mn is None else max(lo, float(mn))
            hi = hi if mx is None else min(hi, float(mx))
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError(f'{label}: empty search range [{lo}, {hi}]')
    return Coordinate(spec.name, index, spec, lo, hi, float(default), integer)


# -- one evaluation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Everything a worker needs to evaluate a candidate (picklable)."""

    robot: str
    controller: str
    node: str
    coordinates: tuple
    base: dict                    # values of the tuned parameters before tuning
    objective: str
    objective_settings: dict      # the objective's options (defaults for the robot included)
    duration: float
    #: (name, value) pairs of the start file's node values that are not tuned: every candidate
    #: carries them unchanged (e.g. a start-up gait's ``startup.*``); () without a start file
    fixed: tuple = ()

    def values(self, u) -> dict:
        """Normalised coordinates -> {parameter: checked value} (arrays complete)."""
        if len(u) != len(self.coordinates):
            raise ConfigError(f'{len(u)} coordinates for {len(self.coordinates)} tunables')
        values = {name: (list(v) if isinstance(v, list) else v) for name, v in self.base.items()}
        for c, x in zip(self.coordinates, u):
            v = c.value(x)
            if c.index is None:
                values[c.name] = v
            else:
                values[c.name][c.index] = v
        for c in self.coordinates:
            values[c.name] = c.spec.check(values[c.name])      # never passes an infeasible value
        return values

    def score(self, result):
        from .objectives import make_objective
        settings = {k: v for k, v in self.objective_settings.items() if v is not None}
        return make_objective(self.objective, self.robot, **settings)(result, self.duration)


def evaluation_seed(run_seed: int, generation: int, index: int) -> int:
    """The seed of candidate ``index`` of ``generation``: fixed by the run seed and the
    candidate alone."""
    state = np.random.SeedSequence([int(run_seed), int(generation), int(index)]).generate_state(1)
    return int(state[0] >> 1)          # 31 bits, non-negative


def perturbed_values(values: dict, specs: dict, fraction: float, seed: int, trial: int) -> dict:
    """``values`` with every float (and every float of a list) multiplied by
    U(1 - fraction, 1 + fraction), drawn from ``default_rng([seed, trial])`` in sorted name order,
    then clipped to its spec's [min, max] (``specs``: name -> ParamSpec) and checked; bools and
    integer scalars are kept (every number of a list is perturbed). The same perturbation as ``bench/bench_reflex.py --robustness`` (which
    clips to the walker's physical ranges instead of the search bounds)."""
    rng = np.random.default_rng([int(seed), int(trial)])

    def one(spec, x):
        x = float(x) * float(rng.uniform(1.0 - fraction, 1.0 + fraction))
        if spec is not None and spec.min is not None:
            x = max(x, float(spec.min))
        if spec is not None and spec.max is not None:
            x = min(x, float(spec.max))
        return x

    out = {}
    for name in sorted(values):
        v, spec = values[name], specs.get(name)
        if isinstance(v, float):
            v = one(spec, v)
        elif isinstance(v, list):
            v = [x if isinstance(x, bool) or not isinstance(x, (int, float)) else one(spec, x)
                 for x in v]
        out[name] = spec.check(v) if spec is not None else v
    return {name: out[name] for name in values}


def score_candidate(problem: Problem, values: dict, seed: int, nominal: Path, specs: dict):
    """The objective of one candidate: the run of the parameter file ``nominal`` (the candidate's
    ``values``); with the gait objective's opt-in ``robust_trials`` K > 0, also K runs of
    ``perturbed_values(values, specs, robust_fraction, seed, k)``, k = 1..K, each with the same
    run seed, and the objective is the mean over the 1 + K runs (the nominal run's terms, plus
    ``robust_mean``, ``robust_nominal``, ``robust_walked`` (perturbed runs that survived the whole
    duration) and ``robust_min_survived_s``). Returns (Score, the nominal run's result)."""
    from .objectives import Score
    from .runner import run
    result = run(problem.robot, problem.controller, duration=problem.duration, seed=seed,
                 params=nominal)
    score = problem.score(result)
    trials = int(problem.objective_settings.get('robust_trials') or 0)
    if trials == 0:
        return score, result
    fraction = float(problem.objective_settings['robust_fraction'])
    scores = [score.value]
    survived = []
    with tempfile.TemporaryDirectory(prefix='neuroloco-robust-') as tmp:
        for k in range(1, trials + 1):
            path = Path(tmp) / f'perturbed{k}.yaml'
            path.write_text(yaml.safe_dump({problem.node: {'ros__parameters': _nest(
                perturbed_values(values, specs, fraction, seed, k))}}))
            r = run(problem.robot, problem.controller, duration=problem.duration, seed=seed,
                    params=path)
            s = problem.score(r)
            scores.append(s.value)
            survived.append(s.terms.get('survived_s', math.nan))
    mean = float(np.mean(scores))
    terms = dict(score.terms, robust_nominal=score.value, robust_mean=mean,
                 robust_walked=int(sum(t >= problem.duration - 1e-6 for t in survived)),
                 robust_min_survived_s=float(min(survived)))
    return Score(mean, terms), result


def evaluate(problem: Problem, u, seed: int) -> dict:
    """Run one candidate; return its objective, terms, values and a few metrics."""
    values = problem.values(u)
    t0, cpu0 = time.perf_counter(), time.process_time()
    out = {'values': values, 'seed': seed}
    try:
        with tempfile.TemporaryDirectory(prefix='neuroloco-eval-') as tmp:
            path = Path(tmp) / 'params.yaml'
            path.write_text(params_yaml(problem, values))
            score, result = score_candidate(problem, {**dict(problem.fixed), **values}, seed,
                                            path, {c.name: c.spec for c in problem.coordinates})
        value = score.value if math.isfinite(score.value) else REJECTED
        out.update(value=value, terms=score.terms,
                   metrics={k: result.metrics.get(k) for k in ('sim_time_s', 'wall_time_s',
                                                               'distance_m', 'fell')},
                   error=None if math.isfinite(score.value) else 'objective is not finite')
    except Exception as error:          # a candidate the controller or the body refuses
        out.update(value=REJECTED, terms={}, metrics={},
                   error=f'{type(error).__name__}: {_first_line(error)}')
    out['wall_s'] = time.perf_counter() - t0
    out['cpu_s'] = time.process_time() - cpu0
    return out


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else ''


def evaluate_task(task) -> dict:
    problem, u, seed = task
    return evaluate(problem, u, seed)


# -- parameter files -------------------------------------------------------------------------------
def _scalar(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10 ** 9, allow_unicode=True)
    text = text.strip()
    return text[:-3].strip() if text.endswith('...') else text


def _nest(flat: dict) -> dict:
    tree: dict = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split('.')
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def _emit(tree: dict, indent: int, comments: dict, prefix: str, lines: list) -> None:
    for key, value in tree.items():
        name = f'{prefix}{key}'
        pad = ' ' * indent
        if isinstance(value, dict):
            lines.append(f'{pad}{key}:')
            _emit(value, indent + 2, comments, name + '.', lines)
        else:
            note = comments.get(name)
            lines.append(f'{pad}{key}: {_scalar(value)}' + (f'  # {note}' if note else ''))


def _comments(problem: Problem) -> dict:
    """{parameter: 'unit; searched [lo, hi] start x'} for the tuned parameters."""
    parts: dict = {}
    for c in problem.coordinates:
        where = '' if c.index is None else f'[{c.index}] '
        parts.setdefault(c.name, [c.spec.unit or '1']).append(
            f'{where}searched [{c.lo:.6g}, {c.hi:.6g}] start {c.default:.6g}')
    return {name: f'{p[0]}; ' + ', '.join(p[1:]) for name, p in parts.items()}


def params_yaml(problem: Problem, values: dict, header: str = '',
                provenance: dict | None = None) -> str:
    """A ROS parameter file: the controller's node section with ``values`` (units in comments),
    optionally a provenance node section. Checked to read back to exactly ``values``."""
    lines = [header.rstrip('\n')] if header else []
    lines += [f'{problem.node}:', '  ros__parameters:']
    values = {**dict(problem.fixed), **values}
    _emit(_nest(values), 4, _comments(problem), '', lines)
    if provenance:
        lines += [f'{PROVENANCE_NODE}:', '  ros__parameters:']
        _emit(_nest(provenance), 4, {}, '', lines)
    text = '\n'.join(lines) + '\n'
    parsed = yaml.safe_load(text)
    from .params import flatten
    back = flatten(parsed[problem.node]['ros__parameters'])
    if back != values or any(type(back[k]) is not type(values[k]) for k in values):
        raise RuntimeError(f'parameter file does not read back exactly: {back} != {values}')
    return text


# -- backends --------------------------------------------------------------------------------------
def _exit_with_parent(parent: int) -> None:
    """Pool worker: end when the optimizer's process is gone (killed, not shut down), instead of
    waiting for work forever."""
    import threading

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, daemon=True, name='exit-with-parent').start()


class LocalBackend:
    """A pool of ``workers`` processes (spawn: each starts clean)."""

    name = 'local'

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.pool = ProcessPoolExecutor(max_workers=workers,
                                        mp_context=multiprocessing.get_context('spawn'),
                                        initializer=_exit_with_parent, initargs=(os.getpid(),))

    def map(self, tasks: list, done) -> list:
        from concurrent.futures import as_completed
        futures = {self.pool.submit(evaluate_task, t): k for k, t in enumerate(tasks)}
        results = [None] * len(tasks)
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done()
        return results

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayBackend:
    """Ray tasks: a local Ray instance with ``workers`` CPUs, or a cluster at ``address``
    (``--ray-address`` or RAY_ADDRESS). An already initialised Ray connection is used as is."""

    name = 'ray'

    def __init__(self, workers: int, address: str | None = None):
        import logging

        import ray
        self.ray, self.owned = ray, False
        if not ray.is_initialized():
            address = address or os.environ.get('RAY_ADDRESS') or None
            kwargs = dict(include_dashboard=False, logging_level=logging.WARNING,
                          log_to_driver=False)
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    # local workers import this very checkout of the package, as the driver does
                    root = str(Path(__file__).resolve().parent.parent)
                    path = os.pathsep.join(p for p in (root, os.environ.get('PYTHONPATH')) if p)
                    ray.init(num_cpus=workers, runtime_env={'env_vars': {'PYTHONPATH': path}},
                             **kwargs)
            except Exception as error:
                raise ConfigError(f'cannot start Ray{" at " + address if address else ""}: '
                                  f'{_first_line(error) or type(error).__name__}') from None
            self.owned = True
        self.task = ray.remote(num_cpus=1, max_retries=0)(evaluate_task)

    def map(self, tasks: list, done) -> list:
        ray = self.ray
        refs = [self.task.remote(t) for t in tasks]
        index = {ref: k for k, ref in enumerate(refs)}
        results = [None] * len(tasks)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                results[index[ref]] = ray.get(ref)
                done()
        return results

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def make_backend(name: str, workers: int, ray_address: str | None = None):
    if name == 'local':
        return LocalBackend(workers)
    if name == 'ray':
        return RayBackend(workers, ray_address)
    raise ConfigError(f'backend must be one of {list(BACKENDS)}, got {name!r}')


# -- provenance ------------------------------------------------------------------------------------
def git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip()
        if out.returncode != 0 or not commit:
            return 'unknown'
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def _version() -> str:
    from . import __version__
    return __version__


# -- the optimizer ---------------------------------------------------------------------------------
@dataclass
class State:
    """What checkpoint.pkl holds: enough to continue exactly where a run stopped."""

    format: int
    problem: Problem
    settings: dict                 # popsize, sigma, seed, space, span, objective, duration
    es: object                     # cma.CMAEvolutionStrategy (its sampler uses `random`)
    random: object                 # numpy RandomState the sampler draws from
    generation: int = 0            # generations completed
    evaluations: int = 0
    best: dict | None = None       # the lowest objective evaluated so far (not the CMA mean)
    history: list = field(default_factory=list)
    wall_s: float = 0.0
    commit: str = 'unknown'
    started: str = ''


@dataclass
class OptimizeResult:
    out: Path
    generation: int
    evaluations: int
    best: dict | None
    history: list
    stopped: str = ''


def _check_int(name: str, value, minimum: int):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f'{name} must be an integer >= {minimum}, got {value!r}')


def _check_positive(name: str, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise ConfigError(f'{name} must be a positive number, got {value!r}')


def load_state(directory: str | Path) -> State:
    directory = Path(directory)
    path = directory / CHECKPOINT
    if not directory.is_dir():
        raise ConfigError(f'resume directory not found: {directory}')
    if not path.is_file():
        raise ConfigError(f'{directory} holds no {CHECKPOINT}: not an optimizer output directory')
    try:
        with open(path, 'rb') as f:
            state = pickle.load(f)
    except Exception as error:
        raise ConfigError(f'{path}: cannot read the checkpoint '
                          f'({type(error).__name__}: {_first_line(error)})') from None
    if not isinstance(state, State) or state.format != FORMAT:
        raise ConfigError(f'{path}: not a checkpoint of this optimizer (format {FORMAT})')
    return state


def new_state(robot: str, controller: str, *, objective: str | None, duration: float,
              popsize: int | None, sigma: float, seed: int, space: str, span: float,
              objective_options: dict | None = None, start: str | Path | None = None,
              tune=None) -> State:
    import cma
    from .objectives import make_objective
    if robot not in ROBOTS:
        raise ConfigError(f'unknown robot {robot!r}; choose one of {list(ROBOTS)}')
    node, coordinates, base = tunables(controller, robot, space, span, start, tune)
    objective = objective or default_objective(controller, robot)
    # unknown objective or option -> ConfigError
    scoring = make_objective(objective, robot, **(objective_options or {})).settings
    _check_positive('duration', duration)
    _check_positive('sigma', sigma)
    _check_int('seed', seed, 0)
    n = len(coordinates)
    if popsize is None:
        popsize = 4 + int(3 * math.log(n))                # CMA-ES default
    _check_int('popsize', popsize, 2)
    problem = Problem(robot, controller, node, coordinates, base, objective, dict(scoring),
                      float(duration), start_fixed(controller, robot, start, tune))
    random = np.random.RandomState(seed)
    x0 = [c.coordinate(c.default) for c in coordinates]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        es = cma.CMAEvolutionStrategy(x0, sigma, {
            'popsize': popsize, 'bounds': [0.0, 1.0], 'randn': random.randn, 'seed': np.nan,
            'verbose': -9, 'verb_log': 0, 'verb_disp': 0, 'maxiter': np.inf,
            'maxfevals': np.inf, 'CMA_diagonal': False})
    settings = {'popsize': popsize, 'sigma': float(sigma), 'seed': seed, 'space': space,
                'span': float(span), 'objective': objective, 'duration': float(duration),
                'cma_version': cma.__version__}
    if start is not None:
        settings['start'] = str(start)
    if tune is not None:
        settings['tune'] = list(tune)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    return State(FORMAT, problem, settings, es, random, commit=git_commit(), started=now)


def preflight(problem: Problem, values: dict) -> None:
    """Build the controller once with a parameter file of ``values`` (names, ranges and the
    controller's own checks), so a setup error stops the run before anything is written."""
    from locomotion_sim.world import World, sim_params
    from .controllers import make_controller
    from .runner import body_info
    config = config_file(problem.robot)
    world = World(problem.robot, seed=0, params=sim_params(problem.robot, config))
    try:
        with tempfile.TemporaryDirectory(prefix='neuroloco-preflight-') as tmp:
            path = Path(tmp) / 'params.yaml'
            path.write_text(params_yaml(problem, values))
            make_controller(problem.controller, body_info(world, config), params=path)
    finally:
        world.close()


def _write(path: Path, text: str | bytes) -> None:
    from .cli import _write_atomically
    mode = 'wb' if isinstance(text, bytes) else 'w'

    def write(tmp):
        with open(tmp, mode) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)        # mkstemp makes 0600; results are for sharing
    _write_atomically(path, write)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def history_csv(rows: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(HISTORY_COLUMNS)
    for row in rows:
        writer.writerow([repr(row[c]) if isinstance(row.get(c), float) else row.get(c, '')
                         for c in HISTORY_COLUMNS])
    return buffer.getvalue()


def best_yaml(state: State) -> str:
    p, s, b = state.problem, state.settings, state.best
    command = (f'neuroloco run {p.robot} --controller {p.controller} --duration {p.duration!r} '
               f'--seed {b["seed"]} --params best.yaml')
    check = f'neuroloco optimize {p.robot} --controller {p.controller} --check best.yaml'
    header = '\n'.join([
        '# neuroloco optimize: the BEST parameter set so far = the candidate with the lowest',
        '# objective of all evaluated ones. It is NOT the CMA-ES mean (that is never evaluated',
        '# and not saved).',
        f'# robot {p.robot}, controller {p.controller}; objective {p.objective} = '
        f'{b["value"]!r} (lower is better)',
        f'# found in generation {b["generation"]} (candidate {b["index"]}, evaluation seed '
        f'{b["seed"]}); {state.evaluations} evaluations in {state.generation} generations',
        f'# the same run: {command}',
        f'# the same objective, bit for bit (exit 0 when equal): {check}',
        f'# git {state.commit}, neuro_locomotion {_version()}, cma {s["cma_version"]}, '
        f'written {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}',
        '# values: units and the searched range in the comments'])
    provenance = {
        'kind': 'best (lowest objective evaluated; not the CMA-ES mean)',
        'objective': p.objective,
        'objective_value': float(b['value']),
        'generation': int(b['generation']),
        'candidate': int(b['index']),
        'evaluation_seed': int(b['seed']),
        'evaluations': int(state.evaluations),
        'generations_done': int(state.generation),
        'run_seed': int(s['seed']),
        'robot': p.robot,
        'controller': p.controller,
        'duration_s': float(p.duration),
        'popsize': int(s['popsize']),
        'sigma0': float(s['sigma']),
        'space': s['space'],
        **({'start_file': s['start']} if s.get('start') else {}),
        **({'tune': list(s['tune'])} if s.get('tune') else {}),
        'git_commit': state.commit,
        'package_version': _version(),
        'cma_version': s['cma_version'],
        'started': state.started,
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    terms = {f'terms.{k}': (float(v) if isinstance(v, float) else v)
             for k, v in b['terms'].items() if isinstance(v, (int, float, str))
             and not isinstance(v, bool) and not (isinstance(v, float) and not math.isfinite(v))}
    provenance.update(terms)
    provenance.update({f'objective_settings.{k}': float(v) for k, v in p.objective_settings.items()
                       if v is not None})
    return params_yaml(p, b['values'], header=header, provenance=provenance)


def read_best(path: str | Path) -> dict:
    """The provenance fields of a best.yaml (objective, objective_value, evaluation_seed, ...)."""
    nodes = read_ros_params(path)
    if PROVENANCE_NODE not in nodes:
        raise ConfigError(f'{path}: no {PROVENANCE_NODE} section')
    info = nodes[PROVENANCE_NODE]
    missing = [k for k in ('robot', 'controller', 'objective', 'objective_value', 'duration_s',
                           'evaluation_seed') if k not in info]
    if missing:
        raise ConfigError(f'{path}: {PROVENANCE_NODE} lacks {missing}')
    return info


def reevaluate(path: str | Path) -> float:
    """Run a best.yaml again through the runner; return its objective (equal to the saved one)."""
    from .objectives import make_objective
    from .runner import run
    info = read_best(path)
    settings = {k.split('.', 1)[1]: v for k, v in info.items()
                if k.startswith('objective_settings.')}
    objective = make_objective(info['objective'], info['robot'], **settings)
    if objective.settings.get('robust_trials'):
        # the perturbed runs of the opt-in robustness term: the same values, specs and seeds
        node, coordinates, _ = tunables(info['controller'], info['robot'],
                                        tune=info.get('tune'), refuse_inactive=False)
        values = read_ros_params(path)[node]
        problem = Problem(info['robot'], info['controller'], node, coordinates, {},
                          info['objective'], dict(objective.settings), info['duration_s'])
        score, _ = score_candidate(problem, values, info['evaluation_seed'], Path(path),
                                   {c.name: c.spec for c in coordinates})
        return score.value
    result = run(info['robot'], info['controller'], duration=info['duration_s'],
                 seed=info['evaluation_seed'], params=Path(path))
    return objective(result, info['duration_s']).value


def _save(state: State, out: Path) -> None:
    if state.best is not None:
        _write(out / BEST, best_yaml(state))
    _write(out / HISTORY, history_csv(state.history))
    _write(out / CHECKPOINT, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def optimize(robot: str, controller: str, *, generations: int = 10, popsize: int | None = None,
             workers: int = 1, backend: str = 'local', out: str | Path | None = None,
             resume: str | Path | None = None, duration: float | None = None,
             seed: int | None = None, sigma: float | None = None, objective: str | None = None,
             space: str | None = None, span: float | None = None, ray_address: str | None = None,
             progress: bool = True, objective_options: dict | None = None,
             start: str | Path | None = None, tune=None) -> OptimizeResult:
    """Run (or continue) CMA-ES until ``generations`` generations are done in total.

    ``objective_options`` override the objective's options (e.g. ``{'min_velocity': 1.2}``);
    ``start`` is a parameter file whose node section replaces the config's start values."""
    _check_int('generations', generations, 1)
    _check_int('workers', workers, 1)
    if backend not in BACKENDS:
        raise ConfigError(f'backend must be one of {list(BACKENDS)}, got {backend!r}')
    asked = {'popsize': popsize, 'sigma': sigma, 'seed': seed, 'space': space, 'span': span,
             'objective': objective, 'duration': duration}
    if resume is not None:
        resume = Path(resume)
        if out is not None and Path(out).resolve() != resume.resolve():
            raise ConfigError('--out and --resume name different directories; a resumed run '
                              'writes into its own directory')
        state = load_state(resume)
        p = state.problem
        if (p.robot, p.controller) != (robot, controller):
            raise ConfigError(f'{resume} is an optimization of {p.robot} --controller '
                              f'{p.controller}, not {robot} --controller {controller}')
        for key, value in asked.items():
            if value is not None and value != state.settings[key]:
                raise ConfigError(f'{resume} was run with {key} {state.settings[key]!r}; a resumed '
                                  f'run cannot change it (asked {value!r})')
        for key, value in (objective_options or {}).items():
            saved = p.objective_settings.get(key)
            if value != saved:
                raise ConfigError(f'{resume} was run with objective option {key} {saved!r}; a '
                                  f'resumed run cannot change it (asked {value!r})')
        if start is not None and str(start) != state.settings.get('start'):
            raise ConfigError(f'{resume} was started from {state.settings.get("start")!r}; a '
                              f'resumed run cannot change it (asked {str(start)!r})')
        if tune is not None and list(tune) != state.settings.get('tune'):
            raise ConfigError(f'{resume} was run with --tune {state.settings.get("tune")!r}; a '
                              f'resumed run cannot change it (asked {list(tune)!r})')
        out = resume
    else:
        out = Path(out) if out is not None else Path('out') / 'optimize' / f'{robot}-{controller}'
        if (out / CHECKPOINT).exists():
            raise ConfigError(f'{out} already holds an optimization; continue it with --resume '
                              f'{out} or choose another --out')
        if out.exists() and not out.is_dir():
            raise ConfigError(f'{out} is not a directory')
        state = new_state(robot, controller, objective=objective,
                          duration=10.0 if duration is None else duration,
                          popsize=popsize, sigma=0.2 if sigma is None else sigma,
                          seed=0 if seed is None else seed, space=space or 'range',
                          span=0.5 if span is None else span,
                          objective_options=objective_options, start=start, tune=tune)
    problem = state.problem
    popsize = state.settings['popsize']
    if state.generation == 0:
        preflight(problem, problem.values([c.coordinate(c.default) for c in problem.coordinates]))
    stopped = ''
    if state.generation >= generations:
        return OptimizeResult(out, state.generation, state.evaluations, state.best, state.history,
                              f'{generations} generations already done')
    pool = make_backend(backend, workers, ray_address)
    bar = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=generations * popsize, initial=state.evaluations, unit='eval',
                       desc=f'optimize {robot} {controller}', file=sys.stderr, dynamic_ncols=True,
                       mininterval=0.5)
        for generation in range(state.generation, generations):
            t0 = time.perf_counter()
            X = state.es.ask()
            tasks = [(problem, [float(v) for v in np.clip(x, 0.0, 1.0)],
                      evaluation_seed(state.settings['seed'], generation, k))
                     for k, x in enumerate(X)]
            results = pool.map(tasks, (lambda: bar.update(1)) if bar else (lambda: None))
            values = [r['value'] for r in results]
            rejected = [r for r in results if r['error']]
            if len(rejected) == len(results):
                raise ConfigError(f'every candidate of generation {generation} failed; first: '
                                  f'{rejected[0]["error"]}')
            state.es.tell(X, values)
            k = int(np.argmin(values))                       # first of equal values
            if state.best is None or values[k] < state.best['value']:
                r = results[k]
                state.best = {'value': values[k], 'values': r['values'], 'terms': r['terms'],
                              'generation': generation, 'index': k, 'seed': r['seed'],
                              'u': tasks[k][1]}
            state.generation = generation + 1
            state.evaluations += len(results)
            wall = time.perf_counter() - t0
            state.wall_s += wall
            ok = [v for v, r in zip(values, results) if not r['error']]
            state.history.append({
                'generation': generation, 'best_so_far': float(state.best['value']),
                'generation_best': float(min(values)), 'generation_mean': float(np.mean(ok)),
                'sigma': float(state.es.sigma), 'evaluations': state.evaluations,
                'rejected': len(rejected), 'generation_wall_s': round(wall, 3),
                'total_wall_s': round(state.wall_s, 3),
                'generation_cpu_s': round(sum(r['cpu_s'] for r in results), 3)})
            _save(state, out)
            line = (f'generation {generation}: best so far {state.best["value"]:.6g} '
                    f'(this generation: best {min(values):.6g}, mean {np.mean(ok):.6g}), '
                    f'sigma {state.es.sigma:.3g}'
                    + (f', {len(rejected)} rejected: {rejected[0]["error"]}' if rejected else ''))
            if bar:
                bar.set_postfix(best=f'{state.best["value"]:.4g}')
                bar.write(line, file=sys.stderr)
            stop = state.es.stop()
            if stop:
                stopped = 'CMA-ES stopped: ' + ', '.join(f'{k}={v}' for k, v in stop.items())
                break
    finally:
        if bar:
            bar.close()
        pool.close()
    return OptimizeResult(out, state.generation, state.evaluations, state.best, state.history,
                          stopped)


# -- command line ----------------------------------------------------------------------------------
def add_parser(sub) -> None:
    """The ``optimize`` subcommand of ``neuroloco``."""
    import argparse

    from .cli import _positive_seconds

    def at_least(minimum, what):
        def check(text):
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f'{what} must be an integer, got {text!r}') from None
            if value < minimum:
                raise argparse.ArgumentTypeError(f'{what} must be at least {minimum}, got {value}')
            return value
        return check

    def positive(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'not a number: {text!r}') from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f'must be a positive number, got {text}')
        return value

    def objective_option(text):
        name, sep, value = text.partition('=')
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number):
            raise argparse.ArgumentTypeError(f'expected NAME=NUMBER, got {text!r}')
        return name, number

    p = sub.add_parser('optimize', help="tune a controller's TUNABLE parameters with CMA-ES over "
                       'headless lock-step runs (local process pool or Ray)')
    p.add_argument('robot', choices=ROBOTS)
    p.add_argument('--controller', required=True)
    p.add_argument('--objective', help='objective name (default: the controller\'s OBJECTIVE, '
                   'else gait): gait, distance, stand')
    p.add_argument('--generations', type=at_least(1, 'generations'), default=10,
                   help='generations in total (a resumed run continues up to this number)')
    p.add_argument('--popsize', type=at_least(2, 'popsize'), help='candidates per generation '
                   '(default: 4 + 3 ln n)')
    p.add_argument('--workers', type=at_least(1, 'workers'), default=os.cpu_count() or 1,
                   help='parallel evaluations (default: the number of CPUs)')
    p.add_argument('--backend', choices=BACKENDS, default='local')
    p.add_argument('--ray-address', help='Ray cluster address (default: RAY_ADDRESS, else a '
                   'local Ray instance with --workers CPUs)')
    p.add_argument('--resume', metavar='DIR', help='continue the optimization in DIR')
    p.add_argument('--out', metavar='DIR', help='output directory (default: '
                   'out/optimize/ROBOT-CONTROLLER)')
    p.add_argument('--duration', type=_positive_seconds, help='simulated seconds per '
                   'evaluation (default 10)')
    p.add_argument('--seed', type=at_least(0, 'seed'), help='run seed (default 0)')
    p.add_argument('--sigma', type=positive, help='initial CMA-ES step size in normalised '
                   'coordinates (default 0.2)')
    p.add_argument('--space', choices=SPACES, help='search range of each parameter: its '
                   '[min, max] (range, default) or default ± span·|default| (relative)')
    p.add_argument('--span', type=positive, help='relative space: fraction of the default '
                   '(default 0.5)')
    p.add_argument('--objective-option', metavar='NAME=VALUE', action='append', default=[],
                   type=objective_option, help='set an option of the objective (repeatable), '
                   'e.g. min_velocity=1.2 grf_weight=50; saved in best.yaml')
    p.add_argument('--start', metavar='FILE', help='start from the node section of this '
                   'parameter file (e.g. a best.yaml) instead of the robot config\'s values')
    p.add_argument('--tune', metavar='PATTERN', action='append', default=None,
                   help='tune only the parameters whose name matches this pattern (repeatable, '
                   'fnmatch, e.g. "reflex.*"); the others keep their start values')
    p.add_argument('--check', metavar='FILE', help='instead of optimizing: run a best.yaml again '
                   'and compare its objective with the saved one (exit 0 equal, 1 different)')


def cmd_check(args) -> int:
    """``--check FILE``: re-evaluate a saved set; 0 when the objective is identical, else 1."""
    info = read_best(args.check)
    if (info.get('robot'), info.get('controller')) != (args.robot, args.controller):
        raise ConfigError(f'{args.check} is a result of {info.get("robot")} --controller '
                          f'{info.get("controller")}, not {args.robot} --controller '
                          f'{args.controller}')
    saved = info['objective_value']
    value = reevaluate(args.check)
    same = value == saved
    print(f'{args.check}: objective {info["objective"]} = {value!r}, saved {saved!r}: '
          + ('identical' if same else f'DIFFERENT by {value - saved!r}'))
    return 0 if same else 1


def cmd_optimize(args) -> int:
    if args.check is not None:
        return cmd_check(args)
    if args.resume is not None and not Path(args.resume).is_dir():
        raise ConfigError(f'resume directory not found: {args.resume}')
    result = optimize(args.robot, args.controller, generations=args.generations,
                      popsize=args.popsize, workers=args.workers, backend=args.backend,
                      out=args.out, resume=args.resume, duration=args.duration, seed=args.seed,
                      sigma=args.sigma, objective=args.objective, space=args.space, span=args.span,
                      ray_address=args.ray_address,
                      objective_options=dict(args.objective_option) or None, start=args.start,
                      tune=args.tune)
    best = result.best
    print(f'neuroloco optimize {args.robot} --controller {args.controller}: '
          f'{result.generation} generations, {result.evaluations} evaluations')
    if result.stopped:
        print(f'  {result.stopped}')
    if best is not None:
        print(f'  best objective {best["value"]!r} (generation {best["generation"]}, '
              f'candidate {best["index"]}, seed {best["seed"]})')
        for name, value in best['values'].items():
            print(f'    {name:<28} {value!r}')
        print(f'  written {result.out / BEST}, {result.out / HISTORY}, {result.out / CHECKPOINT}')
    return 0
