"""Geyer & Herr 2010 reflex laws for two legs (functional core: no PyBullet, no rclpy).

Per leg, with F = F/F_max and L = l_ce/l_opt of the named muscle, each delayed by that muscle's
sensory delay (SOL, TA, GAS 20 ms; VAS 10 ms; HFL, GLU, HAM 5 ms), the knee angle delayed 10 ms and
the trunk pitch theta (forward lean, rad) and its rate delayed 5 ms; [x]+ = max(x, 0):

  stance (leg load > threshold)
    SOL = S0 + G_SOL F_SOL
    GAS = S0 + G_GAS F_GAS
    TA  = S0 + G_TA [L_TA - l_off,TA]+ - G_SOL,TA F_SOL
    VAS = S0,VAS + G_VAS F_VAS - k_phi [phi_k - phi_off]+   (only while the knee extends)
          (- k_LL [load - L_LL]+ within the load-limit window after touchdown; off by default)
    HFL = S0,BAL - k_p (theta - theta_ref) - k_d dtheta  (+ Delta S in the trailing leg in DS)
    GLU = S0,BAL + k_p (theta - theta_ref) + k_d dtheta  (- Delta S in the trailing leg in DS)
    HAM = S0,BAL + k_p (theta - theta_ref) + k_d dtheta
  swing
    HFL = S0 + k_lean (theta_TO - theta_ref) + G_HFL [L_HFL - l_off,HFL]+
             - G_HAM,HFL [L_HAM - l_off,HAM]+
    HAM = S0 + G_HAM F_HAM
    GLU = S0 + G_GLU F_GLU
    TA  = S0 + G_TA [L_TA - l_off,TA]+
    SOL = GAS = VAS = S0
  every output is clipped to [0.01, 1].

theta_TO is the (delayed) trunk lean when the leg left the ground. The trailing leg in double
support (DS) is the stance leg whose contralateral leg touched down after it did.
``gh2010_stimulation`` is the pure law; :class:`Gh2010Reflexes` adds the delay lines, stance
detection, take-off latch and the DS bookkeeping, and is called once per control step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .delays import DelayLine, delay_steps
from .parameters import (DELAY_CLASS, KNEE_PATHWAY_FIELDS, KNEE_PATHWAY_GAINS, LEGS, MUSCLES,
                         ReflexConfig)

S_MIN, S_MAX = 0.01, 1.0
N_LEGS, N_MUSCLES = len(LEGS), len(MUSCLES)
HFL, GLU, HAM, VAS, GAS, SOL, TA, RF, BFSH = (MUSCLES.index(m) for m in
                                              ('HFL', 'GLU', 'HAM', 'VAS', 'GAS', 'SOL', 'TA',
                                               'RF', 'BFSH'))

# Packed config vector for the kernel.
_CFG_FIELDS = ('pre_stimulation', 'sol_g_f', 'gas_g_f', 'ta_g_l', 'ta_l_off', 'sol_ta_g_f',
               'vas_g_f', 'vas_s0', 'vas_k_phi', 'vas_phi_off', 'vas_inhibit_only_extending',
               'trunk_k_p', 'trunk_k_d', 'trunk_theta_ref', 'trunk_s0', 'swing_prep_delta_s',
               'hfl_g_l', 'hfl_l_off', 'ham_hfl_g_l', 'ham_l_off', 'hfl_k_lean', 'ham_g_f',
               'glu_g_f', 'length_positive_part',
               # loading-response / push-off pathways (issue 6; each 0 = off, GH2010 unchanged)
               'vas_k_bw', 'vas_k_flex_rate', 'vas_k_ext_rate', 'ta_k_plantar_rate',
               'ta_rate_window', 'trunk_load_mix', 'gas_onset', 'push_off_k_bw',
               # late single-support knee guard (2026-12-07; 0 = off)
               'vas_k_knee_guard', 'knee_guard_angle', 'knee_guard_onset',
               # early-stance load limiter on VAS (2026-12-07, helper V; 0 = off)
               'vas_k_load_limit', 'load_limit_bw', 'load_limit_window',
               # SG2015 knee-muscle (RF, BFSH) and contralateral pathways (0 = off)
               ) + KNEE_PATHWAY_FIELDS
(_PRE, _SOL_G, _GAS_G, _TA_G, _TA_OFF, _SOLTA_G, _VAS_G, _VAS_S0, _VAS_KPHI, _VAS_PHIOFF,
 _VAS_ONLYEXT, _KP, _KD, _THREF, _BAL_S0, _DS, _HFL_G, _HFL_OFF, _HAMHFL_G, _HAM_OFF, _KLEAN,
 _HAM_G, _GLU_G, _LPOS, _VAS_KBW, _VAS_KFLEX, _VAS_KEXT, _TA_KPR, _TA_WIN, _LOADMIX,
 _GAS_ON, _PO_KBW, _KG_K, _KG_ANGLE, _KG_ONSET, _LL_K, _LL_BW, _LL_WIN,
 _RF_G, _BFSH_KPHI, _GLU_C, _HFL_C, _KNEE_SW, _BFSH_GA, _BFSH_KSW, _RF_GV, _BFSH_GV,
 _BFSH_GHAM, _GAS_GHAM, _HAM_THR, _KNEE_TGT, _VAS_KTGT, _BFSH_KTGT) = range(len(_CFG_FIELDS))


# Delay-line channel layout per leg: F (9), L (9), knee angle, knee rate, pitch, pitch rate,
# leg load (BW, short delay), ankle rate (long delay).
_CH_F, _CH_L = 0, N_MUSCLES
(_CH_KNEE, _CH_KNEE_RATE, _CH_PITCH, _CH_PITCH_RATE, _CH_LOAD,
 _CH_ANKLE_RATE) = (2 * N_MUSCLES + i for i in range(6))
_CH_PER_LEG = 2 * N_MUSCLES + 6
#: "a long time since touchdown" (s): the stance a run starts in, or a leg in swing
LONG_AGO = 1.0e9


#: Module switches (Song & Geyer 2015 M1-M10) follow the fields in the packed vector.
_M1, _M2, _M3, _M4, _M5, _M6, _M7, _M8, _M9, _M10 = (len(_CFG_FIELDS) + k for k in range(10))


#: Then the supraspinal layer (SupraspinalConfig fields, in this order).
_SS_FIELDS = ('enabled', 'alpha0', 'c_d', 'c_v', 'hfl_g', 'hfl_d', 'glu_g', 'glu_d', 'ham_g',
              'delta_alpha', 'select_leg', 'thigh', 'shank')
(_SS_ON, _SS_A0, _SS_CD, _SS_CV, _SS_HFLG, _SS_HFLD, _SS_GLUG, _SS_GLUD, _SS_HAMG, _SS_DA,
 _SS_SELECT, _SS_THIGH, _SS_SHANK) = (len(_CFG_FIELDS) + 10 + k for k in range(len(_SS_FIELDS)))
#: Rows of the leg-angle array (3, legs) the supraspinal layer reads.
ANG_ALPHA, ANG_RATE, ANG_TARGET = 0, 1, 2


def pack_config(config: ReflexConfig) -> np.ndarray:
    return np.array([float(getattr(config, name)) for name in _CFG_FIELDS]
                    + [1.0 if on else 0.0 for on in config.modules]
                    + [float(getattr(config.supraspinal, name)) for name in _SS_FIELDS])


@njit(cache=True)
def _laws(cfg, stance, prep, sig, lean, since, out):
    """sig: (legs, _CH_PER_LEG) delayed signals; lean: (legs,) swing lean; since: (legs,) s since
    the leg's touchdown (``LONG_AGO`` for the start stance); out: (legs, 9).

    Each pathway is gated by its Song & Geyer 2015 module switch (``MODULE_PATHWAYS``); with
    every module on and the loading-response pathways at 0 (their default), the arithmetic is
    exactly GH2010's (the same operations in the same order)."""
    pre = cfg[_PRE]
    pos = cfg[_LPOS] != 0.0
    m1, m2, m3 = cfg[_M1] != 0.0, cfg[_M2] != 0.0, cfg[_M3] != 0.0
    m5, m6, m9, m10 = cfg[_M5] != 0.0, cfg[_M6] != 0.0, cfg[_M9] != 0.0, cfg[_M10] != 0.0
    n_legs = sig.shape[0]
    for leg in range(n_legs):
        for m in range(N_MUSCLES):
            out[leg, m] = pre
        ta = pre
        if m5:                                    # M5: TA L+ (stance and swing)
            ta_l = sig[leg, _CH_L + TA] - cfg[_TA_OFF]
            if pos and ta_l < 0.0:
                ta_l = 0.0
            ta = pre + cfg[_TA_G] * ta_l
        if stance[leg]:
            f_sol = sig[leg, _CH_F + SOL]
            if m1:                                # M1: SOL F+
                out[leg, SOL] = pre + cfg[_SOL_G] * f_sol
            if m2:                                # M2: GAS F+ (gated until gas_onset)
                if not (cfg[_GAS_ON] > 0.0 and since[leg] < cfg[_GAS_ON]):
                    out[leg, GAS] = pre + cfg[_GAS_G] * sig[leg, _CH_F + GAS]
            if cfg[_PO_KBW] != 0.0 and prep[leg]:
                # push-off during the collision: the trailing leg's plantarflexors (M1 SOL,
                # M2 GAS) driven by the contralateral (leading) leg's load in double support
                push = cfg[_PO_KBW] * sig[n_legs - 1 - leg, _CH_LOAD]
                if m1:
                    out[leg, SOL] += push
                if m2:
                    out[leg, GAS] += push
            if m5:                                # M5: SOL -| TA
                ta -= cfg[_SOLTA_G] * f_sol
                # M5: TA against foot slap: ankle plantarflexion rate early in stance
                if cfg[_TA_KPR] != 0.0 and since[leg] < cfg[_TA_WIN]:
                    plantar = sig[leg, _CH_ANKLE_RATE]
                    if plantar > 0.0:
                        ta += cfg[_TA_KPR] * plantar
            inhibition = 0.0
            if m2:                                # M2: knee over-extension -| VAS
                over = sig[leg, _CH_KNEE] - cfg[_VAS_PHIOFF]
                if over > 0.0 and (cfg[_VAS_ONLYEXT] == 0.0 or sig[leg, _CH_KNEE_RATE] > 0.0):
                    inhibition = cfg[_VAS_KPHI] * over
            if m1:                                # M1: VAS F+ (with S0,VAS)
                out[leg, VAS] = cfg[_VAS_S0] + cfg[_VAS_G] * sig[leg, _CH_F + VAS] - inhibition
                # M1: stance knee damper on VAS (flexion excites, extension inhibits)
                knee_rate = sig[leg, _CH_KNEE_RATE]
                if cfg[_VAS_KFLEX] != 0.0 and knee_rate < 0.0:
                    out[leg, VAS] -= cfg[_VAS_KFLEX] * knee_rate
                if cfg[_VAS_KEXT] != 0.0 and knee_rate > 0.0:
                    out[leg, VAS] -= cfg[_VAS_KEXT] * knee_rate
                # M1: the trailing leg's VAS inhibited by the contralateral load (GH2010 k_bw)
                if cfg[_VAS_KBW] != 0.0 and prep[leg]:
                    out[leg, VAS] -= cfg[_VAS_KBW] * sig[n_legs - 1 - leg, _CH_LOAD]
                # M1: late single-support knee guard (the contralateral leg swings)
                if cfg[_KG_K] != 0.0 and not stance[n_legs - 1 - leg] and \
                        since[leg] >= cfg[_KG_ONSET]:
                    flexed = cfg[_KG_ANGLE] - sig[leg, _CH_KNEE]
                    if flexed > 0.0:
                        out[leg, VAS] += cfg[_KG_K] * flexed
                # M1: early-stance load limiter: the leg's own load (delayed delay_short,
                # 5 ms) above load_limit_bw inhibits VAS within load_limit_window of touchdown
                if cfg[_LL_K] != 0.0 and since[leg] < cfg[_LL_WIN]:
                    excess = sig[leg, _CH_LOAD] - cfg[_LL_BW]
                    if excess > 0.0:
                        out[leg, VAS] -= cfg[_LL_K] * excess
            else:
                out[leg, VAS] = pre - inhibition
            hfl = pre
            glu = pre
            if m3:                                # M3: trunk PD on HFL, GLU, HAM
                pd = (cfg[_KP] * (sig[leg, _CH_PITCH] - cfg[_THREF])
                      + cfg[_KD] * sig[leg, _CH_PITCH_RATE])
                if cfg[_LOADMIX] != 0.0:          # SG2015 M3: scaled by the leg's load
                    pd *= (1.0 - cfg[_LOADMIX]) + cfg[_LOADMIX] * sig[leg, _CH_LOAD]
                hfl = cfg[_BAL_S0] - pd
                glu = cfg[_BAL_S0] + pd
                out[leg, HAM] = cfg[_BAL_S0] + pd
            if prep[leg] and m6:                  # M6 (late stance): swing preparation
                hfl += cfg[_DS]
                glu -= cfg[_DS]
            out[leg, HFL] = hfl
            out[leg, GLU] = glu
        else:
            hfl = pre
            if m6:                                # M6: HFL L+ and the trunk-lean term
                hfl_l = sig[leg, _CH_L + HFL] - cfg[_HFL_OFF]
                if pos:
                    hfl_l = max(hfl_l, 0.0)
                hfl = pre + cfg[_KLEAN] * (lean[leg] - cfg[_THREF]) + cfg[_HFL_G] * hfl_l
            if m9:                                # M9: HAM L -| HFL, HAM F+
                ham_l = sig[leg, _CH_L + HAM] - cfg[_HAM_OFF]
                if pos:
                    ham_l = max(ham_l, 0.0)
                hfl = hfl - cfg[_HAMHFL_G] * ham_l
                out[leg, HAM] = pre + cfg[_HAM_G] * sig[leg, _CH_F + HAM]
            out[leg, HFL] = hfl
            if m10:                               # M10: GLU F+ (terminal-swing hip hold)
                out[leg, GLU] = pre + cfg[_GLU_G] * sig[leg, _CH_F + GLU]
        out[leg, TA] = ta
        for m in range(N_MUSCLES):
            s = out[leg, m]
            out[leg, m] = S_MIN if s < S_MIN else (S_MAX if s > S_MAX else s)


