"""MCAP recording of ROS 2 messages, readable by ``ros2 bag play``, Foxglove and PlotJuggler.

:class:`McapRecorder` writes what rosbag2's MCAP storage plugin writes and reads
(rosbag2_storage_mcap): header profile ``ros2``; one schema per message type named
``pkg/msg/Type`` with encoding ``ros2msg`` and the full definition text (the ``.msg`` file, then
every dependency after a line of 80 ``=`` and a ``MSG: pkg/Type`` line, as rosbag2's
LocalMessageDefinitionSource builds it); channels with encoding ``cdr`` and metadata
``offered_qos_profiles`` (YAML) and ``topic_type_hash`` (RIHS01, from the wheels' ``.json``
type descriptions); a ``rosbag2`` metadata record; chunk indexes, statistics and summary.
Messages are serialized with ``rclpy.serialization.serialize_message`` (exact, no rclpy.init
needed).

The file is written under a hidden temporary name in the same directory (``.NAME.XXXX.part``) and
renamed to its final name by :meth:`McapRecorder.close`, so a process that dies mid-recording never
leaves a half-written file under the final name.

:class:`RunRecorder` records the lock-step runner's stream (``neuroloco run --record FILE.mcap``):
``/clock``, ``joint_states``, ``imu``, ``foot_contacts``, the command on
``forward_position_controller/commands`` or ``forward_effort_controller/commands``, and any
controller state arrays on ``controller_state/<key>``, all stamped with simulated time.

:meth:`McapRecorder.for_graph` gives a live recorder node for a running ROS graph (raw
subscriptions, bytes written as received).
"""
from __future__ import annotations

import json
import os
import re
import sys
import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml

SEPARATOR = '=' * 80
PRIMITIVE_TYPES = frozenset((
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
    'uint32', 'int64', 'uint64', 'string', 'wstring'))
ROSBAG2_METADATA_VERSION = 8   # integer QoS enums; read the same way by Humble ... Kilted
DEFAULT_DISTRO = 'kilted'       # the pip wheels are Kilted builds

# rmw enum values (rmw/types.h), as rosbag2 metadata version <= 8 stores them.
_HISTORY = {'system_default': 0, 'keep_last': 1, 'keep_all': 2}
_RELIABILITY = {'system_default': 0, 'reliable': 1, 'best_effort': 2}
_DURABILITY = {'system_default': 0, 'transient_local': 1, 'volatile': 2}
_LIVELINESS = {'system_default': 0, 'automatic': 1, 'manual_by_topic': 3}

#: QoS of state and command topics (rclpy's QoSProfile(depth=10), as ros2_control publishes).
QOS_DEFAULT = {'history': 'keep_last', 'depth': 10, 'reliability': 'reliable',
               'durability': 'volatile'}
#: QoS of latched topics (/clock as gazebo_ros publishes it, robot_description).
QOS_LATCHED = {'history': 'keep_last', 'depth': 1, 'reliability': 'reliable',
               'durability': 'transient_local'}


# ---------------------------------------------------------------------------- definitions
def _share_dirs() -> list[Path]:
    dirs = [Path(p) / 'share' for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
            if p]
    dirs.append(Path(sys.prefix) / 'share')       # the venv, when AMENT_PREFIX_PATH is unset
    return dirs


def _split_type(type_name: str) -> tuple[str, str, str]:
    """'pkg/Type' or 'pkg/msg/Type' -> (pkg, 'msg', Type)."""
    parts = type_name.split('/')
    if len(parts) == 2:
        return parts[0], 'msg', parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f'type name {type_name!r} is not pkg/Type or pkg/msg/Type')


@lru_cache(maxsize=None)
def _interface_file(type_name: str, extension: str) -> Path:
    pkg, ns, name = _split_type(type_name)
    for share in _share_dirs():
        path = share / pkg / ns / f'{name}{extension}'
        if path.is_file():
            return path
    raise LookupError(f'no {ns}/{name}{extension} for {type_name} under '
                      f'{[str(d) for d in _share_dirs()]} (is AMENT_PREFIX_PATH set to the prefix '
                      'holding the message packages?)')


