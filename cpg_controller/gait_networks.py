"""Spiking CPG networks for gaits, built as data from templates and phase tables.

A *template* (``config/networks/quadruped.yaml``, ``config/networks/salamander.yaml``) describes the
building blocks (a leg half-centre, a body segment, ...) and the coupling rules; the functions here
expand it into an ordinary network dict (``load_network`` validates it, ``Network`` runs it), so
every network the controllers run is plain data that can be dumped, diffed and loaded elsewhere::

    .venv/bin/python -m cpg_controller.gait_networks quadruped trot > trot.yaml
    .venv/bin/python -m cpg_controller.gait_networks salamander > salamander.yaml

Quadruped (docs/cpg.md, "Quadruped gait networks"): one flexor/extensor half-centre per leg; for
each ordered pair of legs i -> j the target lag ``(offset_j - offset_i) mod 1`` of the gait's row in
``config/gaits/quadruped.yaml`` picks the coupling: 0 in-phase excitation, 0.5 anti-phase
inhibition, in (0, 0.5) excitation delayed by ``lag * period_s``; lags in (0.5, 1) are carried by
the reverse pair.

Salamander (docs/cpg.md, "Salamander network"): a chain of left/right body half-centres closed
into a ring by a tail-to-head projection (so the wave has exactly one wavelength per body), four
limb half-centres that trot and entrain the body halves next to them, and a limb-inhibiting
population that switches the limbs off above Ijspeert's drive d = 3.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import math
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from neuro_locomotion.params import ConfigError, read_yaml

from . import phase as P
from .network import load_network, network_dir

__all__ = ['load_template', 'quadruped_gaits', 'quadruped_gait', 'quadruped_network',
           'quadruped_modulated_network', 'quadruped_modulated',
           'salamander_network', 'salamander_drives', 'SALAMANDER_GAITS']

QUADRUPED_KEYS = ('name', 'description', 'dt', 'noise_dt', 'seed', 'legs', 'gait_table', 'leg',
                  'coupling', 'gaits', 'modulated')
MODULATED_KEYS = ('gaits', 'base', 'neuromodulation')
COUPLING_KINDS = ('in_phase', 'anti_phase', 'lagged')
GAIT_KEYS = ('table', 'drive', 'drive_range', 'period_s', 'extensor_drive_offset', 'leg_params',
             'coupling')
RULE_EXTRA = ('lag_delay',)      # rule key: delay = max(lag * period_s, 1 ms)
_LAG_TOL = 1e-6


# --- templates -----------------------------------------------------------------------------------
def load_template(source: str | Path | Mapping) -> dict:
    """A template as a dict (a path, a bare name looked up in config/networks/, or a mapping)."""
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    path = Path(source)
    if not path.suffix and not path.exists():
        path = network_dir() / f'{path}.yaml'
    tree = read_yaml(path, 'network template')
    if not isinstance(tree, dict):
        raise ConfigError(f'{path}: expected a mapping')
    tree.setdefault('_source', str(path))
    return tree


def _where(t: Mapping) -> str:
    return str(t.get('_source', t.get('name', '<template>')))


def _check_keys(tree: Mapping, allowed, where: str) -> None:
    unknown = [k for k in tree if k not in allowed and k != '_source']
    if unknown:
        raise ConfigError(f'{where}: unknown key(s) {unknown}; allowed: {list(allowed)}')


def _need(tree: Mapping, key: str, where: str):
    if key not in tree:
        raise ConfigError(f'{where}: missing {key!r}')
    return tree[key]


def _number(x: Any, where: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ConfigError(f'{where}: expected a finite number, got {x!r}')
    if not lo <= x <= hi:
        raise ConfigError(f'{where}: {x!r} is out of range [{lo}, {hi}]')
    return float(x)


def _prefixed(unit: Mapping, prefix: str, where: str) -> tuple[list, list]:
    """A unit's populations and projections with every population name prefixed."""
    pops, projs = [], []
    for pop in _need(unit, 'populations', where):
        p = copy.deepcopy(dict(pop))
        p['name'] = f'{prefix}{_need(p, "name", where)}'
        pops.append(p)
    for proj in unit.get('projections') or []:
        p = copy.deepcopy(dict(proj))
        p['source'] = f'{prefix}{_need(p, "source", where)}'
        p['target'] = f'{prefix}{_need(p, "target", where)}'
        projs.append(p)
    return pops, projs


