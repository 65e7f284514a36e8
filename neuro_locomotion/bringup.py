"""``neuroloco ros ROBOT``: a robot's ROS 2 node graph in one process, without launch_ros.

The nodes are the ones ``launch/<robot>.launch.py`` starts (both read
:mod:`neuro_locomotion.graph`), each built with the arguments launch_ros would give its process
(``--ros-args -r __node:=NAME -r __ns:=NS --params-file FILE -p use_sim_time:=true -r from:=to``),
so parameter files, remaps and namespaces behave exactly as under ``ros2 launch``. All nodes share
one executor (EventsExecutor by default: about half the CPU of SingleThreadedExecutor).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .graph import build_graph


def compose(nodes, context, executor='events'):
    """Build every node of ``nodes`` (NodeSpecs) in ``context``; return (executor, node objects)."""
    from locomotion_sim.node import make_executor
    ex = make_executor(executor, context)
    built = []
    try:
        for spec in nodes:
            node = spec.node_class()(spec.name, context=context, cli_args=spec.ros_args(),
                                     use_global_arguments=False)
            built.append(node)
            ex.add_node(node)
    except BaseException:
        for node in reversed(built):
            node.destroy_node()
        raise
    return ex, built


def _recorder(context, nodes, path: Path):
    """A node recording the graph's topics to MCAP (see neuro_locomotion.recording)."""
    from .recording import McapRecorder
    namespace = nodes[0].namespace if nodes else ''
    return McapRecorder.for_graph(path, context=context, namespace=namespace)


def run_graph(robot: str, duration: float | None = None, namespace: str = '',
              arena: str | None = None, record: str | Path | None = None,
              executor: str = 'events', config: str | Path | None = None,
              out=sys.stdout) -> int:
    """Run ``robot``'s graph for ``duration`` wall-clock seconds (None: until SIGINT/SIGTERM)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from locomotion_sim.node import init_rclpy, release, spin

    specs = build_graph(robot, namespace, arena, use_sim_time=True, config=config)
    context = rclpy.Context()
    init_rclpy([], context)             # SIGINT and SIGTERM end spin() cleanly
    built, recorder, ex = [], None, None
    interrupted = False
    try:
        ex, built = compose(specs, context, executor)
        if record:
            recorder = _recorder(context, specs, Path(record))
            ex.add_node(recorder.node)
        print(f'neuroloco ros {robot}: ' + ', '.join(n.get_fully_qualified_name() for n in built)
              + (f'; recording to {record}' if record else ''), file=out, flush=True)
        spin(ex, context, duration)
    except (KeyboardInterrupt, ExternalShutdownException):
        interrupted = True
    finally:
        for node in built:              # physics first: a lock-step sim_node would wait for
            stop = getattr(node, 'stop', None)     # answers while nobody spins the executor
            if stop is not None:
                stop()
        summary = {}
        failed = [(n.get_fully_qualified_name(), n.failure) for n in built
                  if getattr(n, 'failure', None)]
        for node in built:
            if hasattr(node, 'diagnostics'):
                try:
                    summary[node.get_fully_qualified_name()] = node.diagnostics()
                except Exception:
                    pass
        release(ex, built)
        ex = None                       # the executor goes before the context (see init_rclpy)
        if recorder is not None:
            recorder.close()
        rclpy.try_shutdown(context=context)
    for name, d in summary.items():
        print(f'  {name}: sim_time {d.get("sim_time", 0):.3f} s, published {d.get("published")}, '
              f'commands accepted {d.get("accepted")}, refused {d.get("refused_total")}, '
              f'state {d.get("state")}, fallen {d.get("fallen")}, overruns {d.get("overruns")}'
              + (f', base x {d["base_position"][0]:.3f} m' if d.get('base_position') is not None
                 else '')
              + (f', lockstep misses {d["lockstep_misses"]}' if d.get('lockstep') else ''),
              file=out)
    if record:
        print(f'  recorded {record}', file=out)
    failures = [f'{n}: {f}' for n, f in failed]
    if failures:
        print('neuroloco: error: ' + '; '.join(failures), file=sys.stderr)
        return 1
    return 130 if interrupted and duration is not None else 0
