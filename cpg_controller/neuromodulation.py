"""Neuromodulation layer for the spiking networks: named modulators with concentrations in [0, 1]
that follow commanded targets with release/uptake time constants, and per-population and
per-projection sensitivities (as data) that scale a running Network's drives, adaptation
increments and synaptic weights.

    nm = load_neuromodulation('config/networks/half_centre_neuromodulation.yaml')
    mnet = ModulatedNetwork('half_centre', nm)      # a Network (or spec) + its sensitivities
    mnet.command(serotonin=0.8)                     # targets; ConfigError (nothing changed) if bad
    rates = mnet.step(1e-3)                         # concentrations advance, scaling applied, kernel
    mnet.concentrations                             # {'serotonin': ...}

Equations (docs/neuromodulation.md):

    c <- target + (c - target) exp(-dt / tau),  tau = tau_release if target > c else tau_uptake
    gain_x = clip(1 + sum_m s_{x,m} c_m, gain_min, gain_max)
    drive_eff(pop)   = drive_base(pop) * gain_excitability(pop) + sum_m o_{pop,m} c_m
    b_w, b_w2 (pop)  = base * gain_adaptation(pop)
    w (projection)   = base * gain(projection)

The layer never edits the kernel or the Network class: drives go through ``Network.set_drive``;
adaptation increments and weights are written, from the compiled (base) copies, into the
network's live float arena (obtained from ``Network.kernel_args``), rows ``kernel.P_BW``,
``kernel.P_BW2`` and the weight block at ``kernel.H_W``.
"""
from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from neuro_locomotion.params import ConfigError, read_yaml

from cpg_controller import kernel as K
from cpg_controller.network import CompiledNetwork, Network, NetworkSpec, network_dir

DEFAULT_GAIN_RANGE = (0.0, 4.0)


@dataclass(frozen=True)
class ModulatorSpec:
    name: str
    tau_release: float      # s, time constant while the target is above the concentration
    tau_uptake: float       # s, time constant while the target is below it
    initial: float = 0.0    # concentration at construction / reset


@dataclass(frozen=True)
class PopulationSensitivity:
    population: str
    excitability: Mapping[str, float] = field(default_factory=dict)   # drive gain per modulator
    drive_offset: Mapping[str, float] = field(default_factory=dict)   # drive offset (current unit)
    adaptation: Mapping[str, float] = field(default_factory=dict)     # b_w, b_w2 gain


@dataclass(frozen=True)
class ProjectionSensitivity:
    source: str | None                              # None: any source; a name or shell pattern
    target: str | None                              # None: any target; a name or shell pattern
    type: str | None                                              # None: every type
    gain: Mapping[str, float] = field(default_factory=dict)       # synaptic weight gain
    tag: str | None = None                                        # None: any tag
    baseline: float = 1.0            # gain at zero concentrations (0: a gated pathway)

    def matches(self, r) -> bool:
        """Whether network projection ``r`` is selected: source and target by name or shell
        pattern (``'body*'``, as for populations), type and tag exactly."""
        return ((self.source is None or fnmatch.fnmatchcase(r.source, self.source))
                and (self.target is None or fnmatch.fnmatchcase(r.target, self.target))
                and (self.type is None or r.type == self.type)
                and (self.tag is None or r.tag == self.tag))

    def describe(self) -> str:
        parts = [f'{self.source or "*"} -> {self.target or "*"}']
        if self.type:
            parts.append(f'({self.type})')
        if self.tag is not None:
            parts.append(f'[tag {self.tag}]')
        return ' '.join(parts)


@dataclass(frozen=True)
class GaitLevels:
    """One row of the gait table: the modulator levels that select a gait."""
    name: str
    levels: Mapping[str, float]           # modulator -> concentration target in [0, 1]
    table: str                            # row of the phase table (config/gaits/) it must reach


@dataclass(frozen=True)
class OutputModulation:
    """A controller parameter derived from the concentrations:
    value = clip(baseline + sum_m s_m c_m, lo, hi)."""
    name: str
    baseline: float
    sensitivity: Mapping[str, float]
    lo: float
    hi: float
    tau_rise_s: float = 0.0      # the applied value follows a rising target with this lag (0: at once)
    tau_fall_s: float = 0.0      # ... and a falling one with this


