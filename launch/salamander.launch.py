"""Launch the salamander's ROS 2 node graph: the simulator (and the controllers in its graph).

    ros2 launch neuro_locomotion salamander.launch.py [arena:=flat|water|amphibious]
        [namespace:=NS] [use_sim_time:=true|false] [robot:=salamander]

The nodes, their parameter file (config/<robot>.yaml) and remaps come from
neuro_locomotion.graph, the same description `neuroloco ros salamander` runs without launch_ros.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from neuro_locomotion.graph import build_graph
from neuro_locomotion.paths import ROBOTS

ROBOT = 'salamander'
ARENAS = ['', 'flat', 'water', 'amphibious']


def launch_setup(context, *args, **kwargs):
    robot = LaunchConfiguration('robot').perform(context)
    arena = LaunchConfiguration('arena').perform(context)
    namespace = LaunchConfiguration('namespace').perform(context)
    use_sim_time = LaunchConfiguration('use_sim_time').perform(context).lower() in ('true', '1')
    return [Node(**spec.launch_kwargs())
            for spec in build_graph(robot, namespace, arena or None, use_sim_time)]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('robot', default_value=ROBOT, choices=list(ROBOTS),
                              description='body to simulate (selects config/<robot>.yaml)'),
        DeclareLaunchArgument('arena', default_value='', choices=ARENAS,
                              description='flat, water or amphibious; empty: the config file\'s'),
        DeclareLaunchArgument('use_sim_time', default_value='true', choices=['true', 'false'],
                              description='nodes follow /clock published by sim_node'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of every node and topic (e.g. q1)'),
        OpaqueFunction(function=launch_setup),
    ])
