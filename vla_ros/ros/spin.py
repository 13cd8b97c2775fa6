"""The ``main()`` of every node: init, build, spin, clean shutdown, and a clear start-up error."""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def run_node(
    make_node: Callable[[], Node],
    args: list[str] | None = None,
    startup_errors: tuple[type[Exception], ...] = (ValueError,),
) -> int:
    """Spin the node ``make_node()`` builds until Ctrl-C or shutdown; returns the process exit code.

    An exception of ``startup_errors`` while building the node (bad parameters, a missing file) is
    printed as one line, and the exit code is 1.
    """
    rclpy.init(args=args)
    try:
        node = make_node()
    except startup_errors as error:
        print(f"{sys.argv[0]}: cannot start: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok(context=node.context):
            raise
        # Ctrl-C shut the context down while a callback was publishing: an ordinary end, not an error
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