@dataclass(frozen=True)
class TransitionRoute:
    """How a change from gait ``source`` to ``target`` is carried out.

    Timing (optional, ``release_phase`` and ``legs`` together): the new levels are commanded
    when one of ``legs`` (readout limb names) crosses ``release_phase`` of its readout cycle
    (0 = touchdown, 0.5 = lift-off), at the latest ``max_wait_s`` after the command (animals
    switch gait at specific phases); without them the levels are commanded at once.

    Readout at the release (optional): ``readout_expected_s`` = (stance, swing) s sets every
    limb's expected stance and swing durations (FlexorExtensorPhase) instead of carrying the
    old gait's; ``readout_adapt`` with ``readout_adapt_s``: for ``readout_adapt_s`` seconds the
    readout weighs each measured stance or swing duration by ``readout_adapt`` in its expected
    one instead of ``spiking.adapt``: 0 holds the expected durations through the transitional
    half-cycles, 1 takes the last measured one (follows a change of rhythm in one
    half-cycle)."""
    source: str
    target: str
    release_phase: float | None = None
    legs: tuple[str, ...] = ()
    max_wait_s: float = 1.0
    readout_adapt: float | None = None
    readout_adapt_s: float = 0.0
    readout_expected_s: tuple[float, float] | None = None

    @property
    def timed(self) -> bool:
        """True when the change waits for a leg phase (release_phase given)."""
        return self.release_phase is not None


@dataclass(frozen=True)
class NeuromodulationSpec:
    modulators: tuple[ModulatorSpec, ...]
    populations: tuple[PopulationSensitivity, ...] = ()
    projections: tuple[ProjectionSensitivity, ...] = ()
    gain_range: tuple[float, float] = DEFAULT_GAIN_RANGE
    network: str | None = None
    gaits: tuple[GaitLevels, ...] = ()
    outputs: tuple[OutputModulation, ...] = ()
    speed_command: tuple = ()       # (speeds, {modulator: levels}) or (): supraspinal command
    transitions: tuple[TransitionRoute, ...] = ()   # supraspinal timing / routing of gait changes

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modulators)

    def gait(self, name: str) -> GaitLevels:
        for g in self.gaits:
            if g.name == name:
                return g
        raise ConfigError(f'unknown gait {name!r}; the modulator table has '
                          f'{[g.name for g in self.gaits]}')

    def route(self, source: str, target: str) -> TransitionRoute | None:
        """The ``transitions`` entry for a change from ``source`` to ``target`` (None: the
        levels are commanded at once)."""
        for r in self.transitions:
            if r.source == source and r.target == target:
                return r
        return None

    def speed_targets(self, speed: Any) -> dict[str, float]:
        """Modulator targets for a desired forward speed (m/s): the ``speed_command`` table,
        piecewise linear. ConfigError if there is no table or the speed is outside it."""
        if not self.speed_command:
            raise ConfigError('no speed_command table in the neuromodulation file')
        speeds, levels = self.speed_command
        v = _finite(speed, 'desired speed')
        if not speeds[0] <= v <= speeds[-1]:
            raise ConfigError(f'desired speed {v} m/s is outside the command table '
                              f'[{speeds[0]}, {speeds[-1]}]')
        return {m: float(np.interp(v, speeds, lv)) for m, lv in levels.items()}

    def output(self, name: str, c: Mapping[str, float]) -> float:
        """Value of output ``name`` at concentrations ``c`` (name -> value)."""
        for o in self.outputs:
            if o.name == name:
                x = o.baseline + sum(s * c[m] for m, s in o.sensitivity.items())
                return min(o.hi, max(o.lo, x))
        raise ConfigError(f'no modulated output {name!r}; have {[o.name for o in self.outputs]}')


# --- validation ----------------------------------------------------------------------------------
def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ConfigError(f'{where}: must be a number, got {value!r}')
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(f'{where}: must be finite, got {value!r}')
    return x


def _tau(value: Any, where: str) -> float:
    x = _finite(value, where)
    if x <= 0.0:
        raise ConfigError(f'{where}: time constant must be > 0 s, got {value!r}')
    return x


