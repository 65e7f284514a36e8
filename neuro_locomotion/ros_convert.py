"""Conversions between the project's types and standard ROS 2 messages (no nodes created here).

Message choices (standard packages only, so nothing needs a rosidl build; see docs/safety.md):

============================  ==============================  ==================================
what                          message                         layout
============================  ==============================  ==================================
joint state                   sensor_msgs/JointState          ``name`` filled for every value
                                                              (PlotJuggler indexes ``name[i]``);
                                                              stamp = observation time
IMU                           sensor_msgs/Imu                 orientation = base orientation
                                                              (world), angular velocity and
                                                              linear acceleration in the body
                                                              frame; covariances all zero
                                                              ("unknown")
foot contacts                 std_msgs/Float64MultiArray      normal force per foot in N;
                                                              ``layout.dim[0].label`` = the foot
                                                              names joined by ',' (``size`` =
                                                              ``stride`` = number of feet)
commands (in and out)         std_msgs/Float64MultiArray      values in actuated-joint order
                                                              (ros2_control forward command
                                                              controllers); an optional
                                                              ``dim[0].label`` with ',' names the
                                                              joints and is checked on input
controller state              std_msgs/Float64MultiArray      same labelled 1-D layout
neuromodulator targets        std_msgs/Float64MultiArray      same labelled 1-D layout: one
                                                              value per named modulator
clock                         rosgraph_msgs/Clock
diagnostics                   std_msgs/String                 JSON object on ``~/diagnostics``;
                                                              numeric fields also as a labelled
                                                              Float64MultiArray; the standard
                                                              diagnostic_msgs/DiagnosticArray on
                                                              ``/diagnostics``: ros_diagnostics.py
============================  ==============================  ==================================

Time: ``float`` seconds <-> ``builtin_interfaces/Time`` via integer nanoseconds (rounded), so
``stamp_to_seconds(to_stamp(t))`` is within 0.5 ns of ``t``.
"""
from __future__ import annotations

import json
import math
from typing import Iterable, Sequence

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension, String

from .safety import REFUSED_JOINT_NAMES, REFUSED_MALFORMED, CommandGuard, Verdict
from .types import Observation

LABEL_SEPARATOR = ','
NS_PER_S = 1_000_000_000


# ---------------------------------------------------------------------------- time
def seconds_to_ns(t: float) -> int:
    """Seconds (float) to integer nanoseconds, rounded; raises ValueError if not finite."""
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f'time must be finite, got {t}')
    return int(round(t * NS_PER_S))


def to_stamp(t: float) -> Time:
    """``builtin_interfaces/Time`` for ``t`` seconds (nanosec always in [0, 1e9))."""
    sec, nanosec = divmod(seconds_to_ns(t), NS_PER_S)
    return Time(sec=sec, nanosec=nanosec)


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def stamp_to_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def clock(t: float) -> Clock:
    """``rosgraph_msgs/Clock`` at ``t`` seconds (sim time)."""
    return Clock(clock=to_stamp(t))


# ---------------------------------------------------------------------------- arrays
def _f64(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64).reshape(-1)


def labelled_array(values, labels: Sequence[str] | None = None, label: str = '',
                   out: Float64MultiArray | None = None) -> Float64MultiArray:
    """A 1-D ``Float64MultiArray``. ``labels`` (one per value) go in ``dim[0].label`` joined by ','.

    Without ``labels``, ``dim[0].label`` is ``label`` (may be empty). ``size`` = ``stride`` =
    number of values, ``data_offset`` = 0. ``out``: a message made by this function for the
    same labels, refilled in place (only ``data`` and the sizes change; for recording loops).
    """
    data = _f64(values)
    if out is not None:
        dim = out.layout.dim[0]
        if dim.size != data.size:
            dim.size = dim.stride = data.size
        out.data = data
        return out
    if labels is not None:
        labels = [str(s) for s in labels]
        if len(labels) != data.size:
            raise ValueError(f'{len(labels)} labels for {data.size} values')
        for s in labels:
            if LABEL_SEPARATOR in s:
                raise ValueError(f'label {s!r} contains {LABEL_SEPARATOR!r}')
        label = LABEL_SEPARATOR.join(labels)
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=label, size=data.size, stride=data.size)]
    msg.data = data
    return msg


