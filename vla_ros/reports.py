"""What every benchmark and evaluation writes: its report as JSON, with the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np


def machine_info() -> dict[str, Any]:
    """The machine and its load, so that a number can be read in its context."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON to ``path``, creating the parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def timing_statistics(timings: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median, 95th percentile and maximum (ms) of every stage of several timed runs (seconds per stage,
    e.g. :attr:`vla_ros.policy.inference.KeyframePrediction.timings`); empty without any run."""
    statistics = {}
    for stage in timings[0] if timings else ():
        values = [timing[stage] for timing in timings]
        statistics[stage] = {
            "median": 1000.0 * float(np.median(values)),
            "p95": 1000.0 * float(np.percentile(values, 95)),
            "max": 1000.0 * float(np.max(values)),
        }
    return statistics
