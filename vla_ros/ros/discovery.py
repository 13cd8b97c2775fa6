"""Discovery both ways: wait until a server node has discovered our endpoints, not only we it.

DDS discovery is not symmetric. ``service_is_ready`` (and an action client's ``server_is_ready``)
says that *we* have matched the server; the server may not yet have matched our response reader,
and a response sent in that gap is lost for good: a goal the planner accepted whose answer never
comes, a service call that times out, the first feedback dropped. On a loaded machine the gap lasts
seconds. A node announces its endpoints in the order it creates them, and the other side matches
them in that order, so once the server answers a request on a client created *after* ours it has
matched ours too. :class:`DiscoveryHandshake` is that request: the server node's ``list_parameters``
service (every rclpy and rclcpp node has it; reading it changes nothing), repeated until answered.
"""

from __future__ import annotations

import time

RETRY_S = 1.0


def node_of_service(node, service: str) -> str:
    """The fully qualified name of the node that serves ``service`` as ``~/name`` (resolved in
    ``node``'s namespace)."""
    return node.resolve_service_name(service).rsplit("/", 1)[0]


class DiscoveryHandshake:
    """Polls whether the node ``server`` (a name resolved in ``node``'s namespace) has matched every
    endpoint ``node`` created before this handshake. Create it after the clients it vouches for."""

    def __init__(self, node, server: str, retry_s: float = RETRY_S) -> None:
        from rcl_interfaces.srv import ListParameters

        self._node = node
        self._client = node.create_client(ListParameters, f"{server.rstrip('/')}/list_parameters")
        self._request = ListParameters.Request(prefixes=["vla_ros_discovery_handshake"], depth=1)
        self._retry_s = retry_s
        self._pending = None
        self._sent_at = 0.0
        self._answered = False

    def done(self) -> bool:
        """True once the server has answered; otherwise (re)sends the request. Call it while spinning."""
        if self._answered:
            return True
        if self._pending is not None and self._pending.done():
            self._answered = True
            return True
        if not self._client.service_is_ready():
            return False
        if self._pending is None or time.monotonic() - self._sent_at > self._retry_s:
            if self._pending is not None:
                self._client.remove_pending_request(self._pending)
            self._pending = self._client.call_async(self._request)
            self._sent_at = time.monotonic()
        return False

    def restart(self) -> None:
        """Start over (the server node was restarted: a new process has to discover us again)."""
        if self._pending is not None:
            self._client.remove_pending_request(self._pending)
        self._pending, self._answered = None, False

    def destroy(self) -> None:
        """Remove the handshake's client from the node."""
        self._node.destroy_client(self._client)


def wait_for_service(node, client, service: str, spin_until, timeout_s: float) -> bool:
    """Spin (``spin_until(condition, timeout_s) -> bool``) until ``client`` (of ``service``) can be
    called: we see the server and the server sees us."""
    handshake = DiscoveryHandshake(node, node_of_service(node, service))
    try:
        return spin_until(lambda: client.service_is_ready() and handshake.done(), timeout_s)
    finally:
        handshake.destroy()
