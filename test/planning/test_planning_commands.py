"""The ``plan`` and ``bench planner`` commands, called through their argparse parsers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vla_ros.planning import plan
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.workcell import Workcell
from vla_ros.tools import planner_bench

GOOD = "<ans>[(0.25, 0.32), <action>Close Gripper</action>, (0.74, 0.21)]</ans>"


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command", required=True)
    plan.register(subparsers)
    planner_bench.register(subparsers)
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_plan_with_a_recorded_answer_writes_json_and_overlay(tmp_path: Path) -> None:
    image_path = tmp_path / "scene.png"
    cv2.imwrite(str(image_path), np.full((120, 160, 3), 90, dtype=np.uint8))
    (tmp_path / "answer.txt").write_text(GOOD)
    out_dir = tmp_path / "out"
    common = [
        "--image",
        str(image_path),
        "--instruction",
        "pick",
        "--backend",
        "file",
        "--out-dir",
        str(out_dir),
    ]
    assert _run("plan", *common, "--answer-file", str(tmp_path / "answer.txt")) == 0
    report = json.loads((out_dir / "plan.json").read_text())
    assert report["ok"] and report["answer"] == GOOD and report["gripper_open"] == [False, False]
    overlay = cv2.imread(str(out_dir / "overlay.png"))
    assert overlay.shape == (120, 160, 3) and (overlay != 90).any()
    (tmp_path / "bad.txt").write_text("no idea")
    assert _run("plan", *common, "--answer-file", str(tmp_path / "bad.txt")) == 1
    assert "PlanningFailedError" in json.loads((out_dir / "plan.json").read_text())["error"]
    assert _run("plan", *common, "--answer-file", str(tmp_path / "missing.txt")) == 1
    missing_image = ["--image", str(tmp_path / "missing.png"), "--instruction", "pick"]
    assert (
        _run("plan", *missing_image, "--backend", "file", "--answer-file", str(tmp_path / "answer.txt")) == 1
    )


def test_plan_with_the_configured_planner_on_a_workcell_image(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The configured backend: the planner VLM trained here (models/planner), found from any directory,
    answers a path on a rendered scene (a flat grey image has no answer to give)."""
    monkeypatch.chdir(tmp_path)
    workcell = Workcell(load_sim_config())
    try:
        scene = workcell.reset("lift_block", "train", 100000)
        rgb = workcell.render().rgb
    finally:
        workcell.close()
    image_path = tmp_path / "scene.png"
    cv2.imwrite(str(image_path), np.ascontiguousarray(rgb[:, :, ::-1]))
    out_dir = tmp_path / "out"
    argv = ["--image", str(image_path), "--instruction", scene.instruction, "--out-dir", str(out_dir)]
    assert _run("plan", *argv) == 0
    report = json.loads((out_dir / "plan.json").read_text())
    assert report["ok"] and report["backend"] == "transformers" and len(report["points"]) >= 2
    assert report["stats"]["attempts"] == 1  # greedy decoding answered it: no sampled retry


@pytest.mark.slow
def test_planner_bench_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    import torch  # only this slow test needs it

    threads = torch.get_num_threads()
    try:
        assert (
            _run(
                "planner",
                "--out",
                str(out),
                "--repeats",
                "2",
                "--max-new-tokens",
                "4",
                "--threads",
                "1",
            )
            == 0
        )
    finally:
        torch.set_num_threads(threads)
    figures = json.loads(out.read_text())
    assert figures["environment"]["torch_threads"] == 1
    assert figures["parse_canonical_us"]["count"] == 200
    assert figures["tiny_llava"]["plan_ms"]["count"] == 2 and figures["tiny_llava"]["plan_ms"]["median"] > 0
