"""Exact neural transmission delays as ring buffers.

A :class:`DelayLine` carries ``width`` channels; channel ``i`` delays by ``steps[i]`` whole steps:
the value passed to :meth:`DelayLine.step` at call ``k`` is returned by call ``k + steps[i]``
(``steps[i] == 0`` passes it straight through). Before a value has travelled through, the line
returns its fill value (:meth:`DelayLine.reset`). At dt = 1 ms the GH2010 delay classes are
5, 10 and 20 steps (hip, knee, ankle muscles).
"""
from __future__ import annotations

import math

import numpy as np


def delay_steps(delay: float, dt: float, tol: float = 1e-9) -> int:
    """Delay in whole steps; refuses delays that are not a multiple of ``dt`` (within ``tol``)."""
    if not (math.isfinite(delay) and math.isfinite(dt)) or delay < 0 or dt <= 0:
        raise ValueError(f'delay {delay!r} s and dt {dt!r} s must be finite, delay >= 0, dt > 0')
    steps = round(delay / dt)
    if abs(steps * dt - delay) > tol:
        raise ValueError(f'delay {delay} s is not a whole number of {dt} s steps')
    return int(steps)


class DelayLine:
    """Vectorised ring buffer; ``steps`` is one int for all channels or one int per channel."""

    def __init__(self, steps, width: int | None = None, fill=0.0):
        steps_arr = np.asarray(steps)
        if steps_arr.ndim == 0:
            if width is None:
                raise ValueError('give width when steps is a single number')
            steps_arr = np.full(width, int(steps_arr))
        elif width is not None and steps_arr.shape != (width,):
            raise ValueError(f'steps has shape {steps_arr.shape}, expected ({width},)')
        if steps_arr.ndim != 1 or steps_arr.size == 0:
            raise ValueError('steps must be a number or a non-empty 1-D sequence')
        if not np.all(np.equal(np.mod(steps_arr, 1), 0)) or np.any(steps_arr < 0):
            raise ValueError(f'delay steps must be whole numbers >= 0, got {steps_arr.tolist()}')
        self.steps = steps_arr.astype(np.int64)
        self.width = self.steps.size
        self.length = int(self.steps.max()) + 1
        self._buffer = np.empty((self.length, self.width))
        self._flat = self._buffer.reshape(-1)
        # _read[h]: flat buffer indices of every channel's output when the head is at row h.
        rows = (np.arange(self.length)[:, None] - self.steps[None, :]) % self.length
        self._read = rows * self.width + np.arange(self.width)[None, :]
        self._head = 0
        self.reset(fill)

    def reset(self, fill=0.0) -> None:
        """Forget the history; every channel outputs ``fill`` (scalar or per channel) until real
        values have travelled through."""
        fill = np.broadcast_to(np.asarray(fill, dtype=float), (self.width,))
        self._buffer[:] = fill
        self._head = 0

    def step(self, value) -> np.ndarray:
        """Push ``value`` (width,) and return the delayed values (a new array)."""
        value = np.asarray(value, dtype=float)
        if value.shape != (self.width,):
            raise ValueError(f'expected {self.width} values, got shape {value.shape}')
        head = self._head
        self._buffer[head] = value
        out = self._flat.take(self._read[head])
        self._head = head + 1 if head + 1 < self.length else 0
        return out
