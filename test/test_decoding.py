"""Rhythm -> joints: quadruped leg kinematics, the CPG-RL foot-space decoder, the flexor/extensor
phase estimator and the salamander decoder (real URDF, real PyBullet, no mocks)."""
import numpy as np
import pybullet as pb
import pytest

from cpg_controller.decoding import (FlexorExtensorPhase, QuadrupedDecoder, RhythmState,
                                     SalamanderDecoder, in_stance, warp_phase)
from cpg_controller.kinematics import (foot_positions, joint_targets, leg_fk, leg_ik,
                                       quadruped_geometry)
from locomotion_sim.body import read_urdf
from neuro_locomotion.params import ConfigError
from neuro_locomotion.paths import urdf_file

G = quadruped_geometry()
QUAD = read_urdf(urdf_file('quadruped.urdf')).actuated
SAL = read_urdf(urdf_file('salamander.urdf')).actuated


def _sample_workspace(n, seed=0):
    """Random postures within the URDF limits with the foot below the hip in the leg plane."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(G.lower, G.upper, size=(n, 4, 3))
    zp = -G.thigh * np.cos(q[..., 1]) - G.calf * np.cos(q[..., 1] + q[..., 2])
    return q[np.all(zp < -0.005, axis=1)]


# --------------------------------------------------------------------------------------------
# kinematics

def test_geometry_is_read_from_the_urdf():
    assert G.thigh == pytest.approx(0.20) and G.calf == pytest.approx(0.20)
    assert G.foot_radius == pytest.approx(0.02)
    assert np.allclose(G.hip_positions[:, :2], [[0.183, 0.047], [0.183, -0.047],
                                                [-0.183, 0.047], [-0.183, -0.047]])
    assert np.allclose(G.lateral_offset, [0.08505, -0.08505, 0.08505, -0.08505])
    assert np.allclose(G.lower.reshape(12), QUAD.lower)
    assert np.allclose(G.upper.reshape(12), QUAD.upper)
    # docs/bodies.md: hip 0.8, knee -1.5 stands the trunk at 0.3123 m, feet 0.0146 m behind the hips
    assert G.standing_height() == pytest.approx(0.3123, abs=1e-4)
    p = leg_fk(np.array([0.0, 0.8, -1.5]), G, 0)
    assert p[0] == pytest.approx(-0.0146, abs=1e-4)


def test_ik_round_trip_over_the_workspace():
    q = _sample_workspace(40000)
    assert q.shape[0] > 1000
    p = leg_fk(q, G)
    q2, clipped = leg_ik(p, G, return_clipped=True)
    assert clipped == 0
    assert np.max(np.abs(leg_fk(q2, G) - p)) < 1e-9
    assert np.max(np.abs(q2 - q)) < 1e-6          # unique branch (z' < 0, knee bent back)


def test_sign_conventions_match_docs():
    base = np.array([0.0, 0.8, -1.5])
    p0 = leg_fk(base, G, 0)
    assert leg_fk(base + [0, 0.1, 0], G, 0)[0] < p0[0]     # hip_flex > 0: foot backward
    assert leg_fk(base + [0.1, 0, 0], G, 0)[1] > p0[1]     # hip_abad > 0: foot towards +y
    assert leg_fk(base + [0.1, 0, 0], G, 1)[1] > leg_fk(base, G, 1)[1]
    assert leg_fk(base + [0, 0, -0.1], G, 0)[2] > p0[2]    # knee more negative: leg shorter


def test_fk_matches_pybullet_link_positions():
    client = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(urdf_file('quadruped.urdf')), useFixedBase=True,
                           flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
        joints, links = {}, {}
        for j in range(pb.getNumJoints(body, physicsClientId=client)):
            info = pb.getJointInfo(body, j, physicsClientId=client)
            joints[info[1].decode()] = j
            links[info[12].decode()] = j
        q = _sample_workspace(400, seed=1)[:100]
        worst = 0.0
        for posture in q:
            for name, value in zip(QUAD.names, posture.reshape(12)):
                pb.resetJointState(body, joints[name], float(value), physicsClientId=client)
            sim = np.array([pb.getLinkState(body, links[f'{leg}_foot'], computeForwardKinematics=1,
                                            physicsClientId=client)[4]
                            for leg in ('lf', 'rf', 'lh', 'rh')])
            worst = max(worst, float(np.max(np.abs(sim - foot_positions(posture.reshape(12), G)))))
    finally:
        pb.disconnect(client)
    assert worst < 1e-6        # PyBullet link states are single precision (~5e-9 m)


def test_ik_projects_unreachable_targets_into_the_limits():
    rng = np.random.default_rng(3)
    p = rng.uniform(-1.0, 1.0, size=(5000, 4, 3))
    q = leg_ik(p, G)
    assert np.all(np.isfinite(q))
    assert np.all(q >= G.lower - 1e-12) and np.all(q <= G.upper + 1e-12)
    feet = foot_positions(np.tile([0.0, 0.8, -1.5], 4), G)
    assert np.allclose(joint_targets(feet, G), np.tile([0.0, 0.8, -1.5], 4), atol=1e-9)
    with pytest.raises(ValueError, match='finite'):
        leg_ik(np.full((4, 3), np.nan), G)


# --------------------------------------------------------------------------------------------
# quadruped decoder

@pytest.mark.parametrize('trajectory', ['cycloid', 'cpg_rl'])
def test_quadruped_decoder_is_finite_and_within_limits_for_any_input(trajectory):
    dec = QuadrupedDecoder({'decoder.trajectory': trajectory, 'decoder.step_length_m': 0.3,
                            'decoder.step_height_m': 0.15})
    rng = np.random.default_rng(0)
    specials = [np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0]
    for k in range(3000):
        phase = rng.uniform(-100, 100, 4)
        amp = rng.uniform(-2, 3, 4)
        if k % 10 == 0:
            phase[k % 4] = specials[k % len(specials)]
            amp[(k + 1) % 4] = specials[(k // 10) % len(specials)]
        q = dec.decode(phase, amp)
        assert q.shape == (12,) and np.all(np.isfinite(q)), (phase, amp)
        assert np.all(q >= QUAD.lower) and np.all(q <= QUAD.upper)


@pytest.mark.parametrize('trajectory', ['cycloid', 'cpg_rl'])
def test_quadruped_foot_path_stance_backward_swing_lifted(trajectory):
    dec = QuadrupedDecoder({'decoder.trajectory': trajectory, 'decoder.step_length_m': 0.12,
                            'decoder.step_height_m': 0.05, 'decoder.ground_penetration_m': 0.0,
                            'decoder.standing_height_m': 0.30})
    ground = -(0.30 - G.foot_radius)
    phases = np.linspace(0, 2 * np.pi, 401)[:-1]
    feet = np.array([dec.feet(np.full(4, ph), 1.0) for ph in phases])    # (n, 4, 3)
    q = np.array([dec.decode(np.full(4, ph), 1.0).reshape(4, 3) for ph in phases])
    assert np.max(np.abs(leg_fk(q, G) - feet)) < 1e-9          # reachable: IK exact
    stance, swing = phases < np.pi, phases >= np.pi
    x, z = feet[:, 0, 0], feet[:, 0, 2]
    assert np.all(np.diff(x[stance]) < 0)                         # stance: foot moves backward
    assert np.allclose(z[stance], ground)                         # ... on the ground
    assert np.all(np.diff(x[swing]) >= -1e-12)                    # swing: forward
    assert np.max(z[swing]) == pytest.approx(ground + 0.05, abs=1e-4)   # lifted by the clearance
    assert x[0] == pytest.approx(0.06) and np.min(x) == pytest.approx(-0.06, abs=1e-3)
    assert np.all(in_stance(phases) == stance)


def test_quadruped_amplitude_zero_stands_at_the_configured_height():
    dec = QuadrupedDecoder({'decoder.standing_height_m': 0.3123,
                            'decoder.foot_x_offset_m': [-0.0146, -0.0146]})
    q = dec.standing_posture()
    assert np.allclose(q, np.tile([0.0, 0.8, -1.5], 4), atol=2e-4)
    for phase in (0.0, 1.0, 4.0):
        assert np.allclose(dec.decode(np.full(4, phase), 0.0), q)


def test_quadruped_decoder_rejects_out_of_range_parameters():
    with pytest.raises(ConfigError, match='step_length_m'):
        QuadrupedDecoder({'decoder.step_length_m': 0.5})
    with pytest.raises(ConfigError, match='not finite'):
        QuadrupedDecoder({'decoder.step_height_m': float('nan')})
    with pytest.raises(ConfigError, match='trajectory'):
        QuadrupedDecoder({'decoder.trajectory': 'zigzag'})


# --------------------------------------------------------------------------------------------
# flexor / extensor

def _half_centre(t, f, duty):
    """Ideal flexor/extensor bursts of a rhythm at f Hz with stance = duty (phase 0 = touchdown)."""
    u = (t * f) % 1.0
    extensor = float(u < duty)
    return 1.0 - extensor, extensor, u


def test_flexor_extensor_phase_tracks_the_rhythm():
    est = FlexorExtensorPhase(1, stance_s=0.5, swing_s=0.5)
    dt, f, duty = 1e-3, 2.0, 0.6
    errors = []
    for k in range(int(6.0 / dt)):
        t = k * dt
        flex, ext, u = _half_centre(t, f, duty)
        phase, amp = est.update(flex, ext, dt)
        truth = warp_phase(2 * np.pi * u, duty)
        assert in_stance(phase)[0] == bool(ext) or abs(u - duty) < 2 * dt * f or u < 2 * dt * f
        if t > 4.0:
            errors.append(abs((phase[0] - truth + np.pi) % (2 * np.pi) - np.pi))
        assert amp[0] == pytest.approx(1.0)
    assert max(errors) < 0.05          # rad, once the half durations have been learnt
    # silence: amplitude fades out, the decoder then stands
    for _ in range(2000):
        phase, amp = est.update(0.0, 0.0, dt)
    assert amp[0] < 0.01


@pytest.mark.parametrize('value', [0.0, -1.0, float('nan')])
def test_flexor_extensor_pause_length_must_be_positive(value):
    with pytest.raises(ValueError, match='max_half_s'):
        FlexorExtensorPhase(4, max_half_s=value)


@pytest.mark.parametrize('value', [-0.01, float('nan'), 0.5])
def test_flexor_extensor_hold_must_be_shorter_than_a_pause(value):
    with pytest.raises(ValueError, match='min_half_s'):
        FlexorExtensorPhase(4, max_half_s=0.5, min_half_s=value)


def test_flexor_extensor_holds_a_half_for_min_half_s():
    """Flexor and extensor taking turns every 4 ms (limbs restarting after a silence): with
    min_half_s 0.03 the readout flips at most once per 30 ms and learns no half shorter; without
    it, it flips every 4 ms and learns 4 ms halves."""
    dt = 0.001
    held, free = FlexorExtensorPhase(1, min_half_s=0.03), FlexorExtensorPhase(1)
    flips = {id(held): 0, id(free): 0}
    for k in range(200):
        flex = 1.0 if (k // 4) % 2 else 0.0
        for est in (held, free):
            before = est.swing[0]
            est.update(flex, 1.0 - flex, dt)
            flips[id(est)] += int(est.swing[0] != before)
    assert flips[id(free)] == 49 and flips[id(held)] == 6       # 200 ms / 32 ms
    assert held.expected.min() >= 0.03 and free.expected.min() < 0.01


@pytest.mark.parametrize('value', [-0.1, 1.0, float('nan')])
def test_flexor_extensor_learn_fraction_must_be_below_one(value):
    with pytest.raises(ValueError, match='learn_min_fraction'):
        FlexorExtensorPhase(4, learn_min_fraction=value)


def _halves(est, durations, dt=0.001):
    """Drive a one-limb readout through stance/swing halves of these durations (s), starting
    with a swing; returns the expected (stance, swing) after each half."""
    out = []
    swing = True
    for d in durations:
        for _ in range(int(round(d / dt))):
            est.update(1.0 if swing else 0.0, 0.0 if swing else 1.0, dt)
        swing = not swing
        out.append(est.expected[0].copy())
    return out


def test_flexor_extensor_does_not_learn_a_blip_shorter_than_the_fraction():
    """A restart: swing and stance blips of 0.1 s between halves of 0.4 s. With
    learn_min_fraction 0.5 (expected 0.4 s: halves under 0.2 s are blips) the expected durations
    stay at 0.4 s, and a half of 0.3 s is still learned; with 0 the blips are averaged in."""
    durations = [0.4, 0.4, 0.1, 0.1, 0.4, 0.4, 0.3, 0.002]     # the last tick ends the 0.3 s
    kw = dict(stance_s=0.4, swing_s=0.4, adapt=0.5)
    strict = _halves(FlexorExtensorPhase(1, learn_min_fraction=0.5, **kw), durations)
    free = _halves(FlexorExtensorPhase(1, **kw), durations)
    # the halves end in the same places (the fraction only decides what is learned) ...
    np.testing.assert_allclose(strict[5], [0.4, 0.4], atol=2e-3)
    assert free[5].min() < 0.33
    # ... and a real change (a 0.3 s swing, 0.75 of the expected) is learned
    assert strict[7][1] == pytest.approx(0.35, abs=2e-3)


def test_flexor_extensor_state_drives_the_decoder():
    est = FlexorExtensorPhase(4)
    dec = QuadrupedDecoder()
    state = RhythmState.from_flexor_extensor(est, [1, 0, 0, 1], [0, 1, 1, 0], 0.01)
    assert list(in_stance(state.phase)) == [False, True, True, False]
    q = dec.decode_state(state)
    assert np.all(np.isfinite(q)) and q.shape == (12,)
    with pytest.raises(ValueError, match='finite'):
        est.update([np.nan] * 4, [0] * 4, 0.01)


def test_warp_phase_gives_the_duty_factor():
    u = np.linspace(0, 2 * np.pi, 10001)[:-1]
    assert np.mean(in_stance(warp_phase(u, 0.7))) == pytest.approx(0.7, abs=1e-3)
    with pytest.raises(ValueError):
        warp_phase(u, 1.0)


# --------------------------------------------------------------------------------------------
# salamander decoder

def test_salamander_decoder_finite_and_within_limits():
    dec = SalamanderDecoder({'decoder.body_amplitude_swim_rad': [1.0] * 8}, SAL.names,
                            SAL.lower, SAL.upper)
    rng = np.random.default_rng(1)
    for k in range(2000):
        left, right = rng.uniform(-1, 2, 8), rng.uniform(-1, 2, 8)
        phase, amp = rng.uniform(-50, 50, 4), rng.uniform(-1, 2, 4)
        if k % 7 == 0:
            left[k % 8], phase[k % 4], amp[(k + 1) % 4] = np.nan, np.inf, np.nan
        q = dec.decode(left, right, phase, amp)
        assert q.shape == (16,) and np.all(np.isfinite(q))
        assert np.all(q >= SAL.lower) and np.all(q <= SAL.upper)


def test_salamander_body_sign_limb_path_and_folding():
    dec = SalamanderDecoder({'decoder.body_amplitude_walk_rad': [0.3] * 8,
                             'decoder.body_amplitude_swim_rad': [0.5] * 8,
                             'decoder.protraction_amplitude_rad': [0.4, 0.4],
                             'decoder.fold_protraction_rad': -1.2}, SAL.names, SAL.lower, SAL.upper)
    idx = {n: i for i, n in enumerate(SAL.names)}
    left, right = np.ones(8), np.zeros(8)
    walking = dec.decode(left, right, np.zeros(4), np.ones(4))
    swimming = dec.decode(left, right, np.zeros(4), np.zeros(4))
    body = [idx[f'body_{k}'] for k in range(1, 9)]
    assert np.allclose(walking[body], 0.3)           # left activity: concave to the left
    assert np.allclose(swimming[body], 0.5)
    prot = [idx[f'{leg}_limb_protraction'] for leg in ('lf', 'rf', 'lh', 'rh')]
    elev = [idx[f'{leg}_limb_elevation'] for leg in ('lf', 'rf', 'lh', 'rh')]
    assert np.allclose(walking[prot], 0.4)                      # touchdown: limb forward
    assert np.allclose(dec.decode(left, right, np.full(4, np.pi), np.ones(4))[prot], -0.4)
    lifted = dec.decode(left, right, np.full(4, 1.5 * np.pi), np.ones(4))[elev]
    assert np.all(lifted > walking[elev] + 0.3)                 # swing lifts the foot
    assert np.allclose(swimming[prot], -1.2) and np.allclose(swimming[elev], 0.0)   # folded back


def test_salamander_stance_offset_pitches_one_girdle_only():
    """decoder.stance_elevation_offset_rad [fore, hind] adds to the stance elevation of that
    girdle's limbs (stance and swing alike), not to a folded limb; out of range is refused."""
    base = {'decoder.stance_elevation_rad': -0.25, 'decoder.stance_elevation_offset_rad': [0, 0]}
    even = SalamanderDecoder(base, SAL.names, SAL.lower, SAL.upper)
    pitched = SalamanderDecoder({**base, 'decoder.stance_elevation_offset_rad': [-0.1, 0.0]},
                                SAL.names, SAL.lower, SAL.upper)
    idx = {n: i for i, n in enumerate(SAL.names)}
    elev = [idx[f'{leg}_limb_elevation'] for leg in ('lf', 'rf', 'lh', 'rh')]
    left, right = np.zeros(8), np.zeros(8)
    for phase in (0.0, 1.5 * np.pi):
        a = even.decode(left, right, np.full(4, phase), np.ones(4))
        b = pitched.decode(left, right, np.full(4, phase), np.ones(4))
        np.testing.assert_allclose(b[elev] - a[elev], [-0.1, -0.1, 0.0, 0.0], atol=1e-12)
        assert np.array_equal(np.delete(a, elev), np.delete(b, elev))
    folded = pitched.decode(left, right, np.zeros(4), np.zeros(4))
    assert np.array_equal(folded, even.decode(left, right, np.zeros(4), np.zeros(4)))
    for bad in ([-0.6, 0.0], [0.0, np.nan], [0.1], 'low'):
        with pytest.raises(ConfigError, match='stance_elevation_offset_rad'):
            SalamanderDecoder({'decoder.stance_elevation_offset_rad': bad}, SAL.names,
                              SAL.lower, SAL.upper)
