"""Recorded (demonstrate + from-mcap) against collected keyframes for the same scenes.

Reads the files results/data_loop/run.sh makes; writes results/data_loop/keyframes_vs_collect.json.
"""

import json
from pathlib import Path

import numpy as np

RESULTS = Path("/work/main/results/data_loop")
COMMAND = "python results/data_loop/compare_keyframes.py (after results/data_loop/run.sh)"


def read(path: str) -> dict:
    return json.loads(Path(path).read_text())


rows = []
for demo in read(RESULTS / "demonstrations.json")["demonstrations"]:
    name = Path(demo["file"]).name.split(".")[0]
    recorded = read(f"/work/data/demos_ds/{name}/meta.json")
    collected = read(f"/work/data/demos_collect/{demo['task']}_{demo['split']}_{demo['seed']:06d}/meta.json")
    ours, theirs = recorded["expert_keyframes"], collected["expert_keyframes"]
    row = {
        "task": demo["task"],
        "seed": demo["seed"],
        "recorded_keyframes": len(ours),
        "collected_keyframes": len(theirs),
        "gripper_states_equal": [k["gripper_open"] for k in ours] == [k["gripper_open"] for k in theirs],
        "path_answer_equal": recorded["path"]["answer"] == collected["path"]["answer"],
        "path_points": [len(recorded["path"]["points"]), len(collected["path"]["points"])],
    }
    if len(ours) == len(theirs):
        row["position_error_mm_max"] = max(
            1000.0 * float(np.linalg.norm(np.subtract(a["tcp_pose"][:3], b["tcp_pose"][:3])))
            for a, b in zip(ours, theirs, strict=True)
        )
    rows.append(row)
same = [row for row in rows if row["recorded_keyframes"] == row["collected_keyframes"]]
out = {
    "episodes": rows,
    "same_keyframe_count": len(same),
    "of": len(rows),
    "gripper_states_equal": sum(row["gripper_states_equal"] for row in rows),
    "path_answer_equal": sum(row["path_answer_equal"] for row in rows),
    "position_error_mm_max_over_matching": max((row["position_error_mm_max"] for row in same), default=None),
    "command": COMMAND,
}
(RESULTS / "keyframes_vs_collect.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps({key: value for key, value in out.items() if key != "episodes"}))
