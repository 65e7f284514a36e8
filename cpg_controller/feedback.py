"""Sensory feedback into the spiking CPG: sensor values -> spikes -> input current.

Per 1 ms tick:

1. **sensor values**, normalised to 0..1: foot load as a fraction of the body weight
   (:func:`foot_load`, from the foot normal forces) and hip stretch (:func:`hip_stretch`, how far
   the hip flexion angle is beyond the stance extreme, over a range);
2. **encoding** into spikes (one channel per leg and modality):

   * :class:`RateEncoder`: rate coding, ``fibres`` afferents per channel firing at
     ``r_max_hz · x`` each, Poisson (seeded ``numpy`` generator, deterministic) or regular (a
     phase accumulator: ``floor`` of the accumulated expected count);
   * :class:`TTFSEncoder`: time to first spike, time split in epochs of ``epoch_s``; at each
     epoch onset the input x is sampled and a single spike is emitted ``t_max_s · (1 − x)``
     later (rounded to ticks); x = 0 gives no spike;

3. **injection** (:class:`SensoryFeedback`): every channel's spikes drive an exponential current
   (``tau_s``) added to the target population's tonic drive through the network's public
   ``Network.set_drive`` (effective from the next tick; the kernel is unchanged). Load -> the
   leg's extensor (prolongs stance), stretch -> the leg's flexor (triggers swing). The weight per
   spike is scaled so that the *mean* current equals ``gain · x`` (nA) for rate coding, and
   ``gain`` per epoch with a spike for TTFS (there the magnitude is carried by the timing).

Sensor values must be finite: NaN/inf raise ``ValueError`` naming the channel. Values outside
0..1 are clipped.
"""
from __future__ import annotations

import math

import numpy as np

LEGS = ('LF', 'RF', 'LH', 'RH')
ENCODINGS = ('rate', 'ttfs')


def check_input(x, name: str = 'sensor') -> np.ndarray:
    """x as a float array clipped to 0..1; NaN/inf refused with a ValueError."""
    a = np.asarray(x, dtype=float)
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f'{name}: sensor value must be finite, got {float(a.ravel()[i])} at '
                         f'channel {i}')
    return np.clip(a, 0.0, 1.0)


def foot_load(forces, weight_n: float) -> np.ndarray:
    """Foot normal forces (N) -> load as a fraction of the body weight (0..1)."""
    return check_input(np.asarray(forces, dtype=float) / float(weight_n), 'foot load')


def hip_stretch(q_hip, start_rad: float, range_rad: float) -> np.ndarray:
    """Hip flexion angle (rad, > 0 foot backward) -> stretch (0..1): 0 up to ``start_rad`` (the
    stance extreme), 1 at ``start_rad + range_rad`` and beyond."""
    q = np.asarray(q_hip, dtype=float)
    if not np.all(np.isfinite(q)):
        check_input(q, 'hip stretch')
    return check_input((q - start_rad) / range_rad, 'hip stretch')


class RateEncoder:
    """Rate coding: ``fibres`` afferents per channel at ``r_max_hz · x`` each; ``step(x)`` returns
    the spike count per channel in the tick. Poisson (seeded) or regular."""

    def __init__(self, n: int, r_max_hz: float = 200.0, *, poisson: bool = True, fibres: int = 1,
                 seed: int = 0, dt: float = 1e-3):
        if not (r_max_hz > 0 and math.isfinite(r_max_hz)):
            raise ValueError(f'r_max_hz must be a positive number, got {r_max_hz!r}')
        if int(fibres) < 1:
            raise ValueError(f'fibres must be >= 1, got {fibres!r}')
        self.n, self.r_max_hz, self.poisson = int(n), float(r_max_hz), bool(poisson)
        self.fibres, self.seed, self.dt = int(fibres), int(seed), float(dt)
        self.reset()

    @property
    def rate_per_channel(self) -> float:
        """Spikes per second of a channel at x = 1."""
        return self.r_max_hz * self.fibres

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(self.seed if seed is None else seed)
        self.acc = np.zeros(self.n)

    def step(self, x) -> np.ndarray:
        lam = check_input(x, 'rate encoder') * (self.rate_per_channel * self.dt)
        if self.poisson:
            return self.rng.poisson(lam).astype(np.int64)
        self.acc += lam
        k = np.floor(self.acc)
        self.acc -= k
        return k.astype(np.int64)


