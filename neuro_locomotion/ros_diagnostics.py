"""Our diagnostics dicts as standard ``diagnostic_msgs/DiagnosticArray`` messages.

Every node keeps its counters in a plain dict (``CommandGuard.diagnostics()`` plus the node's own;
JSON on ``~/diagnostics``). This module turns such a dict into one ``DiagnosticStatus`` (level from
the dict's ``level``: 0 OK, 1 WARN, 2 ERROR, the numbering of DiagnosticStatus; a message naming
the state and the last refusal; every field as a KeyValue, nested dicts flattened with '.'), so
the graph also publishes on ``/diagnostics``, the topic rqt_robot_monitor, the diagnostic
aggregator and Foxglove's diagnostics panel read.
"""
from __future__ import annotations

import numpy as np

from .ros_convert import _jsonable

DIAGNOSTICS_TOPIC = '/diagnostics'      # absolute: the aggregator's convention, one per graph
_LEVELS = (b'\x00', b'\x01', b'\x02', b'\x03')     # OK, WARN, ERROR, STALE


def _text(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return repr(value)              # 'inf', 'nan' for non-finite values
    if value is None:
        return ''
    return str(value)


def flatten(d: dict, prefix: str = '') -> list[tuple[str, str]]:
    """(key, text) pairs of ``d``, nested dicts as ``a.b``, lists as ``[v0, v1]``, sorted keys."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(d, key=str):
        value = d[key]
        name = f'{prefix}.{key}' if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(flatten(value, name))
        elif isinstance(value, list):
            pairs.append((name, '[' + ', '.join(_text(v) for v in value) + ']'))
        else:
            pairs.append((name, _text(value)))
    return pairs


def status_message(d: dict) -> str:
    """One line for humans: the state, and the reason of the last refused command if any."""
    parts = [str(d.get('state', 'ok'))]
    if d.get('fallen'):
        parts.append('fallen')
    if d.get('refused_total'):
        parts.append(f"{d['refused_total']} commands refused")
        if d.get('last_refusal_reason'):
            parts.append(f"last: {d['last_refusal_reason']}")
    return '; '.join(parts)


def diagnostic_status(name: str, d: dict, hardware_id: str = ''):
    """``diagnostic_msgs/DiagnosticStatus`` of one node's diagnostics dict."""
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
    plain = _jsonable(d)
    level = plain.get('level', 0)
    if not isinstance(level, int) or not 0 <= level <= 3:
        level = 3                       # unknown: STALE rather than a wrong OK
    return DiagnosticStatus(level=_LEVELS[level], name=name, message=status_message(plain),
                            hardware_id=hardware_id,
                            values=[KeyValue(key=k, value=v) for k, v in flatten(plain)])


def diagnostic_array(statuses: list, stamp=None):
    """``diagnostic_msgs/DiagnosticArray`` holding ``statuses`` (``stamp``: builtin Time)."""
    from diagnostic_msgs.msg import DiagnosticArray
    msg = DiagnosticArray(status=list(statuses))
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def status_to_dict(status) -> dict:
    """The KeyValues of a DiagnosticStatus back as ``{key: text}`` (plus level, name, message)."""
    out = {kv.key: kv.value for kv in status.values}
    out.update({'_level': int(np.frombuffer(bytes(status.level), dtype=np.uint8)[0]),
                '_name': status.name, '_message': status.message})
    return out
