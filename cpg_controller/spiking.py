"""``cpg``: the spiking central pattern generator driving the bodies through the shared decoders.

- quadruped: the gait network of :func:`cpg_controller.gait_networks.quadruped_network` (one
  flexor/extensor half-centre per leg, coupling from the gait's phase table) -> per-leg flexor and
  extensor activity -> :class:`~cpg_controller.decoding.FlexorExtensorPhase` semantics (phase,
  amplitude) -> the oscillator controller's decoder, PD servo, steering and touchdown metrics
  (:class:`QuadrupedCpgController` subclasses
  :class:`~cpg_controller.controllers.QuadrupedOscillatorController` and only replaces its rhythm
  generator);
- salamander: :func:`cpg_controller.gait_networks.salamander_network` (left/right body
  half-centres, limb half-centres, limb inhibitor) -> per-segment left/right activity and limb
  phase/amplitude -> :class:`~cpg_controller.decoding.SalamanderDecoder`.

The network advances in 1 ms ticks; in the closed loop a whole control step (its network ticks,
readout and decoder) is one numba call (``_cpg_quadruped_step`` / ``_cpg_salamander_step``; the
modulated network steps tick by tick through ``Network.tick``, bit for bit the same); population rates
(spikes per neuron per tick) are low-pass filtered (``spiking.rate_tau_s``) and divided by
``spiking.rate_scale_hz`` to give activities in 0..1. Options: ``gait`` (the template's gaits),
``drive`` (quadruped: tonic drive of the rhythm generators, nA, within the gait's
``drive_range``; salamander: Ijspeert's d in [1, 5], mapped to population drives by the
template's ``drive_map``), ``params`` (a parameter file: ``cpg_node`` keys as for ``oscillator``
plus the ``spiking.*`` keys below).
"""
from __future__ import annotations

import math

import numpy as np

from neuro_locomotion.controllers import BodyInfo
from neuro_locomotion.params import ConfigError, ParamSet, ParamSpec
from neuro_locomotion.types import POSITION, Command, Observation

from . import phase as P
from .controllers import (QuadrupedOscillatorController, SalamanderOscillatorController,
                          _override_values, _quadruped_tail, _Recorder, _round, _tail_check,
                          swimming_metrics, touchdown_metrics, _wrap, _yaw)
from .decoding import FlexorExtensorPhase, _salamander_joints
from .feedback import SensoryFeedback, foot_load, hip_stretch
from .gait_networks import (check_drive, load_template, quadruped_gait, quadruped_gaits,
                            quadruped_modulated, quadruped_modulated_network, quadruped_network,
                            salamander_drives, salamander_network)
from .gait_switching import TRANSITION_TOLERANCE, parse_schedule, transition_time
from .neuromodulation import ModulatedNetwork
from . import kernel as K
from .network import Network

from numba import njit   # a hard requirement (requirements.txt), as in kernel.py

TICK = 1e-3                 # s, one network tick per control step of the 1 kHz physics
PREFIX = 'spiking.'

_COMMON = [
    ParamSpec('spiking.seed', 0, 'seed of the network\'s initial potentials and noise', '',
              min=0, max=2**31 - 1),
    ParamSpec('spiking.rate_scale_hz', 150.0, 'population rate read as activity 1 (bursts fire '
              'at 120-175 Hz)', 'Hz', min=1.0, max=1000.0),
    ParamSpec('spiking.rate_tau_s', 0.01, 'time constant of the low-pass filter on the '
              'population rates', 's', min=0.001, max=0.5),
    ParamSpec('spiking.raster_neurons', 5, 'neurons per population whose spikes are kept for the '
              'raster plot', '', min=0, max=1000),
    ParamSpec('spiking.raster_s', 4.0, 'the raster keeps the last this many seconds', 's',
              min=0.0, max=600.0),
    ParamSpec('spiking.hysteresis', 0.05, 'flexor-extensor activity difference that switches a '
              'limb between stance and swing (FlexorExtensorPhase)', '1', min=0.0, max=0.99),
    ParamSpec('spiking.adapt', 0.5, 'weight of the last measured half duration in the expected '
              'one (FlexorExtensorPhase)', '1', min=0.01, max=1.0),
    ParamSpec('spiking.amplitude_decay_s', 0.3, 'limb amplitude decays with this time constant '
              'when the activities fall (FlexorExtensorPhase)', 's', min=0.001, max=10.0),
    ParamSpec('spiking.min_activity', 0.05, 'activities below this count as a silent limb', '1',
              min=0.0, max=0.99),
    ParamSpec('spiking.readout_max_half_s', 3.0, 'a stance or swing half longer than this is a '
              'pause, not a stride (the salamander\'s limbs silenced while it swims): it does not '
              'update the expected durations (FlexorExtensorPhase)', 's', min=0.1, max=60.0),
]


def _readout_min_half(default: float) -> ParamSpec:
    """``spiking.readout_min_half_s``, with the robot's default."""
    return ParamSpec('spiking.readout_min_half_s', default, 'the limb readout holds a stance or '
                     'swing half at least this long: faster flexor/extensor flips (both '
                     'restarting together after a silence) are chatter, not strides '
                     '(FlexorExtensorPhase)', 's', min=0.0, max=0.09)


def _readout_learn_min_fraction(default: float) -> ParamSpec:
    """``spiking.readout_learn_min_fraction``, with the robot's default."""
    return ParamSpec('spiking.readout_learn_min_fraction', default, 'a stance or swing half '
                     'shorter than this fraction of its expected duration is not learned into '
                     'it (a restart blip, not a stride); the expected durations then follow '
                     'halves that shorten at once to no less than this fraction (a gait switch '
                     'sets them; FlexorExtensorPhase); 0 = every half is learned', '1',
                     min=0.0, max=0.9)


FEEDBACK_PARAMS = [
    ParamSpec('feedback.enabled', False, 'sensory feedback (cpg_controller/feedback.py): foot load '
              '-> the leg\'s extensor, hip stretch -> its flexor, as spike-driven currents'),
    ParamSpec('feedback.encoding', 'rate', 'spike code of the sensor values: rate (Poisson) or '
              'ttfs (time to first spike)', '', choices=('rate', 'ttfs')),
    ParamSpec('feedback.load_gain', 2.0, 'mean current into the extensor at full load (one body '
              'weight on the foot)', 'nA', min=0.0, max=10.0),
    ParamSpec('feedback.stretch_gain', 2.0, 'mean current into the flexor at full hip stretch',
              'nA', min=0.0, max=10.0),
    ParamSpec('feedback.stretch_start_rad', 1.0, 'hip flexion angle (foot backward) where '
              'stretch starts (the stance extreme)', 'rad', min=-3.0, max=3.0),
    ParamSpec('feedback.stretch_range_rad', 0.2, 'hip angle beyond the start giving full '
              'stretch', 'rad', min=0.01, max=3.0),
    ParamSpec('feedback.r_max_hz', 200.0, 'rate coding: rate of one afferent at input 1', 'Hz',
              min=1.0, max=1000.0),
    ParamSpec('feedback.fibres', 10, 'rate coding: afferents per leg and modality', '', min=1,
              max=1000),
    ParamSpec('feedback.tau_s', 0.02, 'time constant of the feedback current', 's', min=0.001,
              max=1.0),
    ParamSpec('feedback.t_max_s', 0.02, 'ttfs: latency at input 0+ (t_max (1 - x))', 's',
              min=0.001, max=0.5),
    ParamSpec('feedback.epoch_s', 0.05, 'ttfs: one spike per epoch', 's', min=0.002, max=1.0),
]

QUADRUPED_SPIKING_PARAMS = [
    ParamSpec('spiking.network', 'quadruped', 'network template (config/networks/<name>.yaml)'),
    ParamSpec('spiking.gait', 'trot', 'gait when --gait is not given', ''),
    ParamSpec('spiking.modulated', False, 'run the ONE network of the template\'s modulated '
              'section, gaits selected by modulator concentrations (implied by a schedule)'),
    ParamSpec('spiking.modulation_update_s', 0.01, 'while concentrations move, the gains are '
              're-applied this often', 's', min=0.0, max=0.1),
    ParamSpec('spiking.readout_reset_gaits', ['trot', 'bound'], 'modulated network: when a '
              'change between two of these gaits is released, every limb\'s expected stance '
              'and swing durations (the readout, FlexorExtensorPhase) are set to the new gait\'s '
              '(spiking.readout_reset_s) instead of carrying the old gait\'s; one gait = never; '
              'gaits the network lacks are ignored unless given; a readout_expected_s in the '
              'pair\'s row of the neuromodulation file\'s transitions table is applied after '
              'this (it wins)'),
    ParamSpec('spiking.readout_reset_s', [0.35, 0.15, 0.196, 0.072], 'expected stance, swing '
              'durations per gait of spiking.readout_reset_gaits, in order, set at the release '
              '(trot 0.35, 0.15 s: the steady trot stance is 0.245 s, but the stances that shift '
              'a pair half a cycle at bound -> trot last 0.3-0.47 s; bound 0.196, 0.072 s, its '
              'steady readout)', 's', min=0.01, max=2.0),
    _readout_min_half(0.0),     # off: the counts of docs/neuromodulation.md were made without
    _readout_learn_min_fraction(0.0),       # off, as the hold
] + _COMMON + FEEDBACK_PARAMS

