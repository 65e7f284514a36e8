"""Objectives for ``neuroloco optimize``: a run's result -> one number, **lower is better**.

Every objective is computed from what :func:`neuro_locomotion.runner.run` returns (the 100 Hz
trace and the metrics), so re-running a saved parameter set through the runner gives the same
number bit for bit. Objectives (see docs/optimize.md for the formulas):

- ``gait``: SCONE's ``MeasureGait10`` recipe: 100 x GaitMeasure (speed at least ``min_velocity``
  over the whole duration; termination when the base drops below ``termination_height`` x its
  start height; the time not survived counts as zero speed) + 0.1 x cost of transport (when the
  controller reports ``cost_of_transport``) + a penalty on the peak ground reaction force above
  1.4 body weights (when it reports ``grf_peak_bw``).
- ``distance``: any robot, any controller: forward distance per second of the requested duration,
  and the fraction of the duration not survived.
- ``stand``: hold the base at a target height (after ``settle_s``) with little effort
  (``effort_rms_nm`` when the controller reports it); known optimum: the base settles at the
  target, and what remains is the effort term.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .params import ConfigError

# Ranges of the gait objective's opt-in robustness options (see GaitObjective.options)
ROBUST_TRIALS_MAX = 16          # perturbed runs per candidate
ROBUST_FRACTION_MAX = 0.1       # relative perturbation of every tuned number (0.02: the issue's)
# Range of the gait objective's opt-in hip-fall term's free speed (see GaitObjective.options)
HIP_FALL_LIMIT_MAX = 2.0        # m/s
HUMP_DEPTH_MAX = 1.0            # BW
HUMP_MISSING_RISE_BW = -1.0     # BW: the push-off rise a run without a completed stance counts

# Per-robot defaults of the objective options (SI units).
ROBOT_DEFAULTS = {
    'gait': {
        'human': {'min_velocity': 1.0},          # MeasureGait10
        'quadruped': {'min_velocity': 0.3},
        'salamander': {'min_velocity': 0.1},
    },
    'stand': {
        'quadruped': {'target_height': 0.25},
    },
}


@dataclass(frozen=True)
class Score:
    value: float                   # the objective (lower is better)
    terms: dict = field(default_factory=dict)   # its parts and the quantities they came from


def _excess_term(terms: dict, key: str, excess_key: str, measured, limit: float,
                 weight: float) -> float:
    """A penalty ``weight x max(0, measured - limit)``: records ``measured`` in ``terms`` under
    ``key`` and, when it was measured (not None), the excess under ``excess_key``; 0 when not."""
    terms[key] = measured
    if measured is None:
        return 0.0
    excess = max(0.0, measured - limit)
    terms[excess_key] = excess
    return weight * excess


def _finite(metrics: dict, key: str) -> float | None:
    value = metrics.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def base_track(result) -> tuple[np.ndarray, np.ndarray]:
    """Times (s, from 0) and base positions (n, 3) of a run: the 100 Hz trace plus the end state."""
    trace = result.trace
    t = np.asarray(trace.time, dtype=float)
    p = np.asarray(trace.base_position, dtype=float).reshape(-1, 3)
    if t.size == 0:
        raise ConfigError('the run recorded no trace')
    m = result.metrics
    end_t = float(m['sim_time_s'])
    if end_t > t[-1]:
        end = p[0].copy()
        end[0] += m['forward_m']
        end[1] += m['lateral_m']
        end[2] = m['base_height_m']
        t = np.append(t, end_t)
        p = np.vstack([p, end])
    return t - t[0], p


def survival(result, duration: float, termination_height: float) -> tuple[float, int]:
    """End of the run as SCONE's termination sees it: the first sample whose base height is below
    ``termination_height`` x the start height, else the runner's end (a fall or the duration).

    Returns (t_end in s, index of the last sample that counts)."""
    t, p = base_track(result)
    limit = termination_height * p[0, 2]
    below = np.flatnonzero(p[:, 2] < limit)
    last = int(below[0]) if below.size else len(t) - 1
    return min(float(t[last]), duration), last


class Objective:
    name = ''
    description = ''
    options: dict = {}

    def __init__(self, robot: str, **options):
        defaults = dict(type(self).options)
        defaults.update(ROBOT_DEFAULTS.get(self.name, {}).get(robot, {}))
        unknown = set(options) - set(defaults)
        if unknown:
            raise ConfigError(f'objective {self.name}: unknown options {sorted(unknown)}; '
                              f'choose from {sorted(defaults)}')
        defaults.update(options)
        for key, value in defaults.items():
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ConfigError(f'objective {self.name}: option {key} must be a finite number, '
                                  f'got {value!r}')
        self.robot = robot
        self.settings = defaults

    def __call__(self, result, duration: float) -> Score:
        raise NotImplementedError


class GaitObjective(Objective):
    """SCONE MeasureGait10: GaitMeasure (x100) + 0.1 x cost of transport + GRF limit penalty."""

    name = 'gait'
    description = ('100 x SCONE GaitMeasure (min_velocity, termination_height) + 0.1 x '
                   'cost_of_transport + 10 x max(0, grf_peak_bw - 1.4) [+ grf_median_weight x '
                   'max(0, grf_peak_median_bw - 1.4)] [+ hip_excursion_weight x max(0, '
                   'hip excursion - hip_excursion_limit_m)] [+ support_deficit_weight x '
                   'support_deficit_bw] [+ hip_fall_weight x max(0, touchdown_hip_fall_mps - '
                   'hip_fall_limit_mps)] [+ hump_weight x max(0, hump_depth_bw - '
                   'grf_push_off_rise_bw)]')
    options = {'min_velocity': 1.0, 'termination_height': 0.85, 'window_s': 0.5,
               'gait_weight': 100.0, 'cot_weight': 0.1, 'grf_limit_bw': 1.4, 'grf_weight': 10.0,
               'grf_median_weight': 0.0,
               # opt-in (weight 0: every saved objective unchanged): the base's vertical range
               'hip_excursion_weight': 0.0,      # 1/m
               'hip_excursion_limit_m': 0.05,    # m (human pelvis: about 4-5 cm at 1.2-1.4 m/s)
               'hip_excursion_window_s': 1.0,    # s (about one stride)
               'hip_excursion_skip_s': 2.0,      # s (the start transient is not counted)
               # opt-in (0 trials: every saved objective unchanged): robustness, applied by
               # neuroloco optimize's evaluation (optimize.score_candidate), not by __call__:
               # the candidate is also run robust_trials times with every number of it (the
               # tuned ones and those carried from --start, e.g. startup.*) multiplied by
               # U(1 - robust_fraction, 1 + robust_fraction) (seeded by the
               # evaluation seed), and its objective is the mean over the 1 + robust_trials runs
               'robust_trials': 0,               # 1 (integer, 0..ROBUST_TRIALS_MAX)
               'robust_fraction': 0.02,          # 1 (0 < f <= ROBUST_FRACTION_MAX)
               # opt-in (weight 0: every saved objective unchanged): support across the
               # step-to-step transition, from the controller's metrics (the reflex walker's
               # support_deficit_bw, touchdown_hip_fall_mps; docs/walking.md, 2026-12-07)
               'support_deficit_weight': 0.0,    # 1/BW; a run without the metric counts as 1 BW
               'hip_fall_weight': 0.0,           # s/m
               'hip_fall_limit_mps': 0.3,        # m/s, 0..HIP_FALL_LIMIT_MAX (free fall speed)
               # opt-in (weight 0: every saved objective unchanged): the double hump of the
               # vertical GRF, the walker's grf_push_off_rise_bw (median over stances of the
               # mean load at 65-85 % of the stance minus at 40-55 %; walking: about +0.3 BW)
               # should reach hump_depth_bw
               'hump_weight': 0.0,               # 1/BW; a run without the metric counts -1 BW
               'hump_depth_bw': 0.1}             # BW, 0..HUMP_DEPTH_MAX

    def __init__(self, robot: str, **options):
        super().__init__(robot, **options)
        s = self.settings      # refused here, before an optimizer spends a single evaluation
        if not (s['min_velocity'] > 0 and s['window_s'] > 0):
            raise ConfigError('objective gait: min_velocity and window_s must be positive')
        if not (s['hip_excursion_window_s'] > 0 and s['hip_excursion_skip_s'] >= 0):
            raise ConfigError('objective gait: hip_excursion_window_s must be positive and '
                              'hip_excursion_skip_s not negative')
        negative = sorted(k for k in s if k.endswith('_weight') and s[k] < 0)
        if negative:
            raise ConfigError(f'objective gait: weights must not be negative: {negative}')
        trials = s['robust_trials']
        if isinstance(trials, bool) or trials != int(trials) or \
                not 0 <= trials <= ROBUST_TRIALS_MAX:
            raise ConfigError(f'objective gait: robust_trials must be a whole number in '
                              f'[0, {ROBUST_TRIALS_MAX}] (perturbed runs per candidate), got '
                              f'{trials!r}')
        s['robust_trials'] = int(trials)
        if not 0.0 < s['robust_fraction'] <= ROBUST_FRACTION_MAX:
            raise ConfigError(f'objective gait: robust_fraction must be in (0, '
                              f'{ROBUST_FRACTION_MAX}] (the relative perturbation), got '
                              f'{s["robust_fraction"]!r}')
        if not 0.0 <= s['hump_depth_bw'] <= HUMP_DEPTH_MAX:
            raise ConfigError(f'objective gait: hump_depth_bw must be in [0, {HUMP_DEPTH_MAX}] '
                              f'BW (the wanted grf_push_off_rise_bw: late- minus mid-stance load), got '
                              f'{s["hump_depth_bw"]!r}')
        if not 0.0 <= s['hip_fall_limit_mps'] <= HIP_FALL_LIMIT_MAX:
            raise ConfigError(f'objective gait: hip_fall_limit_mps must be in [0, '
                              f'{HIP_FALL_LIMIT_MAX}] m/s (the downward hip speed at touchdown '
                              f'that is free), got {s["hip_fall_limit_mps"]!r}')

    def hip_excursion(self, result, duration: float) -> float | None:
        """Median over consecutive ``hip_excursion_window_s`` windows, from
        ``hip_excursion_skip_s`` to the termination, of the base's vertical range (max - min, m);
        None when not one whole window was survived. For the planar human the base is the hip."""
        s = self.settings
        window, skip = s['hip_excursion_window_s'], s['hip_excursion_skip_s']
        t, p = base_track(result)
        t_end, last = survival(result, duration, s['termination_height'])
        t, z = t[:last + 1], p[:last + 1, 2]
        ranges = []
        start = skip
        while start + window <= t_end + 1e-9:
            sel = (t >= start) & (t <= start + window)
            if np.count_nonzero(sel) >= 2:
                ranges.append(float(np.ptp(z[sel])))
            start += window
        return float(np.median(ranges)) if ranges else None

    def gait_measure(self, result, duration: float) -> tuple[float, dict]:
        """SCONE's GaitMeasure on fixed windows of ``window_s`` instead of detected steps:
        1 - sum(dt_i n_i) / (sum dt_i + time not survived), n_i = clamp(1 - max(0, v_min - v_i)
        / v_min, -1, 1), v_i the forward base speed in window i. 0: at least v_min throughout;
        1: fell at once (or stood still); up to 2 walking backwards."""
        s = self.settings
        v_min, window = s['min_velocity'], s['window_s']
        t, p = base_track(result)
        t_end, last = survival(result, duration, s['termination_height'])
        edges = np.arange(0.0, t_end, window)
        edges = np.append(edges, t_end) if edges.size == 0 or edges[-1] < t_end else edges
        x = np.interp(edges, t[:last + 1], p[:last + 1, 0])
        dt = np.diff(edges)
        v = np.diff(x) / np.where(dt > 0, dt, 1.0)
        norm = np.clip(1.0 - np.maximum(0.0, v_min - v) / v_min, -1.0, 1.0)
        done = float(np.sum(dt * norm))
        counted = float(np.sum(dt)) + max(duration - t_end, 0.0)
        measure = 1.0 - done / counted if counted > 0 else 1.0
        return measure, {'survived_s': t_end, 'forward_m': float(x[-1] - x[0]),
                         'speed_mps': float((x[-1] - x[0]) / t_end) if t_end > 0 else 0.0}

    def __call__(self, result, duration: float) -> Score:
        s = self.settings
        measure, info = self.gait_measure(result, duration)
        value = s['gait_weight'] * measure
        terms = {'gait_measure': measure, **info}
        cot = _finite(result.metrics, 'cost_of_transport')
        terms['cost_of_transport'] = cot
        if cot is not None:
            value += s['cot_weight'] * cot
        value += _excess_term(terms, 'grf_peak_bw', 'grf_excess_bw',
                              _finite(result.metrics, 'grf_peak_bw'), s['grf_limit_bw'],
                              s['grf_weight'])
        if s['grf_median_weight'] > 0.0:
            # the median stance peak moves with the whole gait, so it guides a search better
            # than the maximum, which one stance (e.g. the start transient) decides
            value += _excess_term(terms, 'grf_peak_median_bw', 'grf_median_excess_bw',
                                  _finite(result.metrics, 'grf_peak_median_bw'),
                                  s['grf_limit_bw'], s['grf_median_weight'])
        if s['hip_excursion_weight'] > 0.0:
            # the vertical range of the hip: the diagnosis of the 2.2 BW peak is a vault of the
            # stance leg (11 cm) and the fall into the next collision (docs/walking.md)
            value += _excess_term(terms, 'hip_excursion_m', 'hip_excursion_excess_m',
                                  self.hip_excursion(result, duration),
                                  s['hip_excursion_limit_m'], s['hip_excursion_weight'])
        if s['support_deficit_weight'] > 0.0:
            # how far both legs together fall short of body weight around touchdown: the leading
            # leg alone then reverses the fall (the loading peak follows it); a candidate that
            # never completes a transition window counts as the worst (no support: 1 BW), so
            # the term does not reward falling early (the trap of the GRF term)
            deficit = _finite(result.metrics, 'support_deficit_bw')
            terms['support_deficit_bw'] = deficit
            value += s['support_deficit_weight'] * (1.0 if deficit is None else deficit)
        if s['hip_fall_weight'] > 0.0:
            value += _excess_term(terms, 'touchdown_hip_fall_mps', 'hip_fall_excess_mps',
                                  _finite(result.metrics, 'touchdown_hip_fall_mps'),
                                  s['hip_fall_limit_mps'], s['hip_fall_weight'])
        if s['hump_weight'] > 0.0:
            # continuous (a load falling from the loading peak to the lift-off gives a negative
            # rise, the steeper the worse), so it guides a search before any hump appears; the
            # missing metric (no completed stance) counts as a steep fall (-1 BW), so the term
            # does not reward falling early
            rise = _finite(result.metrics, 'grf_push_off_rise_bw')
            rise = HUMP_MISSING_RISE_BW if rise is None else rise
            terms['grf_hump_rise_bw'] = rise
            terms['grf_hump_shortfall_bw'] = max(0.0, s['hump_depth_bw'] - rise)
            value += s['hump_weight'] * terms['grf_hump_shortfall_bw']
        return Score(float(value), terms)


class DistanceObjective(Objective):
    """-(forward distance until termination) / duration + (1 - survived / duration)."""

    name = 'distance'
    description = '-forward_m(t_end) / duration + (1 - t_end / duration)'
    options = {'termination_height': 0.5}

    def __call__(self, result, duration: float) -> Score:
        t, p = base_track(result)
        t_end, last = survival(result, duration, self.settings['termination_height'])
        forward = float(p[last, 0] - p[0, 0])
        value = -forward / duration + (1.0 - t_end / duration)
        return Score(float(value), {'forward_m': forward, 'survived_s': t_end})


class StandObjective(Objective):
    """100 x RMS base-height error (m) after ``settle_s`` + effort_weight x effort_rms_nm
    + 100 x fraction not survived. Known optimum: the base settles at ``target_height`` (the error
    term vanishes); what remains is the effort term."""

    name = 'stand'
    description = ('100 x rms(z - target_height) [m, t >= settle_s] + effort_weight x '
                   'effort_rms_nm + 100 x (1 - t_end / duration)')
    options = {'target_height': None, 'settle_s': 0.5, 'effort_weight': 0.1,
               'termination_height': 0.5}

    def __call__(self, result, duration: float) -> Score:
        s = self.settings
        t, p = base_track(result)
        t_end, last = survival(result, duration, s['termination_height'])
        target = p[0, 2] if s['target_height'] is None else s['target_height']
        # samples after settling (at least the last one that counts)
        first = min(int(np.searchsorted(t, s['settle_s'])), last)
        error = p[first:last + 1, 2] - target
        rms = float(np.sqrt(np.mean(error * error)))
        value = 100.0 * rms + 100.0 * (1.0 - t_end / duration)
        effort = _finite(result.metrics, 'effort_rms_nm')
        if effort is not None:
            value += s['effort_weight'] * effort
        return Score(float(value), {'height_rms_error_m': rms, 'final_height_m': float(p[last, 2]),
                                    'effort_rms_nm': effort, 'survived_s': t_end})


OBJECTIVES = {cls.name: cls for cls in (GaitObjective, DistanceObjective, StandObjective)}


def objective_names() -> list[str]:
    return sorted(OBJECTIVES)


def make_objective(name: str, robot: str, **options) -> Objective:
    cls = OBJECTIVES.get(name)
    if cls is None:
        raise ConfigError(f'unknown objective {name!r}; choose one of {objective_names()}')
    return cls(robot, **options)
