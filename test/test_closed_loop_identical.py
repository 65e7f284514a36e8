"""The closed-loop runner's speed work changes no result: 3 s runs match the recorded trajectories.

``test/data/closed_loop_3s.npz`` was recorded with the code BEFORE the per-step overhead cuts
(git 5dc9af4) by ``PYTHONPATH=$PWD .venv/bin/python test/test_closed_loop_identical.py --record``.
Real PyBullet runs; equality is exact (bit for bit), not approximate.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from neuro_locomotion.runner import run

DATA = Path(__file__).parent / 'data' / 'closed_loop_3s.npz'
# the recordings were made with the controller stepped every 1 ms (config/salamander.yaml now
# ships control_period_s 0.004: pinned here, so that these stay pure speed comparisons)
ONE_MS = {'control_period_s': 0.001}
# ... and the salamander's stance pitch (decoder.stance_elevation_offset_rad ships [-0.12, 0]
# since 2026-12-07; the swimming limbs fold in, but their first ticks still use it): pinned level
PINNED = {**ONE_MS, 'decoder.stance_elevation_offset_rad': [0.0, 0.0]}
# ... and the spiking salamander's network template and limb readout of then (the limb
# connectivity and spiking.readout_min_half_s changed on 2026-12-07; the swimming limbs fold in,
# but the limbs fire in the first ticks, before the inhibitor silences them)
RECORDED_NETWORK = str(Path(__file__).parent / 'data' / 'salamander_network_recorded.yaml')
CASES = {
    'quadruped_cpg_trot': dict(robot='quadruped', controller='cpg', gait='trot'),
    'salamander_cpg_swim': dict(robot='salamander', controller='cpg', gait='swim', arena='water',
                                params={**PINNED, 'spiking.network': RECORDED_NETWORK,
                                        'spiking.readout_min_half_s': 0.0}),
    'salamander_oscillator_swim': dict(robot='salamander', controller='oscillator', gait='swim',
                                       arena='water', params=PINNED),
}
DURATION_S = 3.0
METRICS = ('distance_m', 'forward_m', 'lateral_m', 'base_height_m', 'sim_time_s')


def _arrays(name: str) -> dict:
    """Trace (100 Hz) and end metrics of one case, as float arrays keyed '<case>/<field>'."""
    result = run(duration=DURATION_S, **CASES[name])
    out = {f'{name}/{k}': np.asarray(v, dtype=float) for k, v in result.trace.arrays().items()}
    out[f'{name}/metrics'] = np.array([float(result.metrics[m]) for m in METRICS])
    return out


@pytest.mark.parametrize('name', sorted(CASES))
def test_run_is_bit_identical_to_the_recording(name):
    before = np.load(DATA)
    now = _arrays(name)
    assert sorted(now) == sorted(k for k in before.files if k.startswith(name + '/'))
    for key, value in now.items():
        assert value.shape == before[key].shape, key
        assert np.array_equal(value, before[key], equal_nan=True), key
    # the run did something: the body moved and the joints swung
    assert before[f'{name}/metrics'][0] > 0.02
    assert np.ptp(before[f'{name}/joint_position'], axis=0).max() > 0.1


if __name__ == '__main__' and '--record' in sys.argv:
    data = {}
    for case in CASES:
        data.update(_arrays(case))
    np.savez_compressed(DATA, **data)
    print(DATA, {k: v.shape for k, v in data.items()})
