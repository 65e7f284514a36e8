"""Phase analysis of rhythmic signals: events, frequency, phase offsets, duty factor, wave lags.

Shared by the tests, the run metrics and the spiking networks, so everything here works from
*events* (threshold crossings, burst onsets, touchdowns) that any rhythm generator produces, not
from a model's internal phase variable.

Conventions
-----------
- Times are in seconds; phases and offsets are in **cycles** (1 cycle = 2π rad).
- A phase offset is a *delay*: ``offset_j = (t_j - t_ref) / period`` wrapped to [0, 1), where
  ``t_j`` is an event (e.g. touchdown) of signal j and ``t_ref`` the latest preceding event of
  the reference signal. The lateral-sequence walk (LF, RF, LH, RH) = (0, 0.5, 0.75, 0.25) thus
  means the footfall order LF -> RH -> RF -> LH.
- Circular deviations are wrapped to [-0.5, 0.5); a phase error is a magnitude in [0, 0.5].
- "No rhythm" is never encoded as NaN: functions return an empty array (for event lists) or
  ``None`` (for a number or a table) when a signal is silent or too short to measure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

LEGS = ('LF', 'RF', 'LH', 'RH')

__all__ = [
    'LEGS', 'wrap_cycles', 'circular_mean', 'threshold_crossings', 'edges', 'onsets',
    'burst_onsets', 'period', 'frequency', 'signal_frequency', 'instantaneous_frequency',
    'phase_offsets', 'phase_error', 'duty_factor', 'travelling_wave_lags',
    'phase_lags_from_phases', 'gait_table_path', 'load_gait_tables', 'gait_offsets',
]


# --------------------------------------------------------------------------------------------
# circular helpers

def wrap_cycles(x):
    """Wrap phase differences (cycles) to [-0.5, 0.5). Scalars stay scalars."""
    w = (np.asarray(x, dtype=float) + 0.5) % 1.0 - 0.5
    return float(w) if np.ndim(w) == 0 else w


def circular_mean(cycles, weights=None) -> tuple[float, float] | None:
    """Circular mean of phases given in cycles.

    Returns ``(mean in [0, 1), resultant length in [0, 1])``; the resultant length measures how
    consistent the phases are (1 = identical, ~0 = spread all round the cycle). ``None`` for an
    empty input.
    """
    c = np.asarray(cycles, dtype=float).ravel()
    c = c[np.isfinite(c)]
    if c.size == 0:
        return None
    w = np.ones_like(c) if weights is None else np.asarray(weights, dtype=float).ravel()[:c.size]
    z = np.sum(w * np.exp(2j * np.pi * c)) / max(np.sum(w), 1e-300)
    return float(np.angle(z) / (2 * np.pi) % 1.0), float(min(abs(z), 1.0))


# --------------------------------------------------------------------------------------------
# events

def _time_axis(n: int, t, fs: float | None) -> np.ndarray:
    if t is not None:
        t = np.asarray(t, dtype=float)
        if t.shape != (n,):
            raise ValueError(f'time axis has shape {t.shape}, signal has {n} samples')
        return t
    return np.arange(n, dtype=float) / (1.0 if fs is None else float(fs))


def _moving_average(x: np.ndarray, t: np.ndarray, window: float) -> np.ndarray:
    """Centred moving average over ``window`` seconds (no delay; edges reflected)."""
    dt = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    k = int(round(window / dt)) if dt > 0 else 0
    if k < 2 or x.size < 3:
        return x
    k |= 1                                  # odd, so the window is centred
    if k > x.size:
        k = x.size if x.size % 2 else x.size - 1
    half = k // 2
    padded = np.pad(x, half, mode='reflect')
    return np.convolve(padded, np.ones(k) / k, mode='valid')


def threshold_crossings(x, t=None, *, threshold: float | None = None, direction: str = 'up',
                        hysteresis: float | None = None, min_amplitude: float = 1e-9,
                        min_interval: float = 0.0, smooth: float = 0.0,
                        fs: float | None = None) -> np.ndarray:
    """Times at which ``x`` crosses ``threshold`` (linear interpolation between samples).

    Robust to noise in three ways: a Schmitt trigger (an upward crossing counts only once the
    signal has been below ``threshold - hysteresis`` and then rises above ``threshold +
    hysteresis``; the reported time is where it last passed ``threshold`` itself), an optional
    centred moving average over ``smooth`` seconds (no delay), and an optional refractory
    ``min_interval`` (s) after each crossing.

    Defaults come from the robust range ``p2..p98`` of the signal (``min..max`` for a signal that
    is active less than ~2 % of the time): threshold = its midpoint, hysteresis = 20 % of it. A
    signal whose full range is below ``min_amplitude`` is *silent*: the result is empty.
    ``direction`` is 'up' or 'down'. ``t`` defaults to ``arange(n) / fs``.
    """
    x = np.asarray(x, dtype=float).ravel()
    if direction not in ('up', 'down'):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    t = _time_axis(x.size, t, fs)
    finite = np.isfinite(x)
    if x.size < 2 or finite.sum() < 2:
        return np.zeros(0)
    if not finite.all():                    # drop non-finite samples rather than propagate them
        x, t = x[finite], t[finite]
    if smooth > 0:
        x = _moving_average(x, t, smooth)
    full = float(np.max(x) - np.min(x))
    if not full >= min_amplitude:
        return np.zeros(0)
    lo, hi = np.percentile(x, [2.0, 98.0])
    if not hi - lo >= min_amplitude:        # sparse pulses: use the full range
        lo, hi = float(np.min(x)), float(np.max(x))
    span = hi - lo
    thr = 0.5 * (lo + hi) if threshold is None else float(threshold)
    h = 0.2 * span if hysteresis is None else abs(float(hysteresis))
    if direction == 'down':
        x, thr = -x, -thr
    idx = np.arange(x.size)
    state = np.where(x > thr + h, 1, np.where(x < thr - h, -1, 0))
    last = np.maximum.accumulate(np.where(state != 0, idx, -1))
    held = np.where(last >= 0, state[np.maximum(last, 0)], 0)
    k = np.nonzero((held[1:] == 1) & (held[:-1] == -1))[0] + 1     # first sample of each "high"
    if k.size == 0:
        return np.zeros(0)
    # each crossing time: mean of the first and the last passage through thr between the last
    # sample below thr - h and the first above thr + h (linear interpolation). Exact for a clean
    # monotone crossing whatever the waveform; under noise the early and late biases cancel.
    last_low = np.maximum.accumulate(np.where(x < thr - h, idx, -1))
    ev = np.empty(k.size)
    for n, kk in enumerate(k):
        m = last_low[kk - 1]
        xs = x[m:kk + 1]
        up = np.nonzero((xs[:-1] <= thr) & (xs[1:] > thr))[0] + m
        tc = t[up] + (thr - x[up]) / (x[up + 1] - x[up]) * (t[up + 1] - t[up])
        ev[n] = 0.5 * (tc[0] + tc[-1])
    if min_interval > 0 and ev.size > 1:
        keep = [0]
        for i in range(1, ev.size):
            if ev[i] - ev[keep[-1]] >= min_interval:
                keep.append(i)
        ev = ev[keep]
    return ev


def edges(active, t=None, *, min_on: float = 0.0, min_off: float = 0.0,
          fs: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rising and falling edge times of a boolean signal (e.g. foot contact, neuron active).

    Debouncing: a run of ``False`` shorter than ``min_off`` between two runs of ``True`` is
    flicker and is bridged (a foot that bounces at touchdown has landed at its first contact).
    The state switches on at a bridged run of ``True`` whose time actually on (its gaps not
    counted) is at least ``min_on`` seconds, so isolated one-sample flicker never adds up to an
    edge, and off only at a run of ``False`` lasting at least ``min_off``. An edge's time is that
    of the first sample of the run that switches the state. The initial state is the first
    sample's. Returns ``(rises, falls)``, both possibly empty.
    """
    a = np.asarray(active).astype(bool).ravel()
    t = _time_axis(a.size, t, fs)
    if a.size < 2:
        return np.zeros(0), np.zeros(0)
    change = np.nonzero(a[1:] != a[:-1])[0] + 1
    if min_on <= 0 and min_off <= 0:
        return t[change[a[change]]], t[change[~a[change]]]
    # time on up to each sample (sample i holds until sample i + 1; the last one not at all)
    on_before = np.r_[0.0, np.cumsum(np.diff(t) * a[:-1]), 0.0]
    on_before[-1] = on_before[-2]
    starts, dur = _runs(a, t, change)
    if min_off > 0:
        # bridge short gaps: interior False runs (a True run on both sides) under min_off
        gap = ~a[starts[1:-1]] & (dur[1:-1] < min_off)
        if gap.any():
            bridged = a.copy()
            for s, e in zip(starts[1:-1][gap], starts[2:][gap]):
                bridged[s:e] = True
            change = np.nonzero(bridged[1:] != bridged[:-1])[0] + 1
            starts, dur = _runs(bridged, t, change)
            a = bridged
    stops = np.r_[starts[1:], a.size]
    on_time = on_before[stops] - on_before[starts]
    rises, falls = [], []
    state = bool(a[0])
    for s, d, on in zip(starts[1:], dur[1:], on_time[1:]):
        v = bool(a[s])
        if v != state and (on >= min_on if v else d >= min_off):
            (rises if v else falls).append(t[s])
            state = v
    return np.asarray(rises, dtype=float), np.asarray(falls, dtype=float)


