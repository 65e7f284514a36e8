"""Neural delay lines and the Geyer & Herr 2010 reflex laws."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuro_locomotion.params import ParamSet, node_params
from reflex_modules.delays import DelayLine, delay_steps
from reflex_modules.geyer2010 import Gh2010Reflexes, ReflexSensors, gh2010_stimulation
from reflex_modules.parameters import (GH2010_PARAMS, MUSCLES, ReflexConfig,
                                       build_muscle_set, build_reflex_config)

DT = 0.001
CFG = ReflexConfig()
HFL, GLU, HAM, VAS, GAS, SOL, TA = range(7)
NM = len(MUSCLES)          # 9: GH2010's seven, then RF and BFSH
LEFT, RIGHT = 0, 1


# -- delay lines -------------------------------------------------------------------------------
def test_delay_steps_from_seconds():
    assert [delay_steps(d, DT) for d in (0.0, 0.005, 0.010, 0.020)] == [0, 5, 10, 20]
    with pytest.raises(ValueError, match='whole number'):
        delay_steps(0.0105, DT)
    with pytest.raises(ValueError):
        delay_steps(-0.005, DT)


@pytest.mark.parametrize('steps', [0, 1, 5, 10, 20])
def test_delay_line_is_exact(steps):
    rng = np.random.default_rng(steps)
    values = rng.normal(size=(80, 3))
    line = DelayLine(steps, width=3, fill=-7.0)
    out = np.array([line.step(v) for v in values])
    assert np.array_equal(out[steps:], values[:len(values) - steps])
    assert np.all(out[:steps] == -7.0)


def test_delay_line_per_channel_delays_and_reset():
    delays = [0, 5, 10, 20, 5]
    line = DelayLine(delays)
    values = np.arange(60 * 5, dtype=float).reshape(60, 5)
    out = np.array([line.step(v) for v in values])
    for c, n in enumerate(delays):
        assert np.array_equal(out[n:, c], values[:60 - n, c])
        assert np.all(out[:n, c] == 0.0)
    line.reset([1.0, 2.0, 3.0, 4.0, 5.0])
    first = line.step(np.full(5, 9.0))
    assert first.tolist() == [9.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(ValueError):
        line.step(np.zeros(4))
    with pytest.raises(ValueError):
        DelayLine([1.5, 2])


# -- the pure laws -----------------------------------------------------------------------------
def laws(stance=(True, False), prep=(False, False), force=None, length=None, knee=(3.0, 3.0),
         knee_rate=(0.0, 0.0), pitch=0.105, pitch_rate=0.0, lean=(0.105, 0.105), config=CFG):
    force = np.zeros((2, NM)) if force is None else force
    length = np.ones((2, NM)) if length is None else length
    return gh2010_stimulation(config, stance, prep, force, length, knee, knee_rate, pitch,
                              pitch_rate, lean)


def test_defaults_are_the_scone_values():
    scone = dict(sol_g_f=1.2, gas_g_f=1.1, ta_g_l=1.1, ta_l_off=0.71, sol_ta_g_f=0.3, vas_g_f=1.15,
                 vas_s0=0.09, trunk_k_p=1.91, trunk_k_d=0.25, trunk_theta_ref=0.105,
                 trunk_s0=0.05, swing_prep_delta_s=0.25, hfl_g_l=0.35, hfl_l_off=0.60,
                 ham_hfl_g_l=4.0, ham_l_off=0.85, hfl_k_lean=1.15, ham_g_f=0.65, glu_g_f=0.4,
                 delay_long=0.020, delay_mid=0.010, delay_short=0.005, pre_stimulation=0.01)
    assert {k: getattr(CFG, k) for k in scone} == scone
    assert build_reflex_config() == CFG
    tuned = build_reflex_config(ParamSet(GH2010_PARAMS, {'reflex.sol_g_f': 0.9}))
    assert tuned.sol_g_f == 0.9 and tuned.gas_g_f == CFG.gas_g_f


def test_sol_force_feedback_in_stance_only():
    for f_sol in (0.0, 0.2, 0.5):
        force = np.zeros((2, NM))
        force[:, SOL] = f_sol
        out = laws(stance=(True, False), force=force)
        assert out[LEFT, SOL] == pytest.approx(0.01 + 1.2 * f_sol, abs=1e-15)   # stance
        assert out[RIGHT, SOL] == 0.01                                       # swing
    force = np.zeros((2, NM))
    force[:, GAS] = 0.4
    force[:, VAS] = 0.3
    out = laws(stance=(True, False), force=force)
    assert out[LEFT, GAS] == pytest.approx(0.01 + 1.1 * 0.4) and out[RIGHT, GAS] == 0.01
    assert out[LEFT, VAS] == pytest.approx(0.09 + 1.15 * 0.3) and out[RIGHT, VAS] == 0.01


def test_ta_length_feedback_in_both_phases_and_sol_inhibition_in_stance():
    length = np.ones((2, NM))
    length[:, TA] = 0.91
    out = laws(length=length)
    assert out[:, TA] == pytest.approx([0.01 + 1.1 * 0.2] * 2)
    force = np.zeros((2, NM))
    force[:, SOL] = 0.5
    out = laws(length=length, force=force)
    assert out[LEFT, TA] == pytest.approx(0.01 + 1.1 * 0.2 - 0.3 * 0.5)      # stance: SOL -| TA
    assert out[RIGHT, TA] == pytest.approx(0.01 + 1.1 * 0.2)                 # swing: no SOL term
    length[:, TA] = 0.6                                                      # below l_off: [.]+
    assert laws(length=length)[:, TA].tolist() == [0.01, 0.01]


def test_hfl_length_feedback_in_swing_only():
    out = []
    for l_hfl in (0.6, 0.8, 1.0):
        length = np.ones((2, NM))
        length[:, HAM] = 0.8                       # below l_off,HAM: no HAM -| HFL
        length[:, HFL] = l_hfl
        out.append(laws(stance=(True, False), length=length))
    swing = [o[RIGHT, HFL] for o in out]
    stance = [o[LEFT, HFL] for o in out]
    assert swing == pytest.approx([0.01 + 0.35 * (l - 0.6) for l in (0.6, 0.8, 1.0)])
    assert stance[0] == stance[1] == stance[2]     # no HFL L+ in stance


def test_ham_length_inhibits_hfl_in_late_swing():
    length = np.ones((2, NM))
    length[:, HFL] = 1.2
    length[:, HAM] = 0.85
    base = laws(stance=(False, False), length=length)[:, HFL]
    length[:, HAM] = 0.87
    inhibited = laws(stance=(False, False), length=length)[:, HFL]
    assert inhibited == pytest.approx(base - 4.0 * 0.02)


def test_swing_ham_and_glu_force_feedback_and_lean_term():
    force = np.zeros((2, NM))
    force[:, HAM] = 0.5
    force[:, GLU] = 0.5
    length = np.full((2, NM), 0.5)                  # HFL, HAM below their offsets
    out = laws(stance=(False, False), force=force, length=length, lean=(0.105 + 0.1, 0.105))
    assert out[:, HAM] == pytest.approx([0.01 + 0.65 * 0.5] * 2)
    assert out[:, GLU] == pytest.approx([0.01 + 0.4 * 0.5] * 2)
    assert out[:, HFL] == pytest.approx([0.01 + 1.15 * 0.1, 0.01])


def test_trunk_pd_in_stance():
    out = laws(stance=(True, True), pitch=0.105 + 0.05, pitch_rate=0.2)
    pd = 1.91 * 0.05 + 0.25 * 0.2
    assert out[:, GLU] == pytest.approx([0.05 + pd] * 2)
    assert out[:, HAM] == pytest.approx([0.05 + pd] * 2)
    assert out[:, HFL] == pytest.approx([max(0.05 - pd, 0.01)] * 2)
    back = laws(stance=(True, True), pitch=0.105 - 0.02)                   # leaning back
    assert back[:, HFL] == pytest.approx([0.05 + 1.91 * 0.02] * 2)
    assert back[:, GLU] == pytest.approx([0.05 - 1.91 * 0.02] * 2)


def test_double_support_swing_preparation_in_trailing_leg():
    out = laws(stance=(True, True), prep=(True, False))
    assert out[LEFT, HFL] == pytest.approx(0.05 + 0.25)
    assert out[LEFT, GLU] == 0.01                                          # 0.05 - 0.25, clipped
    assert out[RIGHT, HFL] == pytest.approx(0.05) and out[RIGHT, GLU] == pytest.approx(0.05)


def test_vas_knee_overextension_inhibition():
    force = np.zeros((2, NM))
    force[:, VAS] = 0.5
    over = math.radians(175.0)
    extending = laws(stance=(True, True), force=force, knee=(over, over), knee_rate=(1.0, -1.0))
    expected = 0.09 + 1.15 * 0.5 - 2.0 * (over - math.radians(170.0))
    assert extending[LEFT, VAS] == pytest.approx(expected)                 # extending: inhibited
    assert extending[RIGHT, VAS] == pytest.approx(0.09 + 1.15 * 0.5)       # flexing: not
    bent = laws(stance=(True, True), force=force, knee=(2.9, 2.9), knee_rate=(1.0, 1.0))
    assert bent[:, VAS] == pytest.approx([0.09 + 1.15 * 0.5] * 2)


def test_positive_part_switch_gives_scone_signed_length_terms():
    length = np.ones((2, NM))
    length[:, HFL] = 0.5                           # below l_off,HFL = 0.6
    length[:, HAM] = 0.8
    signed = ReflexConfig(length_positive_part=False)
    out = laws(stance=(False, False), length=length, config=signed)
    assert out[:, HFL] == pytest.approx([0.01 + 0.35 * -0.1 - 4.0 * -0.05] * 2)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_outputs_are_clipped(data):
    big = st.floats(-50.0, 50.0)
    out = laws(stance=data.draw(st.tuples(st.booleans(), st.booleans())),
               prep=data.draw(st.tuples(st.booleans(), st.booleans())),
               force=np.array(data.draw(st.lists(big, min_size=2 * NM,
                                                 max_size=2 * NM))).reshape(2, NM),
               length=np.array(data.draw(st.lists(big, min_size=2 * NM,
                                                  max_size=2 * NM))).reshape(2, NM),
               knee=data.draw(st.tuples(big, big)), knee_rate=data.draw(st.tuples(big, big)),
               pitch=data.draw(big), pitch_rate=data.draw(big),
               lean=data.draw(st.tuples(big, big)))
    assert out.shape == (2, NM)
    assert np.all(out >= 0.01) and np.all(out <= 1.0)


def test_clip_at_both_ends():
    force = np.full((2, NM), 10.0)
    assert laws(force=force)[LEFT, SOL] == 1.0
    assert laws(stance=(True, True), pitch=-5.0)[:, GLU].tolist() == [0.01, 0.01]


@pytest.mark.parametrize('field', ['force', 'length', 'knee', 'pitch', 'lean'])
def test_pure_laws_refuse_non_finite_input(field):
    kwargs = {'force': np.zeros((2, NM)), 'length': np.ones((2, NM)), 'knee': (3.0, 3.0),
              'pitch': 0.1, 'lean': (0.1, 0.1)}
    value = np.array(kwargs[field], dtype=float)
    value.flat[0] = np.nan
    kwargs[field] = value
    with pytest.raises(ValueError, match='not finite'):
        laws(**kwargs)


# -- the stateful controller -------------------------------------------------------------------
def sensors(load=(1.0, 0.0), force=None, length=None, knee=(3.05, 3.05), knee_rate=(0.0, 0.0),
            pitch=0.105, pitch_rate=0.0):
    return ReflexSensors(leg_load=np.array(load, dtype=float),
                         muscle_force=(np.zeros(2 * NM) if force is None
                                       else np.asarray(force, float)),
                         muscle_length=(np.ones(2 * NM) if length is None
                                        else np.asarray(length, float)),
                         knee_angle=np.array(knee, dtype=float),
                         knee_rate=np.array(knee_rate, dtype=float),
                         trunk_pitch=pitch, trunk_pitch_rate=pitch_rate)


@pytest.mark.parametrize('muscle,delay,load', [('SOL', 20, (1.0, 1.0)), ('GAS', 20, (1.0, 1.0)),
                                                ('VAS', 10, (1.0, 1.0)), ('HAM', 5, (0.0, 0.0)),
                                                ('GLU', 5, (0.0, 0.0))])
def test_force_reaches_its_muscle_after_its_delay(muscle, delay, load):
    rx = Gh2010Reflexes(CFG, DT)
    rx.reset(sensors(load=load))
    m = MUSCLES.index(muscle)
    force = np.zeros(2 * NM)
    force[m] = force[NM + m] = 0.5
    out = np.array([rx.step(sensors(load=load, force=force), DT) for _ in range(delay + 2)])
    before, after = out[delay - 1, m], out[delay, m]        # call k = 1 .. delay+2
    assert after - before == pytest.approx(
        {'SOL': 1.2, 'GAS': 1.1, 'VAS': 1.15, 'HAM': 0.65, 'GLU': 0.4}[muscle] * 0.5)
    assert np.all(out[:delay, m] == out[0, m])


def test_trunk_and_knee_signals_are_delayed_5_and_10_ms():
    rx = Gh2010Reflexes(CFG, DT)
    rx.reset(sensors(load=(1.0, 1.0)))
    glu = [rx.step(sensors(load=(1.0, 1.0), pitch=0.2), DT)[GLU] for _ in range(8)]
    # pushed at call 1 (index 0), out at call 6 (index 5)
    assert glu[4] == pytest.approx(0.05) and glu[5] == pytest.approx(0.05 + 1.91 * 0.095)
    rx.reset(sensors(load=(1.0, 1.0)))
    force = np.zeros(2 * NM)
    force[VAS] = force[NM + VAS] = 0.5
    vas = [rx.step(sensors(load=(1.0, 1.0), force=force, knee=(3.1, 3.1), knee_rate=(1.0, 1.0)),
                   DT)[VAS] for _ in range(12)]
    assert vas[9] == pytest.approx(0.09)                  # knee at rest, no force yet
    assert vas[10] == pytest.approx(0.09 + 1.15 * 0.5 - 2.0 * (3.1 - math.radians(170)))


def test_stance_and_double_support_bookkeeping():
    rx = Gh2010Reflexes(CFG, DT)
    rx.reset(sensors(load=(1.0, 0.0)))
    assert rx.stance.tolist() == [True, False] and rx.swing_prep.tolist() == [False, False]
    rx.step(sensors(load=(0.8, 0.3)), DT)                  # right foot strikes: left trails
    assert rx.stance.tolist() == [True, True] and rx.swing_prep.tolist() == [True, False]
    out = rx.step(sensors(load=(0.5, 0.6)), DT).reshape(2, NM)
    assert out[LEFT, HFL] == pytest.approx(0.05 + 0.25) and out[RIGHT, HFL] == pytest.approx(0.05)
    rx.step(sensors(load=(0.05, 1.0)), DT)                 # left lifts off (below 0.1 BW)
    assert rx.stance.tolist() == [False, True] and rx.swing_prep.tolist() == [False, False]
    rx.step(sensors(load=(0.3, 0.9)), DT)                  # left strikes: now right trails
    assert rx.swing_prep.tolist() == [False, True]
    rx.reset(sensors(load=(1.0, 1.0)))                     # standing: nobody trails
    assert rx.swing_prep.tolist() == [False, False]
    rx.reset(sensors(load=(1.0, 1.0)), leading_leg=LEFT)
    assert rx.swing_prep.tolist() == [False, True]


def test_lean_is_latched_at_takeoff():
    rx = Gh2010Reflexes(CFG, DT)
    length = np.full(2 * NM, 0.5)                              # no HFL or HAM length terms
    rx.reset(sensors(load=(1.0, 1.0), length=length, pitch=0.2))
    rx.step(sensors(load=(1.0, 0.0), length=length, pitch=0.2), DT)   # right lifts off
    hfl = [rx.step(sensors(load=(1.0, 0.0), length=length, pitch=0.0), DT)[NM + HFL]
           for _ in range(20)]
    assert hfl == pytest.approx([0.01 + 1.15 * (0.2 - 0.105)] * 20)    # pitch change ignored
    cont = Gh2010Reflexes(ReflexConfig(lean_at_takeoff=False), DT)
    cont.reset(sensors(load=(1.0, 0.0), length=length, pitch=0.2))
    hfl = [cont.step(sensors(load=(1.0, 0.0), length=length, pitch=0.3), DT)[NM + HFL]
           for _ in range(6)]
    assert hfl[4] == pytest.approx(0.01 + 1.15 * (0.2 - 0.105))      # delayed 5 ms
    assert hfl[5] == pytest.approx(0.01 + 1.15 * (0.3 - 0.105))


@pytest.mark.parametrize('field,value', [
    ('leg_load', np.array([np.nan, 1.0])), ('muscle_force', np.r_[np.inf, np.zeros(2 * NM - 1)]),
    ('muscle_length', np.r_[np.ones(2 * NM - 1), np.nan]), ('knee_angle', np.array([3.0, np.nan])),
    ('knee_rate', np.array([-np.inf, 0.0])), ('trunk_pitch', float('nan')),
    ('trunk_pitch_rate', float('inf'))])
def test_non_finite_sensor_raises_and_does_not_advance(field, value):
    rx = Gh2010Reflexes(CFG, DT)
    rx.reset(sensors())
    reference = Gh2010Reflexes(CFG, DT)
    reference.reset(sensors())
    force = np.full(2 * NM, 0.3)
    for _ in range(3):
        rx.step(sensors(force=force), DT)
        reference.step(sensors(force=force), DT)
    bad = sensors(force=force)
    setattr(bad, field, value)
    with pytest.raises(ValueError, match=f'ReflexSensors.{field} is not finite'):
        rx.step(bad, DT)
    for _ in range(25):                                    # the bad sample never entered a line
        a, b = rx.step(sensors(force=force), DT), reference.step(sensors(force=force), DT)
        assert np.array_equal(a, b) and np.isfinite(a).all()


def test_wrong_shape_and_wrong_dt_are_refused():
    rx = Gh2010Reflexes(CFG, DT)
    rx.reset(sensors())
    bad = sensors()
    bad.muscle_force = np.zeros(13)
    with pytest.raises(ValueError, match='muscle_force'):
        rx.step(bad, DT)
    with pytest.raises(ValueError, match='dt'):
        rx.step(sensors(), 0.002)
    with pytest.raises(ValueError, match='whole number'):
        Gh2010Reflexes(CFG, 0.003)                          # 5 ms is not a multiple of 3 ms


def test_closed_loop_with_muscles_stays_finite_and_in_range():
    """Reflexes drive the 14 MTUs on a slowly moving posture for 1 s (no body: angles given)."""
    muscles = build_muscle_set()
    rx = Gh2010Reflexes(build_reflex_config(), DT)
    phi0 = np.radians([175.0, 175.0, 85.0, 140.0, 175.0, 90.0])
    muscles.reset(phi0, 0.05)

    def read(k, phi):
        t = k * DT
        load = (1.0 if (t % 1.0) < 0.6 else 0.0, 1.0 if ((t + 0.5) % 1.0) < 0.6 else 0.0)
        return sensors(load=load, force=muscles.normalized_force,
                       length=muscles.normalized_length, knee=phi[[1, 4]],
                       pitch=0.1 + 0.05 * math.sin(6 * t), pitch_rate=0.3 * math.cos(6 * t))
    rx.reset(read(0, phi0), leading_leg=LEFT)
    for k in range(1, 1001):
        phi = phi0 + np.radians(10.0) * math.sin(2 * math.pi * k * DT)
        stim = rx.step(read(k, phi), DT)
        assert np.all((stim >= 0.01) & (stim <= 1.0))
        torque = muscles.step(stim, phi, DT)
        assert np.isfinite(torque).all()
    assert np.all(muscles.force >= 0.0)


def test_ros_parameter_file_overrides_gains_and_muscles(tmp_path):
    path = tmp_path / 'human.yaml'
    path.write_text('reflex_node:\n  ros__parameters:\n    reflex:\n      sol_g_f: 0.9\n'
                    '      vas_phi_off: 3.0\n    muscle:\n      sol:\n        f_max: 4500.0\n'
                    '        ankle:\n          phi_max: 1.9\n')
    params = node_params(path, 'reflex_node', GH2010_PARAMS)
    config = build_reflex_config(params)
    assert config.sol_g_f == 0.9 and config.vas_phi_off == 3.0 and config.gas_g_f == 1.1
    muscles = build_muscle_set(params)
    sol = muscles.specs[MUSCLES.index('SOL')]
    assert sol.f_max == 4500.0 and sol.joints[0].phi_max == 1.9
