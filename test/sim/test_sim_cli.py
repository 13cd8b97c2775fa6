"""The simulator's command-line modules: parsers register, and the measuring commands write JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from vla_ros.sim import collect, expert_eval, export_vlm
from vla_ros.tools import sim_bench


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vla-ros")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (collect, expert_eval, export_vlm, sim_bench):
        module.register(subparsers)
    return parser


def test_subcommands_parse() -> None:
    parser = _parser()
    args = parser.parse_args(
        ["collect", "--task", "lift_block", "stack_blocks", "--episodes", "3", "--out", "d"]
    )
    assert args.task == ["lift_block", "stack_blocks"] and args.episodes == 3 and callable(args.func)
    args = parser.parse_args(["export-vlm", "--data", "d", "--out", "v"])
    assert args.data == Path("d")
    with pytest.raises(SystemExit):
        parser.parse_args(["collect", "--task", "open_drawer", "--out", "d"])


def test_expert_eval_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "expert.json"
    args = _parser().parse_args(["expert-eval", "--tasks", "lift_block", "--seeds", "1", "--out", str(out)])
    assert args.func(args) == 0
    result = json.loads(out.read_text())
    assert result["tasks"]["lift_block"]["episodes"] == 1
    assert result["tasks"]["lift_block"]["success_rate"] == 1.0


def test_sim_bench_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    args = _parser().parse_args(["sim", "--resolutions", "64x48", "--repeats", "20", "--out", str(out)])
    assert args.func(args) == 0
    result = json.loads(out.read_text())
    assert result["render"]["64x48"]["mean_ms"] > 0 and result["physics_step"]["mean_ms"] > 0