SALAMANDER_SPIKING_PARAMS = [
    ParamSpec('spiking.network', 'salamander', 'network template (config/networks/<name>.yaml)'),
    ParamSpec('spiking.body_gain', 1.0, 'body joint command = decoder amplitude x gain x '
              '(left - right activity), clipped to +-1 before the amplitude', '1', min=0.0,
              max=10.0),
    ParamSpec('spiking.body_tau_s', 0.05, 'extra low-pass filter on the body activities (smooths '
              'the on/off bursts into a bend wave)', 's', min=0.001, max=1.0),
    ParamSpec('spiking.heading_gain', 0.5, 'swimming: every body joint is biased by gain x the '
              'low-passed heading error (yaw - yaw at the start, + left), a descending steering '
              'command that holds the start heading; 0 = off', 'rad/rad', min=0.0, max=3.0),
    ParamSpec('spiking.heading_tau_s', 0.5, 'swimming: time constant of each of the two '
              'low-pass stages on the heading error (average the head swing of the wave out)', 's', min=0.05, max=5.0),
    ParamSpec('spiking.heading_max_rad', 0.15, 'swimming: largest steering bias per body joint',
              'rad', min=0.0, max=0.5),
    ParamSpec('spiking.walk_heading_gain', 0.0, 'walking (limbs active): course hold, the '
              'protraction amplitude of the left limbs is scaled by 1 + gain x e and of the right '
              'ones by 1 - gain x e (|gain x e| <= 0.5), e = direction of travel (low-passed base '
              'velocity, walk_heading_tau_s) minus the start heading, + left; 0 = off', '1/rad',
              min=0.0, max=3.0),
    ParamSpec('spiking.walk_heading_tau_s', 1.5, 'walking: time constant of each of the two '
              'low-pass stages on the base velocity (average the standing wave\'s sideways swing '
              'out: at 0.5 s its ripple biased the course hold to one side)', 's',
              min=0.05, max=10.0),
    ParamSpec('spiking.modulated', False, 'walk and swim in ONE network (the walking drives), '
              'switched by the modulators of the template\'s modulated.neuromodulation file '
              '(implied by a schedule)'),
    ParamSpec('spiking.modulation_update_s', 0.01, 'while concentrations move, the gains are '
              're-applied this often', 's', min=0.0, max=0.1),
    # after a swim the limbs restart with flexor/extensor flips every few ms and 40-70 ms blips;
    # the walk's halves are 0.6-0.8 s (the quadruped's shortest, bound swing, is 72 ms)
    _readout_min_half(0.08),
    # ... whose restart blips (halves of 0.08-0.4 s against the walk's 0.6-0.8 s) were learned:
    # the next real halves' trajectories then ended early for 3-5 strides
    _readout_learn_min_fraction(0.5),
] + _COMMON


def _split(overrides) -> tuple[dict, dict]:
    """A --params file or mapping -> (the oscillator's cpg_node keys, the spiking.* keys)."""
    if overrides is None:
        return {}, {}
    values = _override_values(overrides)
    mine = {k: v for k, v in values.items() if k.startswith((PREFIX, 'feedback.'))}
    return {k: v for k, v in values.items() if k not in mine}, mine


def _spiking_params(specs, values: dict, where: str) -> ParamSet:
    return ParamSet(specs, values, where=where)


def _rhythm_kwargs(s: ParamSet) -> dict:
    """The spiking.* parameters of :class:`SpikingRhythm` (network seed and limb readout)."""
    return dict(seed=s['spiking.seed'], rate_scale_hz=s['spiking.rate_scale_hz'],
                rate_tau_s=s['spiking.rate_tau_s'], hysteresis=s['spiking.hysteresis'],
                adapt=s['spiking.adapt'], amplitude_decay_s=s['spiking.amplitude_decay_s'],
                min_activity=s['spiking.min_activity'],
                max_half_s=s['spiking.readout_max_half_s'],
                min_half_s=s['spiking.readout_min_half_s'],
                learn_min_fraction=s['spiking.readout_learn_min_fraction'],
                raster_neurons=s['spiking.raster_neurons'])


# ---------------------------------------------------------------------------------------------
# rates -> activities -> phase/amplitude (the FlexorExtensorPhase rules, one numba call per tick)

@njit(cache=True)
def _rhythm_update(rates, act, k_filter, inv_scale, flex, ext, hyst, adapt, decay, min_act, dt,
                   max_half, min_half, learn_min, swing, elapsed, expected, amplitude, phase, rec,
                   n_rec, keep, raster, ctr):
    """One tick: filter every population's rate (act, Hz), then per limb the rules of
    ``decoding.FlexorExtensorPhase.update`` on (flexor, extensor) activities; append the spikes
    of the kept neurons to the raster ring buffer. Returns the number of touchdowns (stance
    onsets) in this tick. ctr = [raster write position, spikes written in total]."""
    for p in range(rates.shape[0]):
        act[p] += k_filter * (rates[p] - act[p])
    touch = 0
    for i in range(flex.shape[0]):
        f = act[flex[i]] * inv_scale
        f = 0.0 if f < 0.0 else (1.0 if f > 1.0 else f)
        e = act[ext[i]] * inv_scale
        e = 0.0 if e < 0.0 else (1.0 if e > 1.0 else e)
        u = f - e
        flip = (not swing[i] and u > hyst) or (swing[i] and u < -hyst)
        if flip and elapsed[i] >= min_half:
            half = 1 if swing[i] else 0
            measured = elapsed[i]
            if measured > 1e-3 and measured <= max_half and \
                    measured >= learn_min * expected[i, half]:
                expected[i, half] += adapt * (measured - expected[i, half])
            if swing[i]:
                touch += 1
            swing[i] = not swing[i]
            elapsed[i] = 0.0
        elapsed[i] += dt
        half = 1 if swing[i] else 0
        progress = elapsed[i] / expected[i, half]
        if progress > 0.999:
            progress = 0.999
        phase[i] = math.pi * (half + progress)
        peak = f if f > e else e
        if peak < min_act:
            peak = 0.0
        a = amplitude[i] * decay
        amplitude[i] = peak if peak > a else a
    cap = raster.shape[1]
    if cap > 0:
        pos = ctr[0]
        for s in range(n_rec):
            j = rec[1, s]
            if keep[j]:
                raster[0, pos] = rec[0, s]
                raster[1, pos] = j
                pos += 1
                if pos == cap:
                    pos = 0
                ctr[1] += 1
        ctr[0] = pos
    return touch


@njit(cache=True)
def _cpg_tick(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster):
    """One 1 ms tick in one call: the network kernel, then the readout (_rhythm_update) and the
    spike totals. fs/ist: the packed float/int state of :class:`SpikingRhythm` (layout there).
    Returns the ticks done since the last settle."""
    n_rec = K.advance(fa, ia, ctl, counts, rec, 1, n_sub)[1]
    n_pops = counts.shape[1]
    n_limbs = swing.shape[0]
    o = 2 * n_pops
    rates = fa[ia[K.H_RATES]:ia[K.H_RATES] + n_pops]
    act = fs[0:n_pops]
    for p in range(n_pops):
        fs[n_pops + p] += counts[0, p]
    elapsed = fs[o:o + n_limbs]
    expected = fs[o + n_limbs:o + 3 * n_limbs].reshape((n_limbs, 2))
    amplitude = fs[o + 3 * n_limbs:o + 4 * n_limbs]
    phase = fs[o + 4 * n_limbs:o + 5 * n_limbs]
    q = o + 5 * n_limbs
    touch = _rhythm_update(rates, act, fs[q], fs[q + 1], ist[0:n_limbs],
                           ist[n_limbs:2 * n_limbs], fs[q + 2], fs[q + 3], fs[q + 4], fs[q + 5],
                           fs[q + 6], fs[q + 7], fs[q + 8], fs[q + 9], swing, elapsed, expected,
                           amplitude, phase, rec, n_rec, keep, raster,
                           ist[2 * n_limbs:2 * n_limbs + 2])
    c = 2 * n_limbs
    ist[c + 2] += touch
    ist[c + 3] += 1
    return ist[c + 3]


@njit(cache=True)
def _body_filter(body, act, left, right, k, inv):
    """The salamander body activities' low-pass, per element as the numpy form
    ``body[0] += k * (act[left] * inv - body[0])`` (and right): one call, no temporaries."""
    for i in range(left.shape[0]):
        body[0, i] += k * (act[left[i]] * inv - body[0, i])
    for i in range(right.shape[0]):
        body[1, i] += k * (act[right[i]] * inv - body[1, i])


@njit(cache=True)
def _cpg_ticks(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster, n, body, left,
               right, kb, inv):
    """``n`` ticks of :func:`_cpg_tick` in one call, each followed by the salamander body
    filter (:func:`_body_filter`; nothing when ``left`` is empty). The same operations in the
    same order as n Python-level calls (bit-identical), without n dispatches."""
    ticks = 0
    n_pops = counts.shape[1]
    for _ in range(n):
        ticks = _cpg_tick(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster)
        if left.shape[0] > 0:
            _body_filter(body, fs[0:n_pops], left, right, kb, inv)
    return ticks


@njit(cache=True)
def _cpg_quadruped_step(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster, n, every,
                        rbuf, rt, rk, ca, dec, order, time, dt, orientation, angvel, forces,
                        position, velocity, cbuf, ct, ck, tau):
    """One control step of the quadruped ``cpg`` in one call: ``n`` network ticks with the
    readout (:func:`_cpg_tick`), a row of the filtered rates into ``rbuf`` / ``rt`` from row
    ``rk`` on every ``every``-th tick (``SpikingRhythm.rates``), then the oscillator
    controller's :func:`~cpg_controller.controllers._quadruped_tail` on the readout's phase
    and amplitude. The operations of ``SpikingRhythm.advance`` + ``_finish``, in their order
    (bit-identical). Returns the rate rows written, or the tail's negative code for a
    malformed observation (checked first: nothing changes)."""
    code = _tail_check(ca, order, orientation, angvel, forces, position, velocity)
    if code != 0:
        return code
    n_pops = counts.shape[1]
    rows = 0
    for _ in range(n):
        ticks = _cpg_tick(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster)
        if ticks % every == 0:
            rt[rk + rows] = ticks * TICK
            for p in range(n_pops):
                rbuf[rk + rows, p] = fs[p]
            rows += 1
    n_limbs = swing.shape[0]
    o = 2 * n_pops
    _quadruped_tail(ca, dec, order, fs[o + 4 * n_limbs:o + 5 * n_limbs],
                    fs[o + 3 * n_limbs:o + 4 * n_limbs], 1.0, time, dt, orientation, angvel,
                    forces, position, velocity, cbuf, ct, ck, tau)
    return rows


@njit(cache=True)
def _bias_clip(q, idx, bias, lo, hi):
    """q[idx] = clip(q[idx] + bias, lo, hi) in place (np.minimum(np.maximum(...)) per
    element: the same values)."""
    for j in range(idx.shape[0]):
        v = q[idx[j]] + bias
        v = lo[j] if v < lo[j] else v
        q[idx[j]] = hi[j] if v > hi[j] else v