def _runs(a: np.ndarray, t: np.ndarray, change: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first sample, duration in seconds) of each run of equal values of ``a``; a run lasts
    until the next one starts, the last one until its last sample."""
    starts = np.r_[0, change]
    stops = np.r_[change, a.size]
    t_end = np.where(stops < a.size, t[np.minimum(stops, a.size - 1)], t[-1])
    return starts, t_end - t[starts]


def onsets(active, t=None, *, min_on: float = 0.0, min_off: float = 0.0,
           fs: float | None = None) -> np.ndarray:
    """Times at which a boolean signal switches on (touchdowns from a contact signal, say)."""
    return edges(active, t, min_on=min_on, min_off=min_off, fs=fs)[0]


def burst_onsets(spike_times, max_isi: float, min_spikes: int = 1) -> np.ndarray:
    """Onsets of spike bursts: spikes closer than ``max_isi`` belong to one burst.

    Bursts with fewer than ``min_spikes`` spikes are ignored (isolated spikes). Returns the time
    of each burst's first spike; empty for a silent neuron.
    """
    s = np.sort(np.asarray(spike_times, dtype=float).ravel())
    s = s[np.isfinite(s)]
    if s.size == 0:
        return np.zeros(0)
    starts = np.r_[0, np.nonzero(np.diff(s) > max_isi)[0] + 1]
    sizes = np.diff(np.r_[starts, s.size])
    return s[starts[sizes >= min_spikes]]


# --------------------------------------------------------------------------------------------
# frequency

def period(events, *, min_events: int = 3) -> float | None:
    """Median interval between successive events (robust to an odd missed or extra event).

    ``None`` if there are fewer than ``min_events`` events.
    """
    e = np.sort(np.asarray(events, dtype=float).ravel())
    e = e[np.isfinite(e)]
    if e.size < max(min_events, 2):
        return None
    p = float(np.median(np.diff(e)))
    return p if p > 0 else None


def frequency(events, *, min_events: int = 3) -> float | None:
    """Frequency (Hz) of a rhythm from its event times (onsets, crossings); ``None`` if silent."""
    p = period(events, min_events=min_events)
    return None if p is None else 1.0 / p


def signal_frequency(x, t=None, *, min_events: int = 3, **crossing_kw) -> float | None:
    """Frequency (Hz) of a continuous periodic signal from its upward threshold crossings."""
    return frequency(threshold_crossings(x, t, **crossing_kw), min_events=min_events)


def instantaneous_frequency(phase_unwrapped, t, window: float = 0.0) -> np.ndarray:
    """Frequency (Hz) from an unwrapped phase (rad), optionally averaged over a centred window (s).

    Uses the phase difference across the window, so it is exact for a constant frequency and
    averages out the within-cycle modulation of coupled oscillators when ``window`` spans a cycle.
    """
    p = np.asarray(phase_unwrapped, dtype=float)
    t = np.asarray(t, dtype=float)
    if p.shape[0] < 2:
        return np.zeros_like(p)
    if window <= 0:
        return np.gradient(p, t, axis=0) / (2 * np.pi)
    lo = np.searchsorted(t, t - window / 2, side='left')
    hi = np.minimum(np.searchsorted(t, t + window / 2, side='right') - 1, t.size - 1)
    hi = np.maximum(hi, np.minimum(lo + 1, t.size - 1))
    lo = np.minimum(lo, hi - 1)
    dt = (t[hi] - t[lo]).reshape((-1,) + (1,) * (p.ndim - 1))
    return (p[hi] - p[lo]) / dt / (2 * np.pi)


# --------------------------------------------------------------------------------------------
# phase offsets

def _relative_phases(ref: np.ndarray, ev: np.ndarray) -> np.ndarray:
    """Phase (cycles, [0, 1)) of each event of ``ev`` inside the reference cycle containing it."""
    ev = ev[(ev >= ref[0]) & (ev < ref[-1])]
    if ev.size == 0:
        return np.zeros(0)
    k = np.searchsorted(ref, ev, side='right') - 1
    return (ev - ref[k]) / (ref[k + 1] - ref[k])


def phase_offsets(events: Sequence, *, reference: int = 0, t_start: float | None = None,
                  t_end: float | None = None, return_strength: bool = False):
    """Phase offsets (cycles, [0, 1)) of several rhythms relative to one of them.

    ``events`` holds one array of event times per signal (burst onsets, touchdowns, upward
    crossings). Each event of signal j is given the phase it has inside the reference cycle that
    contains it; the offset is the circular mean of those phases over all cycles, so the
    reference's own offset is 0. Only events in ``[t_start, t_end]`` are used.

    Returns an array, or ``None`` when the reference has fewer than two events or some signal
    has no event inside a complete reference cycle (silent). With ``return_strength`` the result
    is ``(offsets, strength)`` where ``strength[j]`` is the resultant length (1 = perfectly
    phase-locked, near 0 = no consistent relation), or ``(None, None)``.
    """
    def clip(e):
        e = np.sort(np.asarray(e, dtype=float).ravel())
        e = e[np.isfinite(e)]
        if t_start is not None:
            e = e[e >= t_start]
        if t_end is not None:
            e = e[e <= t_end]
        return e

    evs = [clip(e) for e in events]
    fail = (None, None) if return_strength else None
    if not evs or not 0 <= reference < len(evs):
        return fail
    ref = evs[reference]
    if ref.size < 2 or np.any(np.diff(ref) <= 0):
        ref = np.unique(ref)
        if ref.size < 2:
            return fail
    offsets, strength = np.zeros(len(evs)), np.ones(len(evs))
    for j, e in enumerate(evs):
        if j == reference:
            continue
        cm = circular_mean(_relative_phases(ref, e))
        if cm is None:
            return fail
        offsets[j], strength[j] = cm
    offsets = np.where(offsets >= 1.0 - 1e-12, 0.0, offsets)
    return (offsets, strength) if return_strength else offsets


def phase_error(offsets, target, *, align: str = 'first') -> float | None:
    """Largest circular deviation (cycles, in [0, 0.5]) between measured and target offsets.

    Both tables are taken relative to their first entry (``align='first'``, the usual way, since
    offsets are measured relative to the first leg), or the common shift that minimises the
    largest deviation is removed first (``align='best'``), which does not single out one leg.
    ``None`` if ``offsets`` is ``None`` (no rhythm).
    """
    if offsets is None:
        return None
    o = np.asarray(offsets, dtype=float).ravel()
    g = np.asarray(target, dtype=float).ravel()
    if o.shape != g.shape:
        raise ValueError(f'{o.size} offsets against a target table of {g.size}')
    if not np.all(np.isfinite(o)):
        return None
    d = wrap_cycles((o - o[0]) - (g - g[0]))
    if align == 'first':
        return float(np.max(np.abs(d)))
    if align != 'best':
        raise ValueError(f"align must be 'first' or 'best', got {align!r}")
    # minimax shift: the centre of the shortest arc holding every deviation
    s = np.sort(d % 1.0)
    gaps = np.diff(np.r_[s, s[0] + 1.0])
    i = int(np.argmax(gaps))
    arc = 1.0 - gaps[i]
    return float(arc / 2.0)


# --------------------------------------------------------------------------------------------
# duty factor and travelling waves

def duty_factor(stance, t=None, *, min_on: float = 0.0, min_off: float = 0.0,
                fs: float | None = None):
    """Fraction of each cycle spent in stance, from a boolean stance (contact) signal.

    Measured over whole cycles only: from the first touchdown to the last one, time-weighted.
    A 2-D ``stance`` (samples x legs) gives a list, one entry per leg. ``None`` for a leg with
    fewer than two touchdowns (always in stance, always in swing, or silent).
    """
    s = np.asarray(stance).astype(bool)
    if s.ndim == 2:
        return [duty_factor(s[:, j], t, min_on=min_on, min_off=min_off, fs=fs)
                for j in range(s.shape[1])]
    t = _time_axis(s.size, t, fs)
    rises, _ = edges(s, t, min_on=min_on, min_off=min_off)
    if rises.size < 2:
        return None
    i0, i1 = np.searchsorted(t, [rises[0], rises[-1]])
    seg_t = t[i0:i1 + 1]
    if seg_t.size < 2:
        return None
    w = np.diff(seg_t)                       # sample i holds until sample i + 1
    on = s[i0:i1].astype(float)
    return float(np.sum(on * w) / np.sum(w))


def travelling_wave_lags(events: Sequence, **kw) -> np.ndarray | None:
    """Lag per segment (cycles, in [-0.5, 0.5)) between consecutive rhythms along a chain.

    ``lags[k]`` is the delay of segment k + 1 relative to segment k: positive for a wave that
    travels from segment 0 towards the last one (head to tail). 1 / n_segments per segment is one
    full wavelength along the body. ``None`` if any segment is silent. Keyword arguments go to
    :func:`phase_offsets` (``t_start``, ``t_end``).
    """
    if len(events) < 2:
        return None
    lags = []
    for a, b in zip(events[:-1], events[1:]):
        o = phase_offsets([a, b], **kw)
        if o is None:
            return None
        lags.append(wrap_cycles(o[1]))
    return np.asarray(lags)


def phase_lags_from_phases(phases) -> np.ndarray | None:
    """Same as :func:`travelling_wave_lags`, from phase time series (rad, samples x segments).

    For models that expose their phase variable: circular mean of ``(θ_k - θ_{k+1}) / 2π``.
    """
    p = np.asarray(phases, dtype=float)
    if p.ndim != 2 or p.shape[1] < 2 or p.shape[0] == 0:
        return None
    d = (p[:, :-1] - p[:, 1:]) / (2 * np.pi)
    return np.asarray([wrap_cycles(circular_mean(d[:, k])[0]) for k in range(d.shape[1])])


# --------------------------------------------------------------------------------------------
# target tables (config/gaits/*.yaml)

def gait_table_path(robot: str = 'quadruped') -> Path:
    """Path of ``config/gaits/<robot>.yaml`` (installed share directory or source checkout)."""
    name = f'{robot}.yaml'
    try:
        from neuro_locomotion.paths import share_dir
        p = share_dir() / 'config' / 'gaits' / name
        if p.is_file():
            return p
    except Exception:  # share dir not resolvable: fall back to the source tree
        pass
    return Path(__file__).resolve().parent.parent / 'config' / 'gaits' / name


def load_gait_tables(path=None, robot: str = 'quadruped') -> dict:
    """The ``gaits:`` mapping of a gait file, with each ``offsets`` turned into a numpy array.

    Validates that every gait has one offset in [0, 1) per leg and a ``source`` string.
    """
    import yaml
    p = Path(path) if path is not None else gait_table_path(robot)
    with open(p, encoding='utf-8') as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, Mapping) or not isinstance(doc.get('gaits'), Mapping):
        raise ValueError(f'{p}: expected a top-level "gaits:" mapping')
    legs = tuple(doc.get('legs', LEGS))
    out = {}
    for name, spec in doc['gaits'].items():
        if 'offsets' not in spec:
            out[name] = dict(spec)
            continue
        o = np.asarray(spec['offsets'], dtype=float)
        if o.shape != (len(legs),) or not np.all((o >= 0) & (o < 1)):
            raise ValueError(f'{p}: gait {name!r} needs {len(legs)} offsets in [0, 1), got {o}')
        if not isinstance(spec.get('source'), str) or not spec['source']:
            raise ValueError(f'{p}: gait {name!r} has no source citation')
        out[name] = dict(spec, offsets=o, legs=legs)
    return out


def gait_offsets(name: str, path=None) -> np.ndarray:
    """Target offsets (cycles, legs LF, RF, LH, RH) of one quadruped gait."""
    tables = load_gait_tables(path)
    if name not in tables:
        raise KeyError(f'unknown gait {name!r}; known: {sorted(tables)}')
    return tables[name]['offsets'].copy()