@njit(cache=True)
def _since_touchdown(stance, touchdown, step_count, dt, since):
    """Seconds since each stance leg's touchdown (``LONG_AGO`` for the stance a run starts in and
    for a leg in swing)."""
    for leg in range(stance.shape[0]):
        if stance[leg] and touchdown[leg] >= 0:
            since[leg] = (step_count - touchdown[leg]) * dt
        else:
            since[leg] = LONG_AGO


@njit(cache=True)
def _leg_angles(cfg, phi, rate, pitch, pitch_rate, speed, stance, ang):
    """SG2015 leg angle alpha per leg (hip-to-ankle line from the forward horizontal, rad; pi/2
    = ankle under the hip, smaller = ahead), its rate, and the foot-placement target
    alpha_tgt = alpha0 + c_d d + c_v v (d: hip ahead of the rearmost stance ankle, 0 without a
    stance leg; v: forward speed). phi, rate: (6,) inner angles and rates; ang <- (3, legs)."""
    thigh, shank = cfg[_SS_THIGH], cfg[_SS_SHANK]
    d = 0.0
    n_legs = ang.shape[1]
    for leg in range(n_legs):
        tp = pitch + (phi[3 * leg] - math.pi)             # thigh pitch, + = knee behind the hip
        sp = tp + (math.pi - phi[3 * leg + 1])            # shank pitch
        tpr = pitch_rate + rate[3 * leg]
        spr = tpr - rate[3 * leg + 1]
        dx = -thigh * math.sin(tp) - shank * math.sin(sp)            # ankle x - hip x
        dz = thigh * math.cos(tp) + shank * math.cos(sp)             # hip z - ankle z
        dxr = -thigh * math.cos(tp) * tpr - shank * math.cos(sp) * spr
        dzr = -thigh * math.sin(tp) * tpr - shank * math.sin(sp) * spr
        ang[ANG_ALPHA, leg] = math.atan2(dz, dx)
        ang[ANG_RATE, leg] = (dx * dzr - dz * dxr) / (dx * dx + dz * dz)
        if stance[leg] and -dx > d:
            d = -dx
    target = cfg[_SS_A0] + cfg[_SS_CD] * d + cfg[_SS_CV] * speed
    for leg in range(n_legs):
        ang[ANG_TARGET, leg] = target