@njit(cache=True)
def _cpg_salamander_step(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster, n, every,
                         rbuf, rt, rk, body, left, right, kb, inv, g, lr, a_walk, a_swim, p_off,
                         p_amp, e_off, st_elev, lift, fold_p, fold_e, fold_below, dbody, prot,
                         elev, lower, upper, out, steer, cidx, bias, blo, bhi):
    """One control step of the salamander ``cpg`` in one call: ``n`` network ticks with the
    readout (:func:`_cpg_tick`) and the body filter (:func:`_body_filter`) after each, a row of
    the filtered rates into ``rbuf`` / ``rt`` from row ``rk`` on every ``every``-th tick, then
    the decoder (:func:`~cpg_controller.decoding._salamander_joints` on ``g`` x the body
    activities, via the scratch ``lr`` (2, n_seg), and the limbs' phase and amplitude) into
    ``out``, and, when ``steer``, the heading bias on the body joints ``cidx``
    (:func:`_bias_clip`).
    The operations of ``SpikingRhythm.advance`` + ``SalamanderDecoder.decode`` + the bias, in
    their order (bit-identical; ``1.0 * x == x``). Returns the rate rows written."""
    n_pops = counts.shape[1]
    rows = 0
    for _ in range(n):
        ticks = _cpg_tick(fa, ia, ctl, counts, rec, n_sub, fs, ist, swing, keep, raster)
        _body_filter(body, fs[0:n_pops], left, right, kb, inv)
        if ticks % every == 0:
            rt[rk + rows] = ticks * TICK
            for p in range(n_pops):
                rbuf[rk + rows, p] = fs[p]
            rows += 1
    for k in range(body.shape[1]):
        lr[0, k] = g * body[0, k]
        lr[1, k] = g * body[1, k]
    n_limbs = swing.shape[0]
    o = 2 * n_pops
    _salamander_joints(lr[0], lr[1], fs[o + 4 * n_limbs:o + 5 * n_limbs],
                       fs[o + 3 * n_limbs:o + 4 * n_limbs], a_walk, a_swim, p_off, p_amp, e_off,
                       st_elev, lift, fold_p, fold_e, fold_below, dbody, prot, elev, lower,
                       upper, out)
    if steer:
        _bias_clip(out, cidx, bias, blo, bhi)
    return rows


_NO_BODY = np.zeros((2, 0))
_NO_INDEX = np.zeros(0, dtype=np.int64)


class _Output:
    __slots__ = ('phase', 'amplitude')

    def __init__(self, phase, amplitude):
        self.phase, self.amplitude = phase, amplitude


class _LimbReadout:
    """Live views of the per-limb readout state (the attributes of FlexorExtensorPhase)."""

    def __init__(self, fs, n_pops, n_limbs, swing, hysteresis, adapt, decay_s, min_activity,
                 max_half_s, min_half_s, learn_min_fraction):
        o = 2 * n_pops
        self.elapsed = fs[o:o + n_limbs]
        self.expected = fs[o + n_limbs:o + 3 * n_limbs].reshape(n_limbs, 2)
        self.amplitude = fs[o + 3 * n_limbs:o + 4 * n_limbs]
        self.phase = fs[o + 4 * n_limbs:o + 5 * n_limbs]
        self.swing = swing
        self.hysteresis, self.adapt = hysteresis, adapt
        self.decay_s, self.min_activity = decay_s, min_activity
        self.max_half_s, self.min_half_s = max_half_s, min_half_s
        self.learn_min_fraction = learn_min_fraction


