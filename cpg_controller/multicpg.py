"""Bazenkov's discrete multitransmitter CPG model (MultiCPG, arXiv 1705.02176), in numpy.

Neurons are finite-state machines in discrete time steps. Every neuron emits transmitters into one
shared extracellular space (ECS) while it is active and senses the ECS through receptor weights::

    ECS(t)    = injection(t) + sum_i active_i(t) * emission_i * (pir_i if inhibited_i(t-1) else 1)
    impact_i  = receptors_i . ECS
    excited   : impact_i >= exc_i          inhibited : impact_i <= inh_i

Types: ``tonic`` (active whenever not inhibited), ``follower`` (active on the step after an
excited step, unless inhibited), ``oscillator`` (a counter; at ``recharge`` steps after its last
burst onset it fires unless inhibited, waiting at ``recharge`` while inhibited; an excited step
also makes it fire on the next one). Competition within a step: the candidates (neurons that
would fire without inhibition) emit; while any candidate is inhibited by the resulting ECS, the
candidate with the smallest margin ``impact - inh`` (the most inhibited; ties: first in file order)
is switched off and the ECS recomputed. ``excited``/``inhibited`` for the next step are taken
from the final ECS. Details and decisions: docs/neuromodulation.md ("MultiCPG").

    model = load_multicpg('feeding')                  # config/networks/multicpg_feeding.yaml
    res = simulate(model, 20, injection={'XXX': lambda t: max(0.0, 1 - 0.08 * t)})
    res.raster()                                      # {'N1': '..#..#', ...}
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from neuro_locomotion.params import ConfigError, read_yaml

TYPES = ('oscillator', 'follower', 'tonic')
DEFAULT_FILE = Path(__file__).resolve().parent.parent / 'config' / 'networks' / 'multicpg_feeding.yaml'
_KEYS = {'name', 'type', 'receptors', 'emission', 'exc', 'inh', 'pir', 'burst', 'recharge'}


@dataclass(frozen=True)
class MCNeuron:
    name: str
    type: str
    receptors: np.ndarray      # (M,) receptor weight per transmitter
    emission: np.ndarray       # (M,) amount emitted per transmitter while active
    exc: float                 # excitation threshold (impact >= exc); inf: never excited
    inh: float                 # inhibition threshold (impact <= inh)
    pir: float                 # emission factor on the step after an inhibited step
    recharge: int              # oscillator: steps from a burst onset to the next spontaneous one


@dataclass(frozen=True)
class MultiCPG:
    name: str
    transmitters: tuple[str, ...]
    neurons: tuple[MCNeuron, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.neurons)


class MultiCPGResult(NamedTuple):
    names: tuple[str, ...]
    transmitters: tuple[str, ...]
    activity: np.ndarray       # (N, T) bool, column k = step k + 1
    ecs: np.ndarray            # (M, T) final ECS of each step
    injection: np.ndarray      # (M, T)

    def raster(self) -> dict[str, str]:
        """'#' active, '.' silent, one character per step."""
        return {n: ''.join('#' if a else '.' for a in row) for n, row in zip(self.names, self.activity)}

    def order(self) -> list[str]:
        """Name of the (single) active neuron per step, '-' if none, '+'-joined if several."""
        out = []
        for col in self.activity.T:
            act = [n for n, a in zip(self.names, col) if a]
            out.append('+'.join(act) if act else '-')
        return out


def _num(value: Any, where: str, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f'{where}: must be a number, got {value!r}')
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ConfigError(f'{where}: must be finite, got {value!r}')
    return x


def _vector(tree: Any, transmitters: Sequence[str], where: str) -> np.ndarray:
    if tree is None:
        tree = {}
    if not isinstance(tree, Mapping):
        raise ConfigError(f'{where}: must be a mapping transmitter -> number')
    out = np.zeros(len(transmitters))
    for key, value in tree.items():
        if key not in transmitters:
            raise ConfigError(f'{where}: unknown transmitter {key!r}; have {list(transmitters)}')
        out[transmitters.index(key)] = _num(value, f'{where}.{key}')
    return out


def parse_multicpg(tree: Mapping, name: str = 'model') -> MultiCPG:
    """Validate one model's mapping (transmitters, neurons) -> MultiCPG (ConfigError if bad)."""
    if not isinstance(tree, Mapping):
        raise ConfigError(f'{name}: must be a mapping')
    unknown = set(tree) - {'description', 'transmitters', 'neurons'}
    if unknown:
        raise ConfigError(f'{name}: unknown keys {sorted(unknown)}')
    trans = tree.get('transmitters')
    if not isinstance(trans, list) or not trans or not all(isinstance(t, str) for t in trans) \
            or len(set(trans)) != len(trans):
        raise ConfigError(f'{name}: transmitters must be a non-empty list of unique names')
    raw = tree.get('neurons')
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f'{name}: neurons must be a non-empty list')
    neurons = []
    for k, nt in enumerate(raw):
        where = f'{name}.neurons[{k}]'
        if not isinstance(nt, Mapping):
            raise ConfigError(f'{where}: must be a mapping')
        bad = set(nt) - _KEYS
        if bad:
            raise ConfigError(f'{where}: unknown keys {sorted(bad)}')
        nname = nt.get('name')
        if not isinstance(nname, str) or not nname:
            raise ConfigError(f'{where}: name must be a non-empty string')
        where = f'{name}.{nname}'
        typ = nt.get('type')
        if typ not in TYPES:
            raise ConfigError(f'{where}: type must be one of {TYPES}, got {typ!r}')
        inh = _num(nt.get('inh', -1.0), f'{where}.inh')
        if typ == 'tonic':
            if 'exc' in nt or 'burst' in nt or 'recharge' in nt:
                raise ConfigError(f'{where}: a tonic neuron has no exc, burst or recharge')
            exc, recharge = math.inf, 0
        else:
            exc = _num(nt.get('exc', 1.0), f'{where}.exc', allow_inf=True)
            recharge = 0
        if typ == 'follower' and ('burst' in nt or 'recharge' in nt or 'pir' in nt):
            raise ConfigError(f'{where}: a follower has no burst, recharge or pir (pir is 1)')
        if typ == 'oscillator':
            r = nt.get('recharge')
            if isinstance(r, bool) or not isinstance(r, int) or r < 1:
                raise ConfigError(f'{where}.recharge: must be an integer >= 1, got {r!r}')
            recharge = r
            if nt.get('burst', 1) != 1:
                raise ConfigError(f'{where}.burst: only 1-step bursts are modelled (as in the '
                                  f'reference Neuron.m, which never reads burstDuration)')
        pir = _num(nt.get('pir', 1.0), f'{where}.pir')
        if pir < 0:
            raise ConfigError(f'{where}.pir: must be >= 0, got {pir}')
        if nname in [n.name for n in neurons]:
            raise ConfigError(f'{where}: duplicate neuron name')
        neurons.append(MCNeuron(nname, typ, _vector(nt.get('receptors'), trans, f'{where}.receptors'),
                                _vector(nt.get('emission'), trans, f'{where}.emission'),
                                exc, inh, pir, recharge))
    return MultiCPG(name, tuple(trans), tuple(neurons))


