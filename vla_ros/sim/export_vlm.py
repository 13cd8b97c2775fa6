"""``vla-ros export-vlm``: a VLM fine-tuning set from recorded episodes, in HAMSTER's prompt format
(the planner's ``prompt_template`` with ``<quest>instruction</quest>``) and answer format.

Writes ``images/<episode>.png`` (the first colour frame) and ``train.jsonl`` with one record per
episode in the LLaVA/VILA conversation layout::

    {"id": ..., "image": "images/<episode>.png", "task": ..., "instruction": ...,
     "conversations": [{"from": "human", "value": "<image>\\n<prompt with <quest>instruction</quest>>"},
                       {"from": "gpt",
                        "value": "<ans>[(0.25, 0.32), <action>Close Gripper</action>, ...]</ans>"}]}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from vla_ros.data.dataset import EpisodeReader, list_episodes
from vla_ros.planning.hamster_format import build_prompt
from vla_ros.planning.settings import load_planner_config

IMAGE_TOKEN = "<image>"
JSONL_FILE = "train.jsonl"


def export_vlm(dataset: Path, out: Path, planner_config_file: str = "planner.yaml") -> int:
    """Export every episode of ``dataset`` into ``out``; returns the number of records written.

    The prompt is the planner's ``prompt_template``, so a model fine-tuned on the export is asked
    the same way by the planner at run time.
    """
    template = load_planner_config(planner_config_file).prompt_template
    episodes = list_episodes(dataset)
    (out / "images").mkdir(parents=True, exist_ok=True)
    with (out / JSONL_FILE).open("w") as stream:
        for directory in episodes:
            episode = EpisodeReader(directory)
            image = Path("images") / f"{directory.name}.png"
            Image.fromarray(episode.arrays["rgb"][0]).save(out / image)
            record = {
                "id": directory.name,
                "image": str(image),
                "task": episode.meta["task"],
                "instruction": episode.instruction,
                "conversations": [
                    {
                        "from": "human",
                        "value": f"{IMAGE_TOKEN}\n{build_prompt(template, episode.instruction)}",
                    },
                    {"from": "gpt", "value": episode.planner_label()},
                ],
            }
            stream.write(json.dumps(record) + "\n")
    return len(episodes)


def _run(args: argparse.Namespace) -> int:
    count = export_vlm(args.data, args.out, args.planner_config)
    print(f"wrote {count} records to {args.out / JSONL_FILE}")
    return 0 if count > 0 else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export-vlm`` subcommand."""
    parser = subparsers.add_parser(
        "export-vlm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, required=True, help="dataset directory written by collect")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--planner-config", default="planner.yaml", help="planner parameter file (the prompt)"
    )
    parser.set_defaults(func=_run)