@njit(cache=True)
def _select_leg(cfg, ang, stance, prep):
    """Supraspinal swing-leg selection: in double support the leg further behind its target
    (larger alpha - alpha_tgt) prepares to swing."""
    if cfg[_SS_ON] == 0.0 or cfg[_SS_SELECT] == 0.0 or prep.shape[0] != 2:
        return
    if stance[0] and stance[1]:
        behind0 = ang[ANG_ALPHA, 0] - ang[ANG_TARGET, 0]
        behind1 = ang[ANG_ALPHA, 1] - ang[ANG_TARGET, 1]
        prep[0] = behind0 > behind1
        prep[1] = not prep[0]


@njit(cache=True)
def _supraspinal(cfg, ang, stance, prep, load, out):
    """SG2015's alpha pathways added to the spinal stimulations (then clipped again): M6 PD of
    alpha toward alpha_tgt on HFL (+) and GLU (-) of a swinging leg, and of the trailing leg in
    double support weighted by the other leg's load (BW, at most 1); M9 HAM beyond
    alpha_tgt + delta_alpha in swing. Gated by the M6 / M9 switches."""
    if cfg[_SS_ON] == 0.0:
        return
    m6, m9 = cfg[_M6] != 0.0, cfg[_M9] != 0.0
    n_legs = out.shape[0]
    for leg in range(n_legs):
        if stance[leg] and not prep[leg]:
            continue
        weight = 1.0
        if stance[leg]:
            weight = min(max(load[n_legs - 1 - leg], 0.0), 1.0)
        error = ang[ANG_ALPHA, leg] - ang[ANG_TARGET, leg]
        alpha_rate = ang[ANG_RATE, leg]
        if m6:
            hfl = cfg[_SS_HFLG] * error + cfg[_SS_HFLD] * alpha_rate
            if hfl > 0.0:
                out[leg, HFL] += weight * hfl
            glu = -cfg[_SS_GLUG] * error - cfg[_SS_GLUD] * alpha_rate
            if glu > 0.0:
                out[leg, GLU] += weight * glu
        if m9 and not stance[leg]:
            ham = -cfg[_SS_HAMG] * (error - cfg[_SS_DA])
            if ham > 0.0:
                out[leg, HAM] += ham
        for m in range(out.shape[1]):
            s = out[leg, m]
            out[leg, m] = S_MIN if s < S_MIN else (S_MAX if s > S_MAX else s)


