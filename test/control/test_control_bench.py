"""The controller benchmark runs end to end and writes its statistics."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from vla_ros.control.errors import ControlConfigError
from vla_ros.tools import control_bench as bench


def _parse(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.register(parser.add_subparsers())
    return parser.parse_args(["controller", *arguments])


def test_short_run_writes_the_report(tmp_path, monkeypatch):
    # Keep the default test run light: fewer IK poses and ensembling repeats.
    original = bench.BenchSettings.load

    def light(*args, **kwargs):
        return dataclasses.replace(original(*args, **kwargs), ik_poses=3, ensemble_repeats=20)

    monkeypatch.setattr(bench.BenchSettings, "load", light)
    out = tmp_path / "bench.json"
    args = _parse(["--rate", "200", "--seconds", "0.5", "--out", str(out)])
    assert args.func(args) == 0
    report = json.loads(out.read_text())
    loop = report["loop"]
    # Every deadline of the 0.5 s at 200 Hz is either ticked or counted as skipped (a loaded machine).
    assert loop["rate_hz"] == 200.0 and loop["ticks"] + loop["skipped_deadlines"] >= 100
    assert loop["chunks_delivered"] >= 3
    assert loop["statuses"].get("active", 0) > 50
    for key in ("tick_compute_us", "period_error_ms", "lateness_ms", "preview_compute_us"):
        assert set(loop[key]) >= {"p50", "p99", "max"}
        assert 0.0 <= loop[key]["p50"] <= loop[key]["p99"] <= loop[key]["max"]
    assert report["ensembling"]["live_chunks"] == 10
    assert report["ik"]["seed_near_solution"]["failures"] == 0
    planning = report["keyframe_planning"]
    assert planning["keyframes"] == 3
    for variant in ("gripper_twins", "keyframe_yaw_only"):
        assert planning[variant]["time_ms"]["count"] == 3
    assert planning["keyframe_yaw_only"]["twin_planned"] == 0  # no twins without the symmetry


def test_out_of_range_rate_is_refused(tmp_path):
    args = _parse(["--rate", "2000", "--seconds", "0.1", "--out", str(tmp_path / "x.json")])
    with pytest.raises(ControlConfigError, match="rate"):
        args.func(args)
