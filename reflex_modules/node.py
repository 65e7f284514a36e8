"""``reflex_node``: the GH2010 reflex walker (controller ``reflex``) as a ROS 2 node.

A :class:`~neuro_locomotion.controller_node.ControllerNode` whose parameter ``controller``
defaults to ``reflex`` (human, effort commands). Topics and parameters: docs/ros.md.
"""
from __future__ import annotations

import sys

from neuro_locomotion.controller_node import ControllerNode, main as _main


class ReflexNode(ControllerNode):
    """The reflex node (human): muscles and reflexes -> joint torques."""

    DEFAULT_CONTROLLER = 'reflex'

    def __init__(self, node_name: str = 'reflex_node', **kwargs):
        super().__init__(node_name, **kwargs)


def main(args=None) -> int:
    return _main(args, ReflexNode, 'reflex_node')


if __name__ == '__main__':
    sys.exit(main())
