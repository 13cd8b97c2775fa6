"""Recorded (demonstrate + from-mcap) against collected keyframes for the same scenes.

    python results/data_loop/compare_keyframes.py DEMOS_DIR DATASET_DIR COLLECTED_DIR OUT_JSON

DEMOS_DIR holds `vla-ros demonstrate`'s demonstrations.json, DATASET_DIR the converted episodes
(`vla-ros dataset from-mcap`), COLLECTED_DIR `vla-ros collect --frames keyframes` of the same seeds.
"""

import json
import sys
from pathlib import Path

import numpy as np


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def compare(demos: Path, dataset: Path, collected: Path) -> dict:
    rows = []
    for demo in read(demos / "demonstrations.json")["demonstrations"]:
        name = Path(demo["file"]).name.split(".")[0]
        theirs_dir = collected / f"{demo['task']}_{demo['split']}_{demo['seed']:06d}"
        if not (dataset / name / "meta.json").is_file():
            rows.append({"task": demo["task"], "seed": demo["seed"], "converted": False})
            continue
        if not (theirs_dir / "meta.json").is_file():
            continue  # the expert failed this seed in lock-step: collect skipped it
        recorded = read(dataset / name / "meta.json")
        ours, theirs = recorded["expert_keyframes"], read(theirs_dir / "meta.json")["expert_keyframes"]
        row = {
            "task": demo["task"],
            "seed": demo["seed"],
            "converted": True,
            "recorded_keyframes": len(ours),
            "collected_keyframes": len(theirs),
        }
        if len(ours) == len(theirs):
            row["gripper_states_equal"] = [k["gripper_open"] for k in ours] == [
                k["gripper_open"] for k in theirs
            ]
            row["position_error_mm_max"] = max(
                1000.0 * float(np.linalg.norm(np.subtract(a["tcp_pose"][:3], b["tcp_pose"][:3])))
                for a, b in zip(ours, theirs, strict=True)
            )
        rows.append(row)
    converted = [row for row in rows if row["converted"]]
    same = [row for row in converted if row["recorded_keyframes"] == row["collected_keyframes"]]
    errors = [row["position_error_mm_max"] for row in same]
    per_task = {}
    for task in sorted({row["task"] for row in rows}):
        mine = [row for row in converted if row["task"] == task]
        per_task[task] = {
            "compared": len(mine),
            "same_keyframe_count": sum(
                row["recorded_keyframes"] == row["collected_keyframes"] for row in mine
            ),
        }
    return {
        "compared": len(converted),
        "not_converted": len(rows) - len(converted),
        "same_keyframe_count": len(same),
        "same_keyframe_count_and_gripper_states": sum(row["gripper_states_equal"] for row in same),
        "position_error_mm_max_over_matching": {
            "median": float(np.median(errors)) if errors else None,
            "p95": float(np.percentile(errors, 95)) if errors else None,
            "max": max(errors, default=None),
        },
        "per_task": per_task,
        "episodes": rows,
        "command": "python results/data_loop/compare_keyframes.py " + " ".join(sys.argv[1:]),
    }


if __name__ == "__main__":
    demos_dir, dataset_dir, collected_dir, out = map(Path, sys.argv[1:5])
    result = compare(demos_dir, dataset_dir, collected_dir)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: value for key, value in result.items() if key != "episodes"}, indent=1))
