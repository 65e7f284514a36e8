"""Spiking networks as data: load and validate a spec, compile it to flat arrays, run the kernel.

A network file (YAML, or the same dict) names populations and the projections between them; the
format is in docs/cpg.md and ``config/networks/half_centre.yaml`` is an example::

    spec = load_network('config/networks/half_centre.yaml')   # or a dict; ConfigError if bad
    net = Network(spec)                 # compile(spec) -> CompiledNetwork, then state + kernel
    net.set_drive('flexor', 1.2)        # per-population tonic drive, changeable at run time
    rates = net.step(1e-3)              # one 1 ms control tick = 10 substeps -> Hz per population
    net.spikes_last_tick                # Spikes(times (s), indices) of that tick
    record = net.run(5.0)               # many ticks in one kernel call, spikes kept

Connectivity and per-neuron biases are structure: they come from the spec's ``seed`` at compile
time. Initial membrane potentials and noise come from the seed given to ``Network.reset`` (by
default the spec's seed too); the same seeds give bitwise equal spikes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from neuro_locomotion.params import ConfigError, ParamSpec, read_yaml

from cpg_controller import kernel as K
from cpg_controller.neurons import CURRENT_UNIT, DEFAULT_DT, MODELS, NeuronModel, neuron_model

_advance = K.advance
SYNAPSE_TYPES = ('excitatory', 'inhibitory')
NETWORK_KEYS = ('name', 'description', 'dt', 'noise_dt', 'seed', 'populations', 'projections')
POPULATION_KEYS = ('name', 'model', 'size', 'params', 'drive', 'noise', 'v_init', 'bias')
PROJECTION_KEYS = ('source', 'target', 'type', 'weight', 'tau', 'delay', 'p', 'indegree',
                   'autapses', 'tag')
DEFAULT_TAU = {'excitatory': 0.005, 'inhibitory': 0.01}  # s

_DT = ParamSpec('dt', DEFAULT_DT, 'integration step', 's', min=1e-6, max=1e-3)
_NOISE_DT = ParamSpec('noise_dt', 1e-3, 'interval at which noise currents are redrawn', 's',
                      min=1e-6, max=1.0)
_SEED = ParamSpec('seed', 0, 'seed of connectivity, biases, initial state and noise', min=0,
                  max=2**63 - 1)
_SIZE = ParamSpec('size', 1, 'number of neurons', min=1, max=1_000_000)
_DRIVE = ParamSpec('drive', 0.0, 'tonic drive current', min=-1e6, max=1e6)
_NOISE = ParamSpec('noise', 0.0, 'standard deviation of the noise current', min=0.0, max=1e6)
_VOLT = ParamSpec('v_init', 0.0, 'initial membrane potential', 'mV', min=-200.0, max=100.0)
_BIAS = ParamSpec('bias', 0.0, 'per-neuron bias current', min=-1e6, max=1e6)
_WEIGHT = ParamSpec('weight', 1.0, 'synaptic current jump per spike (>= 0; type gives the sign)',
                    min=0.0, max=1e6)
_TAU = ParamSpec('tau', 0.005, 'synaptic decay time constant', 's', min=1e-5, max=10.0)
_DELAY = ParamSpec('delay', 0.0, 'conduction delay', 's', min=0.0, max=1.0)
_P = ParamSpec('p', 1.0, 'connection probability', min=0.0, max=1.0)
_INDEGREE = ParamSpec('indegree', 1, 'number of sources drawn for every target neuron', min=0,
                      max=1_000_000)


# --- the spec ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PopulationSpec:
    name: str
    neuron: NeuronModel
    size: int
    drive: float = 0.0
    noise: float = 0.0
    v_init: tuple[float, float] = (math.nan, math.nan)   # uniform range; nan: the model's rest
    bias: tuple[float, float] = (0.0, 0.0)               # uniform range, drawn at compile

    @property
    def model(self) -> str:
        return self.neuron.model


@dataclass(frozen=True)
class ProjectionSpec:
    source: str
    target: str
    type: str
    weight: float
    tau: float
    delay: float = 0.0
    p: float = 1.0
    indegree: int | None = None   # every target gets exactly this many sources (instead of p)
    autapses: bool = False
    tag: str = ''           # optional label (e.g. the gait pathway it belongs to); selects the
                            # projection in a neuromodulation file, no effect on the dynamics

    @property
    def sign(self) -> int:
        return 1 if self.type == 'excitatory' else -1


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    populations: tuple[PopulationSpec, ...]
    projections: tuple[ProjectionSpec, ...]
    dt: float = DEFAULT_DT
    noise_dt: float = 1e-3
    seed: int = 0
    description: str = ''
    source: str = '<dict>'

    def population(self, name: str) -> PopulationSpec:
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise KeyError(f'no population {name!r} in network {self.name!r}; '
                       f'have {[p.name for p in self.populations]}')


def _check_keys(tree: Mapping, allowed: Sequence[str], where: str) -> None:
    unknown = [k for k in tree if k not in allowed]
    if unknown:
        raise ConfigError(f'{where}: unknown key(s) {unknown}; allowed: {list(allowed)}')


def _number(spec: ParamSpec, value: Any, where: str, kind=float):
    try:
        return ParamSpec(spec.name, kind(spec.default), spec.description, spec.unit,
                         spec.min, spec.max).check(value)
    except ConfigError as error:
        raise ConfigError(f'{where}.{error}') from None


def _range(spec: ParamSpec, value: Any, where: str) -> tuple[float, float]:
    """A number or a [low, high] list."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f'{where}.{spec.name}: expected a number or [low, high], '
                              f'got {value!r}')
        low, high = (_number(spec, v, where) for v in value)
        if low > high:
            raise ConfigError(f'{where}.{spec.name}: low {low} is above high {high}')
        return (low, high)
    x = _number(spec, value, where)
    return (x, x)