def load_multicpg(model: str = 'feeding', path: str | Path | None = None) -> MultiCPG:
    """One model from a MultiCPG data file (default config/networks/multicpg_feeding.yaml)."""
    path = Path(path) if path is not None else DEFAULT_FILE
    tree = read_yaml(path, 'MultiCPG file')
    models = (tree or {}).get('models')
    if not isinstance(models, Mapping) or model not in models:
        raise ConfigError(f'{path}: no model {model!r}; have {list(models or [])}')
    return parse_multicpg(models[model], model)


def _injection(model: MultiCPG, steps: int, injection: Any) -> np.ndarray:
    m = len(model.transmitters)
    out = np.zeros((m, steps))
    if injection is None:
        return out
    if isinstance(injection, np.ndarray):
        if injection.shape != (m, steps):
            raise ConfigError(f'injection: expected shape {(m, steps)}, got {injection.shape}')
        out[:] = injection
    elif isinstance(injection, Mapping):
        for key, value in injection.items():
            if key not in model.transmitters:
                raise ConfigError(f'injection: unknown transmitter {key!r}')
            k = model.transmitters.index(key)
            if callable(value):      # a function of the step number t = 1..steps
                out[k] = [float(value(t)) for t in range(1, steps + 1)]
            else:
                out[k] = np.broadcast_to(np.asarray(value, dtype=float), (steps,))
    else:
        raise ConfigError('injection: an (M, steps) array or a mapping transmitter -> values')
    if not np.all(np.isfinite(out)):
        raise ConfigError('injection: non-finite values')
    return out


def simulate(model: MultiCPG, steps: int,
             injection: np.ndarray | Mapping[str, Any] | None = None) -> MultiCPGResult:
    """Run ``steps`` discrete steps from rest (all silent, counters at 1, nothing excited or
    inhibited). ``injection``: (M, steps) array, or {transmitter: array | number | f(t)} with
    t = 1..steps."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f'steps must be an integer >= 1, got {steps!r}')
    inj = _injection(model, steps, injection)
    n = len(model.neurons)
    R = np.array([nr.receptors for nr in model.neurons])          # (N, M)
    E = np.array([nr.emission for nr in model.neurons])           # (N, M)
    exc = np.array([nr.exc for nr in model.neurons])
    inh = np.array([nr.inh for nr in model.neurons])
    pir = np.array([nr.pir for nr in model.neurons])
    recharge = np.array([nr.recharge for nr in model.neurons])
    kind = np.array([TYPES.index(nr.type) for nr in model.neurons])
    osc, fol, ton = kind == 0, kind == 1, kind == 2

    counter = np.ones(n, dtype=int)
    was_exc = np.zeros(n, dtype=bool)
    was_inh = np.zeros(n, dtype=bool)
    activity = np.zeros((n, steps), dtype=bool)
    ecs_rec = np.zeros((len(model.transmitters), steps))
    for t in range(steps):
        emit = E * np.where(was_inh, pir, 1.0)[:, None]
        cand = ton | (fol & was_exc) | (osc & ((counter == recharge) | was_exc))
        while True:
            ecs = inj[:, t] + cand.astype(float) @ emit
            margin = R @ ecs - inh
            losing = cand & (margin <= 0.0)
            if not losing.any():
                break
            k = int(np.flatnonzero(losing)[np.argmin(margin[losing])])   # ties: first in order
            cand[k] = False
        impact = R @ ecs
        counter = np.where(osc & cand, 1,
                           np.where(osc & ~cand & (counter < recharge), counter + 1, counter))
        was_exc = impact >= exc
        was_inh = impact <= inh
        activity[:, t] = cand
        ecs_rec[:, t] = ecs
    return MultiCPGResult(model.names, model.transmitters, activity, ecs_rec, inj)


def feeding_injection(t: int) -> float:
    """The reference's XXX injection at step t: 1 - 0.08 t, floored at 0 (from t = 13 on)."""
    return max(0.0, 1.0 - 0.08 * t)


def period(row: np.ndarray, skip: int = 0) -> int | None:
    """Smallest p such that the boolean sequence row[skip:] repeats with period p (None if none
    shorter than half its length)."""
    x = np.asarray(row)[skip:]
    for p in range(1, x.size // 2 + 1):
        if np.array_equal(x[p:], x[:-p]):
            return p
    return None
