"""``vla-ros topic-stats``: rate, inter-arrival jitter and stamp-to-receipt latency of topics.

What ``ros2 topic hz`` and ``ros2 topic delay`` report, for several topics at once and written to a
JSON file, so that rates and latencies quoted in the README come from a command. The message type
of each topic is found on the graph; latency is measured for messages with a ``header``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.reports import machine_info, write_report

DISCOVERY_TIMEOUT_S = 10.0


def summarize(arrivals: list[float], latencies: list[float], seconds: float) -> dict[str, Any]:
    """Statistics of one topic from receipt times and latencies (seconds)."""
    stats: dict[str, Any] = {"messages": len(arrivals), "rate_hz": len(arrivals) / seconds}
    if len(arrivals) > 2:
        periods = np.diff(arrivals)
        stats["period_ms"] = _percentiles(periods * 1e3)
        stats["jitter_ms"] = float(np.std(periods) * 1e3)
    if latencies:
        stats["latency_ms"] = _percentiles(np.asarray(latencies) * 1e3)
    return stats


def _percentiles(values: np.ndarray) -> dict[str, float]:
    return {
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "max": float(np.max(values)),
        "mean": float(np.mean(values)),
    }


def _message_class(type_name: str):
    package, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def measure(topics: list[str], seconds: float) -> dict[str, Any]:
    """Subscribe to ``topics`` for ``seconds`` and return their statistics (needs rclpy)."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("topic_stats", context=context)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        types: dict[str, str] = {}
        deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
        while len(types) < len(topics) and time.monotonic() < deadline:
            known = dict(node.get_topic_names_and_types())
            types = {topic: known[topic][0] for topic in topics if topic in known}
            executor.spin_once(timeout_sec=0.1)
        missing = sorted(set(topics) - set(types))
        if missing:
            raise RuntimeError(f"topics not found on the graph within {DISCOVERY_TIMEOUT_S} s: {missing}")
        arrivals: dict[str, list[float]] = {topic: [] for topic in topics}
        latencies: dict[str, list[float]] = {topic: [] for topic in topics}

        def receive(msg, topic: str) -> None:
            now = node.get_clock().now().nanoseconds * 1e-9
            arrivals[topic].append(time.monotonic())
            header = getattr(msg, "header", None)
            if header is not None and (header.stamp.sec or header.stamp.nanosec):
                latencies[topic].append(now - (header.stamp.sec + header.stamp.nanosec * 1e-9))

        for topic, type_name in types.items():
            node.create_subscription(
                _message_class(type_name), topic, lambda m, t=topic: receive(m, t), qos_profile_sensor_data
            )
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        return {
            topic: {"type": types[topic], **summarize(arrivals[topic], latencies[topic], seconds)}
            for topic in topics
        }
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand."""
    try:
        result = measure(args.topics, args.seconds)
    except RuntimeError as error:
        print(f"vla-ros topic-stats: {error}")
        return 1
    report = {"seconds": args.seconds, "machine": machine_info(), "topics": result}
    print(json.dumps(report, indent=2))
    if args.out:
        write_report(args.out, report)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``topic-stats`` subcommand."""
    parser = subparsers.add_parser(
        "topic-stats",
        description="Subscribe (sensor-data QoS) to the given topics and report message rate, "
        "inter-arrival period and jitter, and for stamped messages the latency from header stamp to "
        "receipt (p50/p99/max), as JSON.",
    )
    parser.add_argument("topics", nargs="+", help="topic names, e.g. /joint_states")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement time (default 10)")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    parser.set_defaults(func=run)