def _population(tree: Any, k: int, where: str) -> PopulationSpec:
    here = f'{where}: populations[{k}]'
    if not isinstance(tree, Mapping):
        raise ConfigError(f'{here}: expected a mapping, got {tree!r}')
    _check_keys(tree, POPULATION_KEYS, here)
    name = tree.get('name')
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{here}: every population needs a non-empty string name, got {name!r}')
    here = f'{where}: population {name!r}'
    for key in ('model', 'size'):
        if key not in tree:
            raise ConfigError(f'{here}: missing {key!r}')
    model = tree['model']
    if model not in MODELS:
        raise ConfigError(f'{here}: unknown model {model!r}; expected one of {list(MODELS)}')
    params = tree.get('params') or {}
    if not isinstance(params, Mapping):
        raise ConfigError(f'{here}.params: expected a mapping, got {params!r}')
    neuron = neuron_model(model, params, where=f'{here}.params')
    v_init = (math.nan, math.nan)
    if tree.get('v_init') is not None:
        v_init = _range(_VOLT, tree['v_init'], here)
    return PopulationSpec(
        name=name, neuron=neuron, size=_number(_SIZE, tree['size'], here, int),
        drive=_number(_DRIVE, tree.get('drive', 0.0), here),
        noise=_number(_NOISE, tree.get('noise', 0.0), here),
        v_init=v_init, bias=_range(_BIAS, tree.get('bias', 0.0), here))


def _projection(tree: Any, k: int, names: Sequence[str], where: str) -> ProjectionSpec:
    here = f'{where}: projections[{k}]'
    if not isinstance(tree, Mapping):
        raise ConfigError(f'{here}: expected a mapping, got {tree!r}')
    _check_keys(tree, PROJECTION_KEYS, here)
    for key in ('source', 'target', 'type', 'weight'):
        if key not in tree:
            raise ConfigError(f'{here}: missing {key!r}')
    for key in ('source', 'target'):
        if tree[key] not in names:
            raise ConfigError(f'{here}: unknown {key} population {tree[key]!r}; '
                              f'populations are {list(names)}')
    here = f'{here} ({tree["source"]} -> {tree["target"]})'
    kind = tree['type']
    if kind not in SYNAPSE_TYPES:
        raise ConfigError(f'{here}.type: {kind!r} is not one of {list(SYNAPSE_TYPES)}')
    weight = tree['weight']
    if isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight < 0:
        raise ConfigError(f'{here}.weight: {weight!r} is negative; weights are magnitudes, '
                          f'the sign comes from type: inhibitory')
    delay = tree.get('delay', 0.0)
    if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay < 0:
        raise ConfigError(f'{here}.delay: {delay!r} s is negative; delays must be >= 0')
    autapses = tree.get('autapses', False)
    if not isinstance(autapses, bool):
        raise ConfigError(f'{here}.autapses: expected true/false, got {autapses!r}')
    tag = tree.get('tag', '')
    if not isinstance(tag, str):
        raise ConfigError(f'{here}.tag: expected a string, got {tag!r}')
    indegree = None
    if tree.get('indegree') is not None:
        if tree.get('p') is not None:
            raise ConfigError(f'{here}: give p (a probability per pair) or indegree (a fixed '
                              f'number of sources per target), not both')
        indegree = _number(_INDEGREE, tree['indegree'], here, int)
    return ProjectionSpec(
        source=tree['source'], target=tree['target'], type=kind,
        weight=_number(_WEIGHT, weight, here),
        tau=_number(_TAU, tree.get('tau', DEFAULT_TAU[kind]), here),
        delay=_number(_DELAY, delay, here), p=_number(_P, tree.get('p', 1.0), here),
        indegree=indegree, autapses=autapses, tag=tag)


