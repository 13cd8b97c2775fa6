"""Shared test setup.

Every pytest run gets a ROS domain of its own, so parallel runs do not meet. Fixtures for tests on a
real ROS graph: ``ros_node`` (a node of the test process in its own context), ``spin_until`` and
``ros_process`` (a node started as a separate process, ended after the test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

# Domain ids 1..100 are safe for Fast DDS ports; the process id spreads parallel runs over them.
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

GRAPH_TIMEOUT_S = 20.0


@pytest.fixture
def ros_node():
    """A node of the test process, in a context of its own."""
    rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("test_probe", context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


@pytest.fixture
def spin_until() -> Callable[..., bool]:
    """``spin_until(node, condition, timeout_s=20, on_wait=None)``: spin until ``condition()`` holds."""
    from rclpy.executors import SingleThreadedExecutor

    def spin(node, condition: Callable[[], bool], timeout_s: float = GRAPH_TIMEOUT_S, on_wait=None) -> bool:
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if condition():
                    return True
                if on_wait is not None:
                    on_wait()
                executor.spin_once(timeout_sec=0.02)
            return condition()
        finally:
            executor.remove_node(node)

    return spin


@pytest.fixture
def ros_process() -> Iterator[Callable[..., subprocess.Popen]]:
    """``ros_process(args)``: start ``python args...`` in this environment; SIGINT after the test."""
    processes: list[subprocess.Popen] = []

    def start(args: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(subprocess.signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def policy_config():
    """config/policy.yaml as shipped (the policy and its training tests)."""
    from vla_ros.policy.settings import load_policy_config

    return load_policy_config()


@pytest.fixture(scope="session")
def small_config(policy_config):
    """The shipped policy configuration with a small network (fast to train in a test)."""
    from dataclasses import replace

    model = replace(policy_config.model, image_size=32, width=32, heads=2, decoder_channels=8, cross_layers=1)
    training = replace(policy_config.training, batch_size=4, warmup_steps=2, steps=30, validation_every=10)
    return replace(policy_config, model=model, training=training)
