"""Single neurons: Izhikevich 2003 types against the reference table, LIF against its analytic
firing rate, adaptation, and clear errors for bad inputs."""
import math

import numpy as np
import pytest

from cpg_controller.neurons import (IZHIKEVICH_PRESETS, neuron_model, simulate_neuron)
from neuro_locomotion.params import ConfigError

DT = 1e-4
# reference sheet §7: spikes in 1 s at I = 10, forward Euler at dt = 0.1 ms
REFERENCE_COUNTS = {'RS': 23, 'IB': 34, 'CH': 86, 'FS': 125, 'LTS': 75}


@pytest.fixture(scope='module')
def izhikevich_spikes():
    return {name: simulate_neuron('izhikevich', preset=name, current=10.0, duration=1.0, dt=DT)
            for name in IZHIKEVICH_PRESETS}


@pytest.mark.parametrize('name', sorted(REFERENCE_COUNTS))
def test_izhikevich_counts_match_reference_table(izhikevich_spikes, name):
    count = izhikevich_spikes[name].size
    assert abs(count - REFERENCE_COUNTS[name]) <= 0.1 * REFERENCE_COUNTS[name], count


def test_intrinsic_burster_first_isi_under_5_ms(izhikevich_spikes):
    ib = izhikevich_spikes['IB']
    assert ib[1] - ib[0] < 5e-3
    # then it settles into regular spiking: late ISIs are much longer than the burst's
    assert np.median(np.diff(ib[-10:])) > 5 * (ib[1] - ib[0])


def test_all_seven_types_run(izhikevich_spikes):
    assert set(izhikevich_spikes) == {'RS', 'IB', 'CH', 'FS', 'LTS', 'TC', 'RZ'}
    for name, spikes in izhikevich_spikes.items():
        assert spikes.size > 5, name
        assert np.all(np.diff(spikes) > 0) and spikes[0] >= 0 and spikes[-1] < 1.0, name
        # spike times lie on the time grid (seconds, stamped at the start of the step)
        assert np.allclose(spikes / DT, np.round(spikes / DT), atol=1e-6), name


def test_regular_spiking_steady_isi(izhikevich_spikes):
    # reference: RS steady ISI 45 ms
    assert np.median(np.diff(izhikevich_spikes['RS'])[-5:]) == pytest.approx(0.045, abs=1e-3)


def test_explicit_parameters_override_preset():
    spikes = simulate_neuron('izhikevich', preset='RS', current=10.0, duration=0.5, d=2.0)
    fs_like = simulate_neuron('izhikevich', current=10.0, duration=0.5, a=0.02, b=0.2, c=-65.0,
                              d=2.0)
    assert np.array_equal(spikes, fs_like)
    assert spikes.size > simulate_neuron('izhikevich', preset='RS', current=10.0,
                                         duration=0.5).size


def lif_isi(current, tau_m=0.02, R=10.0, v_rest=-70.0, v_th=-50.0, t_ref=0.0):
    """Analytic ISI of a LIF reset to v_rest: tau ln(RI / (RI - (v_th - v_rest))) + t_ref."""
    drive = R * current
    return tau_m * math.log(drive / (drive - (v_th - v_rest))) + t_ref


@pytest.mark.parametrize('current,t_ref,tau_m', [
    (2.2, 0.0, 0.02), (2.5, 0.002, 0.02), (4.0, 0.005, 0.01), (10.0, 0.002, 0.03),
    (2.05, 0.001, 0.02),
])
def test_lif_isi_matches_analytic_within_one_step(current, t_ref, tau_m):
    spikes = simulate_neuron('lif', current=current, duration=2.0, dt=DT, tau_m=tau_m,
                             v_rest=-70.0, v_reset=-70.0, v_th=-50.0, t_ref=t_ref, R=10.0)
    isis = np.diff(spikes)
    assert isis.size >= 3
    expected = lif_isi(current, tau_m=tau_m, t_ref=t_ref)
    assert np.all(np.abs(isis - expected) <= DT + 1e-12), (isis[:3], expected)
    # the first spike charges from rest with no refractory period before it
    assert abs(spikes[0] - lif_isi(current, tau_m=tau_m)) <= DT + 1e-12