class TTFSEncoder:
    """Time-to-first-spike coding: one spike per channel and epoch, ``t_max_s · (1 − x)`` after
    the epoch onset (x sampled at the onset); x = 0 -> no spike."""

    def __init__(self, n: int, t_max_s: float = 0.02, epoch_s: float = 0.05, *, dt: float = 1e-3):
        if not (0 < t_max_s < epoch_s):
            raise ValueError(f'need 0 < t_max_s < epoch_s, got {t_max_s!r}, {epoch_s!r}')
        self.n, self.t_max_s, self.epoch_s, self.dt = int(n), float(t_max_s), float(epoch_s), dt
        self.epoch_ticks = max(1, int(round(epoch_s / dt)))
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        self.k = 0
        self.latency = np.full(self.n, -1, dtype=np.int64)      # ticks after onset, -1 = none

    def step(self, x) -> np.ndarray:
        x = check_input(x, 'ttfs encoder')
        j = self.k % self.epoch_ticks
        if j == 0:
            lat = np.rint(self.t_max_s * (1.0 - x) / self.dt).astype(np.int64)
            self.latency = np.where(x > 0.0, lat, -1)
        self.k += 1
        return (self.latency == j).astype(np.int64)


class SensoryFeedback:
    """Load and stretch feedback into a gait network (populations ``<LEG>_flexor/_extensor``).

    ``step(load, stretch)`` (one value per leg, 0..1) encodes both, updates one exponential
    current per channel and sets each target's drive to its base drive + current (from the next
    network tick on). ``reset()`` restores the base drives. ``gains`` in nA.
    """

    def __init__(self, net, legs=LEGS, *, encoding: str = 'rate', load_gain: float = 2.0,
                 stretch_gain: float = 2.0, r_max_hz: float = 200.0, fibres: int = 10,
                 poisson: bool = True, tau_s: float = 0.02, t_max_s: float = 0.02,
                 epoch_s: float = 0.05, seed: int = 0, dt: float = 1e-3):
        if encoding not in ENCODINGS:
            raise ValueError(f'feedback encoding must be one of {ENCODINGS}, got {encoding!r}')
        self.net, self.legs, self.encoding = net, tuple(legs), encoding
        n = len(self.legs)
        self.targets = [f'{leg}_extensor' for leg in self.legs] + \
                       [f'{leg}_flexor' for leg in self.legs]
        for name in self.targets:
            net.index(name)                                  # unknown population -> error
        self.base = np.array([net.get_drive(t) for t in self.targets])
        gains = np.array([float(load_gain)] * n + [float(stretch_gain)] * n)
        if encoding == 'rate':
            self.encoder = RateEncoder(2 * n, r_max_hz, poisson=poisson, fibres=fibres,
                                       seed=seed, dt=dt)
            per_s = self.encoder.rate_per_channel            # spikes/s at x = 1
        else:
            self.encoder = TTFSEncoder(2 * n, t_max_s, epoch_s, dt=dt)
            per_s = 1.0 / epoch_s                            # one spike per epoch
        self.weight = gains / (per_s * tau_s)                # nA per spike: mean current = gain
        self.decay = math.exp(-dt / tau_s)
        self.current = np.zeros(2 * n)                       # nA, load (n) | stretch (n)
        self.spikes = np.zeros(2 * n, dtype=np.int64)        # last tick's spikes
        self.total_spikes = np.zeros(2 * n, dtype=np.int64)

    def reset(self, seed: int | None = None) -> None:
        self.encoder.reset(seed)
        self.current[:] = 0.0
        self.total_spikes[:] = 0
        self._apply()

    def _apply(self) -> None:
        for name, base, i in zip(self.targets, self.base, self.current):
            self.net.set_drive(name, float(base + i))

    def step(self, load, stretch) -> np.ndarray:
        n = len(self.legs)
        x = np.concatenate([check_input(load, 'foot load').reshape(n),
                            check_input(stretch, 'hip stretch').reshape(n)])
        s = self.encoder.step(x)
        self.spikes = s
        self.total_spikes += s
        if s.any() or self.current.any():
            self.current *= self.decay
            self.current[self.current < 1e-9] = 0.0
            self.current += self.weight * s
            self._apply()
        return s
