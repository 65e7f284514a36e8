"""The simulator's parameters (section ``sim_node`` of ``config/<robot>.yaml``), declared once."""
from __future__ import annotations

from neuro_locomotion.params import ParamSpec
from neuro_locomotion.paths import ROBOTS

ARENAS = ('flat', 'water', 'amphibious')

SIM_PARAMS = [
    ParamSpec('robot', 'quadruped', 'which body to simulate', choices=ROBOTS, read_only=True),
    ParamSpec('urdf', 'quadruped.urdf', 'URDF file name under share/neuro_locomotion/urdf', read_only=True),
    ParamSpec('arena', 'flat', 'flat ground, a water volume, or land ramping into water',
              choices=ARENAS, read_only=True),
    ParamSpec('physics_rate_hz', 1000.0, 'fixed physics step rate', 'Hz', min=100.0, max=10000.0,
              read_only=True),
    ParamSpec('solver_iterations', 50, 'PyBullet constraint solver iterations', min=1, max=500,
              read_only=True),
    ParamSpec('base_start_position', [0.0, 0.0, 0.3], 'initial base position (on flat ground)', 'm',
              min=-100.0, max=100.0, length=3, read_only=True),
    ParamSpec('base_start_rpy', [0.0, 0.0, 0.0], 'initial base roll, pitch, yaw', 'rad',
              min=-3.2, max=3.2, length=3, read_only=True),
    ParamSpec('base_start_velocity', [0.0, 0.0, 0.0], 'initial base linear velocity', 'm/s',
              min=-10.0, max=10.0, length=3, read_only=True),
    ParamSpec('initial_joint_positions', [0.0], 'initial actuated-joint positions (command order)',
              'rad', min=-6.3, max=6.3, read_only=True),
    ParamSpec('passive_initial_positions', [0.0], 'initial positions of passive joints listed in '
              'passive_joints', 'rad or m', min=-10.0, max=10.0, read_only=True),
    ParamSpec('passive_joints', [''], 'non-actuated joints given initial positions (e.g. planar root)',
              read_only=True),
    ParamSpec('foot_links', ['foot'], 'links whose ground contact forces are reported', read_only=True),
    ParamSpec('fall_height_m', 0.1, 'the body has fallen when its base drops below this height '
              'above the ground under it', 'm', min=0.0, max=3.0),
    ParamSpec('fall_tilt_rad', 1.0, 'the body has fallen when its base tilts more than this', 'rad',
              min=0.0, max=3.2),
    ParamSpec('position_gain', 0.3, 'PyBullet position-servo gain (Kp in its normalised form)', '1',
              min=0.0, max=1.0),
    ParamSpec('velocity_gain', 1.0, 'PyBullet position-servo velocity gain', '1', min=0.0, max=10.0),
    ParamSpec('lateral_friction', 1.0, 'Coulomb friction of feet and ground', '1', min=0.0, max=5.0,
              read_only=True),
    ParamSpec('contact_stiffness', 0.0, 'stiffness of the foot_links ground contacts; 0 = rigid',
              'N/m', min=0.0, max=1e8, read_only=True),
    ParamSpec('contact_damping', 0.0, 'damping of the foot_links ground contacts (with stiffness)',
              'N s/m', min=0.0, max=1e6, read_only=True),
    ParamSpec('water.surface_z_m', 0.0, 'height of the water surface', 'm', min=-10.0, max=10.0,
              read_only=True),
    ParamSpec('water.depth_m', 1.0, 'depth of the water arena floor below the surface', 'm',
              min=0.05, max=100.0, read_only=True),
    ParamSpec('water.fluid_density_kg_m3', 1000.0, 'density of the water', 'kg/m^3', min=1.0,
              max=2000.0, read_only=True),
    ParamSpec('water.body_density_kg_m3', 1000.0, 'density of the body (link volume = mass / density) '
              'for buoyancy', 'kg/m^3', min=1.0, max=20000.0, read_only=True),
    ParamSpec('water.drag_coefficients', [0.1, 1.0, 1.0], 'quadratic drag coefficients C_d (axial: '
              'along each link\'s longest axis, lateral, vertical); F = -1/2 rho C_d A v|v|', '1',
              min=0.0, max=10.0, length=3, read_only=True),
    ParamSpec('amphibious.shore_x_m', 1.0, 'x where the land ends and the ramp starts', 'm',
              min=-100.0, max=100.0, read_only=True),
    ParamSpec('amphibious.ramp_slope_rad', 0.2, 'slope of the ramp down into the water', 'rad',
              min=0.01, max=1.2, read_only=True),
    ParamSpec('amphibious.water_depth_m', 0.5, 'depth of the pool floor below the land', 'm',
              min=0.05, max=10.0, read_only=True),
    ParamSpec('amphibious.surface_below_land_m', 0.03, 'how far the water surface lies below the land',
              'm', min=0.0, max=5.0, read_only=True),
]