def array_labels(msg: Float64MultiArray) -> list[str] | None:
    """The per-value labels of a labelled 1-D array, or None if the layout does not name them.

    Labelled means one dimension whose label, split at ',', gives one name per value.
    """
    dims = msg.layout.dim
    if len(dims) != 1 or not dims[0].label:
        return None
    names = dims[0].label.split(LABEL_SEPARATOR)
    return names if len(names) == len(msg.data) else None


def array_values(msg: Float64MultiArray) -> np.ndarray:
    """The data of a ``Float64MultiArray`` as a float64 numpy array (a copy)."""
    return np.array(msg.data, dtype=np.float64)


# ---------------------------------------------------------------------------- neuromodulators
def modulators_msg(levels: dict) -> Float64MultiArray:
    """Modulator concentrations or targets by name (``{name: value}``) as a labelled array:
    the layout of ``/cpg/neuromodulators`` (one dimension, ``label`` = the names joined by ',')."""
    return labelled_array(list(levels.values()), list(levels.keys()))


def modulator_levels(msg: Float64MultiArray) -> dict:
    """``{name: value}`` of a ``/cpg/neuromodulators`` message; ValueError (a one-line reason)
    for a malformed layout: not one dimension, unnamed values, a count that does not match,
    empty or repeated names, a non-zero ``data_offset``. Values are not judged here (NaN and
    out-of-[0, 1] are the controller's to refuse)."""
    dims = msg.layout.dim
    if len(dims) != 1:
        raise ValueError(f'malformed layout: {len(dims)} dimensions (one labelled dimension '
                         'expected, label = the modulator names joined by ",")')
    if msg.layout.data_offset:
        raise ValueError(f'malformed layout: data_offset {msg.layout.data_offset} (0 expected)')
    if not dims[0].label:
        raise ValueError('malformed layout: the dimension has no label (the modulator names '
                         'joined by ",")')
    names = dims[0].label.split(LABEL_SEPARATOR)
    if len(names) != len(msg.data):
        raise ValueError(f'malformed layout: {len(names)} names for {len(msg.data)} values')
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f'malformed layout: empty or repeated names in {dims[0].label!r}')
    return {n: float(v) for n, v in zip(names, msg.data)}


# ---------------------------------------------------------------------------- observation
def joint_state(obs: Observation, stamp: float | None = None, frame_id: str = '',
                out: JointState | None = None) -> JointState:
    """``sensor_msgs/JointState``: every actuated joint named, position, velocity and effort.

    ``out``: a JointState made by this function for the same joints, refilled in place.
    """
    n = len(obs.joint_names)
    position, velocity, effort = _f64(obs.position), _f64(obs.velocity), _f64(obs.effort)
    if not (position.size == velocity.size == effort.size == n):
        raise ValueError(f'observation has {n} joint names but {position.size} positions, '
                         f'{velocity.size} velocities, {effort.size} efforts')
    msg = out if out is not None else JointState()
    msg.header.stamp = to_stamp(obs.time if stamp is None else stamp)
    if out is None or len(msg.name) != n:
        msg.header.frame_id = frame_id
        msg.name = list(obs.joint_names)
    msg.position = position
    msg.velocity = velocity
    msg.effort = effort
    return msg


def imu(obs: Observation, stamp: float | None = None, frame_id: str = 'base_link',
        out: Imu | None = None) -> Imu:
    """``sensor_msgs/Imu`` from the base orientation and the body-frame IMU channels.

    ``out``: an Imu made by this function, refilled in place (``frame_id`` is set again).
    """
    msg = out if out is not None else Imu()
    msg.header.stamp = to_stamp(obs.time if stamp is None else stamp)
    msg.header.frame_id = frame_id
    q = _f64(obs.base_orientation)
    w = _f64(obs.imu_angular_velocity)
    a = _f64(obs.imu_linear_acceleration)
    if q.size != 4 or w.size != 3 or a.size != 3:
        raise ValueError('IMU channels must be a quaternion (4) and two 3-vectors')
    o = msg.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in q)
    av = msg.angular_velocity
    av.x, av.y, av.z = (float(v) for v in w)
    la = msg.linear_acceleration
    la.x, la.y, la.z = (float(v) for v in a)
    return msg