class SpikingRhythm:
    """A spiking network read out as per-limb phase and amplitude, one 1 ms tick per call.

    Each tick is one numba call (:func:`_cpg_tick`): the network kernel, the low-pass filter of
    every population rate, the flexor/extensor readout of each limb with the rules of
    :class:`~cpg_controller.decoding.FlexorExtensorPhase` (``_rhythm_update``, tested equal to
    it), the raster ring buffer and the spike totals.

    Duck-types the part of :class:`~cpg_controller.oscillators.HopfCPG` the oscillator
    controller uses (``reset``, ``run``, ``step(dt) -> .phase, .amplitude``, ``mu``, ``t``), so
    the controller's decoder, servo, steering and metrics are reused unchanged.

    Packed state: ``fs`` (float) = filtered rates (n_pops, Hz) | spike totals (n_pops) |
    elapsed (L) | expected (L x 2) | amplitude (L) | phase (L) | k, 1/rate_scale, hysteresis,
    adapt, amplitude decay per tick, min_activity, dt, max_half_s, min_half_s,
    learn_min_fraction; ``ist`` (int) =
    flexor populations (L) | extensor populations (L) | raster position, raster total |
    touchdowns | ticks.
    """

    mu = 1.0
    _per_tick = False       # subclasses whose _tick does more than the fused call set True

    def __init__(self, network: dict, limbs=P.LEGS, *, seed: int = 0, rate_scale_hz=150.0,
                 rate_tau_s=0.01, hysteresis=0.05, adapt=0.5, amplitude_decay_s=0.3,
                 min_activity=0.05, max_half_s=math.inf, min_half_s=0.0,
                 learn_min_fraction=0.0, raster_neurons=5,
                 raster_s=4.0, record_every=10):
        self.net = Network(network, seed=seed)
        self.seed = int(seed)
        net = self.net
        self.limbs = tuple(limbs)
        n_pops, n_limbs = len(net.names), len(self.limbs)
        self._shape = (n_pops, n_limbs)
        # validates the readout parameters (and gives the initial expected half durations)
        self._fe_init = FlexorExtensorPhase(n_limbs, hysteresis=hysteresis, adapt=adapt,
                                            amplitude_decay_s=amplitude_decay_s,
                                            min_activity=min_activity,
                                            max_half_s=max_half_s, min_half_s=min_half_s,
                                            learn_min_fraction=learn_min_fraction)
        self.fs = np.zeros(2 * n_pops + 5 * n_limbs + 10)
        self._adapt_at = 2 * n_pops + 5 * n_limbs + 3       # fs index of adapt
        self.fs[-10:] = (1.0 - math.exp(-TICK / rate_tau_s), 1.0 / rate_scale_hz,
                        float(hysteresis), float(adapt), math.exp(-TICK / amplitude_decay_s),
                        float(min_activity), TICK, float(max_half_s), float(min_half_s),
                        float(learn_min_fraction))
        self.ist = np.zeros(2 * n_limbs + 4, dtype=np.int64)
        self.flex = self.ist[0:n_limbs]
        self.ext = self.ist[n_limbs:2 * n_limbs]
        self.flex[:] = [net.index(f'{leg}_flexor') for leg in self.limbs]
        self.ext[:] = [net.index(f'{leg}_extensor') for leg in self.limbs]
        self.swing = np.zeros(n_limbs, dtype=np.bool_)
        self.act = self.fs[0:n_pops]                       # filtered rates (Hz), live
        self.counts = self.fs[n_pops:2 * n_pops]           # spikes per population since settle
        self._inv_scale = 1.0 / rate_scale_hz
        self.estimator = _LimbReadout(self.fs, n_pops, n_limbs, self.swing, hysteresis, adapt,
                                      amplitude_decay_s, min_activity, max_half_s, min_half_s,
                                      learn_min_fraction)
        self.keep = np.zeros(net.n_neurons, dtype=np.bool_)
        for name in net.names:
            sl = net.neurons(name)
            self.keep[sl.start:min(sl.start + int(raster_neurons), sl.stop)] = True
        kept = int(self.keep.sum())
        self.raster = np.zeros((2, int(kept * raster_s * 200.0) if kept else 0), dtype=np.int64)
        self._args = net.kernel_args()
        # the arguments of _cpg_tick / _cpg_ticks, in order (the arrays live as long as self)
        self.tick_args = self._args + (self.fs, self.ist, self.swing, self.keep, self.raster)
        self.record_every = int(record_every)
        self.rates = _Recorder(n_pops)
        self.reset()

    @property
    def readout_adapt(self) -> float:
        """Weight of the last measured half duration in the expected one (the readout's
        ``adapt``, FlexorExtensorPhase), live; settable in [0, 1] (a gait change's readout
        adaptation window)."""
        return float(self.fs[self._adapt_at])

    @readout_adapt.setter
    def readout_adapt(self, value: float) -> None:
        x = float(value)
        if not 0.0 <= x <= 1.0:         # also refuses NaN
            raise ConfigError(f'readout adapt must be in [0, 1], got {value!r}')
        self.fs[self._adapt_at] = x
        self.estimator.adapt = x

    # counters kept in the packed int state
    @property
    def touchdowns(self) -> int:
        """Readout touchdowns (swing -> stance switches) since settled()."""
        return int(self.ist[2 * self._shape[1] + 2])

    @property
    def ticks(self) -> int:
        return int(self.ist[2 * self._shape[1] + 3])

    def reset(self, seed: int | None = None) -> None:
        self.net.reset(self.seed if seed is None else seed)
        n_pops, n_limbs = self._shape
        self.fs[:2 * n_pops + 5 * n_limbs] = 0.0
        self.estimator.expected[:] = self._fe_init.expected
        self.swing[:] = False
        self.ist[2 * n_limbs:] = 0
        self.rates.clear()
        self.t = 0.0
        self.t0 = 0.0                # controller time at settled() (the body's clock)
        self._net_t0 = 0.0           # network time at settled()

    def _tick(self) -> None:
        fa, ia, ctl, counts, rec, n_sub = self._args
        ticks = _cpg_tick(fa, ia, ctl, counts, rec, n_sub, self.fs, self.ist, self.swing,
                          self.keep, self.raster)
        if ticks % self.record_every == 0:
            self.rates.add(ticks * TICK, self.act)

    def advance(self, n: int, body=_NO_BODY, left=_NO_INDEX, right=_NO_INDEX,
                kb: float = 0.0) -> None:
        """``n`` ticks in as few numba calls as the rate record allows (one per
        ``record_every`` ticks at most), optionally with the salamander body filter after each
        tick (``body`` (2, n_seg) += kb (act[left|right] / rate_scale - body)). Bit-identical to
        n calls of ``_tick`` (+ the filter)."""
        if self._per_tick:
            for _ in range(n):
                self._tick()
                if left.shape[0]:
                    _body_filter(body, self.act, left, right, kb, self._inv_scale)
            return
        fa, ia, ctl, counts, rec, n_sub = self._args
        every, ist = self.record_every, self.ist
        while n > 0:
            k = min(n, every - int(ist[-1]) % every)
            ticks = _cpg_ticks(fa, ia, ctl, counts, rec, n_sub, self.fs, ist, self.swing,
                               self.keep, self.raster, k, body, left, right, kb, self._inv_scale)
            if ticks % every == 0:
                self.rates.add(ticks * TICK, self.act)
            n -= k

    def step(self, dt: float = TICK) -> _Output:
        self.advance(max(1, int(round(dt / TICK))))
        self.t += dt
        est = self.estimator
        return _Output(est.phase, est.amplitude)

    def run(self, duration: float, dt: float = TICK) -> None:
        """Run alone (no body) for ``duration`` s, in 1 ms ticks; statistics restart after it."""
        self.advance(int(round(duration / TICK)))
        self.settled()

    def settled(self, t0: float = 0.0) -> None:
        """Restart the spike statistics, raster and rate record; ``t0``: the body's time now."""
        n_limbs = self._shape[1]
        self.counts[:] = 0.0
        self.ist[2 * n_limbs:] = 0
        self.rates.clear()
        self.t0 = float(t0)
        self._net_t0 = self.net.time

    def activities(self) -> np.ndarray:
        """Filtered population rates (Hz), in ``net.names`` order (a copy)."""
        return self.act.copy()

    def spike_stats(self) -> dict:
        """Spike statistics since the last settle/reset."""
        net = self.net
        seconds = self.ticks * TICK
        sizes = net.compiled.sizes
        rate = self.counts / (sizes * seconds) if seconds > 0 else np.zeros_like(self.counts)
        return {
            'cpg_frequency_hz': _round(self.touchdowns / len(self.limbs) / seconds)
            if seconds > 0 and self.limbs and self.touchdowns else None,
            'neurons': int(net.n_neurons),
            'synapses': int(net.compiled.n_synapses),
            'spikes': int(self.counts.sum()),
            'spikes_per_s': _round(self.counts.sum() / seconds if seconds > 0 else 0.0, 1),
            'mean_rate_hz': [_round(r, 2) for r in rate],
        }

    def raster_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(times on the body's clock (s), neuron indices) of the kept neurons' spikes since
        settled() (at most the last ``raster_s`` seconds), oldest first."""
        c = 2 * self._shape[1]
        pos, total = int(self.ist[c]), int(self.ist[c + 1])
        cap = self.raster.shape[1]
        if cap == 0 or total == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        if total < cap:
            r = self.raster[:, :pos]
        else:
            r = np.concatenate([self.raster[:, pos:], self.raster[:, :pos]], axis=1)
        return r[0] * self.net.dt - self._net_t0 + self.t0, r[1].copy()

    def rate_trace(self) -> tuple[np.ndarray, np.ndarray]:
        """(times on the body's clock, filtered rates (Hz) per population) every 10 ms."""
        t, rates = self.rates.arrays()
        return t + self.t0, rates


class ModulatedRhythm(SpikingRhythm):
    """A :class:`SpikingRhythm` whose network is under neuromodulation: each tick first advances
    the modulator concentrations (and re-applies the gains every ``update_every`` s while they
    move), then runs the fused kernel + readout call. The concentrations are recorded every
    ``record_every`` ticks for the plot."""

    _per_tick = True        # the modulators advance between ticks

    def __init__(self, network: dict, neuromodulation, *, update_every: float = 0.01, **kw):
        super().__init__(network, **kw)
        self.mod = ModulatedNetwork(self.net, neuromodulation, update_every=update_every)
        self._mods = self.mod.modulators
        self._every = max(self.mod.update_every, TICK)
        self._elapsed = 0.0
        self.levels = _Recorder(len(self.mod.spec.names))

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        if hasattr(self, 'levels'):
            self.levels.clear()

    def settled(self, t0: float = 0.0) -> None:
        super().settled(t0)
        self.levels.clear()
        self.levels.add(0.0, self._mods.c)

    def _tick(self) -> None:
        # while concentrations move they advance (exactly, target held) and the gains are
        # re-applied once per update_every, not per tick: between updates a moving network costs
        # one float addition
        mods = self._mods
        if not mods._settled:
            self._elapsed += TICK
            if self._elapsed >= self._every - 1e-9:
                mods.advance(self._elapsed)
                self._elapsed = 0.0
                self.mod.apply()
                self.levels.add(self.ticks * TICK, mods.c)      # recorded when they change
        fa, ia, ctl, counts, rec, n_sub = self._args
        ticks = _cpg_tick(fa, ia, ctl, counts, rec, n_sub, self.fs, self.ist, self.swing,
                          self.keep, self.raster)
        if ticks % self.record_every == 0:
            self.rates.add(ticks * TICK, self.act)

    def level_trace(self) -> tuple[np.ndarray, np.ndarray]:
        """(times on the body's clock, concentrations per modulator): a sample at every change
        (every ``update_every`` while they move) and one now; constant in between."""
        t, c = self.levels.arrays()
        t = np.append(t, self.ticks * TICK)
        c = np.vstack([c, self._mods.c[None, :]]) if c.size else self._mods.c[None, :].copy()
        return t + self.t0, c


def _spike_panels(rhythm: SpikingRhythm):
    """``plot_panels`` hook: spike raster (kept neurons) and filtered population rates."""

    modulated = isinstance(rhythm, ModulatedRhythm)

    class Panels:
        count = 3 if modulated else 2

        def __call__(self, axes, result) -> None:
            if modulated:
                level_ax, raster_ax, rate_ax = axes
                t, c = rhythm.level_trace()
                if t.size:
                    for j, name in enumerate(rhythm.mod.spec.names):
                        level_ax.step(t, c[:, j], where='post', label=name)
                    level_ax.legend(loc='upper left', fontsize=6)
                for entry in getattr(result.controller, 'transitions', []):
                    for ax in axes:
                        ax.axvline(entry['t'], color='r', linewidth=0.6, linestyle='--')
                level_ax.set_ylabel('modulator')
                level_ax.set_ylim(-0.05, 1.05)
            else:
                raster_ax, rate_ax = axes
            net = rhythm.net
            times, index = rhythm.raster_spikes()
            row = np.full(net.n_neurons, -1)
            k = 0
            ticks, labels = [], []
            for name in net.names:
                sl = net.neurons(name)
                kept = np.nonzero(rhythm.keep[sl])[0] + sl.start
                row[kept] = np.arange(k, k + kept.size)
                ticks.append(k + kept.size / 2.0)
                labels.append(name)
                k += kept.size
            if times.size:
                raster_ax.scatter(times, row[index], s=1.5, c='k', marker='|')
            raster_ax.set_yticks(ticks)
            raster_ax.set_yticklabels(labels, fontsize=5)
            raster_ax.set_ylabel('spikes')
            t, rates = rhythm.rate_trace()
            if t.size:
                shown = [j for j, name in enumerate(net.names)
                         if name.endswith(('_flexor', '_left'))] or list(range(len(net.names)))
                for j in shown:
                    rate_ax.plot(t, rates[:, j], linewidth=0.7, label=net.names[j])
                rate_ax.legend(loc='upper right', fontsize=5, ncol=4)
            rate_ax.set_ylabel('population rate (Hz)')

    return Panels()


# ---------------------------------------------------------------------------------------------
# controllers

class _ModulatedControl:
    """The modulator commands shared by the quadruped and salamander ``cpg`` controllers in
    modulated mode (``self.cpg`` a :class:`ModulatedRhythm`, ``self.nm`` its spec,
    ``self._set_gait(name)``). A node calls these; each raises ConfigError with the reason and
    changes nothing on bad input."""

    modulated = False
    transitions: list = []

    def _require_modulated(self, what: str) -> None:
        if not self.modulated:
            raise ConfigError(f'controller cpg: {what} needs the modulated network '
                              '(spiking.modulated: true, or a schedule)')

    @property
    def concentrations(self) -> dict:
        """Modulator concentrations now (name -> [0, 1]); {} without the modulated network."""
        return self.cpg.mod.concentrations if self.modulated else {}

    @property
    def gait_names(self) -> list:
        return [g.name for g in self.nm.gaits] if self.modulated else [self.gait]

    def command_modulators(self, targets=None, **kw) -> None:
        """Set modulator targets by name (the concentrations follow with their release/uptake
        time constants). ConfigError, nothing changed, on an unknown name or a value outside
        [0, 1]."""
        self._require_modulated('command_modulators')
        self.cpg.mod.command(targets, **kw)
        self._pending = None

    def command_gait(self, gait: str, t: float | None = None, timed: bool = False) -> None:
        """Command the modulator levels of ``gait`` (a row of the gaits table). Only the
        modulator targets change; the phase targets of the metrics follow the new gait. With
        ``timed`` (schedules) a change listed in the ``transitions`` table is released at its
        leg phase instead of at once (:meth:`_release_step`)."""
        self._require_modulated('command_gait')
        if not isinstance(gait, str) or gait not in self.gait_names:
            raise ConfigError(f'unknown gait {gait!r}; choose one of {self.gait_names}')
        route = self.nm.route(self.gait, gait) if self.modulated else None
        self._pending = None
        if route is None or not (timed and route.timed) or gait == self.gait:
            self.cpg.mod.command(self.nm.gait(gait).levels)
            self._reset_readout(self.gait, gait)
            self._readout_adaptation(route if gait != self.gait else None)
        else:                       # released by _release_step at the route's phase
            limbs = list(self.cpg.limbs)
            self._pending = {'route': route, 'since': self.cpg.t, 'last': None,
                             'legs': np.array([limbs.index(x) for x in route.legs])}
        if gait != self.gait:
            self.transitions.append({'from': self.gait, 'to': gait,
                                     't': None if t is None else round(float(t), 6)})
            if self._pending is not None:
                self._pending['entry'] = self.transitions[-1]
        self._set_gait(gait)

    _pending = None

    @property
    def gait_change_pending(self) -> bool:
        """True while a timed gait change waits for its release phase."""
        return self._pending is not None

    def _release_step(self) -> None:
        """Supraspinal timing of a gait change (the ``transitions`` table): command the new
        levels when a listed leg's readout phase crosses ``release_phase`` of its cycle, or
        ``max_wait_s`` after the command; records ``release_delay_s`` on the transition.
        Called once per tick while a change is pending."""
        p = self._pending
        route, now = p['route'], self.cpg.t
        frac = np.mod(self.cpg.estimator.phase[p['legs']] / (2.0 * math.pi), 1.0)
        last, p['last'] = p['last'], frac
        phi = route.release_phase
        crossed = last is not None and bool(np.any(
            ((last < phi) & (phi <= frac)) | ((frac < last) & ((phi > last) | (phi <= frac)))))
        if crossed or now - p['since'] >= route.max_wait_s - 1e-9:
            self.cpg.mod.command(self.nm.gait(route.target).levels)
            self._reset_readout(route.source, route.target)
            self._readout_adaptation(route)
            p['entry']['release_delay_s'] = round(now - p['since'], 4)
            self._pending = None

    _readout_reset: dict = {}
    _adapt_until = None

    def _readout_adaptation(self, route) -> None:
        """At the release of a gait change (the route's row of the transitions table): its
        ``readout_expected_s`` become every limb's expected stance / swing durations, and its
        ``readout_adapt`` weight replaces ``spiking.adapt`` in the limb readout for
        ``readout_adapt_s`` (a release without one ends a window still open). The window is
        ended by :meth:`_adaptation_step`."""
        if route is not None and route.readout_expected_s is not None:
            expected = self.cpg.estimator.expected
            expected[:, 0], expected[:, 1] = route.readout_expected_s
        if route is not None and route.readout_adapt is not None:
            self.cpg.readout_adapt = route.readout_adapt
            self._adapt_until = self.cpg.t + route.readout_adapt_s
        elif self._adapt_until is not None:
            self._end_adaptation()

    def _end_adaptation(self) -> None:
        self.cpg.readout_adapt = self.spiking['spiking.adapt']
        self._adapt_until = None

    def _adaptation_step(self) -> None:
        """Once per control tick while a window is open: end it when its time is up."""
        if self._adapt_until is not None and self.cpg.t >= self._adapt_until - 1e-9:
            self._end_adaptation()

    def _reset_readout(self, source: str, gait: str) -> None:
        """At the release of a change between two gaits of ``spiking.readout_reset_gaits``: the
        readout expects the new gait's stance and swing durations from its first cycle (else it
        times the first new strides with the old gait's, e.g. a 0.15 s trot swing in a 0.07 s
        bound swing)."""
        r = self._readout_reset
        if source in r and gait in r and source != gait:
            expected = self.cpg.estimator.expected
            expected[:, 0], expected[:, 1] = r[gait]

    def command_speed(self, speed) -> dict:
        """Supraspinal command: a desired forward speed (m/s) -> modulator targets (the
        ``speed_command`` table of the neuromodulation file; they set drive, adaptation and the
        gated pathways). The gait is not chosen here: it emerges from the network, with its own
        hysteresis. Returns the targets; ConfigError, nothing changed, outside the table."""
        self._require_modulated('command_speed')
        targets = self.nm.speed_targets(speed)
        self.cpg.mod.command(targets)
        self._pending = None
        self.commanded_speed = float(speed)
        return targets

    def _schedule_step(self, observation: Observation) -> None:
        """Apply the schedule entries that are due; record the base position."""
        t = observation.time - self._t0
        while self._next < len(self.schedule) and t >= self.schedule[self._next][0] - 1e-9:
            entry = self.schedule[self._next][1]
            if isinstance(entry, float):
                self.command_speed(entry)
            else:
                self.command_gait(entry, observation.time, timed=True)
            self._next += 1
        if observation.base_position is not None:
            self._base.add(observation.time, observation.base_position[:2])

    def _restart_levels(self) -> None:
        """At reset: the schedule starts again; concentrations at the current gait's levels."""
        if self.schedule is not None:
            self._next = 1
            self.transitions = []
            self._set_gait(self.schedule[0][1])
        self._pending = None
        if self._adapt_until is not None:
            self._end_adaptation()
        mods = self.cpg.mod.modulators
        for name, value in self.nm.gait(self.gait).levels.items():
            mods.set_concentration(name, value)
        self.cpg.mod.apply()
        self._base.clear()

    def _segment_speed(self, a: float, b: float):
        """(forward speed (m/s), x at a, x at b, planar displacement (m)) of the base over
        [a, b); Nones without base samples."""
        tb, xy = self._base.arrays()
        sel = (tb >= a) & (tb < b)
        if np.count_nonzero(sel) < 2:
            return None, None, None, None
        ts, xs = tb[sel], xy[sel]
        return (_round(float((xs[-1, 0] - xs[0, 0]) / (ts[-1] - ts[0]))), _round(float(xs[0, 0]), 3),
                _round(float(xs[-1, 0]), 3), _round(float(np.hypot(*(xs[-1] - xs[0]))), 3))


def CpgController(body: BodyInfo, gait: str | None = None, drive: float | None = None,
                  params=None, schedule=None, **options):
    """Registry factory: the spiking CPG controller for ``body.robot``."""
    if options:
        raise ConfigError(f'controller cpg: unknown options {sorted(options)}')
    if body.robot == 'quadruped':
        return QuadrupedCpgController(body, gait=gait, drive=drive, params=params,
                                      schedule=schedule)
    if body.robot == 'salamander':
        return SalamanderCpgController(body, gait=gait, drive=drive, params=params,
                                       schedule=schedule)
    raise ConfigError(f'controller cpg has no network for robot {body.robot!r} '
                      '(quadruped, salamander)')


class QuadrupedCpgController(_ModulatedControl, QuadrupedOscillatorController):
    """Spiking gait network -> flexor/extensor activities -> phase -> decoder -> servo.

    Everything after the rhythm (decoder, PD servo with weight feedforward, heading PI, contact
    recording, touchdown metrics, ``initial_state``) is the oscillator controller's; only
    ``self.cpg`` is a :class:`SpikingRhythm` instead of a Hopf network.
    """

    name = 'cpg'

    def __init__(self, body: BodyInfo, gait: str | None = None, drive: float | None = None,
                 params=None, schedule=None):
        shared, mine = _split(params)
        self.spiking = _spiking_params(QUADRUPED_SPIKING_PARAMS, mine, 'controller cpg')
        self._given_reset = 'spiking.readout_reset_gaits' in mine
        template = load_template(self.spiking['spiking.network'])
        self.modulated = bool(self.spiking['spiking.modulated']) or schedule is not None
        if self.modulated:
            self._init_modulated(body, template, gait, drive, shared, schedule)
            return
        self.schedule = None
        gaits = quadruped_gaits(template)
        gait = self.spiking['spiking.gait'] if gait is None else gait
        if gait not in gaits:
            raise ConfigError(f'controller cpg: unknown gait {gait!r} for the quadruped; '
                              f'choose one of {list(gaits)}')
        g = quadruped_gait(gait, template)
        lo, hi = g['drive_range']
        drive = g['drive'] if drive is None else check_drive(drive, lo, hi,
                                                              f'controller cpg ({gait})')
        super().__init__(body, gait=gait if gait in _OSC_GAITS else 'trot', drive=None,
                         params=shared or None)
        self.gait, self.drive = gait, drive
        self.target_offsets = np.asarray(g['offsets'], dtype=float)
        self.network = quadruped_network(gait, self.drive, template=template)
        s = self.spiking
        self.cpg = SpikingRhythm(self.network, **_rhythm_kwargs(s),
                                 raster_s=s['spiking.raster_s'])
        self.plot_panels = _spike_panels(self.cpg)
        self.feedback = None
        if s['feedback.enabled']:
            self.feedback = SensoryFeedback(
                self.cpg.net, encoding=s['feedback.encoding'], load_gain=s['feedback.load_gain'],
                stretch_gain=s['feedback.stretch_gain'], r_max_hz=s['feedback.r_max_hz'],
                fibres=s['feedback.fibres'], tau_s=s['feedback.tau_s'],
                t_max_s=s['feedback.t_max_s'], epoch_s=s['feedback.epoch_s'],
                seed=s['spiking.seed'])
            self._fb_hip = np.array([body.joint_names.index(f'{leg.lower()}_hip_flex')
                                     for leg in P.LEGS])
            self._fb_weight = float(self.decoder.geometry.total_mass * 9.81)
            self._fb_zero = np.zeros(4)
            self.sensors = self.sensors | {'contacts', 'joints'}

    # -- one network, gaits by modulators ------------------------------------------------------
    def _init_modulated(self, body, template, gait, drive, shared, schedule) -> None:
        s = self.spiking
        if drive is not None:
            raise ConfigError('controller cpg: --drive cannot be given with the modulated network '
                              '(drives follow the modulator concentrations)')
        if s['feedback.enabled']:
            raise ConfigError('controller cpg: feedback.enabled is not supported with the '
                              'modulated network yet')
        mod = quadruped_modulated(template)
        self.network = quadruped_modulated_network(template)
        rhythm_kw = _rhythm_kwargs(s)
        self.schedule = None
        gait_names = None
        # the rhythm first (it validates the neuromodulation file against the network)
        rhythm = ModulatedRhythm(self.network, mod['neuromodulation'],
                                 update_every=s['spiking.modulation_update_s'],
                                 raster_s=s['spiking.raster_s'], **rhythm_kw)
        spec = rhythm.mod.spec
        gait_names = [g.name for g in spec.gaits]
        if not gait_names:
            raise ConfigError(f'controller cpg: {mod["neuromodulation"]} has no gaits table')
        if schedule is not None:
            self.schedule = parse_schedule(schedule, gait_names,
                                           speeds=bool(spec.speed_command))
            if gait is not None and gait != self.schedule[0][1]:
                raise ConfigError(f'controller cpg: --gait {gait} contradicts the schedule, '
                                  f'which starts with {self.schedule[0][1]}')
            gait = self.schedule[0][1]
            # the raster covers the whole scheduled run (its last switch + 10 s)
            span = self.schedule[-1][0] + 10.0
            if span > s['spiking.raster_s']:
                rhythm = ModulatedRhythm(self.network, mod['neuromodulation'],
                                         update_every=s['spiking.modulation_update_s'],
                                         raster_s=span, **rhythm_kw)
                spec = rhythm.mod.spec
        gait = (s['spiking.gait'] if s['spiking.gait'] in gait_names else gait_names[0]) \
            if gait is None else gait
        if gait not in gait_names:
            raise ConfigError(f'controller cpg: unknown gait {gait!r} for the modulated '
                              f'quadruped network; choose one of {gait_names}')
        QuadrupedOscillatorController.__init__(self, body, gait='trot', drive=None,
                                               params=shared or None)
        self.cpg = rhythm
        self.nm = spec
        self.drive = None
        self.feedback = None
        self._tables = P.load_gait_tables(robot=template.get('gait_table', 'quadruped'))
        for g in spec.gaits:
            if g.table not in self._tables:
                raise ConfigError(f'controller cpg: gait {g.name!r}: no row {g.table!r} in the '
                                  'phase table')
        for r in spec.transitions:
            unknown = set(r.legs) - set(rhythm.limbs)
            if unknown:
                raise ConfigError(f'controller cpg: transitions {r.source} -> {r.target}: legs '
                                  f'{sorted(unknown)} are not readout limbs {list(rhythm.limbs)}')
        names, values = s['spiking.readout_reset_gaits'], s['spiking.readout_reset_s']
        if len(values) != 2 * len(names):
            raise ConfigError(f'controller cpg: spiking.readout_reset_s needs a stance and a swing '
                              f'duration per gait of spiking.readout_reset_gaits {names}, got '
                              f'{len(values)} values')
        unknown = [g for g in names if g not in gait_names]
        if unknown and self._given_reset:
            raise ConfigError(f'controller cpg: spiking.readout_reset_gaits {unknown} are not '
                              f'gaits of the modulated network {gait_names}')
        self._readout_reset = {g: (values[2 * k], values[2 * k + 1])
                               for k, g in enumerate(names) if g in gait_names}
        self._outputs = {o.name for o in spec.outputs}
        self._out_value, self._out_moving, self._out_elapsed = {}, False, 0.0
        allowed = ('step_length_m', 'step_height_m', 'standing_height_m', 'ground_penetration_m',
                   'weight_feedforward_scale')
        if not self._outputs <= set(allowed):
            raise ConfigError(f'controller cpg: {mod["neuromodulation"]}: outputs '
                              f'{sorted(self._outputs - set(allowed))} are not decoder parameters '
                              f'or weight_feedforward_scale {list(allowed)}')
        self._weight0 = self._weight          # servo.weight_feedforward x m g (scale 1)
        self._out_version = -1
        # the initial gait's levels are the initial condition (set, not commanded)
        for name, value in spec.gait(gait).levels.items():
            rhythm.mod.modulators.set_concentration(name, value)
        rhythm.mod.apply()
        self._set_gait(gait)
        self.transitions = []
        self._next = 1
        self._base = _Recorder(2)
        self._readout = _Recorder(4)
        if self.schedule is not None:
            self.sensors = self.sensors | {'base'}
        self.plot_panels = _spike_panels(self.cpg)
        self._apply_outputs(force=True)

    def _set_gait(self, gait: str) -> None:
        self.gait = gait
        self.target_offsets = np.asarray(self._tables[self.nm.gait(gait).table]['offsets'],
                                         dtype=float)

    def _apply_outputs(self, dt: float = 0.0, force: bool = False) -> None:
        """Decoder parameters derived from the concentrations (data: outputs in the
        neuromodulation file): every 10 ms while the concentrations or a lagging output move,
        each output following its target with ``tau_rise_s`` / ``tau_fall_s``."""
        mods = self.cpg.mod.modulators
        if not (force or mods.version != self._out_version or self._out_moving):
            return
        self._out_elapsed += dt
        if not force and self._out_elapsed < 0.01 - 1e-9:
            return
        elapsed, self._out_elapsed = self._out_elapsed, 0.0
        self._out_version = mods.version
        c = mods.as_dict()
        values, moving = {}, False
        for o in self.nm.outputs:
            target = self.nm.output(o.name, c)
            current = self._out_value.get(o.name)
            if force or current is None:
                new = target
            else:
                d = target - current
                tau = o.tau_rise_s if d > 0 else o.tau_fall_s
                new = target if tau <= 0 or abs(d) < 1e-6 else \
                    current + (1.0 - math.exp(-elapsed / tau)) * d
            moving |= new != target
            values[o.name] = new
        self._out_moving = moving
        if values != self._out_value:
            self._out_value = values
            decoder = {k: v for k, v in values.items() if k != 'weight_feedforward_scale'}
            if 'weight_feedforward_scale' in values:   # the servo's stance support, not the decoder
                self._weight = self._weight0 * values['weight_feedforward_scale']
            self.decoder.configure(**decoder)

    def step(self, observation: Observation, dt: float) -> Command:
        if self.modulated:
            if self.schedule is not None:
                self._schedule_step(observation)
            if self._pending is not None:
                self._release_step()
            out = super().step(observation, dt)
            if self._adapt_until is not None:
                self._adaptation_step()
            if self.schedule is not None:     # the network's own stance onsets (readout)
                self._readout.add(observation.time, self.cpg.swing)
            self._apply_outputs(dt)
            return out
        return self._step_plain(observation, dt)

    def reset(self, observation: Observation) -> None:
        if self.feedback is not None:
            self.feedback.reset()             # base drives back before the settle run
        if self.modulated:
            self._restart_levels()
            self._readout.clear()
            self._apply_outputs(force=True)
        super().reset(observation)            # resets the network and runs oscillator.settle_s
        self.cpg.settled(observation.time)

    _fused_dt, _fused_n = None, 1

    def _step_plain(self, observation: Observation, dt: float) -> Command:
        fb = self.feedback
        if fb is not None:
            s = self.spiking
            f = observation.foot_forces
            load = foot_load(f, self._fb_weight) if f is not None and f.size == 4 \
                else self._fb_zero
            q = observation.position
            stretch = hip_stretch(q[self._fb_hip], s['feedback.stretch_start_rad'],
                                  s['feedback.stretch_range_rad']) \
                if q is not None and q.size > self._fb_hip.max() else self._fb_zero
            fb.step(load, stretch)            # acts on the network from this step's tick on
        cpg = self.cpg
        if cpg._per_tick or cpg.mu != 1.0:
            return super().step(observation, dt)
        # the network ticks, readout, rate record and everything after the rhythm: one call
        if dt != self._fused_dt:            # network ticks per control step, for this dt
            self._fused_dt, self._fused_n = dt, max(1, int(round(dt / TICK)))
        n = self._fused_n
        o, w, f, q, qd, ck = self._tail_args(observation)
        rates, every = cpg.rates, cpg.record_every
        rk = rates._k
        if rk + n // every + 1 > rates.chunk:
            rk = rates.reserve(n // every + 1)
        tau = np.empty(12)
        contacts, decoder = self._contacts, self.decoder
        rows = _cpg_quadruped_step(*cpg.tick_args, n, every, rates._buf, rates._t, rk, self._ca,
                                   decoder._arena, decoder.output_order, observation.time, dt,
                                   o, w, f, q, qd, contacts._buf, contacts._t, ck, tau)
        if rows < 0:
            return self._command(rows, ck, None, tau)       # raises, nothing changed
        rates._k = rk + rows
        cpg.t += dt
        return self._command(0, ck, cpg.estimator.phase, tau)

    def state_for_recording(self) -> dict:
        out = {'population_rates_hz': self.cpg.act, 'phase': self.cpg.estimator.phase,
               'amplitude': self._amp}
        if self.modulated:
            out['modulators'] = self.cpg.mod.modulators.c
        return out

    def metrics(self) -> dict:
        m = super().metrics()
        for key in ('nominal_frequency_hz', 'nominal_duty_factor'):
            m.pop(key, None)
        m['gait'] = self.gait
        m['drive'] = self.drive
        m['drive_unit'] = 'nA (tonic drive of every flexor and extensor population)'
        m['populations'] = list(self.cpg.net.names)
        m.update(self.cpg.spike_stats())
        if self.feedback is not None:
            m['feedback_spikes'] = [int(k) for k in self.feedback.total_spikes]
        if self.modulated:
            m['modulated'] = True
            m['drive'] = None
            m['drive_unit'] = 'set by the modulators (population_drives_na)'
            m['concentrations'] = {k: _round(v) for k, v in self.concentrations.items()}
            m['population_drives_na'] = [_round(d, 3) for d in self.cpg.net.drive]
            if self.schedule is not None:
                m.update(self._schedule_metrics())
        return m

    def _schedule_metrics(self) -> dict:
        """Per scheduled segment (after its transition) and per transition: measured from the
        body's foot contacts and base position."""
        p = self.params
        t, forces = self._contacts.arrays()
        contact = forces > p['metrics.contact_threshold_n'] if t.size else forces
        min_on = p['metrics.min_contact_s']
        touch = [P.onsets(contact[:, j], t, min_on=min_on, min_off=min_on)
                 for j in range(contact.shape[1])] if t.size > 1 else [np.zeros(0)] * 4
        tb, xy = self._base.arrays()
        starts = [self._t0 + ts for ts, _ in self.schedule]
        t_end = float(t[-1]) if t.size else self._t0
        ends = starts[1:] + [t_end]
        segments = []
        for k, ((_, gait), a, b) in enumerate(zip(self.schedule, starts, ends)):
            target = None if isinstance(gait, float) else \
                self._tables[self.nm.gait(gait).table]['offsets']
            # steady numbers: the second half of the segment (the first settles or transitions)
            mid = a + 0.5 * (b - a) if k else max(a + p['metrics.settle_s'], a + 0.5 * (b - a))
            keep = t < b
            tm = touchdown_metrics(t[keep], forces[keep], target,
                                   threshold=p['metrics.contact_threshold_n'],
                                   min_on=min_on, t_start=mid) if b > mid else {}
            sel = (tb >= mid) & (tb < b)
            speed = None
            if np.count_nonzero(sel) > 1:
                ts, xs = tb[sel], xy[sel]
                speed = _round(float((xs[-1, 0] - xs[0, 0]) / (ts[-1] - ts[0])))
            segments.append({'gait': gait, 't_start': _round(a - self._t0, 3),
                             't_end': _round(b - self._t0, 3), 'speed_mps': speed,
                             'frequency_hz': tm.get('frequency_hz'),
                             'duty_factor': tm.get('duty_factor'),
                             'phase_offsets': tm.get('phase_offsets'),
                             'phase_error': tm.get('phase_error')})
        tr, swing = self._readout.arrays()
        net_touch = [P.onsets(swing[:, j] < 0.5, tr) for j in range(4)] if tr.size > 1 \
            else [np.zeros(0)] * 4
        transitions = []
        for k in range(1, len(self.schedule)):
            a, b = starts[k], ends[k]
            prev, gait = self.schedule[k - 1][1], self.schedule[k][1]
            if isinstance(gait, float) or isinstance(prev, float):
                continue                    # speed commands: no named transition
            target = self._tables[self.nm.gait(gait).table]['offsets']
            ts = transition_time(touch, target, a, b, TRANSITION_TOLERANCE)
            tn = transition_time(net_touch, target, a, b, TRANSITION_TOLERANCE)
            f = segments[k]['frequency_hz']
            entry = {'from': prev, 'to': gait, 't': _round(a - self._t0, 3),
                     'transition_s': None if ts is None else _round(ts, 3),
                     'cycles': None if ts is None or not f else _round(ts * f, 2),
                     'network_transition_s': None if tn is None else _round(tn, 3),
                     'network_cycles': None if tn is None or not f else _round(tn * f, 2),
                     'fell': None}      # the runner fills it in
            # a routed change (transitions table) is released after a wait: also from there
            delay = next((r['release_delay_s'] for r in self.transitions
                          if 'release_delay_s' in r and r.get('t') is not None
                          and abs(r['t'] - a) < 1e-3), None)
            if delay is not None:
                entry['release_delay_s'] = delay
                entry['cycles_from_release'] = None if ts is None or not f \
                    else _round((ts - delay) * f, 2)
                entry['network_cycles_from_release'] = None if tn is None or not f \
                    else _round((tn - delay) * f, 2)
            transitions.append(entry)
        if len(segments) > 40:              # a speed ramp: keep the metrics readable
            segments = []
        return {'gait': ','.join(f'{ts:g}:{g:g}' if isinstance(g, float) else f'{ts:g}:{g}'
                                 for ts, g in self.schedule),
                'segments': segments, 'transitions': transitions,
                'transition_tolerance': TRANSITION_TOLERANCE}


_OSC_GAITS = ('walk', 'trot', 'pace', 'bound', 'gallop')


class SalamanderCpgController(_ModulatedControl, SalamanderOscillatorController):
    """Spiking salamander network -> body left/right activities and limb phase/amplitude ->
    the oscillator controller's salamander decoder and metrics (walk: limb touchdowns; swim: body
    wave from the joint angles). ``gait`` walk | swim picks the oscillator's ``walk_drive`` /
    ``swim_drive``; ``drive`` is Ijspeert's d in [1, 5] (d > 3 swims), mapped to population
    drives by the template's ``drive_map``."""

    name = 'cpg'

    def __init__(self, body: BodyInfo, gait: str | None = None, drive: float | None = None,
                 params=None, schedule=None):
        shared, mine = _split(params)
        s = _spiking_params(SALAMANDER_SPIKING_PARAMS, mine, 'controller cpg')
        self.modulated = bool(s['spiking.modulated']) or schedule is not None
        self.schedule = None
        if self.modulated:
            if drive is not None:
                raise ConfigError('controller cpg: --drive cannot be given with the modulated '
                                  'network (drives follow the modulator concentrations)')
            template = load_template(s['spiking.network'])
            nm_name = (template.get('modulated') or {}).get('neuromodulation')
            if not isinstance(nm_name, str):
                raise ConfigError(f'controller cpg: template {s["spiking.network"]!r} has no '
                                  'modulated.neuromodulation file')
            from .neuromodulation import load_neuromodulation
            spec = load_neuromodulation(nm_name)
            names = [g.name for g in spec.gaits]
            if schedule is not None:
                self.schedule = parse_schedule(schedule, names)
                if gait is not None and gait != self.schedule[0][1]:
                    raise ConfigError(f'controller cpg: --gait {gait} contradicts the schedule, '
                                      f'which starts with {self.schedule[0][1]}')
                gait = self.schedule[0][1]
            gait = gait or 'walk'
            if gait not in names:
                raise ConfigError(f'controller cpg: unknown gait {gait!r} for the modulated '
                                  f'salamander network; choose one of {names}')
            self._start_gait = gait
            gait, drive = None, float(template['gaits']['walk']['drive'])
        try:
            super().__init__(body, gait=gait, drive=drive, params=shared or None)
        except ConfigError as error:
            raise ConfigError(str(error).replace('controller oscillator', 'controller cpg')) \
                from None
        self.spiking = s = _spiking_params(SALAMANDER_SPIKING_PARAMS, mine, 'controller cpg')
        template = load_template(s['spiking.network'])
        if int(template.get('n_segments', 0)) != len(self._body_idx):
            raise ConfigError(f'controller cpg: network has {template.get("n_segments")} '
                              f'segments, the body {len(self._body_idx)}')
        self.population_drives = salamander_drives(self.drive, template)
        self.network = salamander_network(self.drive, template=template)
        kw = dict(_rhythm_kwargs(s), raster_s=s['spiking.raster_s'])
        if self.modulated:
            if self.schedule is not None:
                kw['raster_s'] = max(kw['raster_s'], self.schedule[-1][0] + 10.0)
            self.cpg = ModulatedRhythm(self.network, nm_name,
                                       update_every=s['spiking.modulation_update_s'], **kw)
            self.nm = self.cpg.mod.spec
            self._tables = P.load_gait_tables(robot='salamander')
            self.transitions = []
            self._next = 1
            self._base = _Recorder(2)
            for name, value in self.nm.gait(self._start_gait).levels.items():
                self.cpg.mod.modulators.set_concentration(name, value)
            self.cpg.mod.apply()
            self._set_gait(self._start_gait)
        else:
            self.cpg = SpikingRhythm(self.network, **kw)
        net = self.cpg.net
        n = len(self._body_idx)
        self._left_pop = np.array([net.index(f'body{k + 1}_left') for k in range(n)])
        self._right_pop = np.array([net.index(f'body{k + 1}_right') for k in range(n)])
        self._body_gain = s['spiking.body_gain']
        self._kb = 1.0 - math.exp(-TICK / s['spiking.body_tau_s'])
        self._body = np.zeros((2, n))
        self._lr = np.empty((2, n))           # scratch of the fused step: g x body
        # read only what the metrics of this gait use (joint angles swimming, contacts walking)
        self.sensors = frozenset({'joints'} if self.swimming else {'contacts'})
        if self.modulated:
            self.sensors = frozenset({'joints', 'contacts', 'base'})
        self._heading_gain = s['spiking.heading_gain']
        self._heading_k = 1.0 - math.exp(-TICK / s['spiking.heading_tau_s'])
        self._walk_heading_k = 1.0 - math.exp(-TICK / s['spiking.walk_heading_tau_s'])
        self._heading_max = s['spiking.heading_max_rad']
        self._yaw0, self._yaw_err, self._yaw_lp = None, 0.0, 0.0
        self._k_dt, self._k = None, 0.0      # the heading filter's gain for the last dt
        self._walk_heading_gain = s['spiking.walk_heading_gain']
        self._v_lp = np.zeros((2, 2))        # two low-pass stages of the base velocity (x, y)
        self._body_lo = np.asarray(body.lower, dtype=float)[self._body_idx]
        self._body_hi = np.asarray(body.upper, dtype=float)[self._body_idx]
        if self._heading_gain > 0 or self._walk_heading_gain > 0:
            self.sensors = self.sensors | {'base'}
        self.plot_panels = _spike_panels(self.cpg)

    def _set_gait(self, gait: str) -> None:
        self.gait = gait
        self.swimming = gait == 'swim'
        self.table = self._tables[self.nm.gait(gait).table]
        self.target_offsets = (np.asarray(self.table['offsets'], dtype=float)
                               if 'offsets' in self.table else None)

    def reset(self, observation: Observation) -> None:
        if self.modulated:
            self._restart_levels()
        super().reset(observation)            # resets the network and runs oscillator.settle_s
        self.cpg.settled(observation.time)
        self._body[:] = 0.0
        q = observation.base_orientation
        self._yaw0 = None if q is None else _yaw(q)
        self._yaw_err = self._yaw_lp = 0.0
        self._v_lp[:] = 0.0
        self.course_error = 0.0
        self.decoder.set_side_scale(1.0, 1.0)

    _fused_dt, _fused_n = None, 1

    def step(self, observation: Observation, dt: float) -> Command:
        if self.schedule is not None:
            self._schedule_step(observation)
        if self._pending is not None:
            self._release_step()
        cpg = self.cpg
        if cpg._per_tick:       # the modulated network: its _tick does more than the fused call
            out = self._step_generic(observation, dt)
            if self._adapt_until is not None:
                self._adaptation_step()
            return out
        # the steering state first (it reads only the observation), then the network ticks,
        # body filter, rate record, decoder and heading bias in one numba call
        self._course_step(observation, dt)
        steer, bias = self._heading_bias(observation, dt)
        if dt != self._fused_dt:            # network ticks per control step, for this dt
            self._fused_dt, self._fused_n = dt, max(1, int(round(dt / TICK)))
        n = self._fused_n
        rates, every = cpg.rates, cpg.record_every
        rk = rates._k
        if rk + n // every + 1 > rates.chunk:
            rk = rates.reserve(n // every + 1)
        d = self.decoder
        q = np.empty(d._out.shape[0])
        rows = _cpg_salamander_step(
            *cpg.tick_args, n, every, rates._buf, rates._t, rk, self._body, self._left_pop,
            self._right_pop, self._kb, cpg._inv_scale, float(self._body_gain), self._lr,
            d._a_walk, d._a_swim, d._p_off, d._p_amp, d._e_off, float(d.stance_elevation_rad),
            float(d.swing_lift_rad), float(d.fold_protraction_rad), float(d.fold_elevation_rad),
            float(d.fold_below_amplitude), d._body, d._prot, d._elev, d.lower, d.upper, q,
            steer, self._body_idx, bias, self._body_lo, self._body_hi)
        rates._k = rk + rows
        if observation.position is not None:
            self._angles.add(observation.time, observation.position[self._body_idx])
        if observation.foot_forces is not None and observation.foot_forces.size == self._n_feet:
            self._contacts.add(observation.time, observation.foot_forces)
        return Command.adopt(POSITION, q)   # q: fresh

    def _heading_bias(self, observation: Observation, dt: float) -> tuple[bool, float]:
        """Swimming: (True, the body joints' bias) that holds the start heading (the body wave
        swings the head; low-pass the yaw error in two first-order stages); else (False, 0)."""
        if not (self.swimming and self._heading_gain > 0 and self._yaw0 is not None
                and observation.base_orientation is not None):
            return False, 0.0
        if len(observation.base_orientation) != 4:
            raise ValueError('controller cpg: base_orientation needs 4 values (quaternion x, y, '
                             f'z, w), got {len(observation.base_orientation)}')
        err = _wrap(_yaw(observation.base_orientation) - self._yaw0)
        if dt != self._k_dt:
            self._k_dt = dt
            self._k = 1.0 - (1.0 - self._heading_k) ** max(1, int(round(dt / TICK)))
        k = self._k
        self._yaw_lp += k * _wrap(err - self._yaw_lp)              # two first-order stages:
        self._yaw_err += k * _wrap(self._yaw_lp - self._yaw_err)   # ripple / 20 at 1.5 Hz
        return True, min(max(self._heading_gain * self._yaw_err, -self._heading_max),
                         self._heading_max)

    def _course_step(self, observation: Observation, dt: float) -> None:
        """The walking course hold for this step (on land), or even strokes again once swimming."""
        if self._walk_heading_gain > 0 and not self.swimming and self._yaw0 is not None \
                and observation.base_linear_velocity is not None:
            self._course_hold(observation.base_linear_velocity, dt)
        elif self.swimming and self.course_error != 0.0:
            self.decoder.set_side_scale(1.0, 1.0)   # (after a scheduled walk) even strokes
            self.course_error = 0.0

    def _step_generic(self, observation: Observation, dt: float) -> Command:
        """The step in separate calls (``SpikingRhythm.advance``, ``SalamanderDecoder.decode``,
        ``_bias_clip``): the modulated network's path, and the reference the fused step is
        tested against (``test/test_fused_step.py``)."""
        cpg = self.cpg
        body = self._body
        cpg.advance(max(1, int(round(dt / TICK))), body, self._left_pop, self._right_pop,
                    self._kb)
        est = cpg.estimator
        g = self._body_gain
        self._course_step(observation, dt)
        if g == 1.0:        # x * 1.0 == x bit for bit: skip two array products
            q = self.decoder.decode(body[0], body[1], est.phase, est.amplitude)
        else:
            q = self.decoder.decode(g * body[0], g * body[1], est.phase, est.amplitude)
        steer, bias = self._heading_bias(observation, dt)
        if steer:
            # q is the decoder's fresh array: bias and clip its body joints in place
            _bias_clip(q, self._body_idx, bias, self._body_lo, self._body_hi)
        if observation.position is not None:
            self._angles.add(observation.time, observation.position[self._body_idx])
        if observation.foot_forces is not None and observation.foot_forces.size == self._n_feet:
            self._contacts.add(observation.time, observation.foot_forces)
        return Command.adopt(POSITION, q)   # q: the decoder's fresh array

    def _course_hold(self, velocity, dt: float) -> None:
        """Walking: steer the direction of travel back to the start heading by a stroke-length
        difference between the sides (the head's yaw is no guide: the walking body's standing
        wave swings it +-0.9 rad and it points ~0.2 rad off the course)."""
        n_ticks = max(1, int(round(dt / TICK)))
        k = 1.0 - (1.0 - self._walk_heading_k) ** n_ticks
        lp = self._v_lp
        lp[0] += k * (velocity[:2] - lp[0])
        lp[1] += k * (lp[0] - lp[1])
        vx, vy = lp[1]
        if vx * vx + vy * vy < 1e-6:           # not moving yet: no course
            return
        err = _wrap(math.atan2(vy, vx) - self._yaw0)
        s = min(max(self._walk_heading_gain * err, -0.5), 0.5)
        self.course_error = err
        # travelling left of the start heading (err > 0): longer left strokes turn it right
        self.decoder.set_side_scale(1.0 + s, 1.0 - s)

    def state_for_recording(self) -> dict:
        return {'population_rates_hz': self.cpg.act, 'limb_phase': self.cpg.estimator.phase,
                'limb_amplitude': self.cpg.estimator.amplitude}

    def metrics(self) -> dict:
        m = super().metrics()
        m['ijspeert_frequency_hz'] = m.pop('nominal_frequency_hz', None)
        m['drive_unit'] = 'Ijspeert d (population drives: population_drives_na)'
        m['population_drives_na'] = {k: _round(v, 3) for k, v in self.population_drives.items()}
        m['populations'] = list(self.cpg.net.names)
        m.update(self.cpg.spike_stats())
        if self.modulated:
            m['modulated'] = True
            m['drive'] = None
            m['ijspeert_frequency_hz'] = None      # no Ijspeert drive d: the modulators set it
            m['drive_unit'] = 'set by the modulators (population_drives_na)'
            m['concentrations'] = {k: _round(v) for k, v in self.concentrations.items()}
            m['population_drives_na'] = {n: _round(d, 3) for n, d in
                                         zip(self.cpg.net.names, self.cpg.net.drive)
                                         if n in ('body1_left', 'LF_flexor', 'limb_inhibitor')}
            if self.schedule is not None:
                m.update(self._schedule_metrics())
        return m

    def _schedule_metrics(self) -> dict:
        """Per scheduled segment (second half: after the switch settles): forward speed and
        x range of the base, and the gait numbers (walk: touchdowns; swim: body wave)."""
        p = self.params
        tc, forces = self._contacts.arrays()
        ta, angles = self._angles.arrays()
        starts = [self._t0 + ts for ts, _ in self.schedule]
        tb, _ = self._base.arrays()
        t_end = float(tb[-1]) if tb.size else self._t0
        ends = starts[1:] + [t_end]
        segments = []
        for k, ((_, gait), a, b) in enumerate(zip(self.schedule, starts, ends)):
            mid = a + 0.5 * (b - a)
            speed, x0, x1, moved = self._segment_speed(a, b)
            half_speed = self._segment_speed(mid, b)[0]
            entry = {'gait': gait, 't_start': _round(a - self._t0, 3),
                     't_end': _round(b - self._t0, 3), 'x_start_m': x0, 'x_end_m': x1,
                     'displacement_m': moved, 'speed_mps': speed,
                     'speed_second_half_mps': half_speed}
            table = self._tables[self.nm.gait(gait).table]
            if gait == 'swim':
                keep = ta < b
                m = swimming_metrics(ta[keep], angles[keep],
                                     wavelengths=table.get('wavelengths_per_body', 1.0),
                                     t_start=mid) if keep.any() else {}
            else:
                keep = tc < b
                m = touchdown_metrics(tc[keep], forces[keep], np.asarray(table['offsets']),
                                      threshold=p['metrics.contact_threshold_n'],
                                      min_on=p['metrics.min_contact_s'], t_start=mid) \
                    if keep.any() else {}
            entry.update({key: m.get(key) for key in ('frequency_hz', 'phase_offsets',
                                                       'phase_error')})
            segments.append(entry)
        transitions = []
        for k in range(1, len(self.schedule)):
            gait = self.schedule[k][1]
            ts = None
            f = segments[k].get('frequency_hz')
            if gait == 'swim' and ta.size > 1:
                # the body wave's per-cycle lags (upward zero crossings of each joint, as
                # swimming_metrics) against the swim table k * wavelengths / n
                sel = (ta >= starts[k]) & (ta < ends[k])
                n = angles.shape[1]
                band = p['metrics.swim_crossing_hysteresis_rad']
                events = [P.threshold_crossings(angles[sel, j], ta[sel], threshold=0.0,
                                                hysteresis=band, min_amplitude=0.02)
                          for j in range(n)]
                w = self._tables[self.nm.gait(gait).table].get('wavelengths_per_body', 1.0)
                target = np.mod(np.arange(n) * w / n, 1.0)
                ts = transition_time(events, target, starts[k], ends[k], TRANSITION_TOLERANCE)
            elif gait != 'swim' and tc.size > 1:
                # stepping: the limbs' touchdowns over the whole record (as the quadruped's)
                # against the gait table; transition_time keeps the strides of this segment
                contact = forces > p['metrics.contact_threshold_n']
                min_on = p['metrics.min_contact_s']
                touch = [P.onsets(contact[:, j], tc, min_on=min_on, min_off=min_on)
                         for j in range(contact.shape[1])]
                target = np.asarray(self._tables[self.nm.gait(gait).table]['offsets'])
                ts = transition_time(touch, target, starts[k], ends[k], TRANSITION_TOLERANCE)
            transitions.append({'from': self.schedule[k - 1][1], 'to': gait,
                                't': _round(starts[k] - self._t0, 3),
                                'transition_s': None if ts is None else _round(ts, 3),
                                'cycles': None if ts is None or not f else _round(ts * f, 2),
                                'fell': None})
        return {'gait': ','.join(f'{ts:g}:{g}' for ts, g in self.schedule),
                'segments': segments, 'transitions': transitions}