def load_network(source: str | Path | Mapping | NetworkSpec) -> NetworkSpec:
    """Read and validate a network (YAML path or dict); raise ConfigError naming any problem.

    A bare name (``'half_centre'``) is looked up in ``config/networks/``.
    """
    if isinstance(source, NetworkSpec):
        return source
    if isinstance(source, Mapping):
        tree, where = source, str(source.get('name', '<dict>'))
    else:
        path = Path(source)
        if not path.suffix and not path.exists():
            path = network_dir() / f'{path}.yaml'
        tree = read_yaml(path, 'network file')
        where = str(path)
        if not isinstance(tree, Mapping):
            raise ConfigError(f'{path}: expected a mapping with populations and projections')
    _check_keys(tree, NETWORK_KEYS, where)
    name = tree.get('name', Path(where).stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f'{where}: name must be a non-empty string, got {name!r}')
    description = tree.get('description', '')
    if not isinstance(description, str):
        raise ConfigError(f'{where}: description must be a string')
    dt = _number(_DT, tree.get('dt', DEFAULT_DT), where)
    noise_dt = _number(_NOISE_DT, tree.get('noise_dt', 1e-3), where)
    if abs(noise_dt / dt - round(noise_dt / dt)) > 1e-6 or round(noise_dt / dt) < 1:
        raise ConfigError(f'{where}.noise_dt: {noise_dt} s is not a multiple of dt = {dt} s')
    seed = _number(_SEED, tree.get('seed', 0), where, int)
    pops = tree.get('populations')
    if not isinstance(pops, list) or not pops:
        raise ConfigError(f'{where}: populations must be a non-empty list')
    populations = tuple(_population(p, k, where) for k, p in enumerate(pops))
    names = [p.name for p in populations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f'{where}: duplicate population name(s) {duplicates}')
    projs = tree.get('projections') or []
    if not isinstance(projs, list):
        raise ConfigError(f'{where}: projections must be a list')
    projections = tuple(_projection(p, k, names, where) for k, p in enumerate(projs))
    by_name = {p.name: p for p in populations}
    for k, proj in enumerate(projections):
        available = by_name[proj.source].size - (
            proj.source == proj.target and not proj.autapses)
        if proj.indegree is not None and proj.indegree > available:
            raise ConfigError(
                f'{where}: projections[{k}] ({proj.source} -> {proj.target}).indegree: '
                f'{proj.indegree} sources per target, but only {available} are available')
    for pop in populations:
        n = pop.neuron
        taus = [('tau_m', n['tau_m'])] if n.model == 'lif' else []
        if n['b_w'] > 0:
            taus.append(('tau_w', n['tau_w']))
        n.check_dt(dt, taus, where=f'{where}: population {pop.name!r}: ')
    for k, proj in enumerate(projections):
        by_name[proj.target].neuron.check_dt(
            dt, [('tau', proj.tau)], where=f'{where}: projections[{k}]: ')
    # synaptic time constants belong to the target's excitatory / inhibitory current
    taus: dict[tuple[str, str], tuple[float, int]] = {}
    for k, proj in enumerate(projections):
        key = (proj.target, proj.type)
        if key in taus and taus[key][0] != proj.tau:
            raise ConfigError(
                f'{where}: projections[{k}] ({proj.source} -> {proj.target}) has {proj.type} '
                f'tau {proj.tau} s but projections[{taus[key][1]}] into the same population has '
                f'{taus[key][0]} s; all {proj.type} inputs of a population share one current')
        taus[key] = (proj.tau, k)
    return NetworkSpec(name=name, populations=populations, projections=projections, dt=dt,
                       noise_dt=noise_dt, seed=seed, description=description, source=where)


def network_dir() -> Path:
    """config/networks of the source checkout or the installed share directory."""
    try:
        from neuro_locomotion.paths import share_dir
        return share_dir() / 'config' / 'networks'
    except (ImportError, FileNotFoundError):
        return Path(__file__).resolve().parent.parent / 'config' / 'networks'