def _header(t: Mapping, name: str, description: str) -> dict:
    out = {'name': name, 'description': description}
    for key in ('dt', 'noise_dt', 'seed'):
        if key in t:
            out[key] = t[key]
    return out


# --- quadruped -----------------------------------------------------------------------------------
def _quadruped_template(template) -> dict:
    t = load_template(template)
    where = _where(t)
    _check_keys(t, QUADRUPED_KEYS, where)
    for key in ('legs', 'leg', 'coupling', 'gaits'):
        _need(t, key, where)
    if list(t['legs']) != list(P.LEGS):
        raise ConfigError(f'{where}: legs must be {list(P.LEGS)} (the order of the gait tables)')
    _check_rules(t['coupling'], f'{where}: coupling')
    if not isinstance(t['gaits'], Mapping) or not t['gaits']:
        raise ConfigError(f'{where}: gaits must be a non-empty mapping')
    for name, g in t['gaits'].items():
        here = f'{where}: gaits.{name}'
        if not isinstance(g, Mapping):
            raise ConfigError(f'{here}: expected a mapping')
        _check_keys(g, GAIT_KEYS, here)
        lo, hi = _need(g, 'drive_range', here)
        _number(lo, f'{here}.drive_range[0]')
        _number(hi, f'{here}.drive_range[1]')
        if not lo < hi:
            raise ConfigError(f'{here}.drive_range: {[lo, hi]} must be (min, max)')
        _number(_need(g, 'drive', here), f'{here}.drive', lo, hi)
        _number(g.get('period_s', 0.5), f'{here}.period_s', 0.01, 5.0)
        if 'coupling' in g:
            _check_rules(g['coupling'], f'{here}.coupling')
        halves = [p.get('name') for p in t['leg'].get('populations', [])]
        for half, values in (g.get('leg_params') or {}).items():
            if half not in halves or not isinstance(values, Mapping):
                raise ConfigError(f'{here}.leg_params: {half!r} must be one of {halves} with a '
                                  'mapping of neuron parameters')
    return t


def _check_rules(rules, where: str) -> None:
    if not isinstance(rules, Mapping):
        raise ConfigError(f'{where}: expected a mapping of {list(COUPLING_KINDS)}')
    _check_keys(rules, COUPLING_KINDS, where)
    for kind, entries in rules.items():
        if not isinstance(entries, list):
            raise ConfigError(f'{where}.{kind}: expected a list of projections')
        for e in entries:
            if not isinstance(e, Mapping) or 'source' not in e or 'target' not in e:
                raise ConfigError(f'{where}.{kind}: every entry needs source and target halves')


def quadruped_gaits(template='quadruped') -> tuple[str, ...]:
    """Gait names a quadruped template defines (the controller's ``--gait`` choices)."""
    return tuple(_quadruped_template(template)['gaits'])


def quadruped_gait(gait: str, template='quadruped') -> dict:
    """The template's settings of one gait plus its target ``offsets`` (cycles, LF RF LH RH)."""
    t = _quadruped_template(template)
    if gait not in t['gaits']:
        raise ConfigError(f'unknown gait {gait!r} for the quadruped network; choose one of '
                          f'{list(t["gaits"])}')
    g = dict(t['gaits'][gait])
    tables = P.load_gait_tables(robot=t.get('gait_table', 'quadruped'))
    row = g.get('table', gait)
    if row not in tables:
        raise ConfigError(f'{_where(t)}: gaits.{gait}.table: no row {row!r} in the gait table; '
                          f'have {sorted(tables)}')
    g['offsets'] = np.asarray(tables[row]['offsets'], dtype=float)
    g['source'] = tables[row].get('source', '')
    g.setdefault('period_s', 0.5)
    g.setdefault('extensor_drive_offset', 0.0)
    return g


def check_drive(drive, lo: float, hi: float, what: str) -> float:
    """``drive`` as a float, or ConfigError saying why not (not a number, NaN, out of range)."""
    if isinstance(drive, bool) or not isinstance(drive, (int, float, np.floating, np.integer)):
        raise ConfigError(f'{what}: drive must be a number, got {drive!r}')
    if not math.isfinite(drive):
        raise ConfigError(f'{what}: drive {drive!r} is not finite')
    if not lo <= drive <= hi:
        raise ConfigError(f'{what}: drive {drive} is out of range [{lo}, {hi}]')
    return float(drive)


