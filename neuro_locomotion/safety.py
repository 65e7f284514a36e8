"""The command safety layer between a controller and a body (simulated or real).

One :class:`CommandGuard` sits in front of every body: the simulator applies only what
:meth:`CommandGuard.current` returns, and a controller node passes each command through
:meth:`CommandGuard.offer` before publishing it. Pure Python + numpy; no rclpy, no clock: every
call takes the time ``now`` (sim time or wall time, seconds), so behaviour is deterministic.

Contract (details and rationale in docs/safety.md):

* **Refused** (the command is dropped, the last valid command stays in force, the refusal is
  counted per category and a reason string is returned): non-finite values (NaN, +inf, -inf),
  a length that does not match the joint count (short, long, empty), values that are not a 1-D
  array of numbers, an unknown or disallowed mode, and anything offered while the e-stop is
  latched.
* **Clamped** (accepted, then saturated): positions to ``[lower, upper]``, efforts to
  ``[-effort_limit, +effort_limit]``. Clamped commands and values are counted and the largest
  excess over a limit is reported.
* **Watchdog**: once more than ``command_timeout`` seconds pass without a valid command
  (``now - t_last > command_timeout``, strictly, with a 1 ns tolerance), the body is made
  safe: in position mode it holds the posture measured at the moment of engagement; in
  effort mode it gets zero torque (limp). A new valid command disengages it.
* **E-stop**: :meth:`estop` latches the same safe state and refuses every command until
  :meth:`resume`; a pre-stop command is never replayed after resume.
* **Mode switching**: the mode of the most recent valid command wins; a position command after
  effort commands switches the body to position control (and vice versa). Switches are counted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .types import COMMAND_MODES, EFFORT, POSITION

# Refusal categories (keys of ``diagnostics()['refused']``), in the order they are checked.
REFUSED_ESTOP = 'estop'
REFUSED_MODE = 'bad_mode'
REFUSED_MALFORMED = 'malformed'
REFUSED_LENGTH = 'wrong_length'
REFUSED_NON_FINITE = 'non_finite'
REFUSED_JOINT_NAMES = 'joint_names'   # used by adapters (e.g. a labelled layout with other joints)
REFUSAL_CATEGORIES = (REFUSED_ESTOP, REFUSED_MODE, REFUSED_MALFORMED, REFUSED_LENGTH,
                      REFUSED_NON_FINITE, REFUSED_JOINT_NAMES)

# Watchdog / output states reported by ``diagnostics()['state']``.
STATE_NO_COMMAND = 'no_command'       # nothing valid received yet: safe output
STATE_ACTIVE = 'active'               # the last valid command is applied
STATE_WATCHDOG = 'watchdog'           # timed out: holding posture / zero effort
STATE_ESTOP = 'estop'                 # latched e-stop
STATE_RESUMED = 'resumed'             # after resume(), safe output until a new valid command

# Time comparisons tolerate 1 ns (the resolution of ROS time), so that float sums such as
# 1.0 + 0.1 - 1.0 = 0.10000000000000009 do not engage a 0.1 s watchdog early.
TIME_TOLERANCE = 1e-9

# Diagnostic levels (same numbering as diagnostic_msgs/DiagnosticStatus).
LEVEL_OK, LEVEL_WARN, LEVEL_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Verdict:
    """What :meth:`CommandGuard.offer` decided about one command."""

    accepted: bool
    mode: str                           # the mode that was offered
    values: np.ndarray | None           # what the body will apply (clamped); None if refused
    reason: str = ''                    # '' if accepted (even if clamped), else why refused
    category: str | None = None         # refusal category (REFUSAL_CATEGORIES) or None
    clamped: int = 0                    # number of values that were clamped
    max_excess: float = 0.0             # largest |value - limit| over the clamped values
    max_excess_joint: str = ''          # joint with the largest excess

    def __bool__(self) -> bool:
        return self.accepted


def _as_limit_array(name: str, values, n: int) -> np.ndarray:
    arr = np.array(values, dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f'{name} has {arr.size} entries, expected {n} (one per joint)')
    if np.isnan(arr).any():
        raise ValueError(f'{name} contains NaN')
    arr.setflags(write=False)
    return arr


class CommandGuard:
    """Checks, clamps and times out joint commands for one body. See the module docstring.

    Parameters
    ----------
    joint_names: actuated joints, in URDF ``<ros2_control>`` order.
    lower, upper: position limits (rad or m); ``-inf``/``inf`` allowed for continuous joints.
    effort_limit: effort limits (N·m or N), >= 0; efforts are clamped to ``±effort_limit``.
    command_timeout: seconds without a valid command before the watchdog engages (> 0;
        ``math.inf`` disables the watchdog).
    hold_posture: the posture held before any posture is measured (default: 0 clamped to the
        limits). Clamped to the limits; must be finite.
    initial_mode: the mode of the safe output before the first valid command.
    allowed_modes: modes this body accepts (default both).
    """

    def __init__(self, joint_names: Sequence[str], lower, upper, effort_limit,
                 command_timeout: float, hold_posture=None, *,
                 initial_mode: str = POSITION, allowed_modes: Iterable[str] = COMMAND_MODES):
        self.joint_names = tuple(str(n) for n in joint_names)
        n = len(self.joint_names)
        if n == 0:
            raise ValueError('a CommandGuard needs at least one joint')
        self.lower = _as_limit_array('lower', lower, n)
        self.upper = _as_limit_array('upper', upper, n)
        self.effort_limit = _as_limit_array('effort_limit', effort_limit, n)
        bad = np.flatnonzero(self.lower > self.upper)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f'lower > upper for joint {self.joint_names[i]} '
                             f'({self.lower[i]} > {self.upper[i]})')
        if (self.effort_limit < 0).any():
            raise ValueError('effort_limit must be >= 0')
        command_timeout = float(command_timeout)
        if not command_timeout > 0:          # also refuses NaN
            raise ValueError(f'command_timeout must be > 0 s, got {command_timeout}')
        self.command_timeout = command_timeout
        self.allowed_modes = tuple(allowed_modes)
        for m in self.allowed_modes:
            if m not in COMMAND_MODES:
                raise ValueError(f'unknown mode {m!r} in allowed_modes')
        if initial_mode not in self.allowed_modes:
            raise ValueError(f'initial_mode {initial_mode!r} is not an allowed mode')
        self._initial_mode = initial_mode
        if hold_posture is None:
            default = np.clip(np.zeros(n), self.lower, self.upper)
        else:
            default = np.array(hold_posture, dtype=float).reshape(-1)
            if default.shape != (n,) or not np.isfinite(default).all():
                raise ValueError(f'hold_posture must be {n} finite values')
            default = np.clip(default, self.lower, self.upper)
        if not np.isfinite(default).all():
            raise ValueError('hold_posture must be finite (a joint has no finite limit and no '
                             'posture was given)')
        self._default_posture = default
        self._zeros = np.zeros(n)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self, posture=None) -> None:
        """Forget every command and counter (e.g. after the simulation is reset).

        ``posture`` (optional, the body's posture after the reset) becomes the measured posture
        and the posture held until the first valid command.
        """
        self._last_mode: str | None = None
        self._last_values: np.ndarray | None = None
        self._last_time: float | None = None
        self._mode = self._initial_mode          # mode of the current output
        self._measured: np.ndarray | None = None
        self._hold = self._default_posture.copy()
        self._state = STATE_NO_COMMAND
        self._estop = False
        self._estop_reason = ''
        self._accepted = 0
        self._refused = {c: 0 for c in REFUSAL_CATEGORIES}
        self._last_refusal = ''
        self._clamped_commands = 0
        self._clamped_values = 0
        self._max_excess = 0.0
        self._max_excess_joint = ''
        self._watchdog_engagements = 0
        self._watchdog_engaged_at: float | None = None
        self._mode_switches = 0
        self._rejected_postures = 0
        self._clock_jumps = 0
        if posture is not None and self.update_posture(posture):
            self._hold = self._measured.copy()

    @property
    def n(self) -> int:
        return len(self.joint_names)

    @property
    def estopped(self) -> bool:
        return self._estop

    @property
    def state(self) -> str:
        """STATE_* constant as of the last call (watchdog is evaluated in current())."""
        return self._state

    @property
    def last_command(self) -> tuple[str, np.ndarray, float] | None:
        """(mode, clamped values, time) of the last valid command, or None."""
        if self._last_values is None:
            return None
        return self._last_mode, self._last_values.copy(), self._last_time

    # ------------------------------------------------------------------ input
    def update_posture(self, posture) -> bool:
        """Record the measured joint positions (held if the watchdog or e-stop engages).

        A posture with the wrong length or a non-finite value is ignored (counted in
        ``rejected_postures``) and the previous one is kept. Returns whether it was taken.
        """
        try:
            p = np.array(posture, dtype=float).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            self._rejected_postures += 1
            return False
        if p.shape != (self.n,) or not np.isfinite(p).all():
            self._rejected_postures += 1
            return False
        self._measured = np.clip(p, self.lower, self.upper)
        return True

    def refuse(self, category: str, reason: str, mode: str = '') -> Verdict:
        """Count a refusal decided outside the guard (e.g. by a message adapter)."""
        if category not in self._refused:
            raise ValueError(f'unknown refusal category {category!r}')
        self._refused[category] += 1
        self._last_refusal = reason
        return Verdict(False, str(mode), None, reason, category)

    def offer(self, mode: str, values, now: float) -> Verdict:
        """Check one command received at time ``now``; keep it if valid. Never raises on data."""
        now = _check_time(now)
        m = mode if isinstance(mode, str) else repr(mode)
        if self._estop:
            return self.refuse(REFUSED_ESTOP, 'e-stop latched'
                               + (f' ({self._estop_reason})' if self._estop_reason else '')
                               + '; call resume() first', m)
        if mode not in self.allowed_modes:
            return self.refuse(REFUSED_MODE, f'command mode {mode!r} is not one of '
                               f'{list(self.allowed_modes)}', m)
        try:
            v = np.array(values, dtype=float)
        except (TypeError, ValueError, OverflowError) as exc:
            return self.refuse(REFUSED_MALFORMED, f'command values are not numbers ({exc})', m)
        if v.ndim != 1:
            if v.ndim == 0:
                return self.refuse(REFUSED_MALFORMED, 'command values are a scalar, '
                                   'expected a 1-D array', m)
            return self.refuse(REFUSED_MALFORMED, f'command values have shape {v.shape}, '
                               'expected a 1-D array', m)
        if v.size != self.n:
            return self.refuse(REFUSED_LENGTH, f'command size {v.size} does not match '
                               f'{self.n} joints', m)
        finite = np.isfinite(v)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            i = int(bad[0])
            reason = f'non-finite value at index {i} ({self.joint_names[i]}): {v[i]}'
            if bad.size > 1:
                reason += f' and {bad.size - 1} more'
            return self.refuse(REFUSED_NON_FINITE, reason, m)

        if mode == POSITION:
            lo, hi = self.lower, self.upper
        else:
            lo, hi = -self.effort_limit, self.effort_limit
        excess = np.maximum(v - hi, lo - v)         # > 0 where outside the limits
        clamped_mask = excess > 0
        n_clamped = int(clamped_mask.sum())
        max_excess, max_joint = 0.0, ''
        if n_clamped:
            v = np.clip(v, lo, hi)
            j = int(np.argmax(excess))
            max_excess, max_joint = float(excess[j]), self.joint_names[j]
            self._clamped_commands += 1
            self._clamped_values += n_clamped
            if max_excess > self._max_excess:
                self._max_excess, self._max_excess_joint = max_excess, max_joint
        v.setflags(write=False)

        if self._last_mode is not None and mode != self._last_mode:
            self._mode_switches += 1
        self._last_mode, self._last_values, self._last_time = mode, v, now
        self._mode = mode
        self._state = STATE_ACTIVE
        self._watchdog_engaged_at = None
        self._accepted += 1
        return Verdict(True, mode, v.copy(), '', None, n_clamped, max_excess, max_joint)

    def offer_command(self, command, now: float) -> Verdict:
        """:meth:`offer` for a ``neuro_locomotion.types.Command``-like object."""
        return self.offer(getattr(command, 'mode', None), getattr(command, 'values', None), now)

    # ------------------------------------------------------------------ output
    def current(self, now: float, posture=None) -> tuple[str, np.ndarray]:
        """(mode, values) the body should apply at ``now``; always finite and within limits.

        ``posture`` (optional) is the measured joint position at ``now``; it is recorded first,
        so an engagement at this call holds exactly this posture.
        """
        now = _check_time(now)
        if posture is not None:
            self.update_posture(posture)
        if self._state == STATE_ACTIVE:
            if now < self._last_time:
                # The clock went backwards (sim reset, bag loop): restart the timeout from here
                # rather than waiting for the clock to catch up with the old time.
                self._clock_jumps += 1
                self._last_time = now
            if now - self._last_time > self.command_timeout + TIME_TOLERANCE:
                self._engage(STATE_WATCHDOG, now)
                self._watchdog_engagements += 1
        if self._state == STATE_ACTIVE:
            return self._mode, self._last_values.copy()
        return self._safe_output()

    def _engage(self, state: str, now: float | None) -> None:
        """Enter a safe state; latch the posture to hold (position mode)."""
        if self._measured is not None:
            self._hold = self._measured.copy()
        elif self._last_mode == POSITION and self._last_values is not None:
            self._hold = np.array(self._last_values)
        # else: keep the previous hold (the constructor's hold_posture at first)
        self._state = state
        self._watchdog_engaged_at = now

    def _safe_output(self) -> tuple[str, np.ndarray]:
        if self._mode == EFFORT:
            return EFFORT, self._zeros.copy()
        return POSITION, self._hold.copy()

    # ------------------------------------------------------------------ e-stop
    def estop(self, now: float | None = None, reason: str = '') -> None:
        """Latch the safe state (hold posture / zero effort) and refuse commands until resume.

        ``now`` (optional) is only recorded as ``watchdog_engaged_at`` in the diagnostics.
        """
        now = None if now is None else _check_time(now)
        if self._estop:
            return
        if self._state in (STATE_ACTIVE, STATE_NO_COMMAND, STATE_RESUMED):
            self._engage(STATE_ESTOP, now)
        else:
            self._state = STATE_ESTOP          # already holding: keep the same posture
        self._estop = True
        self._estop_reason = str(reason)

    def resume(self, now: float | None = None) -> None:
        """Release the e-stop. The output stays safe until a new valid command arrives."""
        if now is not None:
            _check_time(now)
        if not self._estop:
            return
        self._estop = False
        self._estop_reason = ''
        self._last_values = None     # never replay a pre-stop command
        self._last_time = None
        self._state = STATE_RESUMED

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self, now: float | None = None) -> dict:
        """Counters and state, JSON-serializable (no NaN/inf), for a diagnostics topic.

        With ``now``, also ``command_age`` (s since the last valid command, or None).
        """
        if self._estop:
            level = LEVEL_ERROR
        elif self._state in (STATE_WATCHDOG, STATE_NO_COMMAND, STATE_RESUMED):
            level = LEVEL_WARN
        else:
            level = LEVEL_OK
        d = {
            'level': level,
            'state': self._state,
            'mode': self._mode,
            'accepted': self._accepted,
            'refused': dict(self._refused),
            'refused_total': sum(self._refused.values()),
            'last_refusal_reason': self._last_refusal,
            'clamped_commands': self._clamped_commands,
            'clamped_values': self._clamped_values,
            'max_excess': self._max_excess,
            'max_excess_joint': self._max_excess_joint,
            'watchdog_engaged': self._state == STATE_WATCHDOG,
            'watchdog_engagements': self._watchdog_engagements,
            'watchdog_engaged_at': self._watchdog_engaged_at,
            'command_timeout': self.command_timeout if math.isfinite(self.command_timeout)
            else None,
            'estop': self._estop,
            'estop_reason': self._estop_reason,
            'mode_switches': self._mode_switches,
            'last_command_time': self._last_time,
            'rejected_postures': self._rejected_postures,
            'clock_jumps': self._clock_jumps,
        }
        if now is not None:
            d['command_age'] = (None if self._last_time is None
                                else float(now) - self._last_time)
        return d


def _check_time(now) -> float:
    now = float(now)
    if not math.isfinite(now):
        raise ValueError(f'time must be finite, got {now}')
    return now


@dataclass
class LogThrottle:
    """At most one message per key per ``period`` seconds; counts what it suppressed.

    Pure: the caller passes the time. Typical use with a guard::

        v = guard.offer(mode, values, now)
        if not v.accepted and (msg := throttle.message(v.category, now, v.reason)):
            logger.warning(msg)
    """

    period: float = 1.0
    _last: dict = field(default_factory=dict)
    _suppressed: dict = field(default_factory=dict)

    def allow(self, key, now: float) -> tuple[bool, int]:
        """(may log now, number of messages suppressed for this key since the last one)."""
        now = float(now)
        last = self._last.get(key)
        if last is None or now - last >= self.period or now < last:
            self._last[key] = now
            return True, self._suppressed.pop(key, 0)
        self._suppressed[key] = self._suppressed.get(key, 0) + 1
        return False, 0

    def message(self, key, now: float, text: str) -> str | None:
        """``text`` (with a '(N similar suppressed)' suffix when relevant), or None if throttled."""
        ok, suppressed = self.allow(key, now)
        if not ok:
            return None
        if suppressed:
            return f'{text} ({suppressed} similar suppressed)'
        return text
