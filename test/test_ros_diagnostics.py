"""diagnostic_msgs/DiagnosticArray from the guard's diagnostics (neuro_locomotion.ros_diagnostics)."""
import math

import numpy as np
import pytest

from neuro_locomotion.ros_diagnostics import (diagnostic_array, diagnostic_status, flatten,
                                              status_to_dict)
from neuro_locomotion.safety import CommandGuard

JOINTS = ['a', 'b']


def _guard():
    return CommandGuard(JOINTS, np.array([-1.0, -1.0]), np.array([1.0, 1.0]),
                        np.array([5.0, 5.0]), 0.5)


def test_a_refused_nan_command_is_named_in_a_warn_free_ok_status():
    g = _guard()
    g.offer('position', [0.1, 0.2], now=0.0)
    g.offer('position', [math.nan, 0.2], now=0.01)
    status = diagnostic_status('/sim_node', g.diagnostics(now=0.02), hardware_id='quadruped')
    d = status_to_dict(status)
    assert d['_level'] == 0 and d['_name'] == '/sim_node' and status.hardware_id == 'quadruped'
    assert d['state'] == 'active' and d['refused_total'] == '1'
    assert d['refused.non_finite'] == '1'
    assert '1 commands refused' in d['_message'] and 'last:' in d['_message']


def test_estop_is_error_and_watchdog_is_warn():
    g = _guard()
    g.offer('position', [0.1, 0.2], now=0.0)
    g.current(now=1.0)                  # the watchdog (timeout 0.5 s) engages
    assert status_to_dict(diagnostic_status('n', g.diagnostics(now=1.0)))['_level'] == 1
    g.estop(now=1.0, reason='test')
    status = diagnostic_status('n', g.diagnostics(now=1.0))
    assert status_to_dict(status)['_level'] == 2 and 'estop' in status.message


def test_values_are_flat_text_and_non_finite_numbers_are_plain():
    pairs = dict(flatten({'b': {'c': 1, 'd': [0.5, None]}, 'a': True, 'x': float('inf')}))
    assert pairs == {'a': 'true', 'b.c': '1', 'b.d': '[0.5, ]', 'x': 'inf'}
    # through diagnostic_status a non-finite number is an empty value (as null in the JSON)
    status = diagnostic_status('n', {'level': 0, 'x': float('nan')})
    assert status_to_dict(status)['x'] == ''


@pytest.mark.parametrize('level', [7, 'high', None])
def test_an_unknown_level_is_stale_not_ok(level):
    assert status_to_dict(diagnostic_status('n', {'level': level}))['_level'] == 3


def test_the_array_serializes_as_a_ros_message():
    from rclpy.serialization import deserialize_message, serialize_message
    from diagnostic_msgs.msg import DiagnosticArray
    from builtin_interfaces.msg import Time
    g = _guard()
    msg = diagnostic_array([diagnostic_status('/a', g.diagnostics(now=0.0)),
                            diagnostic_status('/b', {'level': 0, 'sim_time': 1.5})],
                           stamp=Time(sec=3, nanosec=5))
    back = deserialize_message(serialize_message(msg), DiagnosticArray)
    assert [s.name for s in back.status] == ['/a', '/b'] and back.header.stamp.sec == 3
    assert status_to_dict(back.status[1])['sim_time'] == '1.5'
