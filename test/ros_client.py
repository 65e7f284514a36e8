"""A small rclpy client for tests: one context, node and executor; waits with timeouts, no sleeps."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

ROOT = Path(__file__).resolve().parent.parent
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=10)


def ros_env(**extra) -> dict:
    env = dict(os.environ)
    env.setdefault('AMENT_PREFIX_PATH', str(ROOT / '.venv'))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    env['RCUTILS_LOGGING_BUFFERED_STREAM'] = '0'
    env.update(extra)
    return env


class SimProcess:
    """``python -m locomotion_sim.node --ros-args ...`` in a child process, output to a file."""

    def __init__(self, ros_args: list[str], log_path: Path, args: list[str] = ()):
        self.log_path = Path(log_path)
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([sys.executable, '-m', 'locomotion_sim.node', *args,
                                      '--ros-args', *ros_args],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=ros_env(),
                                     cwd=ROOT)

    def log(self) -> str:
        return self.log_path.read_text(errors='replace')

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGINT, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class NodeProcess(SimProcess):
    """``python -m <module> --ros-args ...`` (a console script's main) in a child process."""

    def __init__(self, module: str, ros_args: list[str], log_path):
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.proc = subprocess.Popen([sys.executable, '-m', module, '--ros-args', *ros_args],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=ros_env(),
                                     cwd=ROOT)


class RosClient:
    """The test process's side of the graph."""

    def __init__(self, name: str = 'test_client'):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    # -- waiting ------------------------------------------------------------------------
    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def wait_for(self, predicate, timeout: float = 10.0, what: str = 'condition'):
        """Spin until ``predicate()`` is truthy; return its value, or fail after ``timeout``."""
        end = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > end:
                raise AssertionError(f'timed out after {timeout} s waiting for {what}')
            self.executor.spin_once(timeout_sec=0.02)

    # -- topics -------------------------------------------------------------------------
    def collect(self, msg_type, topic: str, qos=RELIABLE) -> list:
        """Subscribe; each message is appended, with its receipt time, to the returned list."""
        box = _Box()

        def callback(msg):
            box.append((time.monotonic(), msg))
        box.subscription = self.node.create_subscription(msg_type, topic, callback, qos)
        return box

    def publisher(self, msg_type, topic: str, qos=RELIABLE, subscribers: int = 1, timeout=15.0):
        pub = self.node.create_publisher(msg_type, topic, qos)
        self.wait_for(lambda: pub.get_subscription_count() >= subscribers, timeout,
                      f'a subscriber on {topic}')
        return pub

    # -- services -----------------------------------------------------------------------
    def call(self, srv_type, name: str, request=None, timeout: float = 15.0):
        client = self.node.create_client(srv_type, name)
        try:
            self.wait_for(client.service_is_ready, timeout, f'service {name}')
            future = client.call_async(request if request is not None else srv_type.Request())
            self.executor.spin_until_future_complete(future, timeout_sec=timeout)
            assert future.done(), f'no answer from {name} within {timeout} s'
            return future.result()
        finally:
            self.node.destroy_client(client)

    def set_parameters(self, node: str, **values):
        """SetParameters on ``node`` (what ``ros2 param set`` calls); one result per value."""
        from rcl_interfaces.srv import SetParameters
        request = SetParameters.Request()
        request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        return self.call(SetParameters, f'{node}/set_parameters', request).results

    def get_parameters(self, node: str, *names) -> list:
        from rcl_interfaces.msg import Parameter as ParameterMsg
        from rcl_interfaces.srv import GetParameters
        values = self.call(GetParameters, f'{node}/get_parameters',
                           GetParameters.Request(names=list(names))).values
        return [Parameter.from_parameter_msg(ParameterMsg(name=n, value=v)).value
                for n, v in zip(names, values)]


class _Box(list):
    """A list of (receipt time, message) that keeps its subscription alive."""

    subscription = None


class Diagnostics:
    """The latest JSON document on a node's ``~/diagnostics`` topic."""

    def __init__(self, client: RosClient, topic: str = '/sim_node/diagnostics'):
        from std_msgs.msg import String
        self.client = client
        self.latest = None
        self._sub = client.node.create_subscription(String, topic, self._on, LATCHED)

    def _on(self, msg) -> None:
        self.latest = json.loads(msg.data)

    def wait(self, predicate=lambda d: True, timeout: float = 10.0, what: str = 'diagnostics'):
        return self.client.wait_for(lambda: self.latest if self.latest is not None
                                    and predicate(self.latest) else None, timeout, what)