def msg_dependencies(text: str, package: str) -> list[str]:
    """The non-primitive field types of a ``.msg`` text, as sorted 'pkg/Type' names."""
    deps = set()
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        type_token = line.split()[0]
        base = re.sub(r'\[.*\]$', '', type_token)        # T[], T[3], T[<=3]
        base = re.sub(r'<=\d+$', '', base)                # string<=10
        if base in PRIMITIVE_TYPES:                        # includes every constant's type
            continue
        if '/' in base:
            p, _, t = base.partition('/')
            deps.add(f'{p}/{t.split("/")[-1]}')
        else:
            deps.add(f'{package}/{base}')
    return sorted(deps)


@lru_cache(maxsize=None)
def message_definition(type_name: str) -> str:
    """The full ``ros2msg`` definition of ``type_name`` ('pkg/msg/Type' or 'pkg/Type').

    The ``.msg`` text, then for each dependency (depth first, each once, sorted at each level):
    a line of 80 '=', a line ``MSG: pkg/Type``, and that type's ``.msg`` text.
    """
    seen: set[str] = set()

    def expand(name: str, depth: int) -> str:
        if depth > 50:
            raise RecursionError(f'message definition of {type_name} nests too deeply')
        pkg, _, _ = _split_type(name)
        text = _interface_file(name, '.msg').read_text()
        out = text
        for dep in msg_dependencies(text, pkg):
            if dep not in seen:
                seen.add(dep)
                if not out.endswith('\n'):
                    out += '\n'
                out += f'{SEPARATOR}\nMSG: {dep}\n' + expand(dep, depth + 1)
        return out

    return expand(type_name, 0)


@lru_cache(maxsize=None)
def type_hash(type_name: str) -> str:
    """The RIHS01 type hash of ``type_name`` from the installed ``.json`` description, or ''."""
    pkg, ns, name = _split_type(type_name)
    try:
        data = json.loads(_interface_file(type_name, '.json').read_text())
    except (LookupError, ValueError, OSError):
        return ''
    full = f'{pkg}/{ns}/{name}'
    for entry in data.get('type_hashes', []):
        if entry.get('type_name') == full:
            return entry.get('hash_string', '')
    return ''


def type_name_of(msg_or_class) -> str:
    """'pkg/msg/Type' of a generated ROS message object or class."""
    cls = msg_or_class if isinstance(msg_or_class, type) else type(msg_or_class)
    parts = cls.__module__.split('.')
    if len(parts) < 2 or not hasattr(cls, 'get_fields_and_field_types'):
        raise TypeError(f'{cls!r} is not a generated ROS 2 message class')
    return f'{parts[0]}/{parts[1]}/{cls.__name__}'


def message_class(type_name: str):
    """Import the message class of 'pkg/msg/Type'."""
    import importlib
    pkg, ns, name = _split_type(type_name)
    return getattr(importlib.import_module(f'{pkg}.{ns}'), name)


# ---------------------------------------------------------------------------- QoS
def _policy(value, table: dict, what: str) -> int:
    if hasattr(value, 'value'):              # an rclpy enum (same numbering as rmw)
        return int(value.value)
    if isinstance(value, str):
        key = value.lower()
        if key not in table:
            raise ValueError(f'unknown {what} {value!r}; one of {sorted(table)}')
        return table[key]
    return int(value)