# --- compiling ---------------------------------------------------------------------------------
@dataclass
class CompiledNetwork:
    """Flat arrays for the kernel (layouts in cpg_controller.kernel) plus names and sizes."""
    spec: NetworkSpec
    dt: float
    noise_steps: int
    names: tuple[str, ...]
    bounds: np.ndarray              # (n_pops, 2) first and end neuron index of each population
    pop_of: np.ndarray              # (n,) population index of each neuron
    par: np.ndarray                 # (N_PAR, n)
    pops: np.ndarray                # (n_pops, N_POP) template: start, stop, model, drive, ...
    indptr: np.ndarray              # (n + 1,) int64 CSR row pointers by source neuron
    syn_target: np.ndarray          # (S,) int64 ring column: target, + n if inhibitory
    syn_delay: np.ndarray           # (S,) int64 delay in steps
    syn_w: np.ndarray               # (S,) float64 weights (magnitudes)
    n_slots: int                    # ring buffer length = max delay steps + 1
    n_lif: int = 0                  # neurons [0, n_lif) are LIF, [n_lif, n) Izhikevich
    syn_projection: np.ndarray = field(repr=False, default=None)  # (S,) projection index

    def arenas(self) -> tuple[np.ndarray, np.ndarray]:
        """Fresh float and int arenas for the kernel (state zero, ring buffer empty)."""
        n, n_pops, n_syn = self.n_neurons, len(self.names), self.n_synapses
        head, f_size, i_size = K.layout(n, n_pops, n_syn, self.n_slots, self.noise_steps,
                                        self.n_lif)
        fa = np.zeros(f_size)
        ia = np.zeros(i_size, dtype=np.int64)
        ia[:K.I_HEAD] = head
        fa[K.F_DT_MS] = self.dt * 1e3
        fa[K.F_DT] = self.dt
        fa[head[K.H_PAR]:head[K.H_PAR] + self.par.size] = self.par.ravel()
        fa[head[K.H_POP]:head[K.H_POP] + self.pops.size] = self.pops.ravel()
        fa[head[K.H_W]:head[K.H_W] + n_syn] = self.syn_w
        fa[head[K.H_ZIG]:head[K.H_ZIG] + 2 * 257] = np.concatenate([K.ZIG_X, K.ZIG_F])
        ia[head[K.H_INDPTR]:head[K.H_INDPTR] + n + 1] = self.indptr
        ia[head[K.H_TARGET]:head[K.H_TARGET] + n_syn] = self.syn_target
        ia[head[K.H_DELAY]:head[K.H_DELAY] + n_syn] = self.syn_delay
        ia[head[K.H_POP_OF]:head[K.H_POP_OF] + n] = self.pop_of
        ia[K.H_FLAGS] = K.network_flags(self.par, self.n_lif)
        return fa, ia

    @property
    def n_neurons(self) -> int:
        return int(self.pop_of.size)

    @property
    def n_synapses(self) -> int:
        return int(self.syn_w.size)

    @property
    def sizes(self) -> np.ndarray:
        return self.bounds[:, 1] - self.bounds[:, 0]

    def index(self, pop: str | int) -> int:
        """Population index by name (or pass an index through, checked)."""
        if isinstance(pop, (int, np.integer)) and not isinstance(pop, bool):
            if not 0 <= pop < len(self.names):
                raise KeyError(f'population index {pop} out of range 0..{len(self.names) - 1}')
            return int(pop)
        try:
            return self.names.index(pop)
        except ValueError:
            raise KeyError(f'no population {pop!r}; have {list(self.names)}') from None

    def neurons(self, pop: str | int) -> slice:
        """The neuron indices of a population."""
        k = self.index(pop)
        return slice(int(self.bounds[k, 0]), int(self.bounds[k, 1]))

    def synapses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(source, target, signed weight, delay steps) of every synapse, in CSR order."""
        n = self.n_neurons
        source = np.repeat(np.arange(n), np.diff(self.indptr))
        column = self.syn_target
        sign = np.where(column >= n, -1.0, 1.0)
        return source, column % n, sign * self.syn_w, self.syn_delay.copy()


def compile(spec: NetworkSpec | Mapping | str | Path) -> CompiledNetwork:  # noqa: A001
    """Build the kernel's flat arrays: per-neuron parameters, CSR synapses, integer delays."""
    spec = load_network(spec)
    dt = spec.dt
    sizes = [p.size for p in spec.populations]
    # neurons in model blocks, LIF first (the kernel loops over whole blocks); within a block the
    # populations keep the file's order
    order = sorted(range(len(sizes)), key=lambda k: spec.populations[k].model != 'lif')
    bounds = np.zeros((len(sizes), 2), dtype=np.int64)
    first = 0
    for k in order:
        bounds[k] = (first, first + sizes[k])
        first += sizes[k]
    n = first
    n_lif = sum(p.size for p in spec.populations if p.model == 'lif')
    pop_of = np.zeros(n, dtype=np.int64)
    for k in range(len(sizes)):
        pop_of[bounds[k, 0]:bounds[k, 1]] = k
    names = tuple(p.name for p in spec.populations)
    par = np.zeros((K.N_PAR, n))
    pops = np.zeros((len(sizes), K.N_POP))
    taus = {(p.target, p.type): p.tau for p in spec.projections}
    for k, pop in enumerate(spec.populations):
        sl = slice(bounds[k, 0], bounds[k, 1])
        m = pop.neuron
        if m.model == 'lif':
            par[K.P_0, sl] = m['v_rest']
            par[K.P_1, sl] = m['R']
            par[K.P_2, sl] = m.decay(m['tau_m'], dt)
            par[K.P_VTH, sl] = m['v_th']
            par[K.P_VRESET, sl] = m['v_reset']
            par[K.P_REF, sl] = int(m['t_ref'] / dt + 1e-3)  # Brian2's timestep() rounding
            model = K.MODEL_LIF
        else:
            par[K.P_0, sl] = m['a']
            par[K.P_1, sl] = m['b']
            par[K.P_VTH, sl] = m['v_peak']
            par[K.P_VRESET, sl] = m['c']
            par[K.P_UINC, sl] = m['d']
            model = K.MODEL_IZH
        par[K.P_FW, sl] = m.decay(m['tau_w'], dt)
        par[K.P_BW, sl] = m['b_w']
        par[K.P_FW2, sl] = m.decay(m['tau_w2'], dt)
        par[K.P_BW2, sl] = m['b_w2']
        par[K.P_FEXC, sl] = m.decay(taus.get((pop.name, 'excitatory'), 1.0), dt)
        par[K.P_FINH, sl] = m.decay(taus.get((pop.name, 'inhibitory'), 1.0), dt)
        par[K.P_KEXC, sl] = 1.0 / m['i_exc_max']   # inf -> 0: linear
        par[K.P_KINH, sl] = 1.0 / m['i_inh_max']
        low, high = pop.bias
        if high > low:
            rng = np.random.default_rng((spec.seed, 0xB1A5, k))
            par[K.P_BIAS, sl] = rng.uniform(low, high, pop.size)
        else:
            par[K.P_BIAS, sl] = low
        par[K.P_DRIVE, sl] = pop.drive
        par[K.P_SIGMA, sl] = pop.noise
        pops[k, :K.Q_INV_SIZE + 1] = (bounds[k, 0], bounds[k, 1], model, pop.drive, pop.noise,
                                      1.0 / pop.size)
    index = {name: k for k, name in enumerate(names)}
    sources, targets, weights, delays, proj_ids = [], [], [], [], []
    for j, proj in enumerate(spec.projections):
        a, b = index[proj.source], index[proj.target]
        pre = np.arange(bounds[a, 0], bounds[a, 1])
        post = np.arange(bounds[b, 0], bounds[b, 1])
        rng = np.random.default_rng((spec.seed, 0xC0AA, j))
        self_free = not proj.autapses and a == b
        if proj.indegree is None:
            mask = rng.random((pre.size, post.size)) < proj.p
        else:   # each target's sources: indegree distinct ones (not itself unless autapses)
            mask = np.zeros((pre.size, post.size), dtype=bool)
            for c in range(post.size):
                pool = np.delete(np.arange(pre.size), c) if self_free else np.arange(pre.size)
                mask[rng.choice(pool, size=proj.indegree, replace=False), c] = True
        if proj.weight == 0.0:  # no effect; the kernel also relies on weights being > 0
            mask[:] = False
        if self_free:
            np.fill_diagonal(mask, False)
        i_pre, i_post = np.nonzero(mask)
        sources.append(pre[i_pre])
        targets.append(post[i_post] + (n if proj.type == 'inhibitory' else 0))
        weights.append(np.full(i_pre.size, proj.weight))
        delays.append(np.full(i_pre.size, int(round(proj.delay / dt)), dtype=np.int64))
        proj_ids.append(np.full(i_pre.size, j, dtype=np.int64))
    if sources:
        source = np.concatenate(sources)
        # CSR by source; within a source by delay (the kernel handles one run of equal delays
        # at a time), then by target
        order = np.lexsort((np.concatenate(targets), np.concatenate(delays), source))
        source = source[order]
        slots = np.concatenate(targets)[order]
        weight = np.concatenate(weights)[order]
        delay = np.concatenate(delays)[order]
        proj_id = np.concatenate(proj_ids)[order]
    else:
        source = slots = delay = proj_id = np.zeros(0, dtype=np.int64)
        weight = np.zeros(0)
    K.base_input(par, n_lif)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n), out=indptr[1:])
    return CompiledNetwork(
        spec=spec, dt=dt, noise_steps=int(round(spec.noise_dt / dt)), names=names, bounds=bounds,
        pop_of=pop_of, n_lif=n_lif,
        par=par, pops=pops, indptr=indptr, syn_target=slots.astype(np.int64),
        syn_delay=delay.astype(np.int64), syn_w=np.ascontiguousarray(weight, dtype=float),
        n_slots=int(delay.max()) + 1 if delay.size else 1, syn_projection=proj_id)