#: Slots of the KNEE_PATHWAY_GAINS in the packed config.
_KNEE_GAIN_SLOTS = np.array([_CFG_FIELDS.index(name) for name in KNEE_PATHWAY_GAINS])


@njit(cache=True)
def knee_pathways_active(cfg) -> bool:
    """True when a gain of :func:`_sg2015_knee` is not 0 (it then needs the leg angles)."""
    for k in _KNEE_GAIN_SLOTS:
        if cfg[k] != 0.0:
            return True
    return False


@njit(cache=True)
def _sg2015_knee(cfg, stance, prep, sig, ang, flexed, out):
    """Song & Geyer 2015's knee-muscle (RF, BFSH) and contralateral (M4) pathways, added to the
    GH2010 (and supraspinal) stimulations, then clipped to [0.01, 1] again. Runs only when
    :func:`knee_pathways_active`. sig: delayed signals (knee angle and rate 10 ms, loads 5 ms);
    ang: (3, legs) leg angle alpha, its rate, alpha_tgt (undelayed, :func:`_leg_angles`);
    flexed: (legs,) 1 once the swinging knee has flexed below knee_sw_tgt (early -> mid swing),
    0 in stance. Swing sub-phases as Song's controller: early (lift-off until the knee passes
    knee_sw_tgt, M7), mid (then, while alpha > alpha_tgt, M8), late (alpha < alpha_tgt +
    delta_alpha, M9), terminal (late and the leg retracting, d alpha/dt > 0, M10)."""
    m1, m2, m4, m7 = cfg[_M1] != 0.0, cfg[_M2] != 0.0, cfg[_M4] != 0.0, cfg[_M7] != 0.0
    m8, m9, m10 = cfg[_M8] != 0.0, cfg[_M9] != 0.0, cfg[_M10] != 0.0
    n_legs = out.shape[0]
    # M4 reads each leg's stimulations before this function adds to them
    flex0, flex1 = out[0, HFL] + out[0, RF], out[n_legs - 1, HFL] + out[n_legs - 1, RF]
    ext0, ext1 = out[0, GLU] + out[0, HAM], out[n_legs - 1, GLU] + out[n_legs - 1, HAM]
    for leg in range(n_legs):
        other = n_legs - 1 - leg
        knee = sig[leg, _CH_KNEE]
        knee_rate = sig[leg, _CH_KNEE_RATE]
        alpha = ang[ANG_ALPHA, leg]
        alpha_rate = ang[ANG_RATE, leg]
        target = ang[ANG_TARGET, leg]
        bfsh7 = -cfg[_BFSH_GA] * alpha_rate + cfg[_BFSH_KSW] * (knee - cfg[_KNEE_SW])
        if bfsh7 < 0.0:
            bfsh7 = 0.0
        if stance[leg]:
            flexed[leg] = 0.0
            weight = 1.0                  # the trailing leg hands over as the other loads
            if prep[leg]:
                weight = max(1.0 - sig[other, _CH_LOAD], 0.0)
            if m1:                        # M1: RF F+
                out[leg, RF] += weight * cfg[_RF_G] * sig[leg, _CH_F + RF]
            over = knee - cfg[_VAS_PHIOFF]
            if m2 and over > 0.0:         # M2: knee over-extension -> BFSH
                out[leg, BFSH] += weight * cfg[_BFSH_KPHI] * over
            if m4 and not stance[other]:  # M4: compensate the swinging leg
                out[leg, GLU] += cfg[_GLU_C] * (flex1 if leg == 0 else flex0)
                out[leg, HFL] += cfg[_HFL_C] * (ext1 if leg == 0 else ext0)
            if m7 and prep[leg]:          # M7 (swing initiation): weighted by the other's load
                out[leg, BFSH] += min(max(sig[other, _CH_LOAD], 0.0), 1.0) * bfsh7
        else:
            if knee < cfg[_KNEE_SW]:
                flexed[leg] = 1.0
            if flexed[leg] == 0.0:
                if m7:                    # M7 (early swing): flex the knee
                    out[leg, BFSH] += bfsh7
            elif m8 and alpha > target:   # M8 (mid swing): hold the knee
                if knee_rate < 0.0:
                    out[leg, RF] -= cfg[_RF_GV] * knee_rate
                elif knee_rate > 0.0:
                    out[leg, BFSH] += cfg[_BFSH_GV] * knee_rate * (alpha - target)
            if alpha < target + cfg[_SS_DA]:
                drive = out[leg, HAM] - cfg[_HAM_THR]
                if m9 and drive > 0.0:    # M9 (late swing): HAM -> BFSH, GAS
                    out[leg, BFSH] += cfg[_BFSH_GHAM] * drive
                    out[leg, GAS] += cfg[_GAS_GHAM] * drive
                if m10 and alpha_rate > 0.0:   # M10 (terminal swing): knee target
                    error = cfg[_KNEE_TGT] - knee
                    if error > 0.0:
                        out[leg, VAS] += cfg[_VAS_KTGT] * error
                    else:
                        out[leg, BFSH] -= cfg[_BFSH_KTGT] * error
        for m in range(out.shape[1]):
            s = out[leg, m]
            out[leg, m] = S_MIN if s < S_MIN else (S_MAX if s > S_MAX else s)


