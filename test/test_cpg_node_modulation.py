"""cpg_node's neuromodulator interface over DDS (issue 5 item 4): sim_node (lock-step, 200 Hz) and
cpg_node (quadruped, modulated network) in their own processes, the test process as the client.

Targets published on /cpg/neuromodulators move the concentrations seen on /cpg_node/state and the
gait (trot -> walk: the phase offsets of the legs go to the walk table); bad messages and bad
parameter values are refused with a reason and change nothing; the node also publishes the
standard /diagnostics.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip('rclpy')

from std_msgs.msg import Float64MultiArray, MultiArrayDimension  # noqa: E402

from ros_client import Diagnostics, NodeProcess, RosClient, SimProcess  # noqa: E402

pytestmark = pytest.mark.timeout(240)
NODE = '/cpg_node'
TOPIC = '/cpg/neuromodulators'
TRAJ = 'neuromodulation.'
WALK = np.array([0.0, 0.5, 0.75, 0.25])      # touchdown delays (cycle) of LF RF LH RH
TROT = np.array([0.0, 0.5, 0.5, 0.0])



def _levels(**levels) -> Float64MultiArray:
    from neuro_locomotion.ros_convert import modulators_msg
    return modulators_msg(levels)


def _column(box, label: str, n: int = 1) -> np.ndarray:
    labels = box[-1][1].layout.dim[0].label.split(',')
    i = labels.index(label)
    return np.array([m.data[i] for _, m in box[-n:]])


def _offsets(box, n: int) -> np.ndarray:
    """Mean phase lag of each leg behind LF (cycles) over the last n ~/state messages."""
    ph = np.stack([_column(box, f'phase[{k}]', n) for k in range(4)], axis=1)
    lag = np.exp(1j * (ph[:, :1] - ph))             # LF phase minus leg phase
    return np.mod(np.angle(lag.mean(axis=0)) / (2 * math.pi), 1.0)


def _error(offsets, table) -> float:
    d = np.abs(offsets - table)
    return float(np.mean(np.minimum(d, 1.0 - d)))


@pytest.fixture
def client():
    c = RosClient('cpg_modulation_test')
    yield c
    c.close()


def test_neuromodulators_topic_and_parameters(client, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray

    from neuro_locomotion.graph import build_graph
    from neuro_locomotion.ros_diagnostics import status_to_dict
    specs = {s.name: s for s in build_graph('quadruped')}
    sim = SimProcess(specs['sim_node'].ros_args()[1:] + ['-p', 'diagnostics_period:=0.1'],
                     tmp_path / 'sim.log')
    ctrl = NodeProcess('cpg_controller.node', specs['cpg_node'].ros_args()[1:] + [
        '-p', 'robot:=quadruped', '-p', 'spiking.modulated:=true', '-p', 'gait:=trot',
        '-p', 'diagnostics_period:=0.1'], tmp_path / 'cpg.log')
    try:
        state = client.collect(Float64MultiArray, f'{NODE}/state')
        arrays = client.collect(DiagnosticArray, '/diagnostics')
        diag = Diagnostics(client, f'{NODE}/diagnostics')
        sim_diag = Diagnostics(client)

        def sim_time():
            return sim_diag.latest['sim_time'] if sim_diag.latest else -1.0

        client.wait_for(lambda: len(state) > 50, 120, 'cpg_node state')
        assert client.get_parameters(NODE, f'{TRAJ}serotonin.target',
                                     f'{TRAJ}noradrenaline.target') == [1.0, 0.0]   # trot
        t0 = sim_time()
        client.wait_for(lambda: sim_time() > t0 + 2.0, 60, '2 sim s of trot')
        trot = _offsets(state, 200)                 # ~/state at 200 Hz: the last 1 sim s
        c0 = {n: _column(state, f'concentration.{n}')[0] for n in ('serotonin', 'noradrenaline')}
        print(f'trot: offsets {np.round(trot, 3)}, error to trot {_error(trot, TROT):.3f}, '
              f'to walk {_error(trot, WALK):.3f}, concentrations {c0}')
        assert c0 == {'serotonin': 1.0, 'noradrenaline': 0.0}

        # refused on the topic, with the reason; the node stays up, nothing changes
        pub = client.publisher(Float64MultiArray, TOPIC)
        malformed = Float64MultiArray(data=[0.5, 0.5])
        malformed.layout.dim = [MultiArrayDimension(label='serotonin', size=2, stride=2)]
        bad = [(_levels(dopamine=0.5), 'unknown modulator'),
               (_levels(serotonin=1.5), 'serotonin'),
               (_levels(serotonin=math.nan, noradrenaline=0.0), 'serotonin'),
               (malformed, 'malformed layout')]
        for k, (msg, reason) in enumerate(bad):
            pub.publish(msg)
            d = diag.wait(lambda d: d['modulators']['refused'] == k + 1, 10, f'refusal {k + 1}')
            print('refused:', d['modulators']['last_refusal_reason'])
            assert reason in d['modulators']['last_refusal_reason']
        assert d['modulators']['concentrations'] == {'serotonin': 1.0, 'noradrenaline': 0.0}
        assert d['modulators']['targets'] == {'serotonin': 1.0, 'noradrenaline': 0.0}
        # ... and named in the standard /diagnostics
        status = client.wait_for(lambda: next((status_to_dict(s) for _, m in arrays[::-1]
                                               for s in m.status if s.name == NODE
                                               and s.values and status_to_dict(s).get(
                                                   'modulators.refused') == '4'), None),
                                 10, '/diagnostics of cpg_node')
        assert 'malformed layout' in status['modulators.last_refusal_reason']
        assert next(s for _, m in arrays for s in m.status if s.name == NODE).hardware_id \
            == 'quadruped'

        # refused as parameters, with the reason
        for name, value, reason in [(f'{TRAJ}serotonin.target', 1.5, 'out of range'),
                                    (f'{TRAJ}serotonin.target', math.nan, ''),
                                    (f'{TRAJ}noradrenaline.tau_uptake_s', 0.0, ''),
                                    ('speed_mps', 0.05, 'speed'),
                                    ('gait', 'moonwalk', 'moonwalk')]:
            r = client.set_parameters(NODE, **{name: value})[0]
            print(f'{name} = {value}: refused: {r.reason}')
            assert not r.successful and r.reason and reason in r.reason
        assert client.get_parameters(NODE, f'{TRAJ}serotonin.target', 'gait') == [1.0, 'trot']

        # trot -> walk by the modulators alone: the targets of the walk row on the topic
        n_state = len(state)
        pub.publish(_levels(serotonin=0.0, noradrenaline=0.0))
        d = diag.wait(lambda d: d['modulators']['accepted'] == 1, 10, 'the walk levels')
        t1 = sim_time()
        # ~/state comes with every joint_states (200 Hz): 80 messages = 0.4 sim s
        client.wait_for(lambda: len(state) - n_state >= 80, 30, '0.4 sim s of ~/state')
        c = _column(state, 'concentration.serotonin', len(state) - n_state)[:80]
        print(f'serotonin every 50 ms after the command: {np.round(c[::10], 4).tolist()}')
        # tau_uptake 0.05 s: no jump (first values near 1), exp(-0.4 / 0.05) = 3e-4 at 0.4 s
        assert c[0] > 0.5 and c[-1] < 0.01 and np.all(np.diff(c) <= 1e-12)
        assert client.get_parameters(NODE, f'{TRAJ}serotonin.target') == [0.0]  # written back
        client.wait_for(lambda: sim_time() > t1 + 4.0, 60, '4 sim s of walk')
        walk = _offsets(state, 200)
        print(f'walk: offsets {np.round(walk, 3)}, error to walk {_error(walk, WALK):.3f}, '
              f'to trot {_error(walk, TROT):.3f}')
        assert _error(trot, TROT) < 0.05
        assert _error(walk, TROT) > 0.1             # the modulators alone took it out of trot
        # Reaching the walk table is the network's job and is not certain in closed loop: at
        # some command phases trot -> walk settles ~0.5 cycle off the table (issue 5, measured in
        # the lock-step runner too: 1 of 6 command times; over DDS 1 of 5 runs ended at 0.126).
        # The deterministic check is test_gait_switching; here the ROS path is under test.

        # time constants are live; gait and speed as parameters write the targets back
        r = client.set_parameters(NODE, **{f'{TRAJ}serotonin.tau_release_s': 0.5})[0]
        assert r.successful, r.reason
        n_state = len(state)
        r = client.set_parameters(NODE, gait='trot')[0]
        assert r.successful, r.reason
        client.wait_for(lambda: len(state) - n_state >= 100, 30, '0.5 sim s of ~/state')
        c = _column(state, 'concentration.serotonin', len(state) - n_state)
        rise = c[np.argmax(c > 0):][:41]            # from the first step up, 0.2 s
        print(f'serotonin rising with tau_release 0.5 s, every 50 ms: '
              f'{np.round(rise[::10], 4).tolist()}')
        # 1 - exp(-0.2 / 0.5) = 0.33 (with the file's 0.05 s it would be 0.98)
        assert 0.25 < rise[40] < 0.42, rise[40]
        client.wait_for(lambda: client.get_parameters(NODE, f'{TRAJ}serotonin.target') == [1.0],
                        10, 'the trot levels written back')
        r = client.set_parameters(NODE, speed_mps=0.3)[0]
        assert r.successful, r.reason
        client.wait_for(lambda: _column(state, 'target.serotonin')[0] == pytest.approx(0.5),
                        10, 'speed 0.3 m/s -> serotonin 0.5')
        # trot -> walk by the gait parameter alone is timed (the transitions table: LF's
        # readout at lift-off, at most max_wait_s): the walk levels are written back once released
        r = client.set_parameters(NODE, gait='walk')[0]
        assert r.successful, r.reason
        walk_levels = client.get_parameters(NODE, f'{TRAJ}serotonin.target')
        client.wait_for(lambda: client.get_parameters(NODE, f'{TRAJ}serotonin.target') == [0.0],
                        10, 'the walk levels written back after the release')
        print(f'serotonin target right after gait:=walk {walk_levels}, then 0.0 once released')
        d = diag.wait(lambda d: d['rebuilds'] == 0, 5)
        assert d['refused_total'] == 0 and ctrl.alive() and sim.alive()
    finally:
        rc_ctrl = ctrl.stop()
        rc_sim = sim.stop()
        print(ctrl.log()[-2500:])
    assert rc_ctrl == 0 and rc_sim == 0
