"""``vla-ros policy-validate``: a checkpoint's keyframe errors on recorded demonstrations, decoded as
the policy node decodes them (both stages, heatmap lifting): translation error (mm) of the keyframe and
of the coarse stage alone, rotation error (degrees, to the nearest of the target's twins under the
robot gripper's yaw symmetry) and flag accuracy, overall and per task. Training runs the same
validation every ``training.validation_every`` steps."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.policy.inference import decode, load_checkpoint
from vla_ros.policy.language import InstructionEncoder
from vla_ros.policy.model import BINARY_HEADS, KeyframeNetwork
from vla_ros.policy.pointcloud import denormalise
from vla_ros.policy.rotation import rotation_angle
from vla_ros.policy.settings import CONFIG_FILE, PolicyConfig, load_policy_config
from vla_ros.policy.stages import run_stages
from vla_ros.reports import machine_info, write_report
from vla_ros.robot.settings import load_robot_settings
from vla_ros.robot.urdf import add_robot_argument
from vla_ros.training.policy.batches import make_batch
from vla_ros.training.policy.data import KeyframeSample, load_samples


@torch.no_grad()
def validate(
    model: KeyframeNetwork,
    samples: list[KeyframeSample],
    config: PolicyConfig,
    device: str,
    equivalent_yaws: tuple[float, ...] = (0.0,),
) -> dict[str, Any]:
    """Decode every sample as the node does: translation error (mm) of the keyframe and of the coarse
    stage alone, rotation error (deg, to the nearest of the target's ``equivalent_yaws`` turns) and flag
    accuracy, overall and (errors) per task."""
    model.eval()
    translation, coarse, rotation, tasks = [], [], [], []
    correct = {name: 0 for name in BINARY_HEADS}
    size = config.training.batch_size
    for start in range(0, len(samples), size):
        batch = make_batch(samples[start : start + size], config, device, None, equivalent_yaws)
        output = run_stages(model, batch.clouds, batch.language, batch.proprio, config.lifting)
        coarse_positions = denormalise(output.fine_centres.cpu().numpy(), config.scene)
        for index, keyframe in enumerate(decode(output, config)):
            target = batch.target_positions[index]
            translation.append(1000.0 * np.linalg.norm(keyframe.pose[:3, 3] - target))
            coarse.append(1000.0 * np.linalg.norm(coarse_positions[index] - target))
            rotation.append(
                math.degrees(
                    min(rotation_angle(keyframe.pose[:3, :3], twin) for twin in batch.target_rotations[index])
                )
            )
            for name in BINARY_HEADS:
                correct[name] += int(getattr(keyframe, name) == bool(batch.binary[name][index]))
        tasks.extend(batch.tasks)
    model.train()
    translation_mm, coarse_mm, rotation_deg = np.array(translation), np.array(coarse), np.array(rotation)
    per_task = {
        task: {
            "translation_error_mm_median": float(np.median(translation_mm[mask])),
            "coarse_translation_error_mm_median": float(np.median(coarse_mm[mask])),
            "rotation_error_deg_median": float(np.median(rotation_deg[mask])),
            "rotation_error_deg_mean": float(np.mean(rotation_deg[mask])),
        }
        for task in sorted(set(tasks))
        for mask in [np.array(tasks) == task]
    }
    return {
        "translation_error_mm_mean": float(np.mean(translation_mm)),
        "translation_error_mm_median": float(np.median(translation_mm)),
        "translation_within_10mm": float(np.mean(translation_mm <= 10.0)),
        "coarse_translation_error_mm_median": float(np.median(coarse_mm)),
        "rotation_error_deg_mean": float(np.mean(rotation_deg)),
        "rotation_error_deg_median": float(np.median(rotation_deg)),
        "rotation_within_5deg": float(np.mean(rotation_deg <= 5.0)),
        **{f"{name}_accuracy": correct[name] / len(samples) for name in BINARY_HEADS},
        "samples": len(samples),
        "per_task": per_task,
    }


def _run(args: argparse.Namespace) -> int:
    config = load_policy_config(args.config, robot=args.robot)
    checkpoint = Path(args.checkpoint or config.checkpoint)
    model, record = load_checkpoint(checkpoint, config, args.device)
    samples = load_samples(args.data, config, InstructionEncoder(args.device), 1, True, augmented=False)
    equivalent_yaws = load_robot_settings(args.robot).gripper.equivalent_yaws()
    report = {
        "checkpoint": str(checkpoint),
        "data": [str(path) for path in args.data],
        "equivalent_yaws": list(equivalent_yaws),
        "validation": validate(model, samples, config, args.device, equivalent_yaws),
        "checkpoint_training": {key: record.get(key) for key in ("command", "steps", "train_time_s")},
        "machine": machine_info(),
    }
    write_report(args.out, report)
    print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``policy-validate`` subcommand."""
    parser = subparsers.add_parser(
        "policy-validate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset directories (collect)")
    parser.add_argument("--checkpoint", default="", help="checkpoint (default: the robot's, as the node)")
    parser.add_argument("--config", default=CONFIG_FILE, help="policy parameter file")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    add_robot_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    parser.set_defaults(func=_run)