def gh2010_stimulation(config: ReflexConfig | np.ndarray, stance, swing_prep, force, length,
                       knee_angle, knee_rate, trunk_pitch, trunk_pitch_rate,
                       lean_pitch, leg_load=(0.0, 0.0), ankle_rate=(0.0, 0.0),
                       since_touchdown=(LONG_AGO, LONG_AGO)) -> np.ndarray:
    """The GH2010 laws on already delayed signals; returns (2, 9) stimulations in [0.01, 1].

    stance, swing_prep: (2,) bool per leg (swing_prep: trailing leg in double support).
    force, length: (2, 9) F/F_max and l_ce/l_opt, MUSCLES order, each delayed by its class.
    knee_angle, knee_rate: (2,) rad and rad/s (GH2010 inner angle, delayed 10 ms).
    trunk_pitch, trunk_pitch_rate: scalar or (2,) forward lean rad and rad/s (delayed 5 ms).
    lean_pitch: (2,) trunk lean used by the swing HFL lean term (theta at take-off in GH2010).
    leg_load: (2,) vertical load per leg, BW (delayed 5 ms; read by ``vas_k_bw``,
        ``trunk_load_mix``, ``push_off_k_bw`` and the load limiter ``vas_k_load_limit``).
        ankle_rate: (2,) GH2010 inner ankle rate, rad/s, plantarflexion positive (delayed
        20 ms; ``ta_k_plantar_rate``). since_touchdown: (2,) s since each
        leg's touchdown (``ta_rate_window``, ``gas_onset``, ``knee_guard_onset``,
        ``load_limit_window``).
    Raises ValueError for non-finite or wrongly shaped input.
    """
    cfg = pack_config(config) if isinstance(config, ReflexConfig) else np.asarray(config, float)
    args = {
        'stance': _legs(stance, 'stance', bool),
        'swing_prep': _legs(swing_prep, 'swing_prep', bool),
        'force': _array(force, 'force', (N_LEGS, N_MUSCLES)),
        'length': _array(length, 'length', (N_LEGS, N_MUSCLES)),
        'knee_angle': _legs(knee_angle, 'knee_angle'), 'knee_rate': _legs(knee_rate, 'knee_rate'),
        'trunk_pitch': _legs(trunk_pitch, 'trunk_pitch'),
        'trunk_pitch_rate': _legs(trunk_pitch_rate, 'trunk_pitch_rate'),
        'lean_pitch': _legs(lean_pitch, 'lean_pitch'),
        'leg_load': _legs(leg_load, 'leg_load'), 'ankle_rate': _legs(ankle_rate, 'ankle_rate'),
        'since_touchdown': _legs(since_touchdown, 'since_touchdown'),
    }
    sig = np.empty((N_LEGS, _CH_PER_LEG))
    sig[:, _CH_F:_CH_F + N_MUSCLES] = args['force']
    sig[:, _CH_L:_CH_L + N_MUSCLES] = args['length']
    sig[:, _CH_KNEE] = args['knee_angle']
    sig[:, _CH_KNEE_RATE] = args['knee_rate']
    sig[:, _CH_PITCH] = args['trunk_pitch']
    sig[:, _CH_PITCH_RATE] = args['trunk_pitch_rate']
    sig[:, _CH_LOAD] = args['leg_load']
    sig[:, _CH_ANKLE_RATE] = args['ankle_rate']
    out = np.empty((N_LEGS, N_MUSCLES))
    _laws(cfg, args['stance'], args['swing_prep'], sig, args['lean_pitch'],
          args['since_touchdown'], out)
    return out


