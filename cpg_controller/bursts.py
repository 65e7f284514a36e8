"""Burst analysis of population rates: onsets/offsets, frequency, overlap of two populations.

A population is "bursting" while its smoothed rate is high. The detector is a Schmitt trigger
between two levels set from the rate's own distribution, so it needs no absolute threshold:

    low, high = 10th and 90th percentile of the smoothed rate
    on  when rate > low + on_fraction  * (high - low)      (default 0.5)
    off when rate < low + off_fraction * (high - low)      (default 0.5)

then gaps shorter than ``min_gap`` are merged and bursts shorter than ``min_duration`` dropped.
Times are in seconds; ``dt`` is the sample interval of the rate (the control tick).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Bursts(NamedTuple):
    onsets: np.ndarray    # s
    offsets: np.ndarray   # s (same length as onsets; a burst still on at the end is dropped)


def smooth(rate: np.ndarray, dt: float, sigma: float = 0.01) -> np.ndarray:
    """Gaussian-smoothed rate (sigma in s); edges are handled by reflecting the signal."""
    rate = np.asarray(rate, dtype=float)
    if sigma <= 0 or rate.size == 0:
        return rate.copy()
    half = int(np.ceil(4 * sigma / dt))
    x = np.arange(-half, half + 1) * dt
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    pad = min(half, rate.size - 1)
    padded = np.pad(rate, pad, mode='reflect') if pad > 0 else rate
    out = np.convolve(padded, kernel, mode='same')
    return out[pad:pad + rate.size] if pad > 0 else out


def detect_bursts(rate: np.ndarray, dt: float, sigma: float = 0.01, on_fraction: float = 0.5,
                  off_fraction: float = 0.5, min_duration: float = 0.02,
                  min_gap: float = 0.02) -> Bursts:
    """Burst onsets and offsets (s, from the first sample) of a population rate sampled every dt."""
    r = smooth(rate, dt, sigma)
    if r.size == 0:
        return Bursts(np.zeros(0), np.zeros(0))
    low, high = np.percentile(r, [10, 90])
    if high - low <= 1e-9 * max(1.0, abs(high)):
        return Bursts(np.zeros(0), np.zeros(0))
    on_level = low + on_fraction * (high - low)
    off_level = low + off_fraction * (high - low)
    onsets, offsets = [], []
    active = r[0] > on_level
    start = None  # a burst already on at the first sample has no onset: skipped
    for k in range(1, r.size):
        if not active and r[k] > on_level:
            active, start = True, k
        elif active and r[k] < off_level:
            active = False
            if start is not None:
                onsets.append(start)
                offsets.append(k)
            start = None
    on = np.array(onsets, dtype=float) * dt
    off = np.array(offsets, dtype=float) * dt
    # merge short gaps, then drop short bursts
    if on.size:
        keep_on, keep_off = [on[0]], [off[0]]
        for a, b in zip(on[1:], off[1:]):
            if a - keep_off[-1] < min_gap:
                keep_off[-1] = b
            else:
                keep_on.append(a)
                keep_off.append(b)
        on, off = np.array(keep_on), np.array(keep_off)
        long_enough = off - on >= min_duration
        on, off = on[long_enough], off[long_enough]
    return Bursts(on, off)


def burst_frequency(bursts: Bursts) -> float:
    """Cycles per second from the median onset-to-onset interval (nan with fewer than 2 bursts)."""
    if bursts.onsets.size < 2:
        return float('nan')
    return float(1.0 / np.median(np.diff(bursts.onsets)))


def overlap_fraction(a: Bursts, b: Bursts, t_start: float | None = None,
                     t_stop: float | None = None) -> float:
    """Time both populations burst at once, as a fraction of the time analysed.

    Over whole cycles this is the mean overlap per cycle divided by the period. The window
    defaults to the first onset to the last offset of either population.
    """
    if a.onsets.size == 0 or b.onsets.size == 0:
        return float('nan')
    if t_start is None:
        t_start = min(a.onsets[0], b.onsets[0])
    if t_stop is None:
        t_stop = max(a.offsets[-1], b.offsets[-1])
    if t_stop <= t_start:
        return float('nan')
    total = 0.0
    for on_a, off_a in zip(a.onsets, a.offsets):
        for on_b, off_b in zip(b.onsets, b.offsets):
            lo = max(on_a, on_b, t_start)
            hi = min(off_a, off_b, t_stop)
            if hi > lo:
                total += hi - lo
    return total / (t_stop - t_start)


def antiphase(a: Bursts, b: Bursts) -> float:
    """Mean phase (cycles, 0..1) of b's onsets within a's cycles; 0.5 is perfect antiphase."""
    if a.onsets.size < 2 or b.onsets.size == 0:
        return float('nan')
    phases = []
    for start, stop in zip(a.onsets[:-1], a.onsets[1:]):
        inside = b.onsets[(b.onsets >= start) & (b.onsets < stop)]
        if inside.size:
            phases.append((inside[0] - start) / (stop - start))
    return float(np.mean(phases)) if phases else float('nan')


class HCOSummary(NamedTuple):
    frequency: float        # Hz, mean of the two populations' burst frequencies
    overlap: float          # fraction of the time both burst
    phase: float            # b's onset phase in a's cycle (0.5 = antiphase)
    n_bursts: tuple[int, int]
    duty: tuple[float, float]  # fraction of the time each population bursts


def half_centre_summary(rate_a: np.ndarray, rate_b: np.ndarray, dt: float,
                        skip: float = 0.0, **detect) -> HCOSummary:
    """Frequency, overlap, phase and duty cycles of two alternating population rates."""
    k = int(round(skip / dt))
    a = detect_bursts(np.asarray(rate_a)[k:], dt, **detect)
    b = detect_bursts(np.asarray(rate_b)[k:], dt, **detect)
    span = (len(rate_a) - k) * dt
    freq = np.nanmean([burst_frequency(a), burst_frequency(b)]) \
        if a.onsets.size > 1 or b.onsets.size > 1 else float('nan')
    duty = tuple(float(np.sum(x.offsets - x.onsets) / span) if span > 0 else float('nan')
                 for x in (a, b))
    return HCOSummary(float(freq), overlap_fraction(a, b), antiphase(a, b),
                      (int(a.onsets.size), int(b.onsets.size)), duty)