def qos_dict(qos) -> dict:
    """A QoS given as a dict (see QOS_DEFAULT) or an ``rclpy.qos.QoSProfile`` -> rosbag2 v8 dict."""
    if qos is None:
        qos = QOS_DEFAULT
    if not isinstance(qos, Mapping):
        qos = {'history': qos.history, 'depth': qos.depth, 'reliability': qos.reliability,
               'durability': qos.durability,
               'liveliness': getattr(qos, 'liveliness', 'automatic')}
    zero = {'sec': 0, 'nsec': 0}           # RMW_DURATION_DEFAULT (unspecified: infinite)
    return {
        'history': _policy(qos.get('history', 'keep_last'), _HISTORY, 'history'),
        'depth': int(qos.get('depth', 10)),
        'reliability': _policy(qos.get('reliability', 'reliable'), _RELIABILITY, 'reliability'),
        'durability': _policy(qos.get('durability', 'volatile'), _DURABILITY, 'durability'),
        'deadline': dict(zero),
        'lifespan': dict(zero),
        'liveliness': _policy(qos.get('liveliness', 'automatic'), _LIVELINESS, 'liveliness'),
        'liveliness_lease_duration': dict(zero),
        'avoid_ros_namespace_conventions': False,
    }


def qos_profiles_yaml(profiles) -> str:
    """``offered_qos_profiles`` channel metadata: a YAML list of rosbag2 (v8) QoS dicts."""
    return yaml.safe_dump([qos_dict(p) for p in profiles], default_flow_style=False,
                          sort_keys=False)


def default_qos(topic: str) -> dict:
    """Latched QoS for /clock and robot_description, the state/command default otherwise."""
    if topic == '/clock' or topic.rstrip('/').endswith('robot_description'):
        return QOS_LATCHED
    return QOS_DEFAULT