def _concentration(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ConfigError(f'{where}: concentration must be a number in [0, 1], got {value!r}')
    x = float(value)
    if not (0.0 <= x <= 1.0):     # also refuses NaN
        raise ConfigError(f'{where}: concentration must be in [0, 1], got {value!r}')
    return x


def _sens(tree: Any, names: tuple[str, ...], where: str) -> dict[str, float]:
    if tree is None:
        return {}
    if not isinstance(tree, Mapping):
        raise ConfigError(f'{where}: must be a mapping modulator -> number')
    out = {}
    for key, value in tree.items():
        if key not in names:
            raise ConfigError(f'{where}: unknown modulator {key!r}; have {list(names)}')
        out[key] = _finite(value, f'{where}.{key}')
    return out


def _keys(tree: Mapping, allowed: set, where: str) -> None:
    bad = set(tree) - allowed
    if bad:
        raise ConfigError(f'{where}: unknown keys {sorted(bad)}; allowed {sorted(allowed)}')


ROUTE_KEYS = {'from', 'to', 'release_phase', 'legs', 'max_wait_s', 'readout_adapt',
              'readout_adapt_s', 'readout_expected_s', 'description'}
READOUT_ADAPT_MAX_S = 10.0     # s: longest readout-adaptation window after a release
READOUT_EXPECTED_RANGE = (0.01, 2.0)   # s: expected stance / swing durations set at a release


def _routes(tree: Any, gaits: list, where: str) -> tuple[TransitionRoute, ...]:
    """The ``transitions`` list: [{from, to, release_phase, legs, max_wait_s, readout_adapt,
    readout_adapt_s}] (TransitionRoute: timing and/or readout adaptation of a change)."""
    if tree is None:
        return ()
    if not isinstance(tree, list):
        raise ConfigError(f'{where}: must be a list of {{from, to, release_phase, legs, '
                          'max_wait_s, readout_adapt, readout_adapt_s}}')
    out = []
    for k, r in enumerate(tree):
        w = f'{where}[{k}]'
        if not isinstance(r, Mapping):
            raise ConfigError(f'{w}: must be a mapping')
        _keys(r, ROUTE_KEYS, w)
        for key in ('from', 'to'):
            if r.get(key) not in gaits:
                raise ConfigError(f'{w}.{key}: {r.get(key)!r} is not a gait of the table {gaits}')
        source, target = r['from'], r['to']
        if source == target:
            raise ConfigError(f'{w}: from and to are the same gait {source!r}')
        if any(x.source == source and x.target == target for x in out):
            raise ConfigError(f'{w}: a second entry for {source} -> {target}')
        timed = any(key in r for key in ('release_phase', 'legs', 'max_wait_s'))
        adapts = any(key in r for key in ('readout_adapt', 'readout_adapt_s'))
        if not timed and not adapts and 'readout_expected_s' not in r:
            raise ConfigError(f'{w}: gives neither a release_phase with legs (timing) nor a '
                              'readout_expected_s or readout_adapt with readout_adapt_s (readout)')
        phase, legs, wait = None, (), 1.0
        if timed:
            phase = _finite(r.get('release_phase'), f'{w}.release_phase')
            if not 0.0 <= phase < 1.0:
                raise ConfigError(f'{w}.release_phase: a fraction of the cycle in [0, 1), '
                                  f'got {phase}')
            legs = r.get('legs')
            if not isinstance(legs, list) or not legs or \
                    not all(isinstance(x, str) and x for x in legs):
                raise ConfigError(f'{w}.legs: a non-empty list of readout limb names (e.g. [LF])')
            legs = tuple(legs)
            wait = _finite(r.get('max_wait_s', 1.0), f'{w}.max_wait_s')
            if not 0.0 < wait <= 10.0:
                raise ConfigError(f'{w}.max_wait_s: must be in (0, 10] s, got {wait}')
        adapt, window = None, 0.0
        if adapts:
            adapt = _finite(r.get('readout_adapt'), f'{w}.readout_adapt')
            if not 0.0 <= adapt <= 1.0:
                raise ConfigError(f'{w}.readout_adapt: a weight in [0, 1], got {adapt}')
            window = _finite(r.get('readout_adapt_s'), f'{w}.readout_adapt_s')
            if not 0.0 < window <= READOUT_ADAPT_MAX_S:
                raise ConfigError(f'{w}.readout_adapt_s: must be in (0, {READOUT_ADAPT_MAX_S:g}] '
                                  f's, got {window}')
        expected = None
        if 'readout_expected_s' in r:
            e = r['readout_expected_s']
            lo, hi = READOUT_EXPECTED_RANGE
            if not isinstance(e, (list, tuple)) or len(e) != 2:
                raise ConfigError(f'{w}.readout_expected_s: [stance, swing] in s, got {e!r}')
            expected = tuple(_finite(x, f'{w}.readout_expected_s') for x in e)
            if not all(lo <= x <= hi for x in expected):
                raise ConfigError(f'{w}.readout_expected_s: each in [{lo}, {hi}] s, got {e!r}')
        out.append(TransitionRoute(source, target, phase, legs, wait, adapt, window, expected))
    return tuple(out)


def load_neuromodulation(source: str | Path | Mapping | NeuromodulationSpec,
                         network: NetworkSpec | CompiledNetwork | None = None) -> NeuromodulationSpec:
    """Validate a neuromodulation file (YAML path, bare name in config/networks, or the dict
    under its ``neuromodulation:`` key). With ``network`` the populations and projections are
    checked against it. ConfigError names the problem."""
    if isinstance(source, NeuromodulationSpec):
        spec = source
    else:
        where = 'neuromodulation'
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.suffix and not path.exists():
                path = network_dir() / f'{source}.yaml'
            where = str(path)
            tree = read_yaml(path, 'neuromodulation file')
        else:
            tree = source
        if isinstance(tree, Mapping) and 'neuromodulation' in tree:
            tree = tree['neuromodulation']
        if not isinstance(tree, Mapping):
            raise ConfigError(f'{where}: must be a mapping')
        _keys(tree, {'network', 'gain_range', 'modulators', 'populations', 'projections',
                     'description', 'gaits', 'outputs', 'speed_command', 'transitions'}, where)
        mods = tree.get('modulators')
        if not isinstance(mods, list) or not mods:
            raise ConfigError(f'{where}.modulators: must be a non-empty list')
        specs = []
        for k, m in enumerate(mods):
            w = f'{where}.modulators[{k}]'
            if not isinstance(m, Mapping):
                raise ConfigError(f'{w}: must be a mapping')
            _keys(m, {'name', 'tau_release', 'tau_uptake', 'initial'}, w)
            name = m.get('name')
            if not isinstance(name, str) or not name:
                raise ConfigError(f'{w}.name: must be a non-empty string')
            if name in [s.name for s in specs]:
                raise ConfigError(f'{w}: duplicate modulator {name!r}')
            specs.append(ModulatorSpec(name, _tau(m.get('tau_release'), f'{w}.tau_release'),
                                       _tau(m.get('tau_uptake'), f'{w}.tau_uptake'),
                                       _concentration(m.get('initial', 0.0), f'{w}.initial')))
        names = tuple(s.name for s in specs)
        gr = tree.get('gain_range', list(DEFAULT_GAIN_RANGE))
        if not isinstance(gr, (list, tuple)) or len(gr) != 2:
            raise ConfigError(f'{where}.gain_range: must be [min, max]')
        gmin, gmax = (_finite(g, f'{where}.gain_range') for g in gr)
        if not 0.0 <= gmin <= 1.0 <= gmax:
            raise ConfigError(f'{where}.gain_range: need 0 <= min <= 1 <= max, got {list(gr)}')
        pops = []
        for k, p in enumerate(tree.get('populations') or []):
            w = f'{where}.populations[{k}]'
            if not isinstance(p, Mapping):
                raise ConfigError(f'{w}: must be a mapping')
            _keys(p, {'population', 'excitability', 'drive_offset', 'adaptation'}, w)
            if not isinstance(p.get('population'), str):
                raise ConfigError(f'{w}.population: must be a population name')
            pops.append(PopulationSensitivity(
                p['population'], _sens(p.get('excitability'), names, f'{w}.excitability'),
                _sens(p.get('drive_offset'), names, f'{w}.drive_offset'),
                _sens(p.get('adaptation'), names, f'{w}.adaptation')))
        projs = []
        for k, p in enumerate(tree.get('projections') or []):
            w = f'{where}.projections[{k}]'
            if not isinstance(p, Mapping):
                raise ConfigError(f'{w}: must be a mapping')
            _keys(p, {'source', 'target', 'type', 'gain', 'tag', 'baseline'}, w)
            for key in ('source', 'target', 'tag'):
                if p.get(key) is not None and not isinstance(p.get(key), str):
                    raise ConfigError(f'{w}.{key}: must be a string')
            if p.get('tag') is None and (p.get('source') is None or p.get('target') is None):
                raise ConfigError(f'{w}: give source and target population names, or a tag')
            if p.get('type') not in (None, 'excitatory', 'inhibitory'):
                raise ConfigError(f'{w}.type: excitatory | inhibitory, got {p.get("type")!r}')
            base = _finite(p.get('baseline', 1.0), f'{w}.baseline')   # may be < 0: clipped
            projs.append(ProjectionSensitivity(p.get('source'), p.get('target'), p.get('type'),
                                               _sens(p.get('gain'), names, f'{w}.gain'),
                                               p.get('tag'), base))
        gaits = []
        gtree = tree.get('gaits') or {}
        if not isinstance(gtree, Mapping):
            raise ConfigError(f'{where}.gaits: must be a mapping gait -> {{levels, table}}')
        for gname, g in gtree.items():
            w = f'{where}.gaits.{gname}'
            if not isinstance(g, Mapping):
                raise ConfigError(f'{w}: must be a mapping with levels (and table)')
            _keys(g, {'levels', 'table', 'description'}, w)
            lv = g.get('levels')
            if not isinstance(lv, Mapping) or set(lv) != set(names):
                raise ConfigError(f'{w}.levels: give a level for every modulator {list(names)}')
            levels = {m: _concentration(lv[m], f'{w}.levels.{m}') for m in names}
            table = g.get('table', gname)
            if not isinstance(table, str):
                raise ConfigError(f'{w}.table: must be a phase-table row name')
            gaits.append(GaitLevels(str(gname), levels, table))
        outs = []
        otree = tree.get('outputs') or {}
        if not isinstance(otree, Mapping):
            raise ConfigError(f'{where}.outputs: must be a mapping name -> {{baseline, range, '
                              'sensitivity}}')
        for oname, o in otree.items():
            w = f'{where}.outputs.{oname}'
            if not isinstance(o, Mapping):
                raise ConfigError(f'{w}: must be a mapping')
            _keys(o, {'baseline', 'range', 'sensitivity', 'tau_rise_s', 'tau_fall_s'}, w)
            rg = o.get('range')
            if not isinstance(rg, (list, tuple)) or len(rg) != 2:
                raise ConfigError(f'{w}.range: must be [min, max]')
            lo, hi = (_finite(x, f'{w}.range') for x in rg)
            if not lo < hi:
                raise ConfigError(f'{w}.range: need min < max, got {list(rg)}')
            taus = []
            for key in ('tau_rise_s', 'tau_fall_s'):
                x = _finite(o.get(key, 0.0), f'{w}.{key}')
                if x < 0:
                    raise ConfigError(f'{w}.{key}: must be >= 0 s, got {x}')
                taus.append(x)
            outs.append(OutputModulation(str(oname), _finite(o.get('baseline'), f'{w}.baseline'),
                                         _sens(o.get('sensitivity'), names, f'{w}.sensitivity'),
                                         lo, hi, *taus))
        speed = ()
        stree = tree.get('speed_command')
        if stree is not None:
            w = f'{where}.speed_command'
            if not isinstance(stree, Mapping) or not isinstance(stree.get('speeds'), list):
                raise ConfigError(f'{w}: a mapping with speeds (m/s) and one level list per '
                                  'modulator')
            _keys(stree, {'speeds', 'description'} | set(names), w)
            sp = [_finite(x, f'{w}.speeds') for x in stree['speeds']]
            if len(sp) < 2 or any(b <= a for a, b in zip(sp, sp[1:])) or sp[0] < 0:
                raise ConfigError(f'{w}.speeds: at least 2 increasing speeds >= 0, got {sp}')
            lv = {}
            for m in names:
                row = stree.get(m, [0.0] * len(sp))
                if not isinstance(row, list) or len(row) != len(sp):
                    raise ConfigError(f'{w}.{m}: one level per speed ({len(sp)})')
                lv[m] = [_concentration(x, f'{w}.{m}') for x in row]
            speed = (sp, lv)
        routes = _routes(tree.get('transitions'), [g.name for g in gaits],
                         f'{where}.transitions')
        net_name = tree.get('network')
        if net_name is not None and not isinstance(net_name, str):
            raise ConfigError(f'{where}.network: must be a network name')
        spec = NeuromodulationSpec(tuple(specs), tuple(pops), tuple(projs), (gmin, gmax), net_name,
                                   tuple(gaits), tuple(outs), speed, routes)
    if network is not None:
        _check_against(spec, network.spec if isinstance(network, CompiledNetwork) else network)
    return spec


def _check_against(spec: NeuromodulationSpec, net: NetworkSpec) -> None:
    names = [p.name for p in net.populations]
    for p in spec.populations:
        if not _pop_matches(p.population, names):
            raise ConfigError(f'neuromodulation: unknown population {p.population!r} in '
                              f'network {net.name!r}; have {names}')
    for q in spec.projections:
        if not any(q.matches(r) for r in net.projections):
            raise ConfigError(f'neuromodulation: network {net.name!r} has no projection '
                              f'{q.describe()}')


# --- concentrations ------------------------------------------------------------------------------
class Modulators:
    """Concentrations in [0, 1] following commanded targets (first-order, exact per tick)."""

    def __init__(self, spec: NeuromodulationSpec):
        self.spec = spec
        self.names = spec.names
        self._index = {n: k for k, n in enumerate(self.names)}
        self._tau_r = np.array([m.tau_release for m in spec.modulators])
        self._tau_u = np.array([m.tau_uptake for m in spec.modulators])
        self._cache_dt = None
        self.reset()

    def reset(self) -> None:
        self.c = np.array([m.initial for m in self.spec.modulators])
        self.target = self.c.copy()
        self._settled = True
        self.version = 0           # bumped whenever c changes (consumers re-apply their gains)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise ConfigError(f'unknown modulator {name!r}; have {list(self.names)}') from None

    def command(self, targets: Mapping[str, Any] | None = None, **kw: Any) -> None:
        """Set target concentrations by name. All are validated first: an unknown name or a
        value outside [0, 1] (or NaN) raises ConfigError and changes nothing."""
        items = dict(targets or {}, **kw)
        new = self.target.copy()
        for name, value in items.items():
            new[self.index(name)] = _concentration(value, f'modulator {name!r} target')
        self.target = new
        self._settled = bool(np.array_equal(self.c, self.target))

    def set_concentration(self, name: str, value: Any) -> None:
        """Set a concentration and its target at once (initial conditions; this is a jump)."""
        k = self.index(name)
        x = _concentration(value, f'modulator {name!r}')
        self.c[k] = self.target[k] = x
        self._settled = bool(np.array_equal(self.c, self.target))
        self.version += 1

    def time_constants(self, name: str) -> tuple[float, float]:
        """(tau_release, tau_uptake) of modulator ``name``, in s."""
        k = self.index(name)
        return float(self._tau_r[k]), float(self._tau_u[k])

    def set_time_constants(self, name: str, release: Any = None, uptake: Any = None) -> None:
        """Change a modulator's release and/or uptake time constant (s) from the next step on.

        Both values are judged before either is set (ConfigError: unknown name, not a number,
        NaN, <= 0); the concentration itself does not jump."""
        k = self.index(name)
        new_r = self._tau_r[k] if release is None else _tau(release, f'{name}.tau_release')
        new_u = self._tau_u[k] if uptake is None else _tau(uptake, f'{name}.tau_uptake')
        self._tau_r[k], self._tau_u[k] = new_r, new_u
        self._cache_dt = None            # the decay factors are recomputed on the next advance

    def advance(self, dt: float) -> bool:
        """Advance by dt seconds; returns True if any concentration changed."""
        if self._settled:              # fast path: every concentration at its target
            return False
        if dt != self._cache_dt:
            self._cache_dt = dt
            self._decay_r = [math.exp(-dt / t) for t in self._tau_r]
            self._decay_u = [math.exp(-dt / t) for t in self._tau_u]
        c, target = self.c, self.target
        settled = True
        for k in range(len(c)):
            d = c[k] - target[k]
            if d == 0.0:
                continue
            d *= self._decay_r[k] if d < 0.0 else self._decay_u[k]   # below target: release
            # within 1e-12 of the target the remaining exponential tail is dropped (no
            # measurable jump; lets a converged network skip re-applying its gains)
            if abs(d) < 1e-12:
                d = 0.0
            else:
                settled = False
            c[k] = min(1.0, max(0.0, target[k] + d))
        self._settled = settled
        self.version += 1
        return True

    def as_dict(self) -> dict[str, float]:
        return {n: float(x) for n, x in zip(self.names, self.c)}


# --- a network under modulation --------------------------------------------------------------------
def _arenas(net: Network) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(net, 'kernel_args'):
        fa, ia = net.kernel_args()[:2]
    else:  # pragma: no cover - older Network without kernel_args
        fa, ia = net._fa, net._ia
    return fa, ia


from numba import njit   # a hard requirement (requirements.txt), as in kernel.py


@njit(cache=True)
def _apply_gains(fa, ia, c, lo, hi, has_drive, s_exc, o_exc, base_drive, pop_of, n_lif,
                 s_ad, ad_neuron, ad_pop, bw_base, bw2_base, w_base0, s_w, e_ptr, e_syn, w_syn,
                 w_base, gs, w_floor, e_last, disjoint):
    """One call applying every gain into the live arenas (what ModulatedNetwork.apply does in
    numpy): drives (+ the constant-input row), adaptation increments, gated weights."""
    n = ia[K.H_N]
    n_pops = ia[K.H_POPS]
    par = fa[ia[K.H_PAR]:ia[K.H_PAR] + K.N_PAR * n].reshape((K.N_PAR, n))
    pops = fa[ia[K.H_POP]:ia[K.H_POP] + K.N_POP * n_pops].reshape((n_pops, K.N_POP))
    w = fa[ia[K.H_W]:ia[K.H_W] + ia[K.H_SYN]]
    m = c.shape[0]
    if has_drive:
        for p in range(n_pops):
            g = 1.0
            o = 0.0
            for j in range(m):
                g += s_exc[p, j] * c[j]
                o += o_exc[p, j] * c[j]
            g = lo if g < lo else (hi if g > hi else g)
            pops[p, K.Q_DRIVE] = base_drive[p] * g + o
        for i in range(n):
            d = pops[pop_of[i], K.Q_DRIVE]
            par[K.P_DRIVE, i] = d
            if i < n_lif:
                par[K.P_BASE, i] = par[K.P_0, i] + par[K.P_1, i] * (d + par[K.P_BIAS, i])
            else:
                par[K.P_BASE, i] = d + par[K.P_BIAS, i]
    for k in range(ad_neuron.shape[0]):
        p = ad_pop[k]
        g = 1.0
        for j in range(m):
            g += s_ad[p, j] * c[j]
        g = lo if g < lo else (hi if g > hi else g)
        i = ad_neuron[k]
        par[K.P_BW, i] = bw_base[k] * g
        par[K.P_BW2, i] = bw2_base[k] * g
    if w_syn.shape[0] > 0:
        changed = False
        n_e = e_ptr.shape[0] - 1
        for e in range(n_e):
            g = w_base0[e]
            for j in range(m):
                g += s_w[e, j] * c[j]
            g = lo if g < lo else (hi if g > hi else g)
            if g < w_floor:
                g = w_floor
            if g != e_last[e]:
                changed = True
                if disjoint:       # each synapse in one entry: rewrite only the changed ones
                    for q in range(e_ptr[e], e_ptr[e + 1]):
                        k = e_syn[q]
                        w[w_syn[k]] = w_base[k] * g
            e_last[e] = g
        if changed and not disjoint:
            gs[:] = 1.0
            for e in range(n_e):
                for q in range(e_ptr[e], e_ptr[e + 1]):
                    gs[e_syn[q]] *= e_last[e]
            for q in range(w_syn.shape[0]):
                w[w_syn[q]] = w_base[q] * gs[q]


W_FLOOR = 1e-6     # a gated-off pathway keeps this fraction of its weights: the kernel's event
                   # lists rely on weights > 0 (a 0 weight would list a column once per event)


def _pop_matches(pattern: str, names) -> list[int]:
    """Population indices whose name matches ``pattern`` (exact, or a shell pattern: '*_flexor')."""
    if pattern in names:
        return [list(names).index(pattern)]
    return [k for k, n in enumerate(names) if fnmatch.fnmatchcase(n, pattern)]


class ModulatedNetwork:
    """A Network whose drives, adaptation increments and synaptic weights are scaled by the
    concentrations of named modulators. ``update_every`` (s): the gains are re-applied at most
    this often while concentrations change (modulator time constants are >> 10 ms), and never
    while they are constant; 0 re-applies on every changing tick.

    Every population entry (a name or a shell pattern such as ``*_flexor``) adds its
    sensitivities to each population it matches; a synapse matched by several projection entries
    gets the product of their gains. ``apply`` is vectorised: one drive update
    (``Network.set_drives``), one write of the adaptation rows, one of the modulated weights."""

    def __init__(self, network: Network | NetworkSpec | CompiledNetwork | Mapping | str | Path,
                 neuromodulation: NeuromodulationSpec | Mapping | str | Path,
                 update_every: float = 0.01, seed: int | None = None):
        self.net = network if isinstance(network, Network) else Network(network, seed=seed)
        c = self.net.compiled
        self.spec = load_neuromodulation(neuromodulation, c)
        self.modulators = Modulators(self.spec)
        self.update_every = _finite(update_every, 'update_every')
        if self.update_every < 0:
            raise ConfigError(f'update_every must be >= 0 s, got {update_every!r}')
        lo, hi = self.spec.gain_range
        self._lo, self._hi = lo, hi
        m = len(self.spec.names)
        fa, ia = _arenas(self.net)
        n = c.n_neurons
        n_pops = len(c.names)
        self._par = fa[ia[K.H_PAR]:ia[K.H_PAR] + K.N_PAR * n].reshape(K.N_PAR, n)
        self._w = fa[ia[K.H_W]:ia[K.H_W] + c.n_synapses]
        self._base_drive = self.net.drive.copy()
        # per population x modulator: excitability, drive offset, adaptation
        self._S_exc = np.zeros((n_pops, m))
        self._O_exc = np.zeros((n_pops, m))
        self._S_ad_pop = np.zeros((n_pops, m))
        for p in self.spec.populations:
            for k in _pop_matches(p.population, c.names):
                for M, d in ((self._S_exc, p.excitability), (self._O_exc, p.drive_offset),
                             (self._S_ad_pop, p.adaptation)):
                    for name, value in d.items():
                        M[k, self.modulators.index(name)] += value
        self._has_drive = bool(np.any(self._S_exc) or np.any(self._O_exc))
        ad_pops = np.flatnonzero(np.any(self._S_ad_pop != 0.0, axis=1))
        self._S_ad = self._S_ad_pop[ad_pops]
        self._ad_neuron = (np.concatenate([np.arange(*c.bounds[k]) for k in ad_pops])
                           if ad_pops.size else np.zeros(0, dtype=np.int64))
        self._ad_row = (np.concatenate([np.full(c.bounds[k, 1] - c.bounds[k, 0], r)
                                        for r, k in enumerate(ad_pops)])
                        if ad_pops.size else np.zeros(0, dtype=np.int64))
        self._ad_base = (c.par[K.P_BW, self._ad_neuron].copy(),
                         c.par[K.P_BW2, self._ad_neuron].copy())
        # projections: per entry its synapses; the modulated synapses and their base weights
        rows = list(self.spec.projections)
        self._S_w = self._matrix([q.gain for q in rows], m)
        self._w_base0 = np.array([q.baseline for q in rows])
        per_entry = []
        for q in rows:
            ids = [j for j, r in enumerate(c.spec.projections) if q.matches(r)]
            per_entry.append(np.flatnonzero(np.isin(c.syn_projection, ids)))
        self._w_syn = (np.unique(np.concatenate(per_entry)) if per_entry
                       else np.zeros(0, dtype=np.int64))
        self._w_pos = [np.searchsorted(self._w_syn, idx) for idx in per_entry]
        self._w_base = c.syn_w[self._w_syn].copy()
        self._w_gain = np.ones(self._w_syn.size)
        self._w_entries = len(rows)
        # the same data flattened for the numba apply
        self._e_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([p.size for p in self._w_pos], out=self._e_ptr[1:])
        self._e_syn = (np.concatenate(self._w_pos).astype(np.int64) if rows
                       else np.zeros(0, dtype=np.int64))
        self._ad_pop = np.ascontiguousarray(
            c.pop_of[self._ad_neuron] if self._ad_neuron.size else np.zeros(0, dtype=np.int64))
        self._fa, self._ia = fa, ia
        self._e_last = np.full(len(rows), np.nan)       # gains last written (NaN: never)
        self._disjoint = bool(self._e_syn.size == np.unique(self._e_syn).size)
        self._pop_of = np.ascontiguousarray(c.pop_of, dtype=np.int64)
        self._w_base0 = np.ascontiguousarray(self._w_base0, dtype=float)
        self._S_w = np.ascontiguousarray(self._S_w, dtype=float)
        self._applied_version = -1
        self._since_apply = math.inf
        self.apply()

    def _matrix(self, dicts: list, m: int) -> np.ndarray:
        """Rows of sensitivities (one per entry) x modulators."""
        out = np.zeros((len(dicts), m))
        for r, d in enumerate(dicts):
            for name, value in d.items():
                out[r, self.modulators.index(name)] = value
        return out

    # -- gains
    def gains(self) -> dict[str, np.ndarray]:
        """Current gains: 'excitability' and 'drive_offset' (per population, ``names`` order),
        'adaptation' (per population with an adaptation sensitivity), 'projection' (per
        projection sensitivity entry, baseline included)."""
        cc = self.modulators.c
        lo, hi = self._lo, self._hi
        return {'excitability': np.clip(1.0 + self._S_exc @ cc, lo, hi),
                'drive_offset': self._O_exc @ cc,
                'adaptation': np.clip(1.0 + self._S_ad @ cc, lo, hi),
                'projection': np.clip(self._w_base0 + self._S_w @ cc, lo, hi)}

    def effective_drive(self) -> np.ndarray:
        return self.net.drive

    def apply(self) -> None:
        """Write the effective parameters for the current concentrations into the network
        (one numba call, :func:`_apply_gains`)."""
        _apply_gains(self._fa, self._ia, self.modulators.c, self._lo, self._hi, self._has_drive,
                     self._S_exc, self._O_exc, self._base_drive, self._pop_of,
                     self.net.compiled.n_lif, self._S_ad_pop, self._ad_neuron, self._ad_pop,
                     self._ad_base[0], self._ad_base[1], self._w_base0, self._S_w, self._e_ptr,
                     self._e_syn, self._w_syn, self._w_base, self._w_gain, W_FLOOR,
                     self._e_last, self._disjoint)
        self._applied_version = self.modulators.version
        self._since_apply = 0.0

    def apply_numpy(self) -> None:
        """The same as :meth:`apply` in numpy (the reference the numba version is tested
        against)."""
        self._e_last[:] = np.nan          # the numba apply rewrites every entry next time
        g = self.gains()
        if self._has_drive:
            self.net.set_drives(self._base_drive * g['excitability'] + g['drive_offset'])
        if self._ad_neuron.size:
            ga = g['adaptation'][self._ad_row]
            self._par[K.P_BW, self._ad_neuron] = self._ad_base[0] * ga
            self._par[K.P_BW2, self._ad_neuron] = self._ad_base[1] * ga
        if self._w_entries:
            gw = np.maximum(g['projection'], W_FLOOR)
            if self._w_entries == 1:
                self._w[self._w_syn] = self._w_base * gw[0]
            else:
                gs = self._w_gain
                gs[:] = 1.0
                for pos, x in zip(self._w_pos, gw):
                    gs[pos] *= x
                self._w[self._w_syn] = self._w_base * gs
        self._applied_version = self.modulators.version
        self._since_apply = 0.0

    # -- control
    def command(self, targets: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self.modulators.command(targets, **kw)

    @property
    def concentrations(self) -> dict[str, float]:
        return self.modulators.as_dict()

    def set_drive(self, pop: str | int, value: float) -> None:
        """Set a population's base (unmodulated) drive; the effective one follows at once."""
        k = self.net.index(pop)
        self.net.set_drive(k, value)            # validates
        self._base_drive[k] = float(value)
        self.apply()

    def reset(self, seed: int | None = None, modulators: bool = True) -> None:
        self.net.reset(seed)
        if modulators:
            self.modulators.reset()
        self.apply()

    def step(self, dt_control: float = 1e-3) -> np.ndarray:
        """Advance the concentrations by dt_control, re-apply gains if due, run one kernel tick
        (the new gains act during this tick)."""
        self.modulators.advance(dt_control)
        self._since_apply += dt_control
        if self.modulators.version != self._applied_version \
                and self._since_apply >= self.update_every - 1e-12:
            self.apply()
        return self.net.step(dt_control)
