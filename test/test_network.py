"""Networks as data: validation, compilation, the kernel's determinism, delays and event-driven
propagation against a dense reference, the seeded normal generator, and the half-centre
oscillator's targets (antiphase bursts, overlap < 5 % of the period, frequency rising with drive
over at least 0.3-3 Hz)."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from cpg_controller import kernel as K
from cpg_controller.bursts import Bursts, detect_bursts, half_centre_summary, overlap_fraction
from cpg_controller.network import Network, compile, load_network
from neuro_locomotion.params import ConfigError

ROOT = Path(__file__).resolve().parent.parent
HCO = ROOT / 'config' / 'networks' / 'half_centre.yaml'
BENCH = ROOT / 'config' / 'networks' / 'bench_quadruped_200.yaml'


def small_network(**changes):
    tree = {
        'name': 'small', 'dt': 1e-4, 'seed': 3,
        'populations': [
            {'name': 'a', 'model': 'lif', 'size': 4, 'drive': 3.0, 'noise': 0.0,
             'v_init': [-70.0, -55.0], 'bias': [-0.2, 0.2],
             'params': {'tau_m': 0.02, 't_ref': 0.002, 'tau_w': 0.1, 'b_w': 0.05}},
            {'name': 'b', 'model': 'izhikevich', 'size': 3, 'drive': 6.0,
             'params': {'preset': 'RS', 'tau_w': 0.2, 'b_w': 0.5, 'i_inh_max': 8.0}},
            {'name': 'c', 'model': 'lif', 'size': 3, 'drive': 2.5, 'v_init': -60.0,
             'params': {'tau_m': 0.01, 'integrator': 'euler', 'i_exc_max': 3.0,
                        'tau_w2': 0.5, 'b_w2': 0.02}},
        ],
        'projections': [
            {'source': 'a', 'target': 'b', 'type': 'excitatory', 'weight': 4.0, 'tau': 0.005,
             'delay': 0.001, 'p': 0.6},
            {'source': 'b', 'target': 'a', 'type': 'inhibitory', 'weight': 1.5, 'tau': 0.01,
             'delay': 0.0025, 'p': 0.7},
            {'source': 'a', 'target': 'c', 'type': 'excitatory', 'weight': 0.8, 'tau': 0.003,
             'delay': 0.0, 'p': 0.5},
            {'source': 'c', 'target': 'a', 'type': 'excitatory', 'weight': 0.6, 'tau': 0.005,
             'delay': 0.004, 'p': 0.5},
            {'source': 'c', 'target': 'c', 'type': 'inhibitory', 'weight': 0.5, 'tau': 0.008,
             'delay': 0.0005, 'p': 1.0},
        ],
    }
    tree.update(changes)
    return tree


# --- loading and validation -------------------------------------------------------------------
def mutate(path, value):
    tree = small_network()
    node = tree
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return tree


@pytest.mark.parametrize('path,value,words', [
    (('colour',), 'red', re.escape("unknown key(s) ['colour']")),
    (('dt',), math.nan, 'dt: nan is not finite'),
    (('dt',), -1e-4, 'dt: -0.0001 is below the minimum'),
    (('seed',), 1.5, 'seed: expected an integer'),
    (('noise_dt',), 1.5e-4, 'noise_dt: 0.00015 s is not a multiple of dt'),
    (('populations',), [], 'populations must be a non-empty list'),
    (('populations', 0, 'flavour'), 1, re.escape("populations[0]: unknown key(s) ['flavour']")),
    (('populations', 0, 'size'), 0, "population 'a'.size: 0 is below the minimum"),
    (('populations', 0, 'size'), 2.5, "population 'a'.size: expected an integer"),
    (('populations', 0, 'drive'), math.inf, "population 'a'.drive: inf is not finite"),
    (('populations', 0, 'noise'), -0.1, "population 'a'.noise: -0.1 is below the minimum"),
    (('populations', 0, 'model'), 'hh', "unknown model 'hh'"),
    (('populations', 0, 'params', 'tau_m'), math.nan, 'tau_m: nan is not finite'),
    (('populations', 0, 'params', 'taum'), 0.01, 'taum: unknown parameter'),
    (('populations', 1, 'params', 'preset'), 'XY', "'XY' is not one of"),
    (('populations', 0, 'v_init'), [-50.0, -60.0], 'low -50.0 is above high -60.0'),
    (('populations', 0, 'bias'), [1, 2, 3], 'expected a number or \\[low, high\\]'),
    (('populations', 1, 'name'), 'a', "duplicate population name\\(s\\) \\['a'\\]"),
    (('populations', 0, 'name'), '', 'non-empty string name'),
    (('populations', 0, 'size'), KeyError, "missing 'size'"),
    (('projections', 0, 'target'), 'z', "unknown target population 'z'"),
    (('projections', 0, 'source'), 'q', "unknown source population 'q'"),
    (('projections', 0, 'delay'), -0.001, 'delay: -0.001 s is negative'),
    (('projections', 0, 'delay'), math.nan, 'delay: nan is not finite'),
    (('projections', 0, 'delay'), 5.0, 'delay: 5.0 is above the maximum'),
    (('projections', 0, 'p'), 1.5, 'p: 1.5 is above the maximum 1.0'),
    (('projections', 0, 'indegree'), 2, 'give p .* or indegree .*, not both'),
    (('projections', 0, 'weight'), -1.0, 'is negative; weights are magnitudes'),
    (('projections', 0, 'weight'), 'big', 'weight: expected a number'),
    (('projections', 0, 'type'), 'modulatory', "'modulatory' is not one of"),
    (('projections', 0, 'tau'), 0.0, 'tau: 0.0 is below the minimum'),
    (('projections', 0, 'autapses'), 'yes', 'autapses: expected true/false'),
    (('projections', 0, 'speed'), 3, "projections\\[0\\]: unknown key"),
    (('projections', 4, 'tau'), 0.00005, 'forward Euler would be unstable'),
])
def test_validation_errors_name_the_problem(path, value, words):
    with pytest.raises(ConfigError, match=words):
        load_network(mutate(path, value))


@pytest.mark.parametrize('k, value, words', [
    (0, 2.5, 'indegree: expected an integer'),
    (0, -1, 'indegree: -1 is below the minimum'),
    (0, math.nan, 'indegree: expected an integer'),
    (0, 5, re.escape('(a -> b).indegree: 5 sources per target, but only 4 are available')),
    (4, 3, re.escape('(c -> c).indegree: 3 sources per target, but only 2 are available')),
])
def test_bad_indegree_is_refused(k, value, words):
    tree = small_network()
    del tree['projections'][k]['p']
    tree['projections'][k]['indegree'] = value
    with pytest.raises(ConfigError, match=words):
        load_network(tree)


def test_fixed_indegree_gives_every_target_exactly_that_many_distinct_sources():
    """``indegree: k`` (instead of ``p``): each target neuron draws k distinct sources (not
    itself without autapses), so every neuron of the target gets the same input count whatever
    the seed; with ``p`` the counts are binomial and differ between draws."""
    tree = small_network()
    for k, value in ((0, 2), (4, 2)):
        del tree['projections'][k]['p']
        tree['projections'][k]['indegree'] = value
    drawn = []
    for seed in (1, 2, 3):
        c = compile(dict(tree, seed=seed))
        source, target, _, _ = c.synapses()
        proj = c.syn_projection
        for j, pre, post in ((0, c.neurons('a'), c.neurons('b')),
                             (4, c.neurons('c'), c.neurons('c'))):
            s, t = source[proj == j], target[proj == j]
            assert np.all((s >= pre.start) & (s < pre.stop))
            assert np.array_equal(np.bincount(t - post.start, minlength=post.stop - post.start),
                                  np.full(post.stop - post.start, 2))
            assert len(set(zip(s, t))) == s.size           # distinct sources
            if j == 4:
                assert not np.any(s == t)                   # no autapses
        drawn.append(sorted(zip(source[proj == 0], target[proj == 0])))
    assert drawn[0] != drawn[1] or drawn[1] != drawn[2]     # the seed still draws which ones
    tree['projections'][4]['autapses'] = True
    tree['projections'][4]['indegree'] = 3                  # all three, itself included
    c = compile(tree)
    source, target, _, _ = c.synapses()
    assert np.sum((source == target) & (c.syn_projection == 4)) == 3


def test_validation_of_shared_synaptic_time_constants():
    tree = small_network()
    tree['projections'].append({'source': 'b', 'target': 'b', 'type': 'excitatory',
                                'weight': 1.0, 'tau': 0.002})
    with pytest.raises(ConfigError, match='share one current'):
        load_network(tree)


def test_validation_of_files(tmp_path):
    with pytest.raises(ConfigError, match='network file not found'):
        load_network(tmp_path / 'missing.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('populations: [a, b\n')
    with pytest.raises(ConfigError, match='invalid YAML'):
        load_network(bad)
    bad.write_text('- 1\n- 2\n')
    with pytest.raises(ConfigError, match='expected a mapping'):
        load_network(bad)
    good = tmp_path / 'good.yaml'
    good.write_text(yaml.safe_dump(small_network()))
    assert load_network(good).name == 'small'


def test_shipped_networks_load_and_compile():
    hco = load_network(HCO)
    assert [p.name for p in hco.populations] == ['flexor', 'extensor']
    assert load_network('half_centre') == hco  # a bare name is looked up in config/networks
    c = compile(hco)
    assert c.n_neurons == 60 and c.n_synapses > 0
    bench = compile(BENCH)
    assert bench.n_neurons == 200 and len(bench.names) == 8


def test_compile_builds_csr_delays_and_indices():
    c = compile(small_network())
    assert c.names == ('a', 'b', 'c')
    # model blocks: the LIF populations a and c first, then the Izhikevich population b
    assert (c.neurons('a'), c.neurons('c'), c.neurons('b')) == (slice(0, 4), slice(4, 7),
                                                                 slice(7, 10))
    assert c.index('b') == 1 and c.n_lif == 7
    source, target, weight, delay = c.synapses()
    assert np.all(np.diff(source) >= 0)                      # CSR order
    assert np.array_equal(np.diff(c.indptr), np.bincount(source, minlength=c.n_neurons))
    proj = c.syn_projection
    assert set(delay[proj == 1]) == {25} and set(delay[proj == 2]) == {0}
    assert set(delay[proj == 4]) == {5} and c.n_slots == 41
    assert np.all(weight[proj == 1] == -1.5) and np.all(weight[proj == 0] == 4.0)
    # no autapses unless asked for: c -> c with p = 1 has 3 * 2 synapses
    assert np.sum(proj == 4) == 6 and not np.any((source == target) & (proj == 4))
    with pytest.raises(KeyError, match="no population 'z'"):
        c.index('z')


# --- running ------------------------------------------------------------------------------------
def spikes_of(record):
    return np.stack([record.spike_times, record.spike_indices])


def test_determinism_for_a_seed_and_independence_of_instances():
    tree = small_network()
    for pop in tree['populations']:
        pop['noise'] = 0.5
    first = spikes_of(Network(tree).run(1.0))
    assert first.shape[1] > 50
    # bitwise equal for the same seed, also when another network runs in between
    other = Network(tree, seed=99)
    second_net = Network(tree)
    other.run(0.3)
    second = spikes_of(second_net.run(1.0))
    assert np.array_equal(first, second)
    # reset(seed) restarts the same run; a different seed gives a different one
    second_net.reset()
    assert np.array_equal(first, spikes_of(second_net.run(1.0)))
    second_net.reset(seed=4)
    assert not np.array_equal(first, spikes_of(second_net.run(1.0)))


def test_step_equals_run_and_reports_rates():
    tree = small_network()
    tree['populations'][0]['noise'] = 0.3
    recorded = Network(tree).run(0.5)
    net = Network(tree)
    times, indices, rates = [], [], []
    for _ in range(500):
        rates.append(net.step(1e-3))
        times.append(net.spikes_last_tick.times)
        indices.append(net.spikes_last_tick.indices)
    assert np.array_equal(np.concatenate(times), recorded.spike_times)
    assert np.array_equal(np.concatenate(indices), recorded.spike_indices)
    assert np.allclose(np.array(rates), recorded.rates)
    assert net.time == pytest.approx(0.5)
    assert np.array_equal(net.counts_last_tick, recorded.counts[-1])
    # a rate is spikes per neuron per second
    k = int(np.argmax(recorded.counts.sum(1)))
    assert recorded.rates[k, 0] == recorded.counts[k, 0] / (4 * 1e-3)


def test_drive_changes_at_run_time():
    net = Network(small_network())
    quiet = net.run(0.5).counts[:, 0].sum()
    net.reset()
    net.set_drive('a', 6.0)
    assert net.get_drive('a') == 6.0 and net.drive[0] == 6.0
    loud = net.run(0.5).counts[:, 0].sum()
    assert loud > 2 * quiet
    net.set_drive(2, 0.0)
    assert net.drive[2] == 0.0
    for bad in (math.nan, math.inf, 'x', None):
        with pytest.raises(ValueError, match='finite number'):
            net.set_drive('a', bad)
    with pytest.raises(KeyError):
        net.set_drive('nope', 1.0)
    with pytest.raises(ValueError, match='not a multiple'):
        net.step(1.5e-4)
    with pytest.raises(ValueError, match='positive'):
        net.step(-1e-3)


def test_a_spike_arrives_exactly_delay_steps_later():
    dt = 1e-4
    for delay_steps in (0, 1, 7, 30):
        tree = {
            'name': 'delay', 'dt': dt, 'seed': 0,
            'populations': [
                {'name': 'pre', 'model': 'lif', 'size': 1, 'drive': 2.5,
                 'params': {'t_ref': 0.0}},
                {'name': 'post', 'model': 'lif', 'size': 1, 'drive': 0.0},
            ],
            'projections': [{'source': 'pre', 'target': 'post', 'type': 'excitatory',
                             'weight': 1.0, 'tau': 0.005, 'delay': delay_steps * dt}],
        }
        net = Network(tree)
        post = net.neurons('post').start
        spike_step, arrival_step = None, None
        for k in range(400):
            net.step(dt)
            if spike_step is None and net.spikes_last_tick.times.size:
                spike_step = int(round(net.spikes_last_tick.times[0] / dt))
                assert spike_step == k
            if net.state['i_exc'][post] > 0:
                arrival_step = k
                break
        assert spike_step is not None
        # the input is added at the end of step k + D and acts on v from step k + D + 1
        assert arrival_step == spike_step + delay_steps, delay_steps
        assert net.state['i_exc'][post] == 1.0


def dense_reference(net, n_steps):
    """The kernel's equations stepped with dense weight matrices, one per delay (no noise)."""
    c = net.compiled
    n = c.n_neurons
    par = c.par
    st = net._st.copy()
    v, u, w, w2 = st[K.S_V], st[K.S_U], st[K.S_W], st[K.S_W2]
    i_exc, i_inh, ref = st[K.S_EXC], st[K.S_INH], st[K.S_REF]
    source, target, weight, delay = c.synapses()
    n_slots = c.n_slots
    w_exc = np.zeros((n_slots, n, n))
    w_inh = np.zeros((n_slots, n, n))
    for s, t, x, d in zip(source, target, weight, delay):
        (w_exc if x > 0 else w_inh)[d, t, s] += abs(x)
    pending_exc = np.zeros((n_slots, n))
    pending_inh = np.zeros((n_slots, n))
    lif = np.arange(n) < c.n_lif
    dt_ms = c.dt * 1e3
    flush = lambda x: np.where(x > 1e-30, x, 0.0)  # noqa: E731
    spikes = []
    for k in range(n_steps):
        synaptic = (i_exc / (1.0 + par[K.P_KEXC] * i_exc)
                    - i_inh / (1.0 + par[K.P_KINH] * i_inh))
        # P_BASE: LIF v_rest + R (drive + bias), Izhikevich drive + bias
        current = par[K.P_BASE] + 0.0 - w - w2 + synaptic
        v_inf = par[K.P_BASE] + par[K.P_1] * (0.0 - w - w2 + synaptic)
        v_lif = v_inf + (v - v_inf) * par[K.P_2]
        r = np.where(ref > 0.5, ref - 1.0, 0.0)
        v_lif = np.where(r < 0.5, v_lif, v)
        v_izh = dt_ms * ((140.0 + ((current + 0.04 * (v * v)) + 5.0 * v)) - u) + v
        u_izh = dt_ms * (par[K.P_0] * ((par[K.P_1] * v) - u)) + u
        v[:] = np.where(lif, v_lif, v_izh)
        u[:] = np.where(lif, u, u_izh)
        ref[:] = np.where(lif, r, ref)
        i_exc[:] = flush(i_exc * par[K.P_FEXC])
        i_inh[:] = flush(i_inh * par[K.P_FINH])
        w[:] = flush(w * par[K.P_FW])
        w2[:] = flush(w2 * par[K.P_FW2])
        fired = v >= par[K.P_VTH]
        spikes += [(k, i) for i in np.flatnonzero(fired)]
        s = fired.astype(float)
        for d in range(n_slots):
            pending_exc[(k + d) % n_slots] += w_exc[d] @ s
            pending_inh[(k + d) % n_slots] += w_inh[d] @ s
        v[fired] = par[K.P_VRESET, fired]
        u[fired] += par[K.P_UINC, fired]
        w[fired] += par[K.P_BW, fired]
        w2[fired] += par[K.P_BW2, fired]
        ref[fired] = par[K.P_REF, fired]
        i_exc += pending_exc[k % n_slots]
        i_inh += pending_inh[k % n_slots]
        pending_exc[k % n_slots] = 0.0
        pending_inh[k % n_slots] = 0.0
    return np.array(spikes, dtype=np.int64).reshape(-1, 2).T, st