def quadruped_modulated(template='quadruped') -> dict:
    """The template's ``modulated`` section: ``gaits`` (whose coupling pathways the one network
    carries), ``base`` (the gait whose drive and leg parameters the network has at zero
    concentrations) and ``neuromodulation`` (the sensitivities and gait -> levels table)."""
    t = _quadruped_template(template)
    where = f'{_where(t)}: modulated'
    m = t.get('modulated')
    if not isinstance(m, Mapping):
        raise ConfigError(f'{where}: the template has no modulated section (a mapping)')
    _check_keys(m, MODULATED_KEYS, where)
    gaits = _need(m, 'gaits', where)
    if not isinstance(gaits, Mapping) or not gaits or any(g not in t['gaits'] for g in gaits):
        raise ConfigError(f'{where}.gaits: a mapping of gaits of the template '
                          f'{list(t["gaits"])} to their overrides ({{}} for none)')
    for g, over in gaits.items():
        if not isinstance(over or {}, Mapping):
            raise ConfigError(f'{where}.gaits.{g}: overrides must be a mapping')
        _check_keys(over or {}, GAIT_KEYS, f'{where}.gaits.{g}')
    base = _need(m, 'base', where)
    if base not in gaits:
        raise ConfigError(f'{where}.base: {base!r} must be one of {gaits}')
    nm = _need(m, 'neuromodulation', where)
    if not isinstance(nm, str):
        raise ConfigError(f'{where}.neuromodulation: a file name in config/networks/')
    return {'gaits': {g: dict(o or {}) for g, o in gaits.items()}, 'base': base,
            'neuromodulation': nm}


def quadruped_modulated_network(template='quadruped') -> dict:
    """ONE network carrying the coupling pathways of every gait in the template's ``modulated``
    section, each projection tagged with its gait (``tag: <gait>``), so a neuromodulation file can
    gate the pathways (``{tag: trot, baseline: 0, gain: {...}}``). Populations, drives and leg
    parameters are those of the ``base`` gait; the other gaits' drives and adaptation are reached
    by modulation, never by editing the network."""
    t = _quadruped_template(template)
    mod = quadruped_modulated(t)
    for gait, over in mod['gaits'].items():        # the union's own settings of each gait
        t['gaits'][gait] = dict(t['gaits'][gait], **over)
    t = _quadruped_template(t)                      # re-validated with the overrides
    base = quadruped_network(mod['base'], template=t)
    projs = [p for p in base['projections'] if p['source'].split('_')[0] ==
             p['target'].split('_')[0]]                          # the legs' own half-centres
    for gait in mod['gaits']:
        net = quadruped_network(gait, template=t)
        for p in net['projections']:
            if p['source'].split('_')[0] != p['target'].split('_')[0]:
                projs.append(dict(p, tag=gait))
    base['name'] = 'quadruped_modulated'
    base['description'] = (f'quadruped, one network for {list(mod["gaits"])} (pathways tagged '
                           f'by gait, gated by {mod["neuromodulation"]}); base {mod["base"]}; '
                           f'generated from {Path(_where(t)).name} by cpg_controller.gait_networks')
    base['projections'] = projs
    return base


def quadruped_network(gait: str = 'trot', drive: float | None = None, *,
                      template='quadruped', offsets=None) -> dict:
    """The network dict of ``gait`` (a name in the template's ``gaits``).

    ``drive`` (nA, the tonic drive of every flexor and extensor population; default the gait's)
    must be inside the gait's ``drive_range``. ``offsets`` overrides the phase table row (cycles,
    LF RF LH RH; for experiments).
    """
    t = _quadruped_template(template)
    g = quadruped_gait(gait, t)
    lo, hi = g['drive_range']
    drive = g['drive'] if drive is None else check_drive(drive, lo, hi, f'quadruped {gait}')
    target = g['offsets'] if offsets is None else np.asarray(offsets, dtype=float)
    if target.shape != (4,) or not np.all(np.isfinite(target)):
        raise ConfigError(f'offsets must be 4 finite numbers, got {offsets!r}')
    where = _where(t)
    net = _header(t, f'quadruped_{gait}',
                  f'quadruped {gait} (offsets {np.round(target, 4).tolist()}), generated from '
                  f'{Path(where).name} by cpg_controller.gait_networks')
    pops, projs = [], []
    overrides = g.get('leg_params') or {}
    for leg in t['legs']:
        p, q = _prefixed(t['leg'], f'{leg}_', f'{where}: leg')
        for pop in p:
            half = pop['name'][len(leg) + 1:]
            pop['params'] = dict(pop.get('params') or {}, **overrides.get(half, {}))
            pop['drive'] = drive + (g['extensor_drive_offset'] if half == 'extensor' else 0.0)
        pops += p
        projs += q
    rules = dict(t['coupling'], **(g.get('coupling') or {}))
    legs = list(t['legs'])
    for i, j in itertools.permutations(range(4), 2):
        lag = float((target[j] - target[i]) % 1.0)
        if lag < _LAG_TOL or lag > 1.0 - _LAG_TOL:
            kind = 'in_phase'
        elif abs(lag - 0.5) < _LAG_TOL:
            kind = 'anti_phase'
        elif lag < 0.5:
            kind = 'lagged'
        else:
            continue
        for rule in rules.get(kind) or []:
            proj = copy.deepcopy(dict(rule))
            proj['source'] = f'{legs[i]}_{proj["source"]}'
            proj['target'] = f'{legs[j]}_{proj["target"]}'
            if proj.pop('lag_delay', False):
                proj['delay'] = round(max(lag * float(g['period_s']), 1e-3), 6)
            projs.append(proj)
    net['populations'] = pops
    net['projections'] = projs
    return net


