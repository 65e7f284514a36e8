"""ROS round trip: sim_node at 500 Hz (real_time_factor 1) in a closed loop with a controller process.

    .venv/bin/python bench/bench_ros_roundtrip.py [--duration 10] [--repeats 2]
        [--executors events single] [--rate 500]

Two processes per run, both with the executor under test:
* **sim**: the real ``SimNode`` (quadruped, physics 1 kHz, publish_rate 500 Hz, real_time_factor 1),
  with two probes: the wall time right after each ``/joint_states`` is published (keyed by its
  stamp), and the wall time each command arrives in the node's command callback;
* **controller**: answers every ``/joint_states`` with a position command (the standing posture)
  on ``/forward_position_controller/commands``, echoing the state's stamp in ``layout.dim[0].label``
  (a single label, which sim_node accepts as a generic label).

``--lockstep``: sim_node in lock-step (``lockstep`` true, ``real_time_factor`` 0): the loop runs as
fast as the round trip allows; the rows then give its rate (= real-time factor x 1 kHz / rate).

``--graph ROBOT``: instead, the robot's real controller node (``cpg_node``/``reflex_node``) against
sim_node, each in its own process with the graph's parameter file (``build_graph``: lock-step,
its publish rate and start state; ``--rate``, ``--rtf``, ``--no-lockstep`` and ``--set NAME:=VALUE``
controller overrides change it), for ``--sim-seconds`` of simulated time after the first
command: real-time factor, CPU seconds per simulated second of each process, forward speed from
``base_pose``, fall, lock-step misses, and with ``--contacts`` the foot contact fraction per foot
(> 5 N quadruped, > 50 N per leg human; the client's subscription costs CPU, so measure the
real-time factor without it)::

    .venv/bin/python bench/bench_ros_roundtrip.py --graph human --sim-seconds 8
    .venv/bin/python bench/bench_ros_roundtrip.py --graph quadruped --rate 1000 --rtf 0 --contacts

Per run, over ``--duration`` seconds after a 2 s warm-up: latency = command receipt - publication of
the state it answers (two hops, one process's clock), median and p99; loss = states published in
the window whose answer never arrived; CPU per cycle of each process (process CPU time / states
published); the achieved publish rate and sim overruns.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP_S = 2.0
GRACE_S = 0.5


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 101)))
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    return env


# ---------------------------------------------------------------------------- sim role
def run_sim(args) -> None:
    import numpy as np
    import rclpy

    from locomotion_sim.node import SimNode, init_rclpy, make_executor, release, spin
    from neuro_locomotion.paths import config_file

    sent: dict[int, float] = {}
    received: list[tuple[int, float]] = []

    class TimedPublisher:
        def __init__(self, publisher):
            self.publisher = publisher

        def publish(self, msg):
            self.publisher.publish(msg)
            stamp = msg.header.stamp
            sent[stamp.sec * 1_000_000_000 + stamp.nanosec] = time.perf_counter()

    class ProbedSimNode(SimNode):
        def _on_command(self, mode, msg):
            t = time.perf_counter()
            super()._on_command(mode, msg)
            if msg.layout.dim and msg.layout.dim[0].label.isdigit():
                received.append((int(msg.layout.dim[0].label), t))

    init_rclpy([])
    rtf = 0.0 if args.rtf is None else args.rtf
    lock = ['-p', 'lockstep:=true', '-p', f'real_time_factor:={rtf}'] if args.lockstep else []
    node = ProbedSimNode(cli_args=['--ros-args', '--params-file', str(config_file('quadruped')),
                                   '-p', f'publish_rate:={args.rate}', '-p', 'real_time_factor:=1.0',
                                   '-p', 'command_timeout:=0.5', *lock])
    node._joint_pub = TimedPublisher(node._joint_pub)
    executor = make_executor(args.executor)
    executor.add_node(node)
    try:
        # Wait for the loop to close, warm up, then measure.
        while not received:
            spin(executor, node.context, 0.1)
        spin(executor, node.context, WARMUP_S)
        t0, c0, s0 = time.perf_counter(), time.process_time(), node.sim_time()
        diag0 = node.diagnostics()
        spin(executor, node.context, args.duration)
        t1, c1, s1 = time.perf_counter(), time.process_time(), node.sim_time()
        diag1 = node.diagnostics()
        spin(executor, node.context, GRACE_S)
    finally:
        release(executor, [node])
        executor = None
        rclpy.try_shutdown()
    window = {k: t for k, t in sent.items() if t0 <= t < t1}
    answers = {}
    for stamp, t in received:
        answers.setdefault(stamp, t)
    latencies = np.array([answers[k] - t for k, t in window.items() if k in answers]) * 1e3
    result = {
        'states': len(window),
        'answered': int(latencies.size),
        'lost': len(window) - int(latencies.size),
        'late_or_duplicate': len(received) - len(answers),
        'latency_p50_ms': float(np.median(latencies)) if latencies.size else None,
        'latency_p99_ms': float(np.percentile(latencies, 99)) if latencies.size else None,
        'latency_max_ms': float(latencies.max()) if latencies.size else None,
        'publish_rate_hz': len(window) / (t1 - t0),
        'rtf': (s1 - s0) / (t1 - t0),
        'sim_cpu_ms_per_cycle': (c1 - c0) * 1e3 / max(1, len(window)),
        'sim_cpu_share': (c1 - c0) / (t1 - t0),
        'overruns': diag1['overruns'] - diag0['overruns'],
        'lockstep_misses': diag1['lockstep_misses'] - diag0['lockstep_misses'],
        'refused': diag1['refused_total'],
        'window': [t0, t1],
    }
    Path(args.out).write_text(json.dumps(result))


# ---------------------------------------------------------------------------- controller role
def run_controller(args) -> None:
    import rclpy
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension

    from locomotion_sim.node import init_rclpy, make_executor, release, spin

    init_rclpy([])
    node = rclpy.create_node('bench_controller')
    posture = [0.0, 0.8, -1.5] * 4
    pub = node.create_publisher(Float64MultiArray, '/forward_position_controller/commands',
                                QoSProfile(depth=10))
    count = [0]

    def on_state(msg: JointState) -> None:
        out = Float64MultiArray(data=posture)
        stamp = msg.header.stamp
        out.layout.dim = [MultiArrayDimension(label=str(stamp.sec * 1_000_000_000 + stamp.nanosec),
                                              size=len(posture), stride=len(posture))]
        pub.publish(out)
        count[0] += 1

    node.create_subscription(JointState, '/joint_states', on_state, QoSProfile(depth=10))
    executor = make_executor(args.executor)
    executor.add_node(node)
    try:
        while not count[0]:
            spin(executor, node.context, 0.1)
        spin(executor, node.context, WARMUP_S)
        t0, c0, n0 = time.perf_counter(), time.process_time(), count[0]
        spin(executor, node.context, args.duration)
        t1, c1, n1 = time.perf_counter(), time.process_time(), count[0]
        spin(executor, node.context, GRACE_S + 1.0)
    finally:
        release(executor, [node])
        executor = None
        rclpy.try_shutdown()
    Path(args.out).write_text(json.dumps({
        'answered': n1 - n0,
        'controller_cpu_ms_per_cycle': (c1 - c0) * 1e3 / max(1, n1 - n0),
        'controller_cpu_share': (c1 - c0) / (t1 - t0)}))



# ---------------------------------------------------------------------------- --graph ROBOT
def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def graph_run(args, env: dict, tmp: Path) -> dict:
    """sim_node and the robot's controller node in two processes (the graph's parameter file);
    the measurement as described in the module docstring."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))       # this checkout's graph, as the children (PYTHONPATH)
    import numpy as np
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Float64MultiArray, String

    from neuro_locomotion.graph import build_graph

    for key in ('ROS_DOMAIN_ID', 'AMENT_PREFIX_PATH', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ[key] = env[key]          # this process is the client, in the children's domain
    specs = {s.name: s for s in build_graph(args.graph)}
    ctrl_name = 'reflex_node' if 'reflex_node' in specs else 'cpg_node'
    sim_args = specs['sim_node'].ros_args()[1:] + ['-p', 'diagnostics_period:=0.1',
                                                   '-p', 'command_timeout:=3.0']
    if args.rate:
        sim_args += ['-p', f'publish_rate:={args.rate}']
    if args.rtf is not None:
        sim_args += ['-p', f'real_time_factor:={args.rtf}']
    if args.no_lockstep:
        sim_args += ['-p', 'lockstep:=false']
    for item in args.sim_set:
        sim_args += ['-p', item]
    ctrl_args = specs[ctrl_name].ros_args()[1:] + ['-p', f'robot:={args.graph}']
    for item in args.set:
        ctrl_args += ['-p', item]
    module = {'reflex_node': 'reflex_modules.node', 'cpg_node': 'cpg_controller.node'}[ctrl_name]
    procs = {}
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('bench_graph_client', context=context)
    from rclpy.executors import SingleThreadedExecutor
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    latest = {}
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(String, '/sim_node/diagnostics',
                             lambda m: latest.__setitem__('diag', json.loads(m.data)), latched)
    contacts = []
    if args.contacts:
        node.create_subscription(Float64MultiArray, '/foot_contacts',
                                 lambda m: contacts.append(m), QoSProfile(depth=100))

    def wait(predicate, timeout, what):
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise RuntimeError(f'timed out waiting for {what}')
            executor.spin_once(timeout_sec=0.02)

    def pose():
        box = []
        sub = node.create_subscription(PoseStamped, '/base_pose', box.append, QoSProfile(depth=10))
        wait(lambda: box, 30, 'base_pose')
        node.destroy_subscription(sub)
        p = box[-1]
        return p.header.stamp.sec + p.header.stamp.nanosec * 1e-9, p.pose.position

    try:
        for name, cmd in (('sim', ['-m', 'locomotion_sim.node', '--ros-args', *sim_args]),
                          ('ctrl', ['-m', module, '--ros-args', *ctrl_args])):
            procs[name] = subprocess.Popen([sys.executable, *cmd], env=env, cwd=ROOT,
                                           stdout=open(tmp / f'{name}.log', 'wb'),
                                           stderr=subprocess.STDOUT)
        wait(lambda: latest.get('diag', {}).get('accepted', 0) > 5, 120, 'the first commands')
        contacts.clear()
        t0, p0 = pose()
        w0, c0 = time.perf_counter(), {k: _cpu_s(p.pid) for k, p in procs.items()}
        wait(lambda: latest['diag']['sim_time'] > t0 + args.sim_seconds or latest['diag']['fallen'],
             args.sim_seconds * 50 + 60, f'{args.sim_seconds} s of sim time')
        w1, c1 = time.perf_counter(), {k: _cpu_s(p.pid) for k, p in procs.items()}
        t1, p1 = pose()
        d = latest['diag']
    finally:
        for p in procs.values():
            p.send_signal(2)
        for p in procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    sim_s = t1 - t0
    result = {
        'robot': args.graph, 'controller_args': ' '.join(args.set),
        'sim_args': ' '.join(args.sim_set),
        'lockstep': d['lockstep'], 'publish_rate': d['publish_rate'],
        'real_time_factor_param': d['real_time_factor'],
        'sim_s': sim_s, 'wall_s': w1 - w0, 'rtf': sim_s / (w1 - w0),
        'sim_cpu_per_sim_s': (c1['sim'] - c0['sim']) / sim_s,
        'controller_cpu_per_sim_s': (c1['ctrl'] - c0['ctrl']) / sim_s,
        'forward_m': p1.x - p0.x, 'lateral_m': p1.y - p0.y, 'speed_mps': (p1.x - p0.x) / sim_s,
        'fallen': d['fallen'], 'fell_by_s': d['sim_time'] - t0 if d['fallen'] else None,
        'lockstep_misses': d['lockstep_misses'], 'refused': d['refused_total'],
        'lockstep_wait_ms': d['lockstep_wait_ms'], 'overruns': d['overruns'],
        'load_avg': os.getloadavg()[0],
    }
    if contacts:
        labels = contacts[0].layout.dim[0].label.split(',')
        f = np.array([m.data for m in contacts])
        if args.graph == 'human':
            legs = {'left': ['l_heel', 'l_ball'], 'right': ['r_heel', 'r_ball']}
            on = np.stack([f[:, [labels.index(n) for n in names]].sum(axis=1) > 50.0
                           for names in legs.values()], axis=1)
        else:
            on = f > 5.0
        result['contact_fraction'] = [round(float(x), 3) for x in on.mean(axis=0)]
        result['contact_mean'] = float(on.mean())
        result['contact_samples'] = len(on)
    return result


# ---------------------------------------------------------------------------- driver
def one_run(executor: str, duration: float, rate: float, tmp: Path, env: dict,
            lockstep: bool = False, rtf: float | None = None) -> dict:
    files = {role: tmp / f'{role}_{executor}_{time.monotonic_ns()}.json'
             for role in ('sim', 'controller')}
    procs = [subprocess.Popen([sys.executable, __file__, '--role', role, '--executor', executor,
                               '--duration', str(duration), '--rate', str(rate),
                               *(['--lockstep'] if lockstep else []),
                               *(['--rtf', str(rtf)] if rtf is not None else []),
                               '--out', str(files[role])], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for role in ('sim', 'controller')]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=duration + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            errors.append(err[-2000:])
    if errors or not all(f.is_file() for f in files.values()):
        raise RuntimeError('benchmark process failed:\n' + '\n'.join(errors))
    result = json.loads(files['sim'].read_text())
    result.update(json.loads(files['controller'].read_text()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--duration', type=float, default=10.0, help='measured seconds per run')
    parser.add_argument('--repeats', type=int, default=None, help='runs (default 2; --graph: 1)')
    parser.add_argument('--rate', type=float, default=None,
                        help="sim_node publish_rate (Hz; default 500, with --graph the graph's)")
    parser.add_argument('--executors', nargs='+', default=['events', 'single'],
                        choices=['events', 'single'])
    parser.add_argument('--json', help='also write every run as JSON to this file')
    parser.add_argument('--lockstep', action='store_true',
                        help='sim_node in lock-step, real_time_factor 0 (the loop as fast as it goes)')
    parser.add_argument('--graph', choices=['quadruped', 'salamander', 'human'],
                        help="the robot's real controller node against sim_node (see above)")
    parser.add_argument('--sim-seconds', type=float, default=6.0, help='--graph: simulated seconds')
    parser.add_argument('--rtf', type=float, help="sim_node real_time_factor with --graph (default: "
                        "the graph's) or --lockstep (default 0)")
    parser.add_argument('--no-lockstep', action='store_true', help='--graph: lockstep off')
    parser.add_argument('--contacts', action='store_true', help='--graph: foot contact fraction')
    parser.add_argument('--set', action='append', default=[], metavar='NAME:=VALUE',
                        help='--graph: a controller node parameter, e.g. servo.mode:=position')
    parser.add_argument('--sim-set', action='append', default=[], metavar='NAME:=VALUE',
                        help='--graph: a sim_node parameter, e.g. clock_rate:=0.0')
    parser.add_argument('--role', choices=['sim', 'controller'], help=argparse.SUPPRESS)
    parser.add_argument('--executor', default='events', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == 'sim':
        return run_sim(args)
    if args.role == 'controller':
        return run_controller(args)

    env = _env()
    if args.graph:
        with tempfile.TemporaryDirectory() as d:
            for _ in range(args.repeats or 1):
                print(json.dumps(graph_run(args, env, Path(d))), flush=True)
        return None
    if args.rate is None:
        args.rate = 500.0
    args.repeats = args.repeats or 2
    runs = {}
    print(f'sim_node quadruped, physics 1 kHz, publish_rate {args.rate:g} Hz, '
          + (f'lock-step, real_time_factor {args.rtf or 0:g}; ' if args.lockstep
             else 'real_time_factor 1; ') +
          f'{args.duration:g} s measured per run, {args.repeats} runs per executor; '
          f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start', flush=True)
    print('| executor (both processes) | latency p50 | latency p99 | lost / states | '
          'publish rate | sim CPU per cycle | controller CPU per cycle | sim overruns | load avg |')
    print('|---|---|---|---|---|---|---|---|---|')
    with tempfile.TemporaryDirectory() as d:
        for executor in args.executors:
            runs[executor] = []
            for _ in range(args.repeats):
                r = one_run(executor, args.duration, args.rate, Path(d), env, args.lockstep,
                            args.rtf)
                runs[executor].append(r)
                print(f'| {executor} | {r["latency_p50_ms"]:.2f} ms | {r["latency_p99_ms"]:.2f} ms '
                      f'| {r["lost"]} / {r["states"]} | {r["publish_rate_hz"]:.0f} Hz '
                      f'| {r["sim_cpu_ms_per_cycle"]:.3f} ms ({100 * r["sim_cpu_share"]:.0f}%) '
                      f'| {r["controller_cpu_ms_per_cycle"]:.3f} ms '
                      f'({100 * r["controller_cpu_share"]:.0f}%) | {r["overruns"]} '
                      f'| {os.getloadavg()[0]:.1f} |'
                      + (f' rtf {r["rtf"]:.2f}, misses {r["lockstep_misses"]}' if args.lockstep
                         else ''), flush=True)
    for executor, rs in runs.items():
        print(f'{executor}: median over runs: p50 '
              f'{statistics.median(r["latency_p50_ms"] for r in rs):.2f} ms, p99 '
              f'{statistics.median(r["latency_p99_ms"] for r in rs):.2f} ms, controller CPU '
              f'{statistics.median(r["controller_cpu_ms_per_cycle"] for r in rs):.3f} ms/cycle, '
              f'sim CPU {statistics.median(r["sim_cpu_ms_per_cycle"] for r in rs):.3f} ms/cycle')
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))


if __name__ == '__main__':
    main()
