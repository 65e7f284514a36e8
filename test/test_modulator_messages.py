"""The /cpg/neuromodulators layout (ros_convert.modulators_msg / modulator_levels): names in the one
labelled dimension, refusals of malformed layouts with a one-line reason."""
import math

import pytest
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from neuro_locomotion import ros_convert as rc


def _msg(label, data, dims=1, offset=0):
    msg = Float64MultiArray(data=[float(v) for v in data])
    msg.layout.dim = [MultiArrayDimension(label=label, size=len(data), stride=len(data))
                      for _ in range(dims)]
    msg.layout.data_offset = offset
    return msg


def test_round_trip_by_name():
    msg = rc.modulators_msg({'serotonin': 0.25, 'noradrenaline': 1.0})
    assert msg.layout.dim[0].label == 'serotonin,noradrenaline'
    assert rc.modulator_levels(msg) == {'serotonin': 0.25, 'noradrenaline': 1.0}
    # values are not judged here: NaN and 1.5 pass through to the controller, which refuses them
    levels = rc.modulator_levels(_msg('a,b', [math.nan, 1.5]))
    assert math.isnan(levels['a']) and levels['b'] == 1.5


@pytest.mark.parametrize('msg, reason', [
    (_msg('', [0.5]), 'no label'),
    (Float64MultiArray(data=[0.5]), '0 dimensions'),
    (_msg('a', [0.5], dims=2), '2 dimensions'),
    (_msg('a', [0.5, 0.5]), '1 names for 2 values'),
    (_msg('a,b', [0.5]), '2 names for 1 values'),
    (_msg('a,a', [0.5, 0.5]), 'repeated'),
    (_msg('a,', [0.5, 0.5]), 'empty'),
    (_msg('a', [0.5], offset=1), 'data_offset'),
])
def test_malformed_layouts_are_refused_with_a_reason(msg, reason):
    with pytest.raises(ValueError, match='malformed layout') as info:
        rc.modulator_levels(msg)
    assert reason in str(info.value) and '\n' not in str(info.value)