def test_lif_capacitance_is_equivalent_to_resistance():
    by_r = simulate_neuron('lif', current=3.0, duration=0.5, tau_m=0.02, R=10.0)
    by_c = simulate_neuron('lif', current=3.0, duration=0.5, tau_m=0.02, C=2.0)  # 0.02 s / 2 nF
    assert np.array_equal(by_r, by_c)
    assert neuron_model('lif', {'tau_m': 0.02, 'C': 2.0})['R'] == pytest.approx(10.0)


def test_lif_below_rheobase_is_silent_and_euler_option_runs():
    assert simulate_neuron('lif', current=1.9, duration=1.0, R=10.0).size == 0
    euler = simulate_neuron('lif', current=3.0, duration=1.0, integrator='euler')
    exact = simulate_neuron('lif', current=3.0, duration=1.0)
    assert abs(euler.size - exact.size) <= 1


def test_lif_adaptation_lengthens_isis_towards_a_steady_state():
    spikes = simulate_neuron('lif', current=4.0, duration=2.0, tau_m=0.02, t_ref=0.002,
                             tau_w=0.2, b_w=0.1)
    isis = np.diff(spikes)
    assert isis[-1] > 1.3 * isis[0]
    assert np.all(np.diff(isis[:5]) > 0)
    assert np.std(isis[-5:]) < 0.05 * np.mean(isis[-5:])
    plain = simulate_neuron('lif', current=4.0, duration=2.0, tau_m=0.02, t_ref=0.002)
    assert spikes.size < plain.size


def test_time_varying_current_matches_constant_and_responds():
    constant = simulate_neuron('izhikevich', preset='RS', current=10.0, duration=0.3)
    as_array = simulate_neuron('izhikevich', preset='RS', current=np.full(3000, 10.0),
                               duration=0.3)
    assert np.array_equal(constant, as_array)
    step = np.zeros(3000)
    step[1500:] = 10.0
    late = simulate_neuron('izhikevich', preset='RS', current=step, duration=0.3)
    assert late.size > 0 and late[0] >= 0.15


@pytest.mark.parametrize('kwargs,words', [
    (dict(current=math.nan), 'non-finite'),
    (dict(current=np.array([1.0, math.inf] + [0.0] * 9998)), 'non-finite'),
    (dict(dt=-1e-4), 'dt must be a positive'),
    (dict(dt=0.0), 'dt must be a positive'),
    (dict(duration=-1.0), 'duration'),
    (dict(preset='XX'), "'XX' is not one of"),
    (dict(model='hodgkin_huxley'), "unknown model 'hodgkin_huxley'"),
    (dict(current=np.ones(7)), 'one per step'),
    (dict(tau_m_typo=0.01, model='lif'), 'unknown parameter'),
    (dict(model='lif', tau_m=math.nan), 'not finite'),
    (dict(model='lif', tau_m=-0.01), 'below the minimum'),
    (dict(model='lif', v_reset=-40.0, v_th=-50.0), 'must be below v_th'),
    (dict(model='lif', R=10.0, C=1.0), 'give R or C, not both'),
    (dict(model='lif', preset='RS'), 'preset is an Izhikevich option'),
])
def test_bad_inputs_raise_clear_errors(kwargs, words):
    kwargs = dict(kwargs)
    model = kwargs.pop('model', 'izhikevich')
    with pytest.raises(ValueError, match=words):
        simulate_neuron(model, **kwargs)


def test_config_errors_are_value_errors_naming_the_parameter():
    with pytest.raises(ConfigError, match='tau_w'):
        neuron_model('lif', {'tau_w': 0.0, 'b_w': 0.1})
    with pytest.raises(ConfigError, match="c \\(29.5 mV\\)|c: 29.5"):
        neuron_model('izhikevich', {'c': 29.5, 'v_peak': 29.0})