def _array(value, name, shape) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape:
        raise ValueError(f'{name}: expected shape {shape}, got {arr.shape}')
    if not np.isfinite(arr).all():
        raise ValueError(f'{name} is not finite: {arr.tolist()}')
    return arr


def _legs(value, name, kind=float) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(N_LEGS, arr)
    if kind is bool:
        if arr.shape != (N_LEGS,):
            raise ValueError(f'{name}: expected {N_LEGS} values, got shape {arr.shape}')
        return arr.astype(bool)
    return _array(arr, name, (N_LEGS,))


@dataclass
class ReflexSensors:
    """Undelayed sensor values at one control step (the controller delays them itself).

    leg_load: (2,) vertical ground reaction force per leg in body weights (LEGS order).
    muscle_force, muscle_length: (18,) F/F_max and l_ce/l_opt in LEGS x MUSCLES order
        (MuscleSet.normalized_force / normalized_length of parameters.build_muscle_set()).
    knee_angle, knee_rate: (2,) GH2010 inner knee angle (pi = straight) in rad, and its rate.
    trunk_pitch, trunk_pitch_rate: trunk (HAT) forward lean from vertical, rad (positive =
        leaning in the walking direction), and its rate, rad/s.
    ankle_rate: (2,) GH2010 inner ankle angle rate, rad/s (plantarflexion positive; default 0).
    """

    leg_load: np.ndarray
    muscle_force: np.ndarray
    muscle_length: np.ndarray
    knee_angle: np.ndarray
    knee_rate: np.ndarray
    trunk_pitch: float
    trunk_pitch_rate: float
    ankle_rate: np.ndarray = field(default_factory=lambda: np.zeros(N_LEGS))


