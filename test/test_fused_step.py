"""The fused per-tick paths of the quadruped controllers give the generic path's numbers, bit for
bit, and refuse malformed observations without changing anything (real PyBullet, real network).

- ``cpg``: ``_cpg_quadruped_step`` (network ticks + readout + rate record + the controller tail,
  one numba call) against the same controller run through ``SpikingRhythm.advance`` and
  ``QuadrupedOscillatorController._finish`` (the path the modulated network takes), fed the same
  observations of a trotting body;
- ``World.apply``'s finiteness check and clamp (``_checked_clip``) against np.clip;
- ``Command.adopt`` takes a fresh array over and copies anything else.
"""
from __future__ import annotations

import numpy as np
import pytest

from locomotion_sim.world import World, _checked_clip, sim_params
from neuro_locomotion.controllers import make_controller
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import body_info
from neuro_locomotion.types import EFFORT, POSITION, Command


def _controllers(params=None):
    world = World('quadruped')
    body = body_info(world, config_file('quadruped'))
    fused = make_controller('cpg', body, gait='trot', params=params)
    generic = make_controller('cpg', body, gait='trot', params=params)
    generic.cpg._per_tick = True           # SpikingRhythm.advance per tick + _finish
    world.params.apply(fused.initial_state())
    world.reset(0)
    obs = world.observe()
    fused.reset(obs)
    generic.reset(obs)
    return world, fused, generic


@pytest.mark.parametrize('period', [0.001, 0.004])
def test_fused_cpg_step_equals_the_generic_path(period):
    world, fused, generic = _controllers({'control_period_s': period})
    n = int(round(period / world.dt))
    try:
        for _ in range(int(1.5 / period)):      # through the 1 s amplitude ramp and on
            obs = world.observe(imu=False)
            a, b = fused.step(obs, period), generic.step(obs, period)
            assert a.mode == b.mode == EFFORT
            assert np.array_equal(a.values, b.values)
            world.apply(a)
            world.step(n)
        assert np.array_equal(fused.cpg.fs, generic.cpg.fs)
        assert np.array_equal(fused.cpg.ist, generic.cpg.ist)
        assert np.array_equal(fused._ca, generic._ca)
        assert np.array_equal(fused.decoder._arena, generic.decoder._arena)
        for rec in ('rates',):
            ta, va = getattr(fused.cpg, rec).arrays()
            tb, vb = getattr(generic.cpg, rec).arrays()
            assert ta.size > 10 and np.array_equal(ta, tb) and np.array_equal(va, vb)
        ta, va = fused._contacts.arrays()
        tb, vb = generic._contacts.arrays()
        assert ta.size == int(1.5 / period) and np.array_equal(ta, tb) and np.array_equal(va, vb)
        assert fused.metrics() == generic.metrics()
        # the trot moved: the comparison covered a walking body, not a standing one
        assert world.base_position()[0] > 0.1
    finally:
        world.close()


@pytest.mark.parametrize('field, value, reason', [
    ('position', None, 'position and velocity'),
    ('velocity', np.zeros(11), 'position and velocity'),
    ('base_orientation', np.zeros(3), 'base_orientation'),
])
@pytest.mark.parametrize('path', ['fused', 'generic'])
def test_fused_cpg_step_refuses_a_malformed_observation_and_changes_nothing(field, value,
                                                                            reason, path):
    # generic: the oscillator controller's step (the modulated network's path) checks the
    # observation before its rhythm advances, too
    world, fused, generic = _controllers()
    fused = fused if path == 'fused' else generic
    try:
        obs = world.observe(imu=False)
        fused.step(obs, 0.001)
        before = (fused.cpg.fs.copy(), fused.cpg.ist.copy(), fused._ca.copy(),
                  fused.decoder._arena.copy(), fused._contacts._k, fused.cpg.rates._k)
        setattr(obs, field, value)
        with pytest.raises(ValueError, match=reason):
            fused.step(obs, 0.001)
        after = (fused.cpg.fs, fused.cpg.ist, fused._ca, fused.decoder._arena,
                 fused._contacts._k, fused.cpg.rates._k)
        for x, y in zip(before, after):
            assert np.array_equal(x, y)
    finally:
        world.close()


def test_checked_clip_is_numpys_clamp_and_finds_the_first_non_finite_value():
    rng = np.random.default_rng(3)
    lo, hi = -rng.uniform(0.1, 2.0, 12), rng.uniform(0.1, 2.0, 12)
    lo[3], hi[8] = 0.0, -0.0        # ties and signed zeros: numpy keeps its second operand
    lo[8] = -1.0
    for _ in range(400):
        v = rng.normal(0.0, 1.5, 12)
        for j in rng.integers(12, size=3):
            v[j] = [0.0, -0.0, hi[j], lo[j]][rng.integers(4)]
        out = np.empty(12)
        assert _checked_clip(v, lo, hi, out) == -1
        ref = np.minimum(np.maximum(v, lo), hi)      # what World.apply computed before
        assert np.array_equal(out, ref) and np.array_equal(np.signbit(out), np.signbit(ref))
    v = np.zeros(12)
    v[7], v[9] = np.inf, np.nan
    assert _checked_clip(v, lo, hi, np.empty(12)) == 7


