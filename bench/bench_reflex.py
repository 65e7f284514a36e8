"""Real-time factor of the GH2010 reflex walker in the lock-step runner, next to bare physics.

For each repeat (interleaved, so machine noise hits all rows alike), in one process:

- bare physics: the human body (config/human.yaml: soft feet), ``stepSimulation`` only;
- runner ``hold``: ``run('human', 'hold')`` (observe + position servo + physics);
- runner ``reflex``: ``run('human', 'reflex', duration=D, stop_on_fall=False)``, by default with
  the shipped parameters (``--params FILE``: e.g. an optimizer's best.yaml that walks);
- the same with ``ReflexWalker.step_checked`` (the per-step Python path before the fused kernel);
- the walker alone: median wall time of ``ReflexWalker.step`` (and ``step_checked``) per 1 ms
  step (from a timed run).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_reflex.py [--duration 10] [--repeats 3]
        [--params config/reflex/human_walk.yaml]

``--robustness N`` instead measures the ±2 % robustness of the parameters (the issue's target:
>= 90 % of 20 trials walk 20 s): N runs of ``--duration`` s, each with every number of the
``reflex_node`` section of ``--params`` (default config/reflex/human_walk_fast.yaml, the set
config/human.yaml ships) multiplied by U(1 - f, 1 + f), f = ``--fraction`` (0.02), drawn with
``--seed``; each row has the run's ``grf_peak_bw``:

    PYTHONPATH=$PWD .venv/bin/python bench/bench_reflex.py --robustness 20 --duration 20

``--perturb PATTERN`` (repeatable, fnmatch on the dotted names) perturbs only the matching
parameters, with the same draws: for a set with a start-up gait, ``--perturb 'reflex.*'`` is the
walking set's own fragility and ``--perturb 'startup.*' --perturb 'initial.*'`` the start's.

``--replay N`` instead times the walker alone, free of physics: N observations of the shipped
walk are recorded once, then replayed open loop through ``ReflexWalker.step`` ``--repeats`` times
(reset before each pass); it prints the median and minimum CPU µs per call. With the repository
first on PYTHONPATH it times the working tree; to compare with an older commit run the same
script with a ``git archive`` copy of that commit first on PYTHONPATH:

    PYTHONPATH=$PWD .venv/bin/python bench/bench_reflex.py --replay 3000 --repeats 7

The numba kernels are compiled (or loaded from the cache) by a warm-up run first. The machine is
usually shared: the load average is printed with the numbers, and the RTF is also given by the
process's CPU time (simulated s / CPU s of the whole ``run`` call, World construction included),
which is what an idle core would give (less cache and memory-bandwidth contention).
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import pybullet as pb

from locomotion_sim.world import World
from neuro_locomotion.runner import run


def bare_rtf(duration: float) -> tuple[float, float]:
    """(wall, CPU) real-time factor of stepSimulation alone on the human (soft feet)."""
    with World('human') as world:
        world.hold(world.observe().position)
        n = int(duration / world.dt)
        client = world.client
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            pb.stepSimulation(physicsClientId=client)
        return n * world.dt / (time.perf_counter() - t0), n * world.dt / (time.process_time() - c0)


def runner_rtf(controller: str, duration: float, **options) -> tuple[float, float, dict]:
    """(wall RTF of the stepping loop, CPU RTF of the whole run call, metrics)."""
    c0 = time.process_time()
    r = run('human', controller, duration=duration, stop_on_fall=False, **options)
    cpu = time.process_time() - c0
    return r.metrics['real_time_factor'], r.metrics['sim_time_s'] / cpu, r.metrics


def walker_step_us(params, duration: float, checked: bool = False) -> float:
    """Median wall time of the controller's step() per call, in microseconds; ``checked``: the
    step through the checked objects (``ReflexWalker.step_checked``, the code before the fused
    kernel) instead."""
    from neuro_locomotion import runner
    from reflex_modules.walker import ReflexWalker
    samples = []
    original = ReflexWalker.step
    inner = ReflexWalker.step_checked if checked else original

    def timed(self, observation, dt):
        t0 = time.perf_counter()
        command = inner(self, observation, dt)
        samples.append(time.perf_counter() - t0)
        return command
    ReflexWalker.step = timed
    try:
        runner.run('human', 'reflex', duration=duration, stop_on_fall=False,
                   **({'params': params} if params else {}))
    finally:
        ReflexWalker.step = original
    return 1e6 * statistics.median(samples)


def replay_us(n: int, repeats: int, params=None) -> tuple[float, float]:
    """(median, min) CPU microseconds per ``ReflexWalker.step`` call, replaying ``n`` recorded
    observations ``repeats`` times (open loop, the walker reset before each pass)."""
    from neuro_locomotion.controllers import make_controller
    from neuro_locomotion.paths import config_file
    from neuro_locomotion.runner import body_info
    with World('human') as world:
        info = body_info(world, config_file('human'))
        walker = make_controller('reflex', info, **({'params': params} if params else {}))
        world.params.apply(walker.initial_state())
        world.reset(0)
        walker.reset(world.observe())
        recorded = []
        for _ in range(n):
            obs = world.observe()
            recorded.append(obs)
            world.apply(walker.step(obs, world.dt))
            world.step()
    per_call = []
    for _ in range(repeats):
        walker.reset(recorded[0])
        c0 = time.process_time()
        for obs in recorded:
            walker.step(obs, 0.001)
        per_call.append((time.process_time() - c0) / n * 1e6)
    return statistics.median(per_call), min(per_call)


def perturbed_trees(values: dict, trials: int, fraction: float, seed: int,
                    perturb: tuple = (), stats: dict | None = None):
    """Yield ``trials`` nested ``ros__parameters`` trees of the flat ``reflex_node`` ``values``,
    each with every number (or, with ``perturb``, every number whose dotted name matches one of
    those fnmatch patterns) multiplied by U(1 - fraction, 1 + fraction) from
    ``default_rng(seed)``, and put on its declared range if it lands outside (a set near a
    bound, e.g. vas_phi_off near pi, would otherwise be refused; counted in
    ``stats['clipped']``). The draws do not depend on ``perturb``: trial k draws the same factors
    either way, and a value outside the patterns keeps its own, so 'reflex.*' against
    'startup.*' splits one set of trials into its two halves."""
    import fnmatch

    import numpy as np

    from reflex_modules.walker import REFLEX_NODE_PARAMS
    specs = {s.name: s for s in REFLEX_NODE_PARAMS}
    stats = {} if stats is None else stats
    stats['clipped'] = 0

    def chosen(name):
        return not perturb or any(fnmatch.fnmatchcase(name, p) for p in perturb)
    if not any(chosen(name) for name in values):
        raise SystemExit(f'--perturb {" ".join(perturb)}: no parameter matches')

    def scaled(name, x):
        factor = float(rng.uniform(1 - fraction, 1 + fraction))     # drawn either way
        if not chosen(name):
            return x
        spec = specs.get(name)
        lo = spec.min if spec is not None and spec.min is not None else -math.inf
        hi = spec.max if spec is not None and spec.max is not None else math.inf
        x = float(x) * factor
        if not lo <= x <= hi:
            stats['clipped'] += 1
        return min(max(x, lo), hi)
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        tree: dict = {}
        for name, v in values.items():
            if isinstance(v, list):
                v = [scaled(name, x) for x in v]
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                v = scaled(name, v)
            node = tree
            *parents, leaf = name.split('.')
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = v
        yield tree


def robustness(path, trials: int, duration: float, fraction: float, seed: int,
               perturb: tuple = ()) -> None:
    """Run ``perturbed_trees`` of ``path``'s ``reflex_node`` section for ``duration`` s each
    and print one row per trial and the share that walked the whole run."""
    import tempfile
    from pathlib import Path

    import yaml

    from neuro_locomotion.params import read_ros_params
    values = read_ros_params(path)['reflex_node']
    walked = []
    stats: dict = {}
    print('| trial | walked (s) | steps | speed (m/s) | gait speed (m/s) | grf_peak_bw |\n'
          '|---|---|---|---|---|---|')
    for k, tree in enumerate(perturbed_trees(values, trials, fraction, seed, perturb, stats)):
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / 'perturbed.yaml'
            file.write_text(yaml.safe_dump({'reflex_node': {'ros__parameters': tree}}))
            m = run('human', 'reflex', duration=duration, params=file).metrics
        walked.append(m['walked_s'])
        grf = m['grf_peak_bw']
        gait = m['gait_speed_mps']
        print(f"| {k} | {m['walked_s']:.3f} | {m['steps']} | {m['mean_speed_mps']:.3f} | "
              f"{'-' if gait is None else format(gait, '.3f')} | "
              f"{'-' if grf is None else format(grf, '.2f')} |", flush=True)
    full = sum(w >= duration - 0.01 for w in walked)
    print(f'{full} of {trials} walk the full {duration:g} s ({100 * full / trials:.0f} %) with '
          f'{"every parameter" if not perturb else "the parameters " + " ".join(perturb)} '
          f'of {path} perturbed by ±{100 * fraction:g} % (seed {seed}); '
          f'{stats["clipped"]} perturbed values clipped to their declared range')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=10.0)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--params', default=None, help='reflex_node parameter file')
    parser.add_argument('--robustness', type=int, default=0, metavar='N',
                        help='instead: N runs with every parameter perturbed by ±fraction')
    parser.add_argument('--fraction', type=float, default=0.02)
    parser.add_argument('--perturb', action='append', default=[], metavar='PATTERN',
                        help='with --robustness: perturb only the parameters matching this '
                             'fnmatch pattern (repeatable; e.g. "reflex.*" for the walking set '
                             'alone); default every parameter')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--replay', type=int, default=0, metavar='N',
                        help='instead: time the walker alone on N replayed observations')
    args = parser.parse_args()
    if args.perturb and not args.robustness:
        parser.error('--perturb chooses what --robustness N perturbs: give --robustness too')
    if args.replay:
        import reflex_modules
        median, low = replay_us(args.replay, args.repeats, args.params)
        print(f'walker.step on {args.replay} replayed observations, {args.repeats} passes: '
              f'median {median:.2f} us, min {low:.2f} us CPU per call '
              f'(code: {os.path.dirname(reflex_modules.__file__)}; '
              f'load average {os.getloadavg()[0]:.1f})')
        return
    if args.robustness:
        from neuro_locomotion.paths import config_file
        # the set config/human.yaml ships (test_config_ships_the_fast_optimized_set)
        path = args.params or config_file('human').parent / 'reflex' / 'human_walk_fast.yaml'
        robustness(path, args.robustness, args.duration, args.fraction, args.seed,
                   tuple(args.perturb))
        return
    extra = {'params': args.params} if args.params else {}
    warm = run('human', 'reflex', duration=0.05, **extra)          # compile / load the kernels
    del warm
    from reflex_modules.walker import ReflexWalker
    fused_step = ReflexWalker.step
    rows = {k: ([], []) for k in ('bare', 'hold', 'reflex', 'checked')}
    walked = []
    for _ in range(args.repeats):
        for key, value in zip(('bare',), (bare_rtf(args.duration),)):
            rows[key][0].append(value[0])
            rows[key][1].append(value[1])
        wall, cpu, _m = runner_rtf('hold', args.duration)
        rows['hold'][0].append(wall)
        rows['hold'][1].append(cpu)
        wall, cpu, m = runner_rtf('reflex', args.duration, **extra)
        rows['reflex'][0].append(wall)
        rows['reflex'][1].append(cpu)
        walked.append(m['walked_s'])
        ReflexWalker.step = ReflexWalker.step_checked         # the walker before the kernel
        try:
            wall, cpu, _m = runner_rtf('reflex', args.duration, **extra)
        finally:
            ReflexWalker.step = fused_step
        rows['checked'][0].append(wall)
        rows['checked'][1].append(cpu)
    step_us = walker_step_us(args.params, min(args.duration, 3.0))
    checked_us = walker_step_us(args.params, min(args.duration, 3.0), checked=True)
    load = os.getloadavg()[0]
    print(f'params: {args.params or "shipped (config/human.yaml)"}; {args.duration:g} s per run, '
          f'{args.repeats} repeats; walked {statistics.median(walked):.3f} s; '
          f'load average {load:.1f} on {os.cpu_count()} CPUs')
    print('| | bare physics | runner, hold | runner, reflex (fused kernel) | runner, reflex '
          '(step_checked, before) |')
    print('|---|---|---|---|---|')
    fmt = lambda xs: f'{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})'
    keys = ('bare', 'hold', 'reflex', 'checked')
    print('| RTF by wall clock, median (min-max) | ' + ' | '.join(fmt(rows[k][0]) for k in keys)
          + ' |')
    print('| RTF by process CPU time (an idle core) | ' + ' | '.join(fmt(rows[k][1]) for k in keys)
          + ' |')
    print(f'| walker step, median | | | {step_us:.1f} µs | {checked_us:.1f} µs |', flush=True)


if __name__ == '__main__':
    main()
