"""PyBullet simulation of the quadruped, salamander and planar human, in flat, water and
amphibious arenas. No rclpy here; ``node.py`` is the ROS adapter."""
from ._quiet import import_pybullet_quietly

import_pybullet_quietly()

from .world import World, sim_params

__all__ = ['World', 'sim_params']