# ---------------------------------------------------------------------------- recorder
class McapRecorder:
    """Write ROS 2 messages to an MCAP file (see the module docstring for the format).

    ``write(topic, msg, time_ns)`` for any generated ROS message; ``write_serialized`` for CDR
    bytes (e.g. from a raw subscription). ``close()`` (or leaving a ``with`` block) finishes the
    file and renames it to ``path``; ``abort()`` deletes it instead. An exception inside the
    ``with`` block still finishes the file (everything recorded before the error is kept), unless
    ``keep_on_error=False``.
    """

    def __init__(self, path, *, compression: str = 'zstd', chunk_size: int = 1 << 20,
                 keep_on_error: bool = True, distro: str | None = None):
        from mcap.writer import CompressionType, Writer

        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f'{self.path} is a directory')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keep_on_error = keep_on_error
        self.distro = distro or os.environ.get('ROS_DISTRO') or DEFAULT_DISTRO
        compressions = {'zstd': CompressionType.ZSTD, 'lz4': CompressionType.LZ4,
                        'none': CompressionType.NONE}
        if compression not in compressions:
            raise ValueError(f'compression must be one of {sorted(compressions)}')
        # A hidden, unique name in the same directory (so the final rename is atomic), created
        # with the usual permissions (0666 & ~umask), unlike tempfile.mkstemp's 0600.
        while True:
            tmp = self.path.parent / f'.{self.path.name}.{secrets.token_hex(4)}.part'
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
        self.tmp_path = tmp
        self._file = os.fdopen(fd, 'wb')
        try:
            self._writer = Writer(self._file, chunk_size=chunk_size,
                                  compression=compressions[compression])
            self._writer.start(profile='ros2', library='neuro_locomotion')
        except BaseException:
            self._file.close()
            self.tmp_path.unlink(missing_ok=True)
            raise
        self._lock = threading.Lock()
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, list] = {}      # topic -> [channel id, type name, seq, qos]
        self._types: dict[type, str] = {}
        self._serialize = None
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self.message_count = 0
        self.closed = False

    # -------------------------------------------------------------- channels
    def channel(self, topic: str, type_name: str, qos=None) -> int:
        """Register ``topic`` with ``type_name`` (done on first write); returns the channel id."""
        with self._lock:
            return self._channel(topic, type_name, qos)[0]

    def _channel(self, topic: str, type_name: str, qos=None) -> list:
        entry = self._channels.get(topic)
        if entry is not None and entry[1] == type_name:
            return entry
        pkg, ns, name = _split_type(type_name)
        full = f'{pkg}/{ns}/{name}'
        if entry is not None:
            if entry[1] != full:
                raise ValueError(f'topic {topic} is recorded as {entry[1]}, not {full}')
            return entry
        if self.closed:
            raise ValueError('the recorder is closed')
        schema_id = self._schemas.get(full)
        if schema_id is None:
            schema_id = self._writer.register_schema(
                name=full, encoding='ros2msg', data=message_definition(full).encode())
            self._schemas[full] = schema_id
        profiles = qos if isinstance(qos, (list, tuple)) else [
            default_qos(topic) if qos is None else qos]
        metadata = {'offered_qos_profiles': qos_profiles_yaml(profiles)}
        digest = type_hash(full)
        if digest:
            metadata['topic_type_hash'] = digest
        cid = self._writer.register_channel(topic=topic, message_encoding='cdr',
                                            schema_id=schema_id, metadata=metadata)
        entry = [cid, full, 0, metadata['offered_qos_profiles']]
        self._channels[topic] = entry
        return entry

    # -------------------------------------------------------------- writing
    def write(self, topic: str, msg, time_ns: int, *, publish_time_ns: int | None = None,
              qos=None) -> None:
        """Serialize and write one ROS message at ``time_ns`` (log time, ns)."""
        cls = type(msg)
        type_name = self._types.get(cls)
        if type_name is None:
            type_name = self._types[cls] = type_name_of(cls)
        if self._serialize is None:
            from rclpy.serialization import serialize_message
            self._serialize = serialize_message
        self.write_serialized(topic, type_name, self._serialize(msg), time_ns,
                              publish_time_ns=publish_time_ns, qos=qos)

    def write_serialized(self, topic: str, type_name: str, data: bytes, time_ns: int, *,
                         publish_time_ns: int | None = None, qos=None) -> None:
        """Write CDR bytes of ``type_name`` ('pkg/msg/Type') at ``time_ns``."""
        t = int(time_ns)
        if t < 0:
            raise ValueError(f'MCAP times are unsigned; got {t} ns')
        p = t if publish_time_ns is None else int(publish_time_ns)
        with self._lock:
            if self.closed:
                raise ValueError('the recorder is closed')
            entry = self._channel(topic, type_name, qos)
            self._writer.add_message(entry[0], log_time=t, data=bytes(data), publish_time=p,
                                     sequence=entry[2] & 0xFFFFFFFF)
            entry[2] += 1
            self.message_count += 1
            if self._first_ns is None or t < self._first_ns:
                self._first_ns = t
            if self._last_ns is None or t > self._last_ns:
                self._last_ns = t

    def counts(self) -> dict[str, int]:
        """Messages written per topic."""
        return {topic: e[2] for topic, e in self._channels.items()}

    # -------------------------------------------------------------- closing
    def _rosbag2_metadata(self) -> str:
        start = self._first_ns or 0
        duration = (self._last_ns - start) if self._last_ns is not None else 0
        topics = [{
            'topic_metadata': {'name': topic, 'type': e[1], 'serialization_format': 'cdr',
                               'offered_qos_profiles': e[3],
                               'type_description_hash': type_hash(e[1])},
            'message_count': e[2]} for topic, e in self._channels.items()]
        meta = {
            'version': ROSBAG2_METADATA_VERSION,
            'storage_identifier': 'mcap',
            'duration': {'nanoseconds': duration},
            'starting_time': {'nanoseconds_since_epoch': start},
            'message_count': self.message_count,
            'topics_with_message_count': topics,
            'compression_format': '',
            'compression_mode': '',
            'relative_file_paths': [self.path.name],
            'files': [{'path': self.path.name,
                       'starting_time': {'nanoseconds_since_epoch': start},
                       'duration': {'nanoseconds': duration},
                       'message_count': self.message_count}],
            'custom_data': {},
            'ros_distro': self.distro,
        }
        return yaml.safe_dump(meta, default_flow_style=False, sort_keys=False)

    def close(self) -> Path:
        """Finish the file (summary, statistics, indexes) and rename it to ``path``."""
        with self._lock:
            if self.closed:
                return self.path
            self.closed = True
            try:
                self._writer.add_metadata('rosbag2', {
                    'serialized_metadata': self._rosbag2_metadata(),
                    'ROS_DISTRO': self.distro})
                self._writer.finish()
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                os.replace(self.tmp_path, self.path)
            except BaseException:
                self._file.close()
                self.tmp_path.unlink(missing_ok=True)
                raise
        return self.path

    def abort(self) -> None:
        """Stop and delete the temporary file; nothing appears at ``path``."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._file.close()
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> 'McapRecorder':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self.keep_on_error:
            self.abort()
        else:
            self.close()

    # -------------------------------------------------------------- live graph
    @classmethod
    def for_graph(cls, path, context=None, namespace: str = '', topics: Sequence[str] | None = None,
                  *, node_name: str = 'mcap_recorder', use_sim_time: bool = False,
                  discovery_period: float = 0.5, **recorder_kwargs) -> 'GraphRecorder':
        """A recorder node for a running graph: ``.node`` to add to an executor, ``.close()``.

        Records ``topics`` (resolved in ``namespace``), or, if None, every topic under
        ``namespace`` plus ``/clock`` and ``/diagnostics`` (absolute by convention: the nodes'
        standard DiagnosticArray; ``/rosout`` and ``/parameter_events`` left out), found by
        polling the graph every ``discovery_period`` wall seconds. Messages are stamped with the
        node's clock (wall time, or ``/clock`` if ``use_sim_time``).
        """
        return GraphRecorder(cls(path, **recorder_kwargs), context=context, namespace=namespace,
                             topics=topics, node_name=node_name, use_sim_time=use_sim_time,
                             discovery_period=discovery_period)


class GraphRecorder:
    """A live rclpy recorder node around an :class:`McapRecorder` (see ``for_graph``)."""

    EXCLUDED = ('/rosout', '/parameter_events')
    ALWAYS = ('/clock', '/diagnostics')      # absolute topics of any namespaced graph

    def __init__(self, recorder: McapRecorder, *, context=None, namespace: str = '',
                 topics: Sequence[str] | None = None, node_name: str = 'mcap_recorder',
                 use_sim_time: bool = False, discovery_period: float = 0.5):
        from rclpy.clock import Clock, ClockType
        from rclpy.node import Node
        from rclpy.parameter import Parameter

        self.recorder = recorder
        ns = '/' + namespace.strip('/') if namespace and namespace.strip('/') else ''
        self.namespace = ns
        try:
            self.node = Node(node_name, namespace=ns or None, context=context,
                             parameter_overrides=[Parameter('use_sim_time', value=use_sim_time)],
                             use_global_arguments=False)
        except BaseException:
            recorder.abort()
            raise
        self._wanted = None if topics is None else {self._resolve(t) for t in topics}
        self._subs: dict[str, object] = {}
        self._closed = False
        self.errors = 0
        self._discover()
        self._timer = self.node.create_timer(discovery_period, self._discover,
                                             clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _resolve(self, topic: str) -> str:
        if topic.startswith('/'):
            return topic
        return f'{self.namespace}/{topic}'

    def _selected(self, topic: str) -> bool:
        if self._wanted is not None:
            return topic in self._wanted
        if topic in self.EXCLUDED:
            return False
        return (topic in self.ALWAYS or not self.namespace
                or topic.startswith(self.namespace + '/'))

    def _discover(self) -> None:
        if self._closed:
            return
        for topic, types in self.node.get_topic_names_and_types():
            if topic in self._subs or not self._selected(topic) or len(types) != 1:
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, type_name: str) -> None:
        from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile,
                               ReliabilityPolicy)
        try:
            msg_class = message_class(type_name)
            message_definition(type_name)
        except (ImportError, AttributeError, LookupError, ValueError):
            self._subs[topic] = None           # cannot record this type; do not retry
            self.node.get_logger().warning(f'not recording {topic}: type {type_name} unknown')
            return
        infos = self.node.get_publishers_info_by_topic(topic)
        offered = [i.qos_profile for i in infos]
        reliable = bool(offered) and all(
            q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
        latched = bool(offered) and all(
            q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=(ReliabilityPolicy.RELIABLE if reliable
                                      else ReliabilityPolicy.BEST_EFFORT),
                         durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched
                                     else DurabilityPolicy.VOLATILE))
        offered_qos = [{'history': 'keep_last', 'depth': max(1, int(q.depth)) if q.depth else 10,
                        'reliability': q.reliability, 'durability': q.durability}
                       for q in offered] or None
        self.recorder.channel(topic, type_name, offered_qos)
        clock = self.node.get_clock()

        def on_message(data: bytes, topic=topic, type_name=type_name) -> None:
            if self._closed:
                return
            try:
                self.recorder.write_serialized(topic, type_name, data,
                                               clock.now().nanoseconds)
            except ValueError:
                self.errors += 1

        self._subs[topic] = self.node.create_subscription(msg_class, topic, on_message, qos,
                                                          raw=True)

    @property
    def topics(self) -> list[str]:
        return sorted(t for t, s in self._subs.items() if s is not None)

    def close(self) -> Path:
        """Destroy the node and finish the file."""
        if not self._closed:
            self._closed = True
            try:
                self.node.destroy_node()
            except Exception:
                pass
        return self.recorder.close()


# ---------------------------------------------------------------------------- run recorder
CLOCK_TOPIC = '/clock'
JOINT_STATES_TOPIC = 'joint_states'
IMU_TOPIC = 'imu'
FOOT_CONTACTS_TOPIC = 'foot_contacts'
POSITION_COMMANDS_TOPIC = 'forward_position_controller/commands'
EFFORT_COMMANDS_TOPIC = 'forward_effort_controller/commands'
ROBOT_DESCRIPTION_TOPIC = 'robot_description'
STATE_PREFIX = 'controller_state'
_TOPIC_UNSAFE = re.compile(r'[^A-Za-z0-9_/]')


class RunRecorder:
    """Record a lock-step run's Observation + Command stream as ROS 2 topics in MCAP.

    One :meth:`record` call per control step writes, stamped with ``observation.time``:
    ``/clock``; ``joint_states`` (JointState); ``imu`` (Imu); ``foot_contacts`` (labelled
    Float64MultiArray); the command on ``forward_position_controller/commands`` or
    ``forward_effort_controller/commands`` by mode (labelled with the joint names; skipped while
    ``command`` is None); and each controller-state entry ``key -> array`` on
    ``controller_state/<key>`` (Float64MultiArray, dim label = key; non-numeric values are
    skipped and counted in ``skipped_state``). Relative topics are put under ``namespace``.
    ``period`` > 0 records at most once per ``period`` simulated seconds.
    """

    def __init__(self, path, joint_names: Sequence[str], foot_names: Sequence[str] = (), *,
                 namespace: str = '', period: float = 0.0, robot_description: str | None = None,
                 imu_frame: str = 'base_link', **recorder_kwargs):
        from . import ros_convert
        self._rc = ros_convert
        self.joint_names = tuple(joint_names)
        self.foot_names = tuple(foot_names)
        ns = namespace.strip('/')
        self._ns = f'/{ns}' if ns else ''
        self.period = float(period)
        self.imu_frame = imu_frame
        self._next_time = None
        self._state_topics: dict[str, str] = {}
        self.recorder = McapRecorder(path, **recorder_kwargs)
        self.path = self.recorder.path
        self.topics = {
            'clock': CLOCK_TOPIC,
            'joint_states': self._topic(JOINT_STATES_TOPIC),
            'imu': self._topic(IMU_TOPIC),
            'foot_contacts': self._topic(FOOT_CONTACTS_TOPIC),
            'position': self._topic(POSITION_COMMANDS_TOPIC),
            'effort': self._topic(EFFORT_COMMANDS_TOPIC),
            'robot_description': self._topic(ROBOT_DESCRIPTION_TOPIC),
        }
        self._robot_description = robot_description
        self._msgs: dict = {}           # reused message objects, refilled every record()
        self.records = 0
        self.skipped_state = 0          # controller-state values that were not numeric

    def _topic(self, name: str) -> str:
        return name if name.startswith('/') else f'{self._ns}/{name}'

    def _state_topic(self, key: str) -> str:
        topic = self._state_topics.get(key)
        if topic is None:
            clean = _TOPIC_UNSAFE.sub('_', str(key)).strip('/') or '_'
            if clean[0].isdigit():
                clean = '_' + clean
            topic = self._state_topics[key] = self._topic(f'{STATE_PREFIX}/{clean}')
        return topic

    def record(self, observation, command=None,
               controller_state: Mapping[str, np.ndarray] | None = None) -> bool:
        """Record one step; returns False if skipped by ``period``."""
        t = float(observation.time)
        if self.period > 0:
            if self._next_time is not None and t < self._next_time - 1e-12:
                return False
            self._next_time = t + self.period
        rc, rec, topics = self._rc, self.recorder, self.topics
        ns = rc.seconds_to_ns(t)
        if self._robot_description is not None:
            from std_msgs.msg import String
            rec.write(topics['robot_description'], String(data=self._robot_description), ns)
            self._robot_description = None
        m = self._msgs
        rec.write(topics['clock'], rc.clock(t), ns)
        m['js'] = rc.joint_state(observation, out=m.get('js'))
        rec.write(topics['joint_states'], m['js'], ns)
        m['imu'] = rc.imu(observation, frame_id=self.imu_frame, out=m.get('imu'))
        rec.write(topics['imu'], m['imu'], ns)
        if len(self.foot_names):
            forces = np.asarray(observation.foot_forces, dtype=float).reshape(-1)
            key = ('feet', forces.size)
            labels = self.foot_names if forces.size == len(self.foot_names) else None
            m[key] = rc.labelled_array(forces, labels, out=m.get(key))
            rec.write(topics['foot_contacts'], m[key], ns)
        if command is not None:
            values = np.asarray(command.values, dtype=float).reshape(-1)
            key = ('cmd', command.mode, values.size)
            labels = self.joint_names if values.size == len(self.joint_names) else None
            m[key] = rc.labelled_array(values, labels, out=m.get(key))
            rec.write(topics[command.mode], m[key], ns)
        if controller_state:
            for name, value in controller_state.items():
                try:
                    values = np.asarray(value, dtype=float).reshape(-1)
                except (TypeError, ValueError):
                    self.skipped_state += 1          # not numeric (e.g. a gait name)
                    continue
                key = ('state', name)
                m[key] = rc.labelled_array(values, label=str(name), out=m.get(key))
                rec.write(self._state_topic(name), m[key], ns)
        self.records += 1
        return True

    def close(self) -> Path:
        return self.recorder.close()

    def abort(self) -> None:
        self.recorder.abort()

    def __enter__(self) -> 'RunRecorder':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.recorder.__exit__(exc_type, exc, tb)


# ---------------------------------------------------------------------------- command line
def _info(path) -> str:
    """Topics, types and counts of an MCAP file (like ``ros2 bag info``)."""
    from mcap.reader import make_reader
    with open(path, 'rb') as f:
        reader = make_reader(f)
        header, s = reader.get_header(), reader.get_summary()
    st = s.statistics
    lines = [f'{path}: profile {header.profile!r}, {st.message_count} messages, '
             f'{(st.message_end_time - st.message_start_time) / 1e9:.3f} s '
             f'({st.message_start_time / 1e9:.3f} .. {st.message_end_time / 1e9:.3f})']
    for cid, ch in sorted(s.channels.items()):
        schema = s.schemas[ch.schema_id]
        lines.append(f'  {ch.topic:45s} {schema.name:35s} {st.channel_message_counts.get(cid, 0):8d}  '
                     f'{schema.encoding}/{ch.message_encoding}')
    return '\n'.join(lines)


def _bench(n: int, directory, repeats: int = 5) -> str:
    """Write rates of McapRecorder (JointState) and RunRecorder (a quadruped-sized stream)."""
    import time

    from .types import Command, Observation
    from . import ros_convert as rc

    rng = np.random.default_rng(0)
    joints = tuple(f'{leg}_{j}' for leg in ('lf', 'rf', 'lh', 'rh')
                   for j in ('hip', 'thigh', 'knee'))
    feet = ('lf_foot', 'rf_foot', 'lh_foot', 'rh_foot')

    def obs(k):
        return Observation(time=k * 0.001, joint_names=joints, position=rng.random(12),
                           velocity=rng.random(12), effort=rng.random(12),
                           base_position=np.zeros(3), base_orientation=np.array([0, 0, 0, 1.0]),
                           base_linear_velocity=np.zeros(3), base_angular_velocity=np.zeros(3),
                           foot_names=feet, foot_forces=rng.random(4))

    observations = [obs(k) for k in range(n)]
    msgs = [rc.joint_state(o) for o in observations]
    command = Command('position', np.zeros(12))

    def write_joint_states(path):
        with McapRecorder(path) as rec:
            for k, m in enumerate(msgs):
                rec.write('/joint_states', m, k * 1_000_000)
        return n

    def write_run(path):
        with RunRecorder(path, joints, feet) as rec:
            for o in observations:
                rec.record(o, command, {'phase': rng.random(4), 'amplitude': 0.3})
        return rec.recorder.message_count

    out = []
    for name, fn in (('McapRecorder.write, JointState (12 joints, random values)',
                      write_joint_states),
                     ('RunRecorder.record (clock, joint_states, imu, foot_contacts, command, '
                      '2 state arrays)', write_run)):
        rates = []
        for rep in range(repeats):
            path = Path(directory) / f'bench_{fn.__name__}_{rep}.mcap'
            t0 = time.perf_counter()
            count = fn(path)
            rates.append(count / (time.perf_counter() - t0))
        per_record = count // n
        rates.sort()
        out.append(f'{name}: {count} msgs x {repeats} runs: best {rates[-1]:,.0f} msg/s, '
                   f'median {rates[len(rates) // 2]:,.0f} msg/s'
                   + (f' (= {rates[-1] / per_record:,.0f} records/s best)'
                      if per_record > 1 else '')
                   + f', {path.stat().st_size / count:.1f} B/msg (zstd)')
    return '\n'.join(out)


def main(argv=None) -> int:
    """``python -m neuro_locomotion.recording info FILE.mcap | bench [N]``."""
    import argparse
    parser = argparse.ArgumentParser(prog='python -m neuro_locomotion.recording')
    sub = parser.add_subparsers(dest='cmd', required=True)
    p_info = sub.add_parser('info', help='topics, types and counts of an MCAP file')
    p_info.add_argument('file')
    p_bench = sub.add_parser('bench', help='measure write rates')
    p_bench.add_argument('n', nargs='?', type=int, default=20000)
    args = parser.parse_args(argv)
    if args.cmd == 'info':
        print(_info(args.file))
    else:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            print(_bench(args.n, d))
    return 0


if __name__ == '__main__':
    sys.exit(main())