def test_world_refuses_non_finite_commands_through_the_numba_check():
    with World('quadruped') as world:
        q = world.observe().position
        for mode in (POSITION, EFFORT):
            bad = np.zeros(world.n)
            bad[4] = np.nan
            with pytest.raises(ValueError, match=f'index 4 \\({world.joint_names[4]}\\)'):
                world.apply(Command(mode, bad))
        applied = world.apply(Command(EFFORT, np.full(world.n, 1e6)))
        assert np.array_equal(applied, world.limits.effort)
        applied = world.apply(Command(POSITION, q + 10.0))
        assert np.array_equal(applied, world.limits.upper)


def test_command_adopt_takes_a_fresh_array_and_copies_anything_else():
    fresh = np.arange(12.0)
    c = Command.adopt(EFFORT, fresh)
    assert c.values is fresh and not fresh.flags.writeable
    with pytest.raises(ValueError):
        c.values[0] = 1.0
    base = np.arange(24.0)
    view = base[:12]
    c = Command.adopt(POSITION, view)              # a view: copied, the base stays writeable
    assert c.values is not view and base.flags.writeable and not c.values.flags.writeable
    c = Command.adopt(EFFORT, list(range(12)))     # a list: copied as by the constructor
    assert c.values.dtype == np.float64 and not c.values.flags.writeable
    with pytest.raises(ValueError, match='command mode'):
        Command.adopt('velocity', np.zeros(12))


def _salamander(gait, arena, params=None):
    world = World('salamander', params=sim_params('salamander', config_file('salamander'),
                                                  {'arena': arena}))
    body = body_info(world, config_file('salamander'))
    fused = make_controller('cpg', body, gait=gait, params=params)
    generic = make_controller('cpg', body, gait=gait, params=params)
    generic.cpg._per_tick = True     # SpikingRhythm.advance per tick + decode + _bias_clip
    obs = world.observe()
    fused.reset(obs)
    generic.reset(obs)
    return world, fused, generic


@pytest.mark.parametrize('gait, arena, period, params', [
    ('swim', 'water', 0.004, None),                            # the shipped case
    ('swim', 'water', 0.001, {'spiking.body_gain': 0.8}),      # g != 1, 1 ms
    ('walk', 'flat', 0.004, {'spiking.walk_heading_gain': 1.0}),   # limbs, course hold (opt-in)
])
def test_fused_salamander_step_equals_the_generic_path(gait, arena, period, params):
    """``_cpg_salamander_step`` (network ticks + body filter + rate record + decoder + heading
    bias, one numba call) against the separate calls, fed the same observations of a moving
    body: every command, the network and readout state, the records and the metrics."""
    params = dict(params or {}, control_period_s=period)
    world, fused, generic = _salamander(gait, arena, params)
    n = int(round(period / world.dt))
    want = {k: k in fused.sensors for k in ('joints', 'base', 'contacts', 'imu')}
    steered = 0
    try:
        start = world.base_position()
        for _ in range(int(2.0 / period)):
            obs = world.observe(**want)
            a, b = fused.step(obs, period), generic.step(obs, period)
            assert a.mode == b.mode == POSITION
            assert np.array_equal(a.values, b.values)
            steered += fused._yaw_err != 0.0
            world.apply(a)
            world.step(n)
        assert np.array_equal(fused.cpg.fs, generic.cpg.fs)
        assert np.array_equal(fused.cpg.ist, generic.cpg.ist)
        assert np.array_equal(fused._body, generic._body)
        assert np.array_equal(fused.decoder._p_amp, generic.decoder._p_amp)
        assert (fused._yaw_err, fused._yaw_lp, fused.course_error) == \
            (generic._yaw_err, generic._yaw_lp, generic.course_error)
        ta, va = fused.cpg.rates.arrays()
        tb, vb = generic.cpg.rates.arrays()
        assert ta.size >= 190 and np.array_equal(ta, tb) and np.array_equal(va, vb)
        for rec in ('_angles', '_contacts'):
            ta, va = getattr(fused, rec).arrays()
            tb, vb = getattr(generic, rec).arrays()
            assert np.array_equal(ta, tb) and np.array_equal(va, vb)
        assert fused.metrics() == generic.metrics()
        moved = np.hypot(*(world.base_position() - start)[:2])
        assert moved > 0.05                 # a moving body, not a resting one (walk 2 s: 0.09)
        if gait == 'swim':
            assert steered > 0              # the heading bias acted
        else:
            assert fused.course_error != 0.0    # the course hold acted
    finally:
        world.close()


def test_fused_salamander_step_refuses_a_malformed_orientation_and_changes_nothing():
    world, fused, _ = _salamander('swim', 'water', {'control_period_s': 0.004})
    try:
        obs = world.observe(contacts=False, imu=False)
        fused.step(obs, 0.004)
        before = (fused.cpg.fs.copy(), fused.cpg.ist.copy(), fused._body.copy(),
                  fused._yaw_err, fused._yaw_lp, fused._angles._k, fused.cpg.rates._k)
        obs.base_orientation = np.zeros(3)
        with pytest.raises(ValueError, match='base_orientation needs 4 values'):
            fused.step(obs, 0.004)
        after = (fused.cpg.fs, fused.cpg.ist, fused._body, fused._yaw_err, fused._yaw_lp,
                 fused._angles._k, fused.cpg.rates._k)
        for x, y in zip(before, after):
            assert np.array_equal(x, y)
    finally:
        world.close()
