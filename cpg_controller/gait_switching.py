"""Gait schedules and gait-transition measurements (pure functions, no simulator).

* :func:`parse_schedule` reads ``"0:walk,10:trot,20:bound"`` (seconds from the start of the run,
  strictly increasing, the first at 0) into ``[(0.0, 'walk'), (10.0, 'trot'), (20.0, 'bound')]``;
  ConfigError with a one-line reason otherwise.
* :func:`cycle_offsets` gives, per stride of the reference foot (LF), the touchdown delays of the
  other feet in that stride (cycles, [0, 1)); :func:`transition_time` the time after a switch
  from which every stride's offsets stay within ``tolerance`` cycle of the new gait's table.
"""
from __future__ import annotations

import math

import numpy as np

from neuro_locomotion.params import ConfigError

from . import phase as P

TRANSITION_TOLERANCE = 0.05     # cycles: a stride is "in the gait" when its phase error is below


def parse_schedule(schedule, gaits, speeds: bool = False) -> list[tuple[float, str | float]]:
    """``"t0:gait0,t1:gait1,..."`` (or a list of (t, gait)) -> [(t, gait), ...]; times in s from the
    start of the run, the first 0, strictly increasing; every gait one of ``gaits``. With
    ``speeds`` an entry may instead be a desired speed in m/s (``"10:0.45"``, a number), for the
    supraspinal speed command; the first entry must still be a gait."""
    if isinstance(schedule, str):
        items = []
        text = schedule.strip()
        if not text:
            raise ConfigError('schedule is empty; expected e.g. "0:walk,10:trot,20:bound"')
        for part in text.split(','):
            if part.count(':') != 1:
                raise ConfigError(f'schedule entry {part.strip()!r} is not TIME:GAIT '
                                  '(e.g. "0:walk,10:trot")')
            t, g = (x.strip() for x in part.split(':'))
            try:
                t = float(t)
            except ValueError:
                raise ConfigError(f'schedule entry {part.strip()!r}: time {t!r} is not a '
                                  'number') from None
            items.append((t, g))
    elif isinstance(schedule, (list, tuple)) and schedule:
        items = []
        for entry in schedule:
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise ConfigError(f'schedule entry {entry!r} is not (time, gait)')
            items.append(tuple(entry))
    else:
        raise ConfigError(f'schedule must be a string "0:walk,10:trot" or a list of (time, gait), '
                          f'got {schedule!r}')
    out = []
    for t, g in items:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or t < 0:
            raise ConfigError(f'schedule time {t!r} must be a finite number of seconds >= 0')
        if out and t <= out[-1][0]:
            raise ConfigError(f'schedule times must increase, got {out[-1][0]:g} then {t:g}')
        if speeds and out and not isinstance(g, bool):
            try:
                g = float(g)
            except (TypeError, ValueError):
                pass
        if isinstance(g, float):
            if not math.isfinite(g) or g < 0:
                raise ConfigError(f'schedule: speed {g!r} must be a finite number of m/s >= 0')
        elif g not in gaits:
            raise ConfigError(f'schedule: unknown gait {g!r}; choose one of {list(gaits)}')
        out.append((float(t), g if isinstance(g, float) else str(g)))
    if out[0][0] != 0.0:
        raise ConfigError(f'schedule must start at time 0 (the initial gait), got {out[0][0]:g}')
    return out


def cycle_offsets(touchdowns) -> tuple[np.ndarray, np.ndarray]:
    """Per stride k of foot 0 (touchdown t_k to t_k+1): (t_k, offsets (k x feet)), the offset of
    foot j being (its first touchdown in [t_k, t_k+1) - t_k) / (t_k+1 - t_k); NaN if none."""
    ref = np.asarray(touchdowns[0], dtype=float)
    if ref.size < 2:
        return np.zeros(0), np.zeros((0, len(touchdowns)))
    out = np.full((ref.size - 1, len(touchdowns)), np.nan)
    out[:, 0] = 0.0
    for j in range(1, len(touchdowns)):
        e = np.asarray(touchdowns[j], dtype=float)
        if e.size == 0:
            continue
        idx = np.searchsorted(e, ref[:-1], side='left')
        ok = idx < e.size
        first = np.where(ok, e[np.minimum(idx, e.size - 1)], np.inf)
        period = np.diff(ref)
        inside = ok & (first < ref[1:])
        out[inside, j] = (first[inside] - ref[:-1][inside]) / period[inside]
    return ref[:-1], out


def centred_offsets(touchdowns, target) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`cycle_offsets`, but foot j's touchdown is looked for in the window of one stride
    centred on its target, [t_k + (target_j - 1/2) T, t_k + (target_j + 1/2) T) (the first one in
    it), so that a foot in phase with the reference (target 0) that lands a few ms before it is
    measured as a small negative offset instead of "no touchdown in this stride"."""
    ref = np.asarray(touchdowns[0], dtype=float)
    g = np.mod(np.asarray(target, dtype=float).ravel() - float(np.ravel(target)[0]), 1.0)
    if ref.size < 2:
        return np.zeros(0), np.zeros((0, len(touchdowns)))
    t0, period = ref[:-1], np.diff(ref)
    out = np.full((t0.size, len(touchdowns)), np.nan)
    out[:, 0] = 0.0
    for j in range(1, len(touchdowns)):
        e = np.asarray(touchdowns[j], dtype=float)
        if e.size == 0:
            continue
        lo = t0 + (g[j] - 0.5) * period
        idx = np.searchsorted(e, lo, side='left')
        ok = idx < e.size
        first = np.where(ok, e[np.minimum(idx, e.size - 1)], np.inf)
        inside = ok & (first < lo + period)
        out[inside, j] = (first[inside] - t0[inside]) / period[inside]
    return t0, out


def cycle_errors(touchdowns, target) -> tuple[np.ndarray, np.ndarray]:
    """(stride start times, phase error of each stride against ``target``; NaN: a foot did not
    touch down in the stride-long window centred on its target)."""
    t, off = centred_offsets(touchdowns, target)
    err = np.array([P.phase_error(o, target) if np.all(np.isfinite(o)) else np.nan
                    for o in off])
    return t, err


def transition_time(touchdowns, target, t_switch: float, t_end: float,
                    tolerance: float = TRANSITION_TOLERANCE) -> float | None:
    """Seconds from ``t_switch`` to the start of the first stride after which every stride that
    lies within [t_switch, t_end] has a phase error <= ``tolerance`` against ``target``; None if the
    last stride is not within it (or fewer than 2 strides are measured). A stride in which a
    foot did not touch down has no phase error and is skipped (it is neither good nor bad)."""
    t, err = cycle_errors(touchdowns, target)
    ref = np.asarray(touchdowns[0], dtype=float)
    end = ref[1:t.size + 1]                                    # each stride's end
    # strides inside [t_switch, t_end] in which every foot stepped
    keep = (t >= t_switch) & (end <= t_end) & np.isfinite(err)
    t, err = t[keep], err[keep]
    if t.size < 2:
        return None
    bad = err > tolerance
    if bad[-1]:
        return None
    last_bad = np.flatnonzero(bad)
    k = 0 if last_bad.size == 0 else int(last_bad[-1]) + 1
    return float(t[k] - t_switch)
