"""``cpg_node``: the CPG controllers (``cpg`` spiking, ``oscillator`` Hopf/Ijspeert) as a ROS 2 node.

A :class:`~neuro_locomotion.controller_node.ControllerNode` whose parameter ``controller`` defaults
to ``cpg`` (the spiking CPG, quadruped and salamander); ``-p controller:=oscillator`` runs the
non-spiking reference oscillators instead. Topics and parameters: docs/ros.md.
"""
from __future__ import annotations

import sys

from neuro_locomotion.controller_node import ControllerNode, main as _main


class CpgNode(ControllerNode):
    """The CPG node (quadruped, salamander): rhythm -> position or PD-effort commands."""

    DEFAULT_CONTROLLER = 'cpg'

    def __init__(self, node_name: str = 'cpg_node', **kwargs):
        super().__init__(node_name, **kwargs)


def main(args=None) -> int:
    return _main(args, CpgNode, 'cpg_node')


if __name__ == '__main__':
    sys.exit(main())
