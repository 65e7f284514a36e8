"""Neuron population models as data: LIF (with optional adaptation) and Izhikevich (2003).

Units at every API: time in **seconds**, membrane potential in **mV**.

LIF (current unit nA, R in MΩ so that R·I is in mV)::

    tau_m dv/dt = -(v - v_rest) + R (I - w)         while not refractory
    tau_w dw/dt = -w                                spike-frequency adaptation current
    v >= v_th  ->  spike; v <- v_reset, w <- w + b_w, v held at v_reset for t_ref

Izhikevich 2003 (dimensionless current I; the equations' time unit is the **ms**: the kernel
converts, dt_ms = 1000·dt)::

    dv/dt_ms = 0.04 v² + 5 v + 140 - u + I - w
    du/dt_ms = a (b v - u)
    v >= v_peak (30 mV)  ->  spike; v <- c, u <- u + d, w <- w + b_w

The input ``I`` is the population's tonic drive + a per-neuron bias + Gaussian noise + the
excitatory synaptic current - the inhibitory synaptic current; the optional adaptation current
``w`` (both models; ``b_w`` = 0 turns it off) decays with ``tau_w`` in seconds.

Integrator (fixed, documented in docs/cpg.md): time step dt = 0.1 ms by default, inputs held over
a step. Izhikevich: forward Euler, every derivative from the state at the start of the step
(Brian2's ``method='euler'``). LIF: exponential Euler (``v <- v_inf + (v - v_inf) exp(-dt/tau_m)``,
exact for an input held over the step; Brian2's ``'exponential_euler'``), or forward Euler
(``integrator: euler``, factor 1 - dt/tau_m). Synaptic and adaptation currents decay by
exp(-dt/tau) (exponential Euler) or 1 - dt/tau (Euler) per step, by the population's integrator.
A spike is stamped with the start time of the step whose update crossed threshold (Brian2's
convention), so with t_ref > 0 a LIF neuron is held for round(t_ref/dt) - 1 steps after its reset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from neuro_locomotion.params import ConfigError, ParamSet, ParamSpec

MODELS = ('lif', 'izhikevich')
INTEGRATORS = ('exponential_euler', 'euler')
DEFAULT_DT = 1e-4  # s

#: Izhikevich (2003) Fig. 2 neuron types: (a, b, c, d).
IZHIKEVICH_PRESETS: dict[str, dict[str, float]] = {
    'RS': dict(a=0.02, b=0.2, c=-65.0, d=8.0),     # regular spiking
    'IB': dict(a=0.02, b=0.2, c=-55.0, d=4.0),     # intrinsically bursting
    'CH': dict(a=0.02, b=0.2, c=-50.0, d=2.0),     # chattering
    'FS': dict(a=0.1, b=0.2, c=-65.0, d=2.0),      # fast spiking
    'LTS': dict(a=0.02, b=0.25, c=-65.0, d=2.0),   # low-threshold spiking
    'TC': dict(a=0.02, b=0.25, c=-65.0, d=0.05),   # thalamo-cortical
    'RZ': dict(a=0.1, b=0.26, c=-65.0, d=2.0),     # resonator
}

LIF_PARAMS = (
    ParamSpec('tau_m', 0.02, 'membrane time constant', 's', min=1e-5, max=10.0),
    ParamSpec('v_rest', -70.0, 'resting potential', 'mV', min=-200.0, max=100.0),
    ParamSpec('v_reset', -70.0, 'reset potential after a spike', 'mV', min=-200.0, max=100.0),
    ParamSpec('v_th', -50.0, 'firing threshold', 'mV', min=-200.0, max=100.0),
    ParamSpec('t_ref', 0.002, 'absolute refractory period', 's', min=0.0, max=1.0),
    ParamSpec('R', 10.0, 'membrane resistance (give R or C, not both)', 'MΩ', min=1e-9, max=1e9),
    ParamSpec('C', 2.0, 'membrane capacitance; R = tau_m / C (give R or C, not both)', 'nF',
              min=1e-12, max=1e9),
    ParamSpec('tau_w', 0.1, 'adaptation time constant', 's', min=1e-5, max=100.0),
    ParamSpec('b_w', 0.0, 'adaptation increment per spike (0: no adaptation)', 'nA',
              min=0.0, max=1e6),
    ParamSpec('tau_w2', 1.0, 'time constant of a second, slower adaptation current', 's',
              min=1e-5, max=100.0),
    ParamSpec('b_w2', 0.0, 'increment of the second adaptation current per spike (0: none)', 'nA',
              min=0.0, max=1e6),
    ParamSpec('i_exc_max', math.inf, 'saturation of the excitatory synaptic current: the '
              'membrane sees I_exc / (1 + I_exc / i_exc_max) (omit: linear)', 'nA',
              min=1e-9, max=1e9),
    ParamSpec('i_inh_max', math.inf, 'saturation of the inhibitory synaptic current, likewise '
              '(omit: linear)', 'nA', min=1e-9, max=1e9),
    ParamSpec('integrator', 'exponential_euler', 'update rule of the linear equations',
              choices=INTEGRATORS),
)

IZHIKEVICH_PARAMS = (
    ParamSpec('preset', 'RS', 'Izhikevich 2003 type giving a, b, c, d (explicit values override)',
              choices=tuple(IZHIKEVICH_PRESETS)),
    ParamSpec('a', 0.02, 'recovery rate', '1/ms', min=0.0, max=10.0),
    ParamSpec('b', 0.2, 'recovery sensitivity', '1/ms', min=-10.0, max=10.0),
    ParamSpec('c', -65.0, 'reset potential', 'mV', min=-200.0, max=29.0),
    ParamSpec('d', 8.0, 'recovery increment per spike', 'mV/ms', min=-100.0, max=1000.0),
    ParamSpec('v_peak', 30.0, 'spike cut-off', 'mV', min=-100.0, max=100.0),
    ParamSpec('tau_w', 0.1, 'adaptation time constant', 's', min=1e-5, max=100.0),
    ParamSpec('b_w', 0.0, 'adaptation increment per spike (0: no adaptation)', '1',
              min=0.0, max=1e6),
    ParamSpec('tau_w2', 1.0, 'time constant of a second, slower adaptation current', 's',
              min=1e-5, max=100.0),
    ParamSpec('b_w2', 0.0, 'increment of the second adaptation current per spike (0: none)', '1',
              min=0.0, max=1e6),
    ParamSpec('i_exc_max', math.inf, 'saturation of the excitatory synaptic current: the '
              'membrane sees I_exc / (1 + I_exc / i_exc_max) (omit: linear)', '1',
              min=1e-9, max=1e9),
    ParamSpec('i_inh_max', math.inf, 'saturation of the inhibitory synaptic current, likewise '
              '(omit: linear)', '1', min=1e-9, max=1e9),
    ParamSpec('integrator', 'euler', 'update rule (Izhikevich is always forward Euler)',
              choices=('euler',)),
)

PARAM_SPECS = {'lif': LIF_PARAMS, 'izhikevich': IZHIKEVICH_PARAMS}
CURRENT_UNIT = {'lif': 'nA', 'izhikevich': '1 (Izhikevich units)'}


@dataclass(frozen=True)
class NeuronModel:
    """A validated neuron model: ``model`` and its complete parameter dict (SI time, mV)."""
    model: str
    params: Mapping[str, Any]

    def __getitem__(self, name):
        return self.params[name]

    @property
    def threshold(self) -> float:
        return self.params['v_th'] if self.model == 'lif' else self.params['v_peak']

    @property
    def reset(self) -> float:
        return self.params['v_reset'] if self.model == 'lif' else self.params['c']

    def default_v_init(self) -> float:
        return self.params['v_rest'] if self.model == 'lif' else -65.0

    def decay(self, tau: float, dt: float) -> float:
        """Per-step factor of a linear decay with time constant tau (s), by the integrator."""
        if self.params['integrator'] == 'euler':
            return 1.0 - dt / tau
        return math.exp(-dt / tau)

    def check_dt(self, dt: float, taus=(), where: str = '') -> None:
        """Refuse a step the integrator cannot take (Euler needs dt < tau for every tau)."""
        if self.params['integrator'] != 'euler':
            return
        for name, tau in taus:
            if dt >= tau:
                raise ConfigError(f'{where}{name} = {tau} s is not longer than dt = {dt} s; '
                                  f'forward Euler would be unstable')


def neuron_model(model: str, params: Mapping | None = None, where: str = '') -> NeuronModel:
    """Validate ``params`` for ``model`` ('lif' or 'izhikevich'); ConfigError names any problem.

    Izhikevich: ``preset`` (default RS) fills a, b, c, d; explicit a, b, c, d override it.
    LIF: give ``R`` or ``C`` (R = tau_m / C); neither means R = 10 MΩ.
    """
    prefix = f'{where}: ' if where else ''
    if model not in PARAM_SPECS:
        raise ConfigError(f'{prefix}unknown neuron model {model!r}; expected one of {list(MODELS)}')
    params = dict(params or {})
    if not all(isinstance(k, str) for k in params):
        raise ConfigError(f'{prefix}parameter names must be strings, got {list(params)!r}')
    values = ParamSet(PARAM_SPECS[model], params, where=where).as_dict()
    if model == 'lif':
        if 'R' in params and 'C' in params:
            raise ConfigError(f'{prefix}give R or C, not both')
        if 'C' in params:
            values['R'] = 1e3 * values['tau_m'] / values['C']  # s / nF -> MΩ
        values['C'] = 1e3 * values['tau_m'] / values['R']
        if values['v_reset'] >= values['v_th']:
            raise ConfigError(f'{prefix}v_reset ({values["v_reset"]} mV) must be below '
                              f'v_th ({values["v_th"]} mV)')
    else:
        preset = IZHIKEVICH_PRESETS[values['preset']]
        for key in 'abcd':
            if key not in params:
                values[key] = preset[key]
        if values['c'] >= values['v_peak']:
            raise ConfigError(f'{prefix}c ({values["c"]} mV) must be below v_peak '
                              f'({values["v_peak"]} mV)')
    return NeuronModel(model, values)


def simulate_neuron(model: str = 'izhikevich', preset: str | None = None,
                    current: float | np.ndarray = 10.0, duration: float = 1.0,
                    dt: float = DEFAULT_DT, **params) -> np.ndarray:
    """Step one neuron with an input current and return its spike times in seconds.

    ``current`` is a constant or an array with one value per step (model's current unit: nA for
    LIF, Izhikevich units for Izhikevich). The neuron starts at rest (LIF: v_rest; Izhikevich:
    v = -65 mV, u = b·v). It runs through the same kernel as a network, with no synapses.

    >>> simulate_neuron('izhikevich', preset='RS', current=10.0, duration=1.0).size
    23
    """
    from cpg_controller.network import Network, load_network  # network imports this module

    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f'dt must be a positive finite number of seconds, got {dt!r}')
    if (isinstance(duration, bool) or not isinstance(duration, (int, float))
            or not math.isfinite(duration) or duration < 0):
        raise ValueError(f'duration must be a non-negative finite number of seconds, '
                         f'got {duration!r}')
    n_steps = int(round(duration / dt))
    currents = np.asarray(current, dtype=float)
    if currents.ndim == 0:
        constant = True
    elif currents.ndim == 1 and currents.size == n_steps:
        constant = False
    else:
        raise ValueError(f'current must be a number or an array of {n_steps} values (one per '
                         f'step), got shape {currents.shape}')
    if not np.all(np.isfinite(currents)):
        raise ValueError('current contains non-finite values (NaN or inf)')
    params = dict(params)
    if preset is not None:
        if model != 'izhikevich':
            raise ValueError(f'preset is an Izhikevich option, not a {model} one')
        params['preset'] = preset
    spec = load_network({
        'name': 'single_neuron', 'dt': float(dt), 'seed': 0,
        'populations': [{'name': 'neuron', 'model': model, 'size': 1, 'params': params,
                         'drive': float(currents) if constant else 0.0}],
        'projections': [],
    })
    net = Network(spec)
    if constant:
        record = net.run(n_steps * dt, dt_control=dt * min(n_steps, 1000) if n_steps else dt)
        return record.spike_times
    times = []
    for k in range(n_steps):
        net.set_drive('neuron', float(currents[k]))
        net.step(dt)
        times.extend(net.spikes_last_tick.times.tolist())
    return np.array(times)