def test_event_driven_propagation_equals_dense_reference():
    net = Network(small_network())
    expected, state = dense_reference(net, 5000)
    record = net.run(0.5, dt_control=1e-3)
    got = np.stack([np.round(record.spike_times / net.dt).astype(np.int64),
                    record.spike_indices])
    assert got.shape[1] > 100
    np.testing.assert_array_equal(got, expected)
    for row in (K.S_V, K.S_U, K.S_W, K.S_W2, K.S_EXC, K.S_INH, K.S_REF):
        np.testing.assert_allclose(net._st[row], state[row], rtol=1e-9, atol=1e-9)
    # every population fired, every projection carried spikes
    assert set(np.unique(net.compiled.pop_of[got[1]])) == {0, 1, 2}


def test_normal_generator_is_seeded_and_standard():
    ctl = np.zeros(K.N_CTL, dtype=np.uint64)
    ctl[1:] = K.seed_words(7)
    x = np.empty(400_000)
    K.normals(ctl, K.ZIG_X, K.ZIG_F, x)
    ctl2 = np.zeros(K.N_CTL, dtype=np.uint64)
    ctl2[1:] = K.seed_words(7)
    y = np.empty(400_000)
    K.normals(ctl2, K.ZIG_X, K.ZIG_F, y)
    assert np.array_equal(x, y)
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1.0) < 0.01
    assert abs(np.mean((x - x.mean()) ** 4) / x.var() ** 2 - 3.0) < 0.05
    # tails (the ziggurat's slow paths): P(|x| > 2) = 0.0455, P(|x| > 3.6541) = 2.58e-4
    assert np.mean(np.abs(x) > 2.0) == pytest.approx(0.0455, rel=0.05)
    assert np.mean(np.abs(x) > 3.6541528853610088) == pytest.approx(2.58e-4, rel=0.25)
    assert np.mean(x > 0) == pytest.approx(0.5, abs=0.005)


