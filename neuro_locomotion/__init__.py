"""neuro_locomotion: the seams shared by controllers, simulator and ROS nodes.

Controllers and the simulator are plain Python objects that never import rclpy; the ROS nodes
are thin adapters around them.
"""
__version__ = '0.1.0'