# --- salamander ----------------------------------------------------------------------------------
SALAMANDER_GAITS = ('walk', 'swim')
SALAMANDER_KEYS = ('name', 'description', 'dt', 'noise_dt', 'seed', 'n_segments', 'limbs',
                   'segment', 'limb', 'inhibitor', 'axial', 'limb_coupling', 'limb_to_body',
                   'inhibitor_to_limbs', 'drive_map', 'drive_range', 'gaits', 'modulated')


def _salamander_template(template) -> dict:
    t = load_template(template)
    where = _where(t)
    _check_keys(t, SALAMANDER_KEYS, where)
    for key in ('n_segments', 'segment', 'limb', 'axial', 'drive_map', 'drive_range', 'gaits'):
        _need(t, key, where)
    n = t['n_segments']
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f'{where}: n_segments must be an integer >= 2, got {n!r}')
    lo, hi = t['drive_range']
    if not _number(lo, f'{where}: drive_range[0]') < _number(hi, f'{where}: drive_range[1]'):
        raise ConfigError(f'{where}: drive_range must be (min, max)')
    dm = t['drive_map']
    if not isinstance(dm, Mapping):
        raise ConfigError(f'{where}: drive_map must be a mapping')
    for key, value in dm.items():
        if not isinstance(value, Mapping):
            raise ConfigError(f'{where}: drive_map.{key} must be a mapping')
        _check_keys(value, ('gain', 'offset', 'min', 'max'), f'{where}: drive_map.{key}')
    for g in SALAMANDER_GAITS:
        _number(_need(_need(t, 'gaits', where), g, f'{where}: gaits').get('drive'),
                f'{where}: gaits.{g}.drive', lo, hi)
    return t


def salamander_drives(d: float, template='salamander') -> dict[str, float]:
    """Population drives (nA) for Ijspeert's drive ``d``: ``{'body': .., 'limb': .., ...}``.

    Each group's drive is ``gain * d + offset``, clipped to ``[min, max]`` where given, from the
    template's ``drive_map`` (documented there and in docs/cpg.md)."""
    t = _salamander_template(template)
    lo, hi = t['drive_range']
    d = check_drive(d, lo, hi, 'salamander')
    out = {}
    for group, m in t['drive_map'].items():
        x = float(m.get('gain', 0.0)) * d + float(m.get('offset', 0.0))
        if 'min' in m:
            x = max(x, float(m['min']))
        if 'max' in m:
            x = min(x, float(m['max']))
        out[group] = x
    return out