# --- running -----------------------------------------------------------------------------------
class Spikes(NamedTuple):
    times: np.ndarray     # s
    indices: np.ndarray   # neuron index (see Network.neurons(pop) for a population's range)


@dataclass
class Recording:
    """What ``Network.run`` returns: spike counts per tick and every spike."""
    names: tuple[str, ...]
    sizes: np.ndarray
    bounds: np.ndarray        # (n_pops, 2) neuron index range of each population
    t0: float                 # s, start of the first tick
    dt_control: float         # s, tick length
    counts: np.ndarray        # (n_ticks, n_pops) spikes per population per tick
    spike_times: np.ndarray   # s
    spike_indices: np.ndarray

    @property
    def t(self) -> np.ndarray:
        """Start time of each tick (s)."""
        return self.t0 + self.dt_control * np.arange(self.counts.shape[0])

    @property
    def rates(self) -> np.ndarray:
        """Mean firing rate per neuron (Hz) of each population in each tick."""
        return self.counts / (self.sizes * self.dt_control)

    def rate(self, pop: str) -> np.ndarray:
        return self.rates[:, self.names.index(pop)]

    def spikes(self, pop: str) -> Spikes:
        k = self.names.index(pop)
        mask = (self.spike_indices >= self.bounds[k, 0]) & (self.spike_indices < self.bounds[k, 1])
        return Spikes(self.spike_times[mask], self.spike_indices[mask])


