"""The kernel against Brian2 (numpy code generation, dt = 0.1 ms): the same equations and update
order give the same spike times, within one time step, for the seven Izhikevich 2003 types, for
LIF neurons, and for a small two-model network with delays built by ``to_brian2``.

Brian2 costs about a second per run() call, so each test batches its neurons into one run."""
import numpy as np
import pytest

b2 = pytest.importorskip('brian2')

from cpg_controller.network import Network, to_brian2  # noqa: E402
from cpg_controller.neurons import IZHIKEVICH_PRESETS, simulate_neuron  # noqa: E402

DT = 1e-4
b2.prefs.codegen.target = 'numpy'


def assert_same_trains(ours, theirs, tolerance=DT):
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    if len(ours):
        assert np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) <= tolerance + 1e-12


def test_izhikevich_types_match_brian2():
    names = list(IZHIKEVICH_PRESETS)
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms
    group = b2.NeuronGroup(len(names), '''
        dv/dt = (0.04*v**2 + 5*v + 140 - u + I)/ms : 1
        du/dt = a*(b*v - u)/ms : 1
        a : 1 (constant)
        b : 1 (constant)
        c : 1 (constant)
        d : 1 (constant)
        I : 1 (constant)
    ''', threshold='v >= 30', reset='v = c; u += d', method='euler')
    for key in 'abcd':
        setattr(group, key, [IZHIKEVICH_PRESETS[name][key] for name in names])
    group.v = -65.0
    group.u = group.b * group.v
    group.I = 10.0
    monitor = b2.SpikeMonitor(group)
    b2.run(1 * b2.second)
    trains = monitor.spike_trains()
    for k, name in enumerate(names):
        ours = simulate_neuron('izhikevich', preset=name, current=10.0, duration=1.0, dt=DT)
        theirs = np.asarray(trains[k] / b2.second)
        assert_same_trains(ours, theirs)


LIF_CASES = [  # (current nA, t_ref s, tau_w s, b_w nA)
    (2.5, 0.0, 0.1, 0.0), (3.0, 0.002, 0.1, 0.0), (6.0, 0.005, 0.1, 0.0),
    (4.0, 0.002, 0.2, 0.1), (12.0, 0.01, 0.1, 0.15),
]


def test_lif_neurons_match_brian2_exponential_euler():
    b2.start_scope()
    b2.defaultclock.dt = 0.1 * b2.ms
    group = b2.NeuronGroup(len(LIF_CASES), '''
        dv/dt = (-70 - v + 10*(I - w))/(20*ms) : 1 (unless refractory)
        dw/dt = -w/tau_w : 1
        I : 1 (constant)
        t_ref : second (constant)
        tau_w : second (constant)
        b_w : 1 (constant)
    ''', threshold='v >= -50', reset='v = -60; w += b_w', refractory='t_ref',
        method='exponential_euler')
    group.v = -70.0
    for k, (current, t_ref, tau_w, b_w) in enumerate(LIF_CASES):
        group.I[k], group.t_ref[k], group.tau_w[k], group.b_w[k] = (
            current, t_ref * b2.second, tau_w * b2.second, b_w)
    monitor = b2.SpikeMonitor(group)
    b2.run(1 * b2.second)
    trains = monitor.spike_trains()
    for k, (current, t_ref, tau_w, b_w) in enumerate(LIF_CASES):
        ours = simulate_neuron('lif', current=current, duration=1.0, dt=DT, tau_m=0.02,
                               v_rest=-70.0, v_reset=-60.0, v_th=-50.0, t_ref=t_ref, R=10.0,
                               tau_w=tau_w, b_w=b_w)
        assert len(ours) > 5
        assert_same_trains(ours, np.asarray(trains[k] / b2.second))


NETWORK = {
    'name': 'two_models', 'dt': DT, 'seed': 5,
    'populations': [
        {'name': 'exc', 'model': 'izhikevich', 'size': 8, 'drive': 5.0,
         'v_init': [-70.0, -60.0], 'bias': [-1.0, 1.0],
         'params': {'preset': 'RS', 'tau_w': 0.3, 'b_w': 0.5}},
        {'name': 'inh', 'model': 'lif', 'size': 6, 'drive': 2.2, 'v_init': [-70.0, -55.0],
         'params': {'tau_m': 0.01, 't_ref': 0.002, 'tau_w': 0.1, 'b_w': 0.05,
                    'i_exc_max': 5.0}},
    ],
    'projections': [
        {'source': 'exc', 'target': 'inh', 'type': 'excitatory', 'weight': 1.2, 'tau': 0.005,
         'delay': 0.002, 'p': 0.5},
        {'source': 'inh', 'target': 'exc', 'type': 'inhibitory', 'weight': 6.0, 'tau': 0.01,
         'delay': 0.0015, 'p': 0.5},
        {'source': 'exc', 'target': 'exc', 'type': 'excitatory', 'weight': 2.0, 'tau': 0.005,
         'delay': 0.0, 'p': 0.3},
    ],
}


def test_network_with_delays_matches_brian2():
    net = Network(NETWORK)
    model = to_brian2(net)           # same parameters, connectivity and initial state
    record = net.run(0.5)
    model.network.run(0.5 * b2.second)
    total = 0
    for name in ('exc', 'inh'):
        first = net.neurons(name).start
        ours = record.spikes(name)
        theirs = model.spikes[name].spike_trains()
        for k in range(net.compiled.sizes[net.index(name)]):
            mine = ours.times[ours.indices == first + k]
            assert_same_trains(mine, np.asarray(theirs[k] / b2.second))
            total += mine.size
    assert total > 100