def base_pose(obs: Observation, stamp: float | None = None, frame_id: str = 'world',
              out: PoseStamped | None = None) -> PoseStamped:
    """``geometry_msgs/PoseStamped`` of the body's root link in the world frame (ground truth).

    ``out``: a PoseStamped made by this function, refilled in place.
    """
    msg = out if out is not None else PoseStamped()
    msg.header.stamp = to_stamp(obs.time if stamp is None else stamp)
    msg.header.frame_id = frame_id
    x = _f64(obs.base_position)
    q = _f64(obs.base_orientation)
    if x.size != 3 or q.size != 4:
        raise ValueError('base pose must be a 3-vector and a quaternion (4)')
    pos, o = msg.pose.position, msg.pose.orientation
    pos.x, pos.y, pos.z = (float(v) for v in x)
    o.x, o.y, o.z, o.w = (float(v) for v in q)
    return msg


def foot_contacts(obs: Observation) -> Float64MultiArray:
    """Normal contact force per foot (N), labelled with the foot names."""
    return labelled_array(obs.foot_forces, obs.foot_names)


def command_msg(values, joint_names: Sequence[str] | None = None,
                stamp_ns: int | None = None) -> Float64MultiArray:
    """A command for ``/<controller>/commands``; labelled with the joint names if given, else
    with ``stamp_ns``, the stamp (integer ns) of the joint_states it answers (lock-step).

    ros2_control's forward command controllers read only ``data`` and ignore the layout, so the
    labels are harmless there and let a recording (and :func:`command_values`) check the order.
    """
    if joint_names is None and stamp_ns is not None:
        return labelled_array(values, label=str(int(stamp_ns)))
    return labelled_array(values, joint_names)


def command_stamp_ns(msg: Float64MultiArray) -> int | None:
    """The joint_states stamp (ns) a command answers: ``layout.dim[0].label`` made of decimal
    digits only (:func:`command_msg` with ``stamp_ns``); None for any other layout (a plain
    ros2_control publisher leaves it empty). sim_node's lock-step mode reads it."""
    dims = msg.layout.dim
    if dims:
        label = dims[0].label
        if label.isdigit():
            return int(label)
    return None


# ---------------------------------------------------------------------------- commands in
def command_values(msg: Float64MultiArray, joint_names: Sequence[str]
                   ) -> tuple[np.ndarray | None, tuple[str, str] | None]:
    """Extract the values of a command message: ``(values, None)`` or ``(None, (category, why))``.

    Checks only what the layout says; length and finiteness are :class:`CommandGuard`'s job
    (pass the values to ``guard.offer``, a refusal to ``guard.refuse(*refusal, mode=...)``).

    * a ``layout.data_offset`` other than 0 is refused (``malformed``): ros2_control ignores it,
      which would silently shift every joint;
    * a labelled layout (``dim[0].label`` naming one joint per value, ',' separated) must name
      ``joint_names`` in order, else refused (``joint_names``). An unlabelled layout (the usual
      ros2_control publisher) is accepted as being in actuated-joint order.
    """
    if msg.layout.data_offset != 0:
        return None, (REFUSED_MALFORMED, f'layout.data_offset {msg.layout.data_offset} is not '
                      'supported (must be 0)')
    names = array_labels(msg)
    if names is not None and len(names) > 1:      # a single name may be a generic label
        expected = list(joint_names)
        if names != expected:
            if sorted(names) == sorted(expected):
                first = next(i for i, (a, b) in enumerate(zip(names, expected)) if a != b)
                why = (f'joint order differs from the actuated-joint order at index {first} '
                       f'({names[first]} instead of {expected[first]})')
            else:
                unknown = [n for n in names if n not in expected]
                why = (f'command names joints {unknown[:3]} not in this body'
                       if unknown else 'command names a joint twice')
            return None, (REFUSED_JOINT_NAMES, why)
    return array_values(msg), None


def offer_command_msg(guard: CommandGuard, mode: str, msg: Float64MultiArray,
                      now: float) -> Verdict:
    """:func:`command_values` then ``guard.offer`` (or ``guard.refuse``): one call per message."""
    values, refusal = command_values(msg, guard.joint_names)
    if refusal is not None:
        return guard.refuse(*refusal, mode=mode)
    return guard.offer(mode, values, now)