class Network:
    """A compiled network with its state; steps the numba kernel in control ticks.

    ``Network(spec_or_path_or_dict_or_compiled, seed=None)``; ``seed`` (default: the spec's)
    seeds initial potentials and noise, connectivity comes from the spec's seed.
    """

    def __init__(self, network: NetworkSpec | CompiledNetwork | Mapping | str | Path,
                 seed: int | None = None):
        self.compiled = network if isinstance(network, CompiledNetwork) else compile(network)
        c = self.compiled
        self.spec = c.spec
        self.dt = c.dt
        self.names = c.names
        n = c.n_neurons
        self._n = n
        self._fa, self._ia = c.arenas()
        head = self._ia[:K.I_HEAD]
        n_pops = len(c.names)
        # views into the arenas (the kernel changes them in place)
        self._st = self._fa[head[K.H_ST]:head[K.H_ST] + K.N_STATE * n].reshape(K.N_STATE, n)
        self._pops = self._fa[head[K.H_POP]:head[K.H_POP] + K.N_POP * n_pops].reshape(
            n_pops, K.N_POP)
        self._par = self._fa[head[K.H_PAR]:head[K.H_PAR] + K.N_PAR * n].reshape(K.N_PAR, n)
        self._rates = self._fa[head[K.H_RATES]:head[K.H_RATES] + n_pops]
        self._ring = self._fa[head[K.H_RING]:head[K.H_RING] + c.n_slots * 2 * n]
        self._touched = self._ia[head[K.H_TOUCHED]:head[K.H_TOUCHED] + c.n_slots * (2 * n + 2)]
        self._ctl = np.zeros(K.N_CTL, dtype=np.uint64)
        self._rec = np.zeros((2, 0), dtype=np.int64)
        self._counts = np.zeros((1, n_pops))
        self._substeps: dict[float, int] = {}
        self._last_dt = None      # step()'s cache of its last tick length and substep count
        self._last_sub = 0
        self._n_rec = 0
        self.reset(seed)

    # -- names and sizes
    @property
    def n_neurons(self) -> int:
        return self._n

    def index(self, pop: str | int) -> int:
        return self.compiled.index(pop)

    def neurons(self, pop: str | int) -> slice:
        return self.compiled.neurons(pop)

    # -- state
    def reset(self, seed: int | None = None) -> None:
        """Initial state: v uniform in each population's v_init range (Izhikevich u = b·v), no
        synaptic or adaptation current, empty delay buffer, clock 0, noise generator seeded.
        Drives and noise levels keep their current values."""
        seed = self.spec.seed if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
        c = self.compiled
        rng = np.random.default_rng((int(seed), 0x5EED))
        self._st[:] = 0.0
        for k, pop in enumerate(self.spec.populations):
            sl = c.neurons(k)
            low, high = pop.v_init
            if math.isnan(low):
                low = high = pop.neuron.default_v_init()
            v = rng.uniform(low, high, pop.size) if high > low else np.full(pop.size, low)
            self._st[K.S_V, sl] = v
            if pop.model == 'izhikevich':
                self._st[K.S_U, sl] = pop.neuron['b'] * v
        self._ring[:] = 0.0
        self._touched[:] = 0
        self._ctl[K.C_CLOCK] = 0
        self._ctl[1:] = K.seed_words(int(seed) ^ 0x6E6F697365)
        self._n_rec = 0
        self._counts[:] = 0.0
        self._rates[:] = 0.0

    @property
    def time(self) -> float:
        """Simulated time (s) since reset."""
        return int(self._ctl[K.C_CLOCK]) * self.dt

    @property
    def v(self) -> np.ndarray:
        """Membrane potentials (mV), a live view."""
        return self._st[K.S_V]

    @property
    def state(self) -> dict[str, np.ndarray]:
        """Live views of the state rows: v, u, w and w2 (adaptation), i_exc, i_inh (synaptic
        currents), ref (refractory steps left), noise (the held noise current)."""
        return {name: self._st[row] for name, row in (
            ('v', K.S_V), ('u', K.S_U), ('w', K.S_W), ('w2', K.S_W2), ('i_exc', K.S_EXC),
            ('i_inh', K.S_INH), ('ref', K.S_REF), ('noise', K.S_NOISE))}

    # -- drive
    @property
    def drive(self) -> np.ndarray:
        """Tonic drive per population (a copy; change it with set_drive)."""
        return self._pops[:, K.Q_DRIVE].copy()

    def set_drive(self, pop: str | int, value: float) -> None:
        """Change a population's tonic drive (its model's current unit) from the next tick on."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not math.isfinite(value):
            raise ValueError(f'drive of {pop!r} must be a finite number, got {value!r}')
        k = self.index(pop)
        self._pops[k, K.Q_DRIVE] = float(value)
        self._par[K.P_DRIVE, self.compiled.neurons(k)] = float(value)
        K.base_input(self._par, self.compiled.n_lif)

    def set_drives(self, values) -> None:
        """Set every population's tonic drive at once (one value per population, in
        ``names`` order): one recomputation of the constant-input row instead of one per
        population (the neuromodulation layer's hook)."""
        v = np.asarray(values, dtype=float)
        if v.shape != (len(self.names),) or not np.all(np.isfinite(v)):
            raise ValueError(f'drives must be {len(self.names)} finite numbers, got {values!r}')
        self._pops[:, K.Q_DRIVE] = v
        self._par[K.P_DRIVE] = v[self.compiled.pop_of]
        K.base_input(self._par, self.compiled.n_lif)

    def get_drive(self, pop: str | int) -> float:
        return float(self._pops[self.index(pop), K.Q_DRIVE])

    def set_noise(self, pop: str | int, sigma: float) -> None:
        """Change a population's noise standard deviation (current unit, >= 0)."""
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating)) \
                or not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f'noise of {pop!r} must be a finite number >= 0, got {sigma!r}')
        k = self.index(pop)
        self._pops[k, K.Q_SIGMA] = float(sigma)
        self._par[K.P_SIGMA, self.compiled.neurons(k)] = float(sigma)
        self.refresh_flags()

    def refresh_flags(self) -> None:
        """Recompute the kernel's flags word (noise, saturating synapses, second adaptation
        current) from the parameter rows. ``set_noise`` calls it; code that writes the P_SIGMA,
        P_KEXC, P_KINH or P_BW2 rows of the arena directly must call it too (the kernel skips the
        noise, the saturating loop or the second adaptation current while its flag is off)."""
        self._ia[K.H_FLAGS] = K.network_flags(self._par, self.compiled.n_lif)

    # -- stepping
    def _n_sub(self, dt_control: float) -> int:
        if isinstance(dt_control, bool) or not isinstance(dt_control, (int, float)) \
                or not math.isfinite(dt_control) or dt_control <= 0:
            raise ValueError(f'dt_control must be a positive number of seconds, got {dt_control!r}')
        n_sub = int(round(dt_control / self.dt))
        if n_sub < 1 or abs(n_sub * self.dt - dt_control) > 1e-9 * max(1.0, dt_control):
            raise ValueError(f'dt_control = {dt_control} s is not a multiple of the network '
                             f'step dt = {self.dt} s')
        if self._rec.shape[1] < n_sub * self._n:
            self._rec = np.zeros((2, n_sub * self._n), dtype=np.int64)
        self._substeps[dt_control] = n_sub
        return n_sub

    def step(self, dt_control: float = 1e-3) -> np.ndarray:
        """Advance one control tick (a multiple of dt); return each population's rate in Hz
        (spikes per neuron per second over the tick), in population order."""
        if dt_control != self._last_dt:
            self._last_sub = self._n_sub(dt_control)
            self._last_dt = dt_control
        self._n_rec = _advance(self._fa, self._ia, self._ctl, self._counts, self._rec, 1,
                               self._last_sub)[1]
        return self._rates.copy()

    def tick(self) -> int:
        """Advance one control tick of the length last given to ``step`` (default 1 ms) with as
        little Python as possible (for control loops): nothing is copied; read the result from
        the live views :attr:`rates`, :attr:`counts` and ``spikes_last_tick``. Returns the number
        of spikes in the tick."""
        if self._last_dt is None:
            self._last_sub = self._n_sub(1e-3)
            self._last_dt = 1e-3
        n = _advance(self._fa, self._ia, self._ctl, self._counts, self._rec, 1, self._last_sub)[1]
        self._n_rec = n
        return n

    def kernel_args(self, dt_control: float = 1e-3) -> tuple:
        """(fa, ia, ctl, counts, rec, n_sub): the arguments of ``kernel.advance(fa, ia, ctl,
        counts, rec, 1, n_sub)`` for one tick of ``dt_control``, for callers that fuse their own
        per-tick work with the kernel into one numba call. The arrays are the network's own
        (state changes in place); ``spikes_last_tick`` is not updated by such calls."""
        n_sub = self._n_sub(dt_control)
        return self._fa, self._ia, self._ctl, self._counts, self._rec, n_sub

    @property
    def rates(self) -> np.ndarray:
        """Rate (Hz per neuron) of each population in the last tick: a live view, overwritten by
        the next tick (copy it to keep it)."""
        return self._rates

    @property
    def counts(self) -> np.ndarray:
        """Spikes per population in the last ``step``/``tick``: a live view."""
        return self._counts[0]

    @property
    def spike_buffer(self) -> tuple[np.ndarray, int]:
        """(rec, n): the last tick's spikes as rec[0, :n] substep indices (times = substep *
        dt) and rec[1, :n] neuron indices, a live view (no copy)."""
        return self._rec, self._n_rec

    @property
    def counts_last_tick(self) -> np.ndarray:
        """Spikes per population in the last tick of ``step``."""
        return self._counts[0].copy()

    @property
    def spikes_last_tick(self) -> Spikes:
        """Times (s) and neuron indices of the spikes of the last ``step`` tick."""
        rec = self._rec[:, :self._n_rec]
        return Spikes(rec[K.R_STEP] * self.dt, rec[K.R_INDEX].copy())

    def run(self, duration: float, dt_control: float = 1e-3) -> Recording:
        """Advance ``duration`` seconds in ticks of ``dt_control`` (few kernel calls), keeping
        every spike and the per-tick counts. Returns a :class:`Recording`."""
        n_sub = self._substeps.get(dt_control) or self._n_sub(dt_control)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) \
                or not math.isfinite(duration) or duration < 0:
            raise ValueError(f'duration must be a finite number of seconds >= 0, got {duration!r}')
        n_ticks = int(round(duration / dt_control))
        if abs(n_ticks * dt_control - duration) > 1e-9 * max(1.0, duration):
            raise ValueError(f'duration {duration} s is not a multiple of dt_control '
                             f'{dt_control} s')
        t0 = self.time
        counts = np.zeros((n_ticks, len(self.names)))
        chunks = []
        done = 0
        capacity = max(n_sub * self._n * 64, 1 << 16)
        while done < n_ticks:
            rec = np.zeros((2, capacity), dtype=np.int64)
            ticks, n_rec = K.advance(self._fa, self._ia, self._ctl, counts[done:], rec,
                                     n_ticks - done, n_sub)
            chunks.append(rec[:, :n_rec])
            done += ticks
            capacity *= 2
        rec = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), dtype=np.int64)
        self._n_rec = 0
        self._counts[0] = counts[-1] if n_ticks else 0.0
        return Recording(names=self.names, sizes=self.compiled.sizes, bounds=self.compiled.bounds,
                         t0=t0, dt_control=dt_control, counts=counts,
                         spike_times=rec[K.R_STEP] * self.dt, spike_indices=rec[K.R_INDEX])


