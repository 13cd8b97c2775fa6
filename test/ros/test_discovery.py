"""The discovery handshake: done only once the server node has answered, again after a restart."""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from vla_ros.ros.discovery import DiscoveryHandshake, node_of_service  # noqa: E402


def test_node_of_service_resolves_in_the_clients_namespace(ros_node):
    assert node_of_service(ros_node, "/ensembling_controller/enable") == "/ensembling_controller"
    assert node_of_service(ros_node, "simulator/reset") == "/simulator"


def test_the_handshake_waits_for_the_server_node_and_starts_over_after_a_restart(ros_node, spin_until):
    from rclpy.executors import SingleThreadedExecutor

    handshake = DiscoveryHandshake(ros_node, "/handshake_server", retry_s=0.2)
    assert not spin_until(ros_node, handshake.done, timeout_s=1.0), "no such node: never done"
    server = rclpy.create_node("handshake_server", context=ros_node.context)
    executor = SingleThreadedExecutor(context=ros_node.context)
    executor.add_node(server)
    executor.add_node(ros_node)

    def answered() -> bool:
        for _ in range(1000):
            if handshake.done():
                return True
            executor.spin_once(timeout_sec=0.02)
        return False

    try:
        assert answered()
        handshake.restart()
        assert not handshake.done(), "a restart asks again"
        assert answered()
    finally:
        executor.shutdown()
        handshake.destroy()
        server.destroy_node()
