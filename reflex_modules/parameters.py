"""Geyer & Herr 2010 muscle table and reflex gains, declared once as ParamSpecs.

Names (ROS parameter names; a YAML ``ros__parameters`` block may override any of them):

* ``muscle.<mtu>.{f_max,v_max,l_opt,l_slack}`` and ``muscle.<mtu>.<joint>.{r0,phi_max,phi_ref,rho}``
  for the seven MTUs per leg (both legs share them); ``phi_max`` does not exist for the hip,
  where the moment arm is constant. ``<mtu>`` is lower case (``sol``, ``gas`` ...).
* ``muscle.{tau,w,c,n_ecc,k_shape,eps_ref,stim_min}``: constants shared by all MTUs.
* ``reflex.*``: delays, stance detection and the GH2010 reflex gains (SCONE's
  ``ControllerGH2010.scone`` values as defaults; see docs/reflexes.md for each value's source).

Angles are radians here (the table in the reference is in degrees; the conversion is done once,
below, from the degree values so the provenance stays readable). Which way each MTU's length
changes with each joint (``sign``) is anatomy, not a parameter: see ``MUSCLE_TABLE``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Mapping

from neuro_locomotion.params import ParamSet, ParamSpec

from .muscle import CONSTANT, COSINE, JointAttachment, MuscleConstants, MuscleSet, MuscleSpec

#: Muscle order within a leg (stimulation, force and length arrays are leg-major: LEGS x MUSCLES):
#: GH2010's seven, then Song & Geyer 2015's two knee muscles RF and BFSH, present only with
#: ``muscle.rf_bfsh: true`` (otherwise their slots stay, without force: ``MuscleSpec.enabled``).
GH2010_MUSCLES = ('HFL', 'GLU', 'HAM', 'VAS', 'GAS', 'SOL', 'TA')
KNEE_MUSCLES = ('RF', 'BFSH')
MUSCLES = GH2010_MUSCLES + KNEE_MUSCLES
#: Leg order. GH2010's initial condition has the left leg in stance and the right leg in swing.
LEGS = ('left', 'right')
#: Joint order within a leg (angle and torque arrays are leg-major: LEGS x JOINTS).
JOINTS = ('hip', 'knee', 'ankle')
JOINT_NAMES = tuple(f'{leg}_{joint}' for leg in LEGS for joint in JOINTS)
MUSCLE_NAMES = tuple(f'{leg}_{m}' for leg in LEGS for m in MUSCLES)

# GH2010 Table (via Geyer's nms_model_MechInit.m; /work/shared/reference/reflex_and_muscles.md).
# name: (F_max N, v_max l_opt/s, l_opt m, l_slack m,
#        {joint: (r0 m, phi_max deg or None, phi_ref deg, rho, sign)})
# sign +1: the MTU lengthens as the inner angle grows (it flexes that joint; HFL, TA, GAS and HAM
# at the knee); -1: it shortens (extends the joint; SOL, GAS at the ankle, VAS, HAM at the hip,
# GLU).
MUSCLE_TABLE = {
    'HFL': (2000.0, 12.0, 0.11, 0.10, {'hip': (0.10, None, 180.0, 0.5, +1)}),
    'GLU': (1500.0, 12.0, 0.11, 0.13, {'hip': (0.10, None, 150.0, 0.5, -1)}),
    'HAM': (3000.0, 12.0, 0.10, 0.31, {'knee': (0.05, 180.0, 180.0, 0.7, +1),
                                        'hip': (0.08, None, 155.0, 0.7, -1)}),
    'VAS': (6000.0, 12.0, 0.08, 0.23, {'knee': (0.06, 165.0, 125.0, 0.7, -1)}),
    'GAS': (1500.0, 12.0, 0.05, 0.40, {'ankle': (0.05, 110.0, 80.0, 0.7, -1),
                                        'knee': (0.05, 140.0, 165.0, 0.7, +1)}),
    'SOL': (4000.0, 6.0, 0.04, 0.26, {'ankle': (0.05, 110.0, 80.0, 0.5, -1)}),
    'TA': (800.0, 12.0, 0.06, 0.24, {'ankle': (0.04, 80.0, 110.0, 0.7, +1)}),
    # SG2015's knee muscles (Song's nms_MechInit.m, fluitr/Gait_simulation; docs/reflexes.md,
    # *RF and BFSH*): RF flexes the hip and extends the knee, BFSH flexes the knee with a
    # constant moment arm (kind CONSTANT at the knee, as GH2010's hip).
    'RF': (1200.0, 12.0, 0.08, 0.35, {'hip': (0.08, None, 170.0, 0.3, +1),
                                      'knee': (0.06, 165.0, 125.0, 0.5, -1)}),
    'BFSH': (350.0, 12.0, 0.12, 0.10, {'knee': (0.04, None, 160.0, 0.7, +1)}),
}

#: Sensory delay class of each muscle's own reflexes (GH2010 ControlInit: ankle 20 ms, knee 10 ms,
#: hip 5 ms).
DELAY_CLASS = {'HFL': 'short', 'GLU': 'short', 'HAM': 'short', 'VAS': 'mid',
               'GAS': 'long', 'SOL': 'long', 'TA': 'long',
               # SG2015 (MyoAssist's port; Song's Simulink wiring is not public): RF hip, BFSH knee
               'RF': 'short', 'BFSH': 'mid'}

_ANGLE = dict(unit='rad', min=0.0, max=2.0 * math.pi)


def _muscle_specs() -> list[ParamSpec]:
    specs = [
        ParamSpec('muscle.tau', 0.01, 'excitation-contraction time constant tau, '
                  'dA/dt = (S - A)/tau', 's', min=0.001, max=0.2),
        ParamSpec('muscle.w', 0.56, 'width w of the force-length curve '
                  '(f_l = 0.05 at l_opt(1 +- w))', 'l_opt', min=0.1, max=0.99),
        ParamSpec('muscle.c', math.log(0.05), 'shape c of the force-length curve, '
                  'f_l = exp(c |(l_ce/l_opt - 1)/w|^3); ln 0.05', '1', min=-10.0, max=-0.01),
        ParamSpec('muscle.n_ecc', 1.5, 'eccentric force enhancement N (f_v(v_max) = N)', '1',
                  min=1.01, max=3.0),
        ParamSpec('muscle.k_shape', 5.0, 'force-velocity curvature K', '1', min=0.5, max=20.0),
        ParamSpec('muscle.eps_ref', 0.04, 'tendon reference strain (f_se = 1 at this strain)', '1',
                  min=0.005, max=0.2),
        ParamSpec('muscle.rf_bfsh', False, 'add Song & Geyer 2015\'s knee muscles RF (hip flexor, '
                  'knee extensor) and BFSH (knee flexor) to each leg; false: GH2010\'s seven',
                  ''),
        ParamSpec('muscle.stim_min', 0.01, 'lower clip of the muscle stimulation and activation '
                  '(GH2010 pre-activation)', '1', min=0.0001, max=0.5),
    ]
    for name, (f_max, v_max, l_opt, l_slack, joints) in MUSCLE_TABLE.items():
        key = f'muscle.{name.lower()}'
        specs += [
            ParamSpec(f'{key}.f_max', f_max, f'{name} maximum isometric force', 'N',
                      min=1.0, max=100000.0),
            ParamSpec(f'{key}.v_max', v_max, f'{name} maximum contraction speed', 'l_opt/s',
                      min=0.5, max=50.0),
            ParamSpec(f'{key}.l_opt', l_opt, f'{name} optimum contractile element length', 'm',
                      min=0.005, max=1.0),
            ParamSpec(f'{key}.l_slack', l_slack, f'{name} tendon slack length', 'm',
                      min=0.005, max=1.0),
        ]
        for joint, (r0, phi_max, phi_ref, rho, _sign) in joints.items():
            jkey = f'{key}.{joint}'
            specs.append(ParamSpec(f'{jkey}.r0', r0, f'{name} moment arm at the {joint}' +
                                   (' (maximum, at phi_max)' if phi_max is not None else ''),
                                   'm', min=0.0, max=0.3))
            if phi_max is not None:
                specs.append(ParamSpec(f'{jkey}.phi_max', math.radians(phi_max),
                                       f'{name} {joint} inner angle of maximum moment arm '
                                       f'({phi_max:g} deg)', **_ANGLE))
            specs.append(ParamSpec(f'{jkey}.phi_ref', math.radians(phi_ref),
                                   f'{name} {joint} inner angle at which l_MTC = l_opt + l_slack '
                                   f'({phi_ref:g} deg)', **_ANGLE))
            specs.append(ParamSpec(f'{jkey}.rho', rho, f'{name} {joint} length factor rho '
                                   '(pennation and compliance)', '1', min=0.0, max=2.0))
    return specs


@dataclass(frozen=True)
class SupraspinalConfig:
    """Song & Geyer 2015 supraspinal layer (planar), off by default (docs/reflexes.md).

    Foot placement: alpha_tgt = alpha0 + c_d d + c_v v, alpha = the leg angle (hip-to-ankle line
    from the forward horizontal), d = hip ahead of the (rear) stance ankle, v = forward speed of
    the trunk; SG2015's M6 PD on alpha drives HFL/GLU of the swing leg (and of the trailing leg in
    double support, weighted by the other leg's load), its M9 HAM term stops the leg beyond
    alpha_tgt + delta_alpha; in double support the leg with the larger alpha - alpha_tgt swings.
    alpha0, c_d, c_v: the reference values (70 deg, -5 deg/m, -5 deg/(m/s)). Gains: 0.05 x Song's
    nominal scalings (``loco_reflex_song2019.py``: HFL_6 1.0 / 0.5, GLU_6 1.0 / 0.1, HAM_9 2.0),
    the largest tried that keeps the shipped GH2010 set walking 20 s (Song's full values make it
    fall within 0.5 s: they were tuned together with pathways this model lacks).
    """

    enabled: bool = False
    alpha0: float = math.radians(70.0)    # rad
    c_d: float = math.radians(-5.0)       # rad/m
    c_v: float = math.radians(-5.0)       # rad/(m/s)
    hfl_g: float = 0.05                   # 0.05 HFL_6_PG, 1/rad
    hfl_d: float = 0.025                  # 0.05 HFL_6_DG, s/rad
    glu_g: float = 0.05                   # 0.05 GLU_6_PG, 1/rad
    glu_d: float = 0.005                  # 0.05 GLU_6_DG, s/rad
    ham_g: float = 0.1                    # 0.05 HAM_9_PG, 1/rad
    delta_alpha: float = math.radians(5.0)  # rad
    select_leg: bool = True               # swing-leg selection in double support
    thigh: float = 0.5                    # m (set from walker.thigh_length)
    shank: float = 0.5                    # m (set from walker.shank_length)


_SUPRASPINAL_DOC = {
    'enabled': ('SG2015 supraspinal layer on: foot-placement target alpha_tgt on the swing hip '
                '(M6, M9 alpha pathways) and swing-leg selection in double support', '', None, None),
    'alpha0': ('alpha0 of alpha_tgt = alpha0 + c_d d + c_v v (leg angle from the forward '
               'horizontal; pi/2 = foot under the hip)', 'rad', 0.5, 2.0),
    'c_d': ('c_d: target change per m of hip ahead of the stance ankle', 'rad/m', -2.0, 2.0),
    'c_v': ('c_v: target change per m/s of forward speed', 'rad/(m/s)', -2.0, 2.0),
    'hfl_g': ('HFL gain on alpha - alpha_tgt (M6, swing)', '1/rad', 0.0, 20.0),
    'hfl_d': ('HFL gain on d alpha/dt (M6, swing)', 's/rad', 0.0, 10.0),
    'glu_g': ('GLU gain on alpha_tgt - alpha (M6, swing)', '1/rad', 0.0, 20.0),
    'glu_d': ('GLU gain on -d alpha/dt (M6, swing)', 's/rad', 0.0, 10.0),
    'ham_g': ('HAM gain on alpha_tgt + delta_alpha - alpha (M9, swing)', '1/rad', 0.0, 20.0),
    'delta_alpha': ('delta_alpha: HAM stops the leg this far beyond alpha_tgt', 'rad', -0.5, 0.5),
    'select_leg': ('in double support the leg with the larger alpha - alpha_tgt is the trailing '
                   '(swing-preparing) leg, instead of the one that touched down first', '',
                   None, None),
}


@dataclass(frozen=True)
class ReflexConfig:
    """GH2010 reflex controller settings. Forces are F/F_max, lengths l_ce/l_opt, angles rad.

    Defaults: SCONE ``ControllerGH2010.scone`` (v7) where it has the value, else Geyer's 2006
    ``ControlInit`` (k_phi, phi_off); see docs/reflexes.md.
    """

    delay_long: float = 0.020         # s, SOL, TA, GAS
    delay_mid: float = 0.010          # s, VAS (and the knee angle it sees)
    delay_short: float = 0.005        # s, HFL, GLU, HAM (and the trunk pitch they see)
    stance_load_threshold: float = 0.1  # body weights: a leg is in stance above this load
    pre_stimulation: float = 0.01     # S0 of every law without its own
    sol_g_f: float = 1.2              # G_SOL, SOL F+ (stance)
    gas_g_f: float = 1.1              # G_GAS, GAS F+ (stance)
    ta_g_l: float = 1.1               # G_TA, TA L+ (stance and swing)
    ta_l_off: float = 0.71            # l_off,TA
    sol_ta_g_f: float = 0.3           # G_SOL,TA, SOL F- onto TA (stance)
    vas_g_f: float = 1.15             # G_VAS, VAS F+ (stance)
    vas_s0: float = 0.09              # S0,VAS
    vas_k_phi: float = 2.0            # k_phi, knee over-extension inhibition of VAS, 1/rad
    vas_phi_off: float = math.radians(170.0)  # phi_off, knee angle where the inhibition starts
    vas_inhibit_only_extending: bool = True   # inhibit only while the knee extends (dphi > 0)
    trunk_k_p: float = 1.91           # k_p, 1/rad
    trunk_k_d: float = 0.25           # k_d, s/rad
    trunk_theta_ref: float = 0.105    # theta_ref, rad (forward lean)
    trunk_s0: float = 0.05            # S0,BAL of HFL, GLU, HAM in stance
    swing_prep_delta_s: float = 0.25  # Delta S: HFL +, GLU - in the trailing leg in double support
    hfl_g_l: float = 0.35             # G_HFL, HFL L+ (swing)
    hfl_l_off: float = 0.60           # l_off,HFL
    ham_hfl_g_l: float = 4.0          # G_HAM,HFL, HAM L- onto HFL (swing)
    ham_l_off: float = 0.85           # l_off,HAM
    hfl_k_lean: float = 1.15          # k_lean, 1/rad
    lean_at_takeoff: bool = True      # GH2010: trunk lean latched at take-off; False: continuous
    ham_g_f: float = 0.65             # G_HAM, HAM F+ (swing)
    glu_g_f: float = 0.4              # G_GLU, GLU F+ (swing)
    length_positive_part: bool = True  # L+ terms use [l - l_off]+ (GH2010); False: SCONE's signed
    # Loading-response and push-off pathways (issue 6, docs/walking.md "Loading-response
    # pathways"); every one is off at 0, so the GH2010 laws and every saved set are unchanged.
    vas_k_bw: float = 0.0             # 1/BW: trailing leg's VAS -= k_bw x contralateral load (DS)
    vas_k_flex_rate: float = 0.0      # s/rad: stance VAS += k x knee flexion rate
    vas_k_ext_rate: float = 0.0       # s/rad: stance VAS -= k x knee extension rate
    ta_k_plantar_rate: float = 0.0    # s/rad: stance TA += k x ankle plantarflexion rate ...
    ta_rate_window: float = 0.1       # s: ... within this time after touchdown
    trunk_load_mix: float = 0.0       # trunk PD x ((1 - mix) + mix x leg load / BW) (SG2015 M3)
    gas_onset: float = 0.0            # s: GAS F+ off for this long after touchdown
    push_off_k_bw: float = 0.0        # 1/BW: trailing leg's SOL, GAS += k x contralateral load
    # Late single-support knee guard (issue 6, docs/walking.md 2026-12-07; 0 = off)
    vas_k_knee_guard: float = 0.0     # 1/rad: single-support VAS += k x [guard angle - knee]+ ...
    knee_guard_angle: float = 170.0 * math.pi / 180.0   # rad: ... below this knee inner angle ...
    knee_guard_onset: float = 0.15    # s: ... from this long after touchdown
    # Early-stance load limiter (issue 6, docs/walking.md 2026-12-07 helper V; 0 = off)
    vas_k_load_limit: float = 0.0     # 1/BW: stance VAS -= k x [own leg load - limit]+ ...
    load_limit_bw: float = 1.2        # BW: ... above this load (delayed 5 ms) ...
    load_limit_window: float = 0.2    # s: ... within this long after touchdown (0 = off)
    # Song & Geyer 2015 knee-muscle and contralateral pathways (geyer2010._sg2015_knee; each gain
    # 0 = off; RF and BFSH need muscle.rf_bfsh). Targets and thresholds act only with a gain.
    rf_g_f: float = 0.0               # M1: RF F+ (stance; trailing leg x (1 - contra load))
    bfsh_k_phi: float = 0.0           # 1/rad, M2: BFSH += k [knee - vas_phi_off]+ (stance)
    glu_c_g: float = 0.0              # M4: GLU += g (S_HFL + S_RF of the swinging other leg)
    hfl_c_g: float = 0.0              # M4: HFL += g (S_GLU + S_HAM of the swinging other leg)
    knee_sw_tgt: float = 140.0 * math.pi / 180.0  # rad: early swing ends below this knee angle
    bfsh_g_alpha_rate: float = 0.0    # s/rad, M7: BFSH += [-g d alpha/dt + k (knee - tgt)]+
    bfsh_k_sw: float = 0.0            # 1/rad, M7: ... k of that sum (early swing)
    rf_g_v: float = 0.0               # s/rad, M8: RF += g [knee flexion rate]+ (mid swing)
    bfsh_g_v: float = 0.0             # s/rad^2, M8: BFSH += g [knee ext. rate]+ [alpha - tgt]+
    bfsh_g_ham: float = 0.0           # M9: BFSH += g [S_HAM - ham_s_thr]+ (late swing)
    gas_g_ham: float = 0.0            # M9: GAS += g [S_HAM - ham_s_thr]+ (late swing)
    ham_s_thr: float = 0.65           # threshold of the two HAM-stimulation pathways
    knee_tgt: float = 175.0 * math.pi / 180.0     # rad: terminal-swing knee target (M10)
    vas_k_tgt: float = 0.0            # 1/rad, M10: VAS += k [knee_tgt - knee]+ (terminal swing)
    bfsh_k_tgt: float = 0.0           # 1/rad, M10: BFSH += k [knee - knee_tgt]+ (terminal swing)
    modules: tuple = (True,) * 10     # Song & Geyer 2015 modules M1..M10 on (MODULES order)
    supraspinal: SupraspinalConfig = SupraspinalConfig()


#: The SG2015 knee-muscle and contralateral pathway numbers of ReflexConfig (all off by default).
KNEE_PATHWAY_FIELDS = ('rf_g_f', 'bfsh_k_phi', 'glu_c_g', 'hfl_c_g', 'knee_sw_tgt',
                       'bfsh_g_alpha_rate', 'bfsh_k_sw', 'rf_g_v', 'bfsh_g_v', 'bfsh_g_ham',
                       'gas_g_ham', 'ham_s_thr', 'knee_tgt', 'vas_k_tgt', 'bfsh_k_tgt')
#: Of those, the gains: the pathways act only when one of these is not 0 (the rest are targets
#: and thresholds).
KNEE_PATHWAY_GAINS = tuple(name for name in KNEE_PATHWAY_FIELDS
                           if name not in ('knee_sw_tgt', 'ham_s_thr', 'knee_tgt'))

_REFLEX_DOC = {
    'delay_long': ('sensory delay of the ankle muscles SOL, TA, GAS', 's', 0.0, 0.1),
    'delay_mid': ('sensory delay of VAS and the knee angle', 's', 0.0, 0.1),
    'delay_short': ('sensory delay of HFL, GLU, HAM and the trunk pitch', 's', 0.0, 0.1),
    'stance_load_threshold': ('a leg is in stance when its vertical ground load exceeds this',
                              'BW', 0.0, 2.0),
    'pre_stimulation': ('pre-stimulation S0 of every law without its own', '1', 0.0, 0.5),
    'sol_g_f': ('G_SOL: SOL force feedback gain (stance)', '1', 0.0, 10.0),
    'gas_g_f': ('G_GAS: GAS force feedback gain (stance)', '1', 0.0, 10.0),
    'ta_g_l': ('G_TA: TA length feedback gain (stance and swing)', '1', 0.0, 10.0),
    'ta_l_off': ('l_off,TA: TA length offset', 'l_opt', 0.0, 2.0),
    'sol_ta_g_f': ('G_SOL,TA: inhibition of TA by SOL force (stance)', '1', 0.0, 10.0),
    'vas_g_f': ('G_VAS: VAS force feedback gain (stance)', '1', 0.0, 10.0),
    'vas_s0': ('S0,VAS: VAS pre-stimulation (stance)', '1', 0.0, 1.0),
    'vas_k_phi': ('k_phi: knee over-extension inhibition of VAS', '1/rad', 0.0, 20.0),
    'vas_phi_off': ('phi_off: knee inner angle above which VAS is inhibited', 'rad', 2.0, math.pi),
    'vas_inhibit_only_extending': ('inhibit VAS only while the knee is extending (GH2010)', '',
                                   None, None),
    'trunk_k_p': ('k_p: trunk pitch position gain onto HFL (-), GLU, HAM (+) (stance)', '1/rad',
                  0.0, 10.0),
    'trunk_k_d': ('k_d: trunk pitch rate gain onto HFL (-), GLU, HAM (+) (stance)', 's/rad',
                  0.0, 10.0),
    'trunk_theta_ref': ('theta_ref: reference trunk forward lean', 'rad', -0.5, 0.5),
    'trunk_s0': ('S0,BAL: pre-stimulation of HFL, GLU, HAM in stance', '1', 0.0, 1.0),
    'swing_prep_delta_s': ('Delta S: HFL +, GLU - in the trailing leg during double support', '1',
                           0.0, 1.0),
    'hfl_g_l': ('G_HFL: HFL length feedback gain (swing)', '1', 0.0, 10.0),
    'hfl_l_off': ('l_off,HFL: HFL length offset', 'l_opt', 0.0, 2.0),
    'ham_hfl_g_l': ('G_HAM,HFL: inhibition of HFL by HAM length (swing)', '1', 0.0, 20.0),
    'ham_l_off': ('l_off,HAM: HAM length offset of the HAM->HFL inhibition', 'l_opt', 0.0, 2.0),
    'hfl_k_lean': ('k_lean: HFL gain on the trunk lean (swing)', '1/rad', 0.0, 10.0),
    'lean_at_takeoff': ('use the trunk lean latched at take-off (GH2010) rather than the current '
                        'one (SCONE)', '', None, None),
    'ham_g_f': ('G_HAM: HAM force feedback gain (swing)', '1', 0.0, 10.0),
    'glu_g_f': ('G_GLU: GLU force feedback gain (swing)', '1', 0.0, 10.0),
    'length_positive_part': ('length feedback only above its offset, [l - l_off]+ (GH2010); '
                             'false: signed, as SCONE', '', None, None),
    'vas_k_bw': ('k_bw: VAS of the trailing leg in double support is inhibited by k_bw x the '
                 'contralateral leg load (delayed 5 ms); GH2010 (unverified in our reference; '
                 'SG2015 M1 scales VAS F+ by 1 - contralateral load instead); 0 = off', '1/BW',
                 0.0, 5.0),
    'vas_k_flex_rate': ('stance knee damper: VAS += this x the knee flexion rate (delayed '
                        '10 ms), eccentric VAS against the knee yield; 0 = off', 's/rad',
                        0.0, 2.0),
    'vas_k_ext_rate': ('stance knee damper: VAS -= this x the knee extension rate (delayed '
                       '10 ms), against the knee rebound; 0 = off', 's/rad', 0.0, 2.0),
    'ta_k_plantar_rate': ('foot-slap control: stance TA += this x the ankle plantarflexion rate '
                          '(delayed 20 ms), within ta_rate_window after touchdown; 0 = off',
                          's/rad', 0.0, 2.0),
    'ta_rate_window': ('time after touchdown in which ta_k_plantar_rate acts', 's', 0.0, 1.0),
    'trunk_load_mix': ('load scaling of the stance trunk PD (SG2015 M3, HFL/GLU/HAM x leg load): '
                       'the PD term is multiplied by (1 - mix) + mix x the leg load in BW '
                       '(delayed 5 ms); 0 = unscaled (GH2010), 1 = SG2015', '1', 0.0, 1.0),
    'gas_onset': ('GAS F+ (stance) is off for this long after touchdown, so GAS fires in late '
                  'stance; 0 = off (GH2010)', 's', 0.0, 1.0),
    'push_off_k_bw': ('push-off timed by the collision: SOL and GAS of the trailing leg in double '
                      'support += this x the contralateral leg load (delayed 5 ms); 0 = off',
                      '1/BW', 0.0, 5.0),
    'vas_k_knee_guard': ('late single-support knee guard: while the contralateral leg swings and '
                         'from knee_guard_onset after touchdown, VAS += this x [knee_guard_angle '
                         '- knee inner angle]+ (delayed 10 ms), so the trailing knee stays '
                         'straight until the contralateral touchdown (then vas_k_bw may release '
                         'it); 0 = off', '1/rad', 0.0, 20.0),
    'knee_guard_angle': ('knee inner angle below which vas_k_knee_guard excites VAS', 'rad',
                         2.5, math.pi),
    'knee_guard_onset': ('time after touchdown from which vas_k_knee_guard acts', 's', 0.0, 1.0),
    'vas_k_load_limit': ('early-stance load limiter: within load_limit_window after its '
                         'touchdown, a stance leg\'s VAS -= this x [own leg load (delayed 5 ms, '
                         'delay_short) - load_limit_bw]+, so the knee yields instead of the '
                         'loading peak growing; 0 = off', '1/BW', 0.0, 20.0),
    'load_limit_bw': ('own leg load above which vas_k_load_limit inhibits VAS', 'BW', 0.5, 3.0),
    'load_limit_window': ('time after touchdown within which vas_k_load_limit acts (the start '
                          'stance, with no touchdown, is never limited); 0 = off', 's', 0.0, 1.0),
    # SG2015 knee-muscle and contralateral pathways (docs/reflexes.md, *RF and BFSH*)
    'rf_g_f': ('SG2015 M1: RF force feedback gain in stance (the trailing leg in double support '
               'weighted by 1 - contralateral load); needs muscle.rf_bfsh; 0 = off', '1',
               0.0, 10.0),
    'bfsh_k_phi': ('SG2015 M2: stance BFSH += this x [knee inner angle (delayed 10 ms) - '
                   'vas_phi_off]+, a knee flexor against hyperextension; 0 = off', '1/rad',
                   0.0, 20.0),
    'glu_c_g': ('SG2015 M4: stance GLU += this x (HFL + RF stimulation of the other leg) while '
                'the other leg swings; 0 = off', '1', 0.0, 2.0),
    'hfl_c_g': ('SG2015 M4: stance HFL += this x (GLU + HAM stimulation of the other leg) while '
                'the other leg swings; 0 = off', '1', 0.0, 2.0),
    'knee_sw_tgt': ('SG2015 swing knee target: early swing (M7) lasts from lift-off until the '
                    'knee inner angle (delayed 10 ms) is below this, then mid swing (M8)', 'rad',
                    1.5, math.pi),
    'bfsh_g_alpha_rate': ('SG2015 M7: early-swing BFSH += [-this x d alpha/dt + bfsh_k_sw x '
                          '(knee - knee_sw_tgt)]+ (also the trailing leg in double support, '
                          "weighted by the other leg's load); 0 = off", 's/rad', 0.0, 5.0),
    'bfsh_k_sw': ('SG2015 M7: the knee-angle gain of the early-swing BFSH law', '1/rad',
                  0.0, 20.0),
    'rf_g_v': ('SG2015 M8: mid-swing RF += this x [knee flexion rate]+ (delayed 10 ms), a knee '
               'damper; 0 = off', 's/rad', 0.0, 5.0),
    'bfsh_g_v': ('SG2015 M8: mid-swing BFSH += this x [knee extension rate]+ x [alpha - '
                 'alpha_tgt]+ (the knee is held flexed while the leg is behind its target); '
                 '0 = off', 's/rad^2', 0.0, 50.0),
    'bfsh_g_ham': ('SG2015 M9: late-swing (alpha < alpha_tgt + delta_alpha) BFSH += this x '
                   '[S_HAM - ham_s_thr]+; 0 = off', '1', 0.0, 20.0),
    'gas_g_ham': ('SG2015 M9: late-swing GAS += this x [S_HAM - ham_s_thr]+; 0 = off', '1',
                  0.0, 20.0),
    'ham_s_thr': ('SG2015 M9: HAM stimulation above which it drives BFSH and GAS', '1',
                  0.0, 1.0),
    'knee_tgt': ('SG2015 M10: knee inner angle the terminal-swing knee laws hold', 'rad',
                 2.0, math.pi),
    'vas_k_tgt': ('SG2015 M10: terminal-swing (late swing, leg retracting) VAS += this x '
                  '[knee_tgt - knee]+ (delayed 10 ms); 0 = off', '1/rad', 0.0, 20.0),
    'bfsh_k_tgt': ('SG2015 M10: terminal-swing BFSH += this x [knee - knee_tgt]+; 0 = off',
                   '1/rad', 0.0, 20.0),
}


#: Song & Geyer 2015 spinal modules (planar). Which pathway belongs to which module:
#: ``MODULE_PATHWAYS``; docs/reflexes.md has the full table, with the SG2015 pathways this
#: model does not express.
MODULES = ('M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'M7', 'M8', 'M9', 'M10')
MODULE_FUNCTION = {
    'M1': 'stance: compliant leg', 'M2': 'stance: no knee hyperextension',
    'M3': 'stance: trunk balance', 'M4': 'stance: compensate the swing leg',
    'M5': 'stance and swing: flex the ankle', 'M6': 'late stance and swing: swing the hip',
    'M7': 'early swing: flex the knee', 'M8': 'mid swing: hold the knee',
    'M9': 'late swing: stop the leg', 'M10': 'terminal swing: prepare landing'}
#: The pathways each module gates in ``geyer2010._laws`` and ``geyer2010._sg2015_knee`` (the
#: SG2015 knee and contralateral ones act only with their gains > 0, RF and BFSH only with
#: ``muscle.rf_bfsh``).
MODULE_PATHWAYS = {
    'M1': ('SOL F+ (stance)', 'VAS F+ with S0,VAS (stance)', 'RF F+ (rf_g_f; stance)',
           'contralateral load -> trailing SOL (push_off_k_bw; double support)',
           'knee damper on VAS (vas_k_flex_rate, vas_k_ext_rate; stance)',
           'contralateral load -| trailing VAS (vas_k_bw; double support)',
           'knee flexion -> VAS (vas_k_knee_guard; late single support)',
           'own load -| VAS (vas_k_load_limit; early stance)'),
    'M2': ('GAS F+ (stance; gas_onset)',
           'contralateral load -> trailing GAS (push_off_k_bw; double support)',
           'knee over-extension -| VAS (stance; BFSH -| VAS equivalent)',
           'knee over-extension -> BFSH (bfsh_k_phi; stance)'),
    'M3': ('trunk PD with S0,BAL on HFL -, GLU +, HAM + (stance; load-scaled by trunk_load_mix)',),
    'M4': ('contralateral HFL, RF -> GLU and GLU, HAM -> HFL (glu_c_g, hfl_c_g; stance while '
           'the other leg swings)',),
    'M5': ('TA L+ (stance and swing)', 'SOL F -| TA (stance)',
           'ankle plantarflexion rate -> TA (ta_k_plantar_rate; early stance)'),
    'M6': ('swing preparation Delta S: HFL +, GLU - (trailing leg in double support)',
           'HFL L+ (swing)', 'HFL trunk-lean term k_lean (swing)'),
    'M7': ('leg-angle rate and knee angle -> BFSH (bfsh_g_alpha_rate, bfsh_k_sw; early swing)',),
    'M8': ('knee flexion rate -> RF (rf_g_v; mid swing)',
           'knee extension rate x leg behind target -> BFSH (bfsh_g_v; mid swing)'),
    'M9': ('HAM L -| HFL (swing)', 'HAM F+ (swing)',
           'HAM stimulation -> BFSH, GAS (bfsh_g_ham, gas_g_ham; late swing)'),
    'M10': ('GLU F+ (swing)', 'knee target on VAS and BFSH (vas_k_tgt, bfsh_k_tgt; terminal '
            'swing)'),
}


def _supraspinal_specs() -> list[ParamSpec]:
    defaults = SupraspinalConfig()
    specs = []
    for name, (description, unit, lo, hi) in _SUPRASPINAL_DOC.items():
        specs.append(ParamSpec(f'supraspinal.{name}', getattr(defaults, name), description, unit,
                               min=lo, max=hi))
    return specs


def _module_specs() -> list[ParamSpec]:
    return [ParamSpec(f'modules.{m}', True, f'Song & Geyer 2015 module {m} ({MODULE_FUNCTION[m]}) '
                      'on; false removes its pathways: '
                      + '; '.join(MODULE_PATHWAYS[m]), '')
            for m in MODULES]


def _reflex_specs() -> list[ParamSpec]:
    specs = []
    defaults = ReflexConfig()
    for f in fields(ReflexConfig):
        if f.name in ('modules', 'supraspinal'):
            continue
        description, unit, lo, hi = _REFLEX_DOC[f.name]
        specs.append(ParamSpec(f'reflex.{f.name}', getattr(defaults, f.name), description, unit,
                               min=lo, max=hi))
    return specs


MUSCLE_PARAMS: list[ParamSpec] = _muscle_specs()
REFLEX_PARAMS: list[ParamSpec] = _reflex_specs()
MODULE_PARAMS: list[ParamSpec] = _module_specs()
SUPRASPINAL_PARAMS: list[ParamSpec] = _supraspinal_specs()
GH2010_PARAMS: list[ParamSpec] = MUSCLE_PARAMS + REFLEX_PARAMS + MODULE_PARAMS + SUPRASPINAL_PARAMS


def _values(params: ParamSet | Mapping | None) -> Mapping:
    """Validated values: a ParamSet is used as is; a mapping is validated against the specs."""
    if params is None:
        return ParamSet(GH2010_PARAMS).values
    if isinstance(params, ParamSet):
        return params.values
    return ParamSet(GH2010_PARAMS, dict(params)).values


def muscle_constants(params: ParamSet | Mapping | None = None) -> MuscleConstants:
    v = _values(params)
    return MuscleConstants(tau=v['muscle.tau'], w=v['muscle.w'], c=v['muscle.c'],
                           n_ecc=v['muscle.n_ecc'], k_shape=v['muscle.k_shape'],
                           eps_ref=v['muscle.eps_ref'], stim_min=v['muscle.stim_min'])


def muscle_specs(params: ParamSet | Mapping | None = None, legs=LEGS) -> list[MuscleSpec]:
    """MuscleSpecs named ``<leg>_<MTU>`` in ``legs`` x MUSCLES order, joints ``<leg>_<joint>``."""
    v = _values(params)
    present = set(GH2010_MUSCLES) | (set(KNEE_MUSCLES) if v['muscle.rf_bfsh'] else set())
    out = []
    for leg in legs:
        for name in MUSCLES:
            key = f'muscle.{name.lower()}'
            attachments = []
            for joint, (_r0, phi_max, _ref, _rho, sign) in MUSCLE_TABLE[name][4].items():
                jkey = f'{key}.{joint}'
                attachments.append(JointAttachment(
                    joint=f'{leg}_{joint}', kind=COSINE if phi_max is not None else CONSTANT,
                    sign=sign, r0=v[f'{jkey}.r0'], phi_ref=v[f'{jkey}.phi_ref'],
                    rho=v[f'{jkey}.rho'],
                    phi_max=v[f'{jkey}.phi_max'] if phi_max is not None else 0.0))
            out.append(MuscleSpec(name=f'{leg}_{name}', f_max=v[f'{key}.f_max'],
                                  v_max=v[f'{key}.v_max'], l_opt=v[f'{key}.l_opt'],
                                  l_slack=v[f'{key}.l_slack'], joints=tuple(attachments),
                                  enabled=name in present))
    return out


def build_muscle_set(params: ParamSet | Mapping | None = None, legs=LEGS) -> MuscleSet:
    """The 9 x len(legs) MTUs (default both legs: 18 muscles on 6 joints), RF and BFSH absent
    (``enabled`` False) unless ``muscle.rf_bfsh``.

    Muscles are in ``MUSCLE_NAMES`` order, joints in ``JOINT_NAMES`` order (for both legs).
    """
    joints = [f'{leg}_{joint}' for leg in legs for joint in JOINTS]
    return MuscleSet(muscle_specs(params, legs), joints, muscle_constants(params))


def build_reflex_config(params: ParamSet | Mapping | None = None, thigh: float = 0.5,
                        shank: float = 0.5) -> ReflexConfig:
    """ReflexConfig from the ``reflex.*``, ``modules.*`` and ``supraspinal.*`` values (thigh,
    shank: segment lengths in m for the supraspinal leg angle)."""
    v = _values(params)
    supra = SupraspinalConfig(**{name: v[f'supraspinal.{name}'] for name in _SUPRASPINAL_DOC},
                              thigh=float(thigh), shank=float(shank))
    return ReflexConfig(**{f.name: v[f'reflex.{f.name}'] for f in fields(ReflexConfig)
                           if f.name not in ('modules', 'supraspinal')},
                        modules=tuple(bool(v[f'modules.{m}']) for m in MODULES),
                        supraspinal=supra)