def current_unit(pop: PopulationSpec) -> str:
    return CURRENT_UNIT[pop.model]


# --- the same network in Brian2 (reference simulator; dev dependency, imported lazily) --------
class Brian2Model(NamedTuple):
    network: Any            # brian2.Network, with clock dt = the spec's dt
    groups: dict            # population name -> NeuronGroup
    spikes: dict            # population name -> SpikeMonitor
    offsets: dict           # population name -> first global neuron index


def to_brian2(net: 'Network', codegen_target: str = 'numpy') -> Brian2Model:
    """Build the network in Brian2 with the same equations, update order, connectivity,
    parameters and (copied) current state as ``net``, for validation and benchmarks.

    LIF groups use ``method='exponential_euler'`` (or ``'euler'``), Izhikevich groups
    ``method='euler'``; synapses are ``I_exc_post += w`` / ``I_inh_post += w`` with per-synapse
    delays. Noise, when a population has any, is redrawn by ``run_regularly`` every noise_dt
    (same statistics as the kernel, not the same numbers). Run it with ``model.network.run``.
    """
    import brian2 as b2

    b2.prefs.codegen.target = codegen_target
    c = net.compiled
    dt = c.dt
    st = net._st
    n = c.n_neurons
    groups, spikes, offsets, objects = {}, {}, {}, []
    taus = {(p.target, p.type): p.tau for p in c.spec.projections}
    syn_in = ' + I_exc / (1 + k_exc * I_exc) - I_inh / (1 + k_inh * I_inh)'
    common = '''
        dI_exc/dt = -I_exc / tau_exc : 1
        dI_inh/dt = -I_inh / tau_inh : 1
        dw/dt = -w / tau_w : 1
        I_noise : 1
        bias : 1 (constant)
        drive : 1 (shared)
        k_exc : 1 (shared, constant)
        k_inh : 1 (shared, constant)
        tau_exc : second (shared, constant)
        tau_inh : second (shared, constant)
        tau_w : second (shared, constant)
        b_w : 1 (shared, constant)
    '''
    for k, pop in enumerate(c.spec.populations):
        m = pop.neuron
        sl = c.neurons(k)
        if m.model == 'lif':
            eqs = ('dv/dt = (v_rest - v + R * (drive + bias + I_noise - w' + syn_in + ')) / tau_m'
                   ' : 1 (unless refractory)\n' + common + '''
                v_rest : 1 (shared, constant)
                R : 1 (shared, constant)
                tau_m : second (shared, constant)
                v_th : 1 (shared, constant)
                v_reset : 1 (shared, constant)
            ''')
            g = b2.NeuronGroup(pop.size, eqs, threshold='v >= v_th',
                               reset='v = v_reset; w += b_w',
                               refractory=int(c.par[K.P_REF, sl.start]) * dt * b2.second,
                               method=m['integrator'], dt=dt * b2.second, name=f'pop_{k}')
            g.v_rest, g.R, g.tau_m = m['v_rest'], m['R'], m['tau_m'] * b2.second
            g.v_th, g.v_reset = m['v_th'], m['v_reset']
        else:
            eqs = ('dv/dt = (0.04 * v**2 + 5 * v + 140 - u + drive + bias + I_noise - w'
                   + syn_in + ') / ms : 1\n'
                   'du/dt = a * (b * v - u) / ms : 1\n' + common + '''
                a : 1 (shared, constant)
                b : 1 (shared, constant)
                c : 1 (shared, constant)
                d : 1 (shared, constant)
                v_peak : 1 (shared, constant)
            ''')
            g = b2.NeuronGroup(pop.size, eqs, threshold='v >= v_peak',
                               reset='v = c; u += d; w += b_w', method='euler',
                               dt=dt * b2.second, name=f'pop_{k}')
            g.a, g.b, g.c, g.d, g.v_peak = m['a'], m['b'], m['c'], m['d'], m['v_peak']
            g.u = st[K.S_U, sl]
        g.v = st[K.S_V, sl]
        g.w = st[K.S_W, sl]
        g.I_exc = st[K.S_EXC, sl]
        g.I_inh = st[K.S_INH, sl]
        g.bias = c.par[K.P_BIAS, sl]
        g.drive = net._pops[k, K.Q_DRIVE]
        g.k_exc, g.k_inh = 1.0 / m['i_exc_max'], 1.0 / m['i_inh_max']
        g.tau_exc = taus.get((pop.name, 'excitatory'), 1.0) * b2.second
        g.tau_inh = taus.get((pop.name, 'inhibitory'), 1.0) * b2.second
        g.tau_w, g.b_w = m['tau_w'] * b2.second, m['b_w']
        sigma = net._pops[k, K.Q_SIGMA]
        if sigma > 0:
            g.I_noise = st[K.S_NOISE, sl]
            g.run_regularly(f'I_noise = {float(sigma)!r} * randn()',  # a group's own object
                            dt=c.noise_steps * dt * b2.second, when='start')
        groups[pop.name] = g
        spikes[pop.name] = b2.SpikeMonitor(g, name=f'spikes_{k}')
        offsets[pop.name] = sl.start
        objects += [g, spikes[pop.name]]
    source, target, weight, delay = c.synapses()
    pop_of = c.pop_of
    for a, pa in enumerate(c.spec.populations):
        for b, pb in enumerate(c.spec.populations):
            for sign, channel in ((1.0, 'I_exc'), (-1.0, 'I_inh')):
                sel = (pop_of[source] == a) & (pop_of[target] == b) & (np.sign(weight) == sign)
                if not np.any(sel):
                    continue
                syn = b2.Synapses(groups[pa.name], groups[pb.name], 'weight : 1',
                                  on_pre=f'{channel}_post += weight', dt=dt * b2.second,
                                  name=f'syn_{a}_{b}_{channel}')
                syn.connect(i=source[sel] - c.bounds[a, 0], j=target[sel] - c.bounds[b, 0])
                syn.weight = np.abs(weight[sel])
                syn.delay = delay[sel] * dt * b2.second
                objects.append(syn)
    return Brian2Model(b2.Network(*objects), groups, spikes, offsets)