def test_burst_helpers_on_a_synthetic_square_wave():
    dt = 1e-3
    t = np.arange(0, 10, dt)
    a = np.where((t % 1.0) < 0.4, 50.0, 0.0)
    b = np.where(((t - 0.5) % 1.0) < 0.4, 50.0, 0.0)
    bursts = detect_bursts(a, dt)
    assert np.allclose(np.diff(bursts.onsets), 1.0, atol=2e-3)
    assert np.allclose(bursts.offsets - bursts.onsets, 0.4, atol=2e-3)
    s = half_centre_summary(a, b, dt)
    assert s.frequency == pytest.approx(1.0, rel=1e-2)
    assert s.overlap == 0.0 and s.phase == pytest.approx(0.5, abs=0.01)
    assert overlap_fraction(Bursts(np.array([0.0]), np.array([1.0])),
                            Bursts(np.array([0.5]), np.array([1.5]))) == pytest.approx(1 / 3)


# --- the half-centre oscillator ---------------------------------------------------------------
HCO_DRIVES = [9.0, 11.5, 13.0, 14.0, 14.5, 15.0, 15.5, 16.0]  # nA


@pytest.fixture(scope='module')
def hco_sweep():
    net = Network(HCO)
    out = []
    for drive in HCO_DRIVES:
        net.reset()
        net.set_drive('flexor', drive)
        net.set_drive('extensor', drive)
        record = net.run(16.0)
        out.append(half_centre_summary(record.rate('flexor'), record.rate('extensor'),
                                       record.dt_control, skip=1.0))
    return out


def test_hco_bursts_alternate_in_antiphase_with_little_overlap(hco_sweep):
    for drive, s in zip(HCO_DRIVES, hco_sweep):
        assert min(s.n_bursts) >= 2, (drive, s)
        assert s.overlap < 0.05, (drive, s)
        assert abs(s.phase - 0.5) < 0.1, (drive, s)


def test_hco_frequency_rises_with_drive_over_a_decade(hco_sweep):
    freqs = np.array([s.frequency for s in hco_sweep])
    assert np.all(np.isfinite(freqs))
    assert np.all(np.diff(freqs) > 0), freqs
    assert freqs[0] <= 0.3 and freqs[-1] >= 3.0, freqs