# ---------------------------------------------------------------------------- messages in
def joint_state_arrays(msg: JointState, joint_names: Sequence[str]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position, velocity, effort) in ``joint_names`` order, matched by name.

    A real robot's joint_state_broadcaster may publish joints in any order and extra joints;
    missing velocity/effort arrays give NaN. Raises ValueError if a joint is missing.
    """
    index = {name: i for i, name in enumerate(msg.name)}
    missing = [n for n in joint_names if n not in index]
    if missing:
        raise ValueError(f'joint_states lacks joints {missing}')
    order = np.fromiter((index[n] for n in joint_names), dtype=np.intp, count=len(joint_names))

    def pick(seq) -> np.ndarray:
        arr = np.asarray(seq, dtype=np.float64)
        if arr.size != len(msg.name):
            return np.full(len(order), np.nan)
        return arr[order]

    return pick(msg.position), pick(msg.velocity), pick(msg.effort)


def imu_arrays(msg: Imu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(quaternion x y z w, angular velocity, linear acceleration) of an Imu message."""
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    return (np.array([o.x, o.y, o.z, o.w]), np.array([w.x, w.y, w.z]),
            np.array([a.x, a.y, a.z]))


def contact_forces(msg: Float64MultiArray, foot_names: Sequence[str]) -> np.ndarray:
    """Foot forces in ``foot_names`` order (reordered by label if the message is labelled)."""
    values = array_values(msg)
    names = array_labels(msg)
    if names is None or names == list(foot_names):
        if values.size != len(foot_names):
            raise ValueError(f'{values.size} contact values for {len(foot_names)} feet')
        return values
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in foot_names if n not in index]
    if missing:
        raise ValueError(f'contact message lacks feet {missing}')
    return values[[index[n] for n in foot_names]]


def observation_from_msgs(joint_names: Sequence[str], joints: JointState,
                          imu_msg: Imu | None = None,
                          contacts: Float64MultiArray | None = None,
                          foot_names: Sequence[str] = (), time: float | None = None,
                          base_position=None, base_linear_velocity=None,
                          base_angular_velocity=None) -> Observation:
    """An :class:`Observation` from the messages a controller node subscribes to.

    The base pose and world-frame velocities are not in these messages: they are zero unless
    given (a real robot's state estimator would supply them). ``time`` defaults to the joint
    state stamp.
    """
    position, velocity, effort = joint_state_arrays(joints, joint_names)
    if imu_msg is not None:
        quat, gyro, acc = imu_arrays(imu_msg)
    else:
        quat, gyro, acc = np.array([0.0, 0.0, 0.0, 1.0]), np.zeros(3), np.zeros(3)
    forces = (contact_forces(contacts, foot_names) if contacts is not None
              else np.zeros(len(foot_names)))
    return Observation(
        time=stamp_to_seconds(joints.header.stamp) if time is None else float(time),
        joint_names=tuple(joint_names),
        position=position, velocity=velocity, effort=effort,
        base_position=np.zeros(3) if base_position is None else _f64(base_position),
        base_orientation=quat,
        base_linear_velocity=(np.zeros(3) if base_linear_velocity is None
                              else _f64(base_linear_velocity)),
        base_angular_velocity=(np.zeros(3) if base_angular_velocity is None
                               else _f64(base_angular_velocity)),
        foot_names=tuple(foot_names), foot_forces=forces,
        imu_angular_velocity=gyro, imu_linear_acceleration=acc)


# ---------------------------------------------------------------------------- diagnostics
def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def diagnostics_json(d: dict) -> str:
    """Strict JSON (non-finite numbers become null, numpy types plain), keys sorted."""
    return json.dumps(_jsonable(d), sort_keys=True, allow_nan=False)


def diagnostics_msg(d: dict) -> String:
    """``std_msgs/String`` carrying :func:`diagnostics_json` (the diagnostics topic's type)."""
    return String(data=diagnostics_json(d))


def diagnostics_from_msg(msg: String) -> dict:
    return json.loads(msg.data)


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f'{prefix}.{k}' if prefix else str(k), v, out)
    elif isinstance(value, (bool, np.bool_)):
        out[prefix] = float(value)
    elif isinstance(value, (int, float, np.integer, np.floating)):
        out[prefix] = float(value)
    elif value is None:
        out[prefix] = math.nan          # keeps the layout stable while a value is unset


def diagnostics_array(d: dict, keys: Iterable[str] | None = None) -> Float64MultiArray:
    """Numeric (and boolean, as 0/1) diagnostics as a labelled ``Float64MultiArray``.

    Nested dicts are flattened with '.' (``refused.non_finite``); None becomes NaN (so indices
    stay stable), strings are left out.
    For plotting counters in PlotJuggler, which plots arrays but not JSON strings.
    """
    flat: dict = {}
    _flatten('', d, flat)
    if keys is not None:
        flat = {k: flat.get(k, math.nan) for k in keys}
    return labelled_array(list(flat.values()), list(flat.keys()))
