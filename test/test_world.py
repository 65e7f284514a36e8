"""The PyBullet world: standing under `hold`, water forces, arenas, determinism, bad commands."""
import math

import numpy as np
import pybullet as pb
import pytest

from locomotion_sim.world import World, sim_params
from neuro_locomotion.params import ConfigError
from neuro_locomotion.paths import config_file
from neuro_locomotion.runner import run
from neuro_locomotion.types import EFFORT, POSITION, Command


def test_quadruped_stands_under_hold_for_10s():
    result = run('quadruped', 'hold', duration=10.0)
    heights = result.trace.arrays()['base_position'][:, 2]
    settled = heights[heights.size // 10]          # stance height after the first second
    assert not result.metrics['fell']
    assert np.max(np.abs(heights[heights.size // 10:] - settled)) < 0.02
    assert result.metrics['sim_time_s'] == pytest.approx(10.0)
    assert result.metrics['distance_m'] < 0.05
















def test_same_seed_same_trajectory():
    a = run('quadruped', 'hold', duration=1.0, seed=3).trace.arrays()
    b = run('quadruped', 'hold', duration=1.0, seed=3).trace.arrays()
    assert np.array_equal(a['base_position'], b['base_position'])
    assert np.array_equal(a['joint_position'], b['joint_position'])


@pytest.mark.parametrize('values,words', [
    ([math.nan] * 12, 'non-finite'),
    ([0.0] * 11, 'does not match'),
    ([0.0] * 12 + [1.0], 'does not match'),
    ([0.0] * 5 + [math.inf] + [0.0] * 6, 'non-finite'),
])
def test_bad_commands_never_reach_pybullet(values, words):
    with World('quadruped') as world:
        before = world.observe().position
        for mode in (POSITION, EFFORT):
            with pytest.raises(ValueError, match=words):
                world.apply(Command(mode, values))
        world.step(200)
        after = world.observe().position
    assert np.all(np.isfinite(after))
    assert np.max(np.abs(after - before)) < 0.05


def test_commands_are_clamped_to_urdf_limits():
    with World('quadruped') as world:
        applied = world.apply(Command(EFFORT, np.full(12, -1e6)))
        assert np.array_equal(applied, -world.limits.effort)
        assert np.array_equal(world.observe().effort, -world.limits.effort)
        applied = world.apply(Command(POSITION, np.full(12, 100.0)))
        assert np.array_equal(applied, world.limits.upper)
        world.step(300)
        q = world.observe().position
        assert np.all(q <= world.limits.upper + 0.02)


def _knee_velocity_after_one_step(torque, times):
    with World('quadruped') as world:
        command = np.zeros(12)
        command[2] = torque                          # lf_knee
        for _ in range(times):
            world.apply(Command(EFFORT, command))
        assert np.array_equal(world.observe().effort, command)
        world.step()
        return world.observe().velocity[2]


def test_effort_command_accelerates_a_joint_once_per_step():
    limp = _knee_velocity_after_one_step(0.0, 1)
    pushed = _knee_velocity_after_one_step(5.0, 1)
    pushed_twice = _knee_velocity_after_one_step(5.0, 2)   # set twice before a step: not doubled
    assert pushed > limp + 1e-3
    assert pushed_twice == pytest.approx(pushed, abs=1e-12)


def test_malformed_urdf_is_a_config_error(tmp_path):
    bad = tmp_path / 'bad.urdf'
    bad.write_text('<robot name="x"><link name="a"></robot')
    with pytest.raises(ConfigError, match='malformed URDF'):
        World('quadruped', urdf=bad)
    no_block = tmp_path / 'noblock.urdf'
    no_block.write_text('<robot name="x"><link name="a"/></robot>')
    with pytest.raises(ConfigError, match='ros2_control'):
        World('quadruped', urdf=no_block)


def test_config_for_another_robot_is_refused():
    with pytest.raises(ConfigError, match="for robot 'quadruped', not 'human'"):
        sim_params('human', config=config_file('quadruped'))
