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


def test_human_stands_under_hold_for_10s():
    result = run('human', 'hold', duration=10.0)
    assert not result.metrics['fell']
    assert result.metrics['base_height_m'] > 0.9     # hip stays at standing height
    assert result.metrics['sim_time_s'] == pytest.approx(10.0)


def test_passive_salamander_floats_at_the_surface():
    with World('salamander', arena='water') as world:
        surface = world.params['water.surface_z_m']
        for _ in range(3000):
            world.step()
        z = world.base_position()[2]
        velocity = pb.getBaseVelocity(world.body, physicsClientId=world.client)[0]
    assert abs(z - surface) < 0.05, f'base at {z:.3f} m, surface at {surface} m'
    assert abs(velocity[2]) < 0.02


def _drag_on_base(world, velocity):
    pb.resetBasePositionAndOrientation(world.body, [0, 0, -0.3], [0, 0, 0, 1], physicsClientId=world.client)
    pb.resetBaseVelocity(world.body, velocity, [0, 0, 0], physicsClientId=world.client)
    world.water.apply()
    force = world.water.last_forces[0].copy()
    force[2] -= world.water.buoyancy[0]       # fully immersed: remove buoyancy, keep drag
    return force


def test_drag_opposes_velocity_and_is_larger_sideways():
    with World('salamander', arena='water') as world:
        lengthways = _drag_on_base(world, [0.5, 0, 0])
        sideways = _drag_on_base(world, [0, 0.5, 0])
        still = _drag_on_base(world, [0, 0, 0])
    assert lengthways[0] < 0 and sideways[1] < 0       # opposed to the velocity
    assert abs(sideways[1]) > 3 * abs(lengthways[0])
    assert np.allclose(still, 0.0, atol=1e-9)


def test_no_water_forces_above_the_surface():
    with World('salamander', arena='water') as world:
        pb.resetBasePositionAndOrientation(world.body, [0, 0, 1.0], [0, 0, 0, 1], physicsClientId=world.client)
        pb.resetBaseVelocity(world.body, [0, 0.5, 0], [0, 0, 0], physicsClientId=world.client)
        immersed = world.water.apply()
        assert immersed == 0.0 and not world.water.last_forces.any()


def _ray_ground(world, x):
    hit = pb.rayTest([x, 0, 2.0], [x, 0, -5.0], physicsClientId=world.client)[0]
    return hit[3][2]


def test_amphibious_arena_has_land_then_water_where_config_says():
    with World('salamander', arena='amphibious') as world:
        p, layout = world.params, world.layout
        shore, depth = p['amphibious.shore_x_m'], p['amphibious.water_depth_m']
        surface = -p['amphibious.surface_below_land_m']
        far = layout.ramp_end_x + 1.0
        assert _ray_ground(world, shore - 0.5) == pytest.approx(0.0, abs=1e-3)     # land at z = 0
        assert _ray_ground(world, far) == pytest.approx(-depth, abs=1e-3)          # pool floor
        mid = (shore + layout.ramp_end_x) / 2
        assert _ray_ground(world, mid) == pytest.approx(layout.ground_height(mid), abs=5e-3)
        assert not layout.is_water(shore - 0.5, 0.01)
        assert layout.is_water(far, surface - 0.1)
        assert not layout.is_water(far, surface + 0.1)


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
