"""Metabolic energy rate of the muscles: Wang et al. 2012, as SCONE's ``EffortMeasure`` Wang2012.

Per muscle (SCONE ``EffortMeasure::GetWang2012``, opensim-org/SCONE), with u the excitation
(stimulation), a the activation, l = l_ce/l_opt, v_ce the CE velocity (m/s, < 0 shortening), F the
MTU force, F_act = F_max a f_l(l) f_v(v) the active CE force, r the slow-twitch fibre ratio:

    mass   = F_max / sigma * l_opt * rho                    (sigma 0.25 MPa, rho 1059.7 kg/m^3)
    f_a    = 40 r sin(pi/2 u) + 133 (1 - r) (1 - cos(pi/2 u))          activation heat, W/kg
    f_m    = 74 r sin(pi/2 a) + 111 (1 - r) (1 - cos(pi/2 a))          maintenance heat, W/kg
    g(l)   = 0.5 (l < 0.5), l (l < 1), 3 - 2 l (l < 1.5), 0 otherwise
    E_dot  = mass f_a + mass g(l) f_m + [0.25 F (-v_ce) + F_act (-v_ce)] while shortening

and the whole body: E_dot_total = 1.51 W/kg * m_body (basal) + sum over muscles. The metabolic cost
of transport is its time integral over (m_body * distance), in J/(kg m) as SCONE reports it
(divide by g = 9.81 for the dimensionless form of ``cost_of_transport``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from neuro_locomotion.params import ParamSpec

from .muscle import (_C_C, _C_K, _C_N, _C_W, _O_FORCE, _O_VCE, _P_FMAX, _P_LOPT, _P_ON, _P_VMAX,
                     _S_A, _S_LCE, _f_l, _f_v)
from .parameters import MUSCLES

HALF_PI = 0.5 * math.pi
KIND = ('Wang et al. 2012 (SCONE EffortMeasure Wang2012): basal 1.51 W/kg + activation, '
        'maintenance, shortening heat and CE work; J/(kg m)')

METABOLIC_PARAMS = [
    ParamSpec('metabolics.specific_tension', 0.25e6, 'muscle specific tension sigma: muscle mass '
              '= F_max / sigma * l_opt * density (SCONE default)', 'Pa', min=1e4, max=1e7),
    ParamSpec('metabolics.muscle_density', 1059.7, 'muscle density (SCONE default)', 'kg/m^3',
              min=100.0, max=5000.0),
    ParamSpec('metabolics.basal_rate', 1.51, 'basal metabolic rate per kg of body mass '
              '(Wang 2012, SCONE)', 'W/kg', min=0.0, max=10.0),
    ParamSpec('metabolics.slow_twitch_ratio', [0.5] * len(MUSCLES), 'slow-twitch fibre ratio '
              'per muscle (HFL GLU HAM VAS GAS SOL TA RF BFSH; SCONE default 0.5 for all)', '1',
              min=0.0, max=1.0, length=len(MUSCLES)),
]


def muscle_masses(f_max, l_opt, specific_tension=0.25e6, density=1059.7) -> np.ndarray:
    """Muscle mass (kg) from F_max (N) and l_opt (m), as SCONE's ``Muscle::GetMass``."""
    return np.asarray(f_max, dtype=float) / specific_tension * np.asarray(l_opt, dtype=float) \
        * density


@njit(cache=True)
def _g_length(l_norm):
    if l_norm < 0.5:
        return 0.5
    if l_norm < 1.0:
        return l_norm
    if l_norm < 1.5:
        return -2.0 * l_norm + 3.0
    return 0.0


@njit(cache=True)
def muscle_rate(u, a, l_norm, v_ce, force, f_active, mass, slow):
    """Wang 2012 metabolic rate (W) of one muscle (see the module docstring)."""
    fa = 40.0 * slow * math.sin(HALF_PI * u) + 133.0 * (1.0 - slow) * (1.0 - math.cos(HALF_PI * u))
    fm = 74.0 * slow * math.sin(HALF_PI * a) + 111.0 * (1.0 - slow) * (1.0 - math.cos(HALF_PI * a))
    rate = mass * fa + mass * _g_length(l_norm) * fm
    if v_ce < 0.0:
        rate += 0.25 * force * -v_ce + f_active * -v_ce
    return rate


@njit(cache=True)
def _wang2012(stim, state, out, prm, cst, mass, slow):
    """Sum of the muscles' Wang 2012 rates (W) from a MuscleSet's packed state after a step:
    stim (n,), state (2, n) activation and l_ce, out (4, n) force, f_se, v_ce, l_mtc; prm (n, 5);
    cst the muscle constants; mass, slow (n,)."""
    total = 0.0
    for m in range(stim.shape[0]):
        if prm[m, _P_ON] == 0.0:        # an absent muscle (MuscleSpec.enabled False)
            continue
        l_opt = prm[m, _P_LOPT]
        a = state[_S_A, m]
        l_norm = state[_S_LCE, m] / l_opt
        v_ce = out[_O_VCE, m]
        f_active = 0.0
        if v_ce < 0.0:
            f_active = (prm[m, _P_FMAX] * a * _f_l(l_norm, cst[_C_W], cst[_C_C])
                        * _f_v(v_ce / (prm[m, _P_VMAX] * l_opt), cst[_C_N], cst[_C_K]))
        total += muscle_rate(stim[m], a, l_norm, v_ce, out[_O_FORCE, m], f_active, mass[m],
                             slow[m])
    return total


def metabolic_rate(muscles, stimulation, mass, slow) -> float:
    """Sum of the Wang 2012 rates (W) of a :class:`~reflex_modules.muscle.MuscleSet` after its
    last step with ``stimulation`` (n,); ``mass``, ``slow`` (n,)."""
    return float(_wang2012(np.asarray(stimulation, dtype=float), muscles._state, muscles._out,
                           muscles._prm, muscles._cst, np.asarray(mass, dtype=float),
                           np.asarray(slow, dtype=float)))