def salamander_network(d: float | None = None, *, template='salamander') -> dict:
    """The salamander network dict with the population drives of Ijspeert drive ``d``
    (default: the template's walking drive)."""
    t = _salamander_template(template)
    where = _where(t)
    n = int(t['n_segments'])
    d = t['gaits']['walk']['drive'] if d is None else d
    drives = salamander_drives(d, t)
    limbs = list(t.get('limbs', P.LEGS))
    net = _header(t, t.get('name', 'salamander'),
                  t.get('description', '') + f' (generated from {Path(where).name}, d = {d})')
    pops, projs = [], []

    def group_drive(pop, group):
        if group not in drives:
            raise ConfigError(f'{where}: drive_map has no {group!r} entry')
        pop['drive'] = drives[group]

    for k in range(n):
        p, q = _prefixed(t['segment'], f'body{k + 1}_', f'{where}: segment')
        for pop in p:
            group_drive(pop, 'body')
        pops += p
        projs += q
    for leg in limbs:
        p, q = _prefixed(t['limb'], f'{leg}_', f'{where}: limb')
        for pop in p:
            group_drive(pop, 'limb')
        pops += p
        projs += q
    if t.get('inhibitor'):
        pop = copy.deepcopy(dict(t['inhibitor']))
        group_drive(pop, 'inhibitor')
        pops.append(pop)
    sides = ('left', 'right')
    ax = t['axial']
    _check_keys(ax, ('descending', 'ring'), f'{where}: axial')
    for side in sides:
        for k in range(n - 1):
            if ax.get('descending'):
                projs.append(dict(ax['descending'], source=f'body{k + 1}_{side}',
                                  target=f'body{k + 2}_{side}'))
        if ax.get('ring'):
            projs.append(dict(ax['ring'], source=f'body{n}_{side}', target=f'body1_{side}'))
    lc = t.get('limb_coupling') or {}
    _check_keys(lc, ('anti_phase', 'pairs'), f'{where}: limb_coupling')
    for a, b in lc.get('pairs', []):
        for x, y in ((a, b), (b, a)):
            projs.append(dict(lc['anti_phase'], source=f'{x}_flexor', target=f'{y}_flexor'))
    lb = t.get('limb_to_body') or {}
    _check_keys(lb, ('projections', 'map'), f'{where}: limb_to_body')
    for leg, (side, first, last) in (lb.get('map') or {}).items():
        for k in range(int(first), int(last) + 1):
            for rule in lb.get('projections') or []:
                proj = dict(rule)
                proj['source'] = f'{leg}_{_need(proj, "source", f"{where}: limb_to_body")}'
                projs.append(dict(proj, target=f'body{k}_{side}'))
    if t.get('inhibitor') and t.get('inhibitor_to_limbs'):
        rule = dict(t['inhibitor_to_limbs'])
        weights = _target_weights(rule.pop('weight_by_target', None) or {}, limbs,
                                  f'{where}: inhibitor_to_limbs.weight_by_target')
        for leg in limbs:
            for half in ('flexor', 'extensor'):
                target = f'{leg}_{half}'
                proj = dict(rule, source=t['inhibitor']['name'], target=target)
                if target in weights:
                    proj['weight'] = weights[target]
                projs.append(proj)
    net['populations'] = pops
    net['projections'] = projs
    return net


def _target_weights(table, limbs, where: str) -> dict:
    """``{limb half-centre: weight}`` overrides of a limb projection, checked: known names
    (``<limb>_flexor`` / ``<limb>_extensor``), finite weights >= 0."""
    if not isinstance(table, Mapping):
        raise ConfigError(f'{where} must be a mapping of limb half-centre to weight')
    names = {f'{leg}_{half}' for leg in limbs for half in ('flexor', 'extensor')}
    out = {}
    for name, weight in table.items():
        if name not in names:
            raise ConfigError(f'{where}: unknown limb half-centre {name!r}; '
                              f'choose from {sorted(names)}')
        out[name] = _number(weight, f'{where}.{name}', lo=0.0)
    return out


# --- command line ----------------------------------------------------------------------------------
def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


def dump(net: Mapping) -> str:
    """YAML text of a generated network (loadable by ``load_network``)."""
    load_network(dict(net))          # validate before anyone relies on it
    return yaml.safe_dump(_plain(dict(net)), sort_keys=False, default_flow_style=None, width=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='print a generated CPG network as YAML')
    parser.add_argument('robot', choices=('quadruped', 'salamander'))
    parser.add_argument('gait', nargs='?', default=None,
                        help='quadruped gait (default trot), or "modulated" (the one network of '
                             'every gait); unused for the salamander')
    parser.add_argument('--drive', type=float, default=None,
                        help='quadruped: tonic drive (nA); salamander: Ijspeert drive d')
    args = parser.parse_args(argv)
    try:
        if args.robot == 'quadruped' and args.gait == 'modulated':
            net = quadruped_modulated_network()
        elif args.robot == 'quadruped':
            net = quadruped_network(args.gait or 'trot', args.drive)
        else:
            net = salamander_network(args.drive)
        sys.stdout.write(dump(net))
    except ConfigError as error:
        print(f'gait_networks: error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