_SENSOR_SHAPES = {'leg_load': (N_LEGS,), 'muscle_force': (N_LEGS * N_MUSCLES,),
                  'muscle_length': (N_LEGS * N_MUSCLES,), 'knee_angle': (N_LEGS,),
                  'knee_rate': (N_LEGS,), 'trunk_pitch': (), 'trunk_pitch_rate': (),
                  'ankle_rate': (N_LEGS,)}


class Gh2010Reflexes:
    """Two-leg GH2010 reflex controller: ``reset(sensors)``, then ``step(sensors, dt)`` each
    control step (dt fixed at construction, 1 ms intended) -> 18 stimulations (LEGS x MUSCLES).
    """

    name = 'gh2010_reflexes'

    def __init__(self, config: ReflexConfig = ReflexConfig(), dt: float = 0.001):
        self.config = config
        self.dt = float(dt)
        self._cfg = pack_config(config)
        #: the stance threshold the laws use (BW); a start-up schedule moves it with ``_cfg``
        self.stance_load_threshold = float(config.stance_load_threshold)
        classes = {'long': delay_steps(config.delay_long, dt),
                   'mid': delay_steps(config.delay_mid, dt),
                   'short': delay_steps(config.delay_short, dt)}
        per_leg = ([classes[DELAY_CLASS[m]] for m in MUSCLES] * 2
                   + [classes['mid'], classes['mid'], classes['short'], classes['short'],
                      classes['short'], classes['long']])
        self.delay_classes = classes      # steps per delay class
        self._delay = DelayLine(per_leg * N_LEGS)
        self._channels = np.empty((N_LEGS, _CH_PER_LEG))
        self._out = np.empty((N_LEGS, N_MUSCLES))
        self.stance = np.zeros(N_LEGS, dtype=bool)
        self.swing_prep = np.zeros(N_LEGS, dtype=bool)
        self.lean_pitch = np.zeros(N_LEGS)
        self.since_touchdown = np.full(N_LEGS, LONG_AGO)
        #: SG2015 swing sub-phase per leg: 1 once the swinging knee flexed below knee_sw_tgt
        self.knee_flexed = np.zeros(N_LEGS)
        self._touchdown = np.zeros(N_LEGS, dtype=np.int64)
        self._step_count = 0
        self.reset()

    @property
    def stimulation(self) -> np.ndarray:
        """The last stimulations (18,), LEGS x MUSCLES order."""
        return self._out.reshape(-1).copy()

    def reset(self, sensors: ReflexSensors | None = None, leading_leg: int | None = None) -> None:
        """Start over. With ``sensors``, the delay lines are filled with them (as if the body had
        been in that state for the longest delay), stance is taken from the loads, and a leg in
        swing latches the current trunk lean. If both legs are loaded, ``leading_leg`` (index in
        LEGS) is the one that touched down last; the other gets the double-support swing
        preparation. Without ``leading_leg`` neither does (standing)."""
        self._step_count = 0
        self._out[:] = S_MIN
        self.since_touchdown[:] = LONG_AGO
        self.knee_flexed[:] = 0.0
        if sensors is None:
            self._delay.reset(0.0)
            self.stance[:] = False
            self.swing_prep[:] = False
            self.lean_pitch[:] = 0.0
            self._touchdown[:] = -1
            return
        load = self._read(sensors)
        self._delay.reset(self._channels.reshape(-1))
        self.stance[:] = load > self.stance_load_threshold
        self._touchdown[:] = -1
        if leading_leg is not None:
            if leading_leg not in range(N_LEGS):
                raise ValueError(f'leading_leg must be an index into {LEGS}, got {leading_leg!r}')
            self._touchdown[leading_leg] = 0
        both = bool(self.stance.all())
        self.swing_prep[:] = [both and self._touchdown[1 - i] > self._touchdown[i]
                              for i in range(N_LEGS)]
        self.lean_pitch[:] = float(sensors.trunk_pitch)

    def step(self, sensors: ReflexSensors, dt: float, leg_angles=None) -> np.ndarray:
        """Advance one control step; returns the 18 stimulations in [0.01, 1] (a new array).

        ``leg_angles``: (3, 2) alpha, d alpha/dt, alpha_tgt per leg (:func:`_leg_angles`), read
        by the supraspinal layer and the SG2015 knee pathways (required when
        :meth:`needs_leg_angles`).
        Raises ValueError (state untouched) for non-finite or wrongly shaped sensors, or a ``dt``
        other than the one the delays were built for."""
        if abs(dt - self.dt) > 1e-12:
            raise ValueError(f'Gh2010Reflexes was built for dt = {self.dt} s, step got {dt!r}')
        load = self._read(sensors)
        supra = self.config.supraspinal.enabled
        knee = knee_pathways_active(self._cfg)
        if supra or knee:
            leg_angles = np.asarray(leg_angles, dtype=float) if leg_angles is not None else None
            if leg_angles is None or leg_angles.shape != (3, N_LEGS) or \
                    not np.isfinite(leg_angles).all():
                raise ValueError('the supraspinal layer and the SG2015 knee pathways need '
                                 f'finite leg_angles of shape (3, {N_LEGS}), got {leg_angles!r}')
        self._step_count += 1
        delayed = self._delay.step(self._channels.reshape(-1)).reshape(N_LEGS, _CH_PER_LEG)
        _phase(load, self.stance_load_threshold, self._step_count,
               self.config.lean_at_takeoff, delayed, self.stance, self._touchdown,
               self.lean_pitch, self.swing_prep)
        if supra:
            _select_leg(self._cfg, leg_angles, self.stance, self.swing_prep)
        _since_touchdown(self.stance, self._touchdown, self._step_count, self.dt,
                         self.since_touchdown)
        _laws(self._cfg, self.stance, self.swing_prep, delayed, self.lean_pitch,
              self.since_touchdown, self._out)
        if supra:
            _supraspinal(self._cfg, leg_angles, self.stance, self.swing_prep, load, self._out)
        if knee:
            _sg2015_knee(self._cfg, self.stance, self.swing_prep, delayed, leg_angles,
                         self.knee_flexed, self._out)
        return self._out.reshape(-1).copy()

    def needs_leg_angles(self) -> bool:
        """Whether :meth:`step` needs ``leg_angles`` now (supraspinal layer or knee pathways;
        a start-up schedule may change the gains)."""
        return bool(self.config.supraspinal.enabled or knee_pathways_active(self._cfg))

    def metrics(self) -> dict:
        return {'stance': self.stance.tolist(), 'swing_prep': self.swing_prep.tolist()}

    # -- helpers --------------------------------------------------------------------------------
    def _read(self, s: ReflexSensors) -> np.ndarray:
        """Copy the sensors into the channel buffer; return the leg loads. ValueError naming the
        field if a value is missing, wrongly shaped or not finite (the buffer is scratch)."""
        try:
            load = np.asarray(s.leg_load, dtype=float)
            ch = self._channels
            ch[:, _CH_F:_CH_F + N_MUSCLES] = np.reshape(s.muscle_force, (N_LEGS, N_MUSCLES))
            ch[:, _CH_L:_CH_L + N_MUSCLES] = np.reshape(s.muscle_length, (N_LEGS, N_MUSCLES))
            ch[:, _CH_KNEE] = s.knee_angle
            ch[:, _CH_KNEE_RATE] = s.knee_rate
            ch[:, _CH_PITCH] = s.trunk_pitch
            ch[:, _CH_PITCH_RATE] = s.trunk_pitch_rate
            ch[:, _CH_LOAD] = load
            ch[:, _CH_ANKLE_RATE] = s.ankle_rate
            ok = load.shape == (N_LEGS,) and _all_finite(load) and _all_finite(ch.reshape(-1))
        except (TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            self._check(s)  # names the offending field
            raise ValueError(f'invalid ReflexSensors: {s!r}')
        return load

    @staticmethod
    def _check(s: ReflexSensors) -> ReflexSensors:
        for name, shape in _SENSOR_SHAPES.items():
            try:
                arr = np.asarray(getattr(s, name), dtype=float)
            except (TypeError, ValueError, AttributeError) as error:
                raise ValueError(f'ReflexSensors.{name}: not a number array ({error})') from None
            if arr.shape != shape:
                raise ValueError(f'ReflexSensors.{name}: expected shape {shape}, got {arr.shape}')
            if not np.isfinite(arr).all():
                raise ValueError(f'ReflexSensors.{name} is not finite: {arr.tolist()}')
        return s


@njit(cache=True)
def _phase(load, threshold, step_count, lean_at_takeoff, delayed, stance, touchdown, lean, prep):
    """Stance from load; touchdown step per leg; trunk lean latched at take-off (or followed);
    the trailing leg in double support (stance, and the other leg touched down after it)."""
    for leg in range(stance.shape[0]):
        now = load[leg] > threshold
        if now and not stance[leg]:
            touchdown[leg] = step_count
        if lean_at_takeoff:
            if stance[leg] and not now:
                lean[leg] = delayed[leg, _CH_PITCH]
        else:
            lean[leg] = delayed[leg, _CH_PITCH]
        stance[leg] = now
    both = stance[0] and stance[1]
    prep[0] = both and touchdown[1] > touchdown[0]
    prep[1] = both and touchdown[0] > touchdown[1]


@njit(cache=True)
def _all_finite(x):
    for v in x:
        if not math.isfinite(v):
            return False
    return True
