"""``vla-ros train-policy``: train the keyframe policy on the workcell's demonstrations.

Losses (RVT-2): for each stage, cross-entropy between each view's heatmap and a Gaussian around the
target's projection; cross-entropy over the 3 x ``rotation_bins`` Euler bins (each axis conditioned on
the target bins of the axes before it), with ``training.twin_rotation_loss`` against the nearest of the
target's orientations the robot's gripper acts the same in (turned by its ``yaw_symmetry`` about the TCP
z axis: a parallel gripper's keyframe and its half-turned twin are both right, and the demonstrations
and the yaw augmentation give both); 2-way cross-entropy of gripper, ignore-collisions and done. The
fine stage is centred on the target moved by up to ``training.fine_centre_noise`` per axis, and the
heads read its features at the target. Every sample is augmented by one random translation and yaw,
applied to the cloud and the target together, and a colour jitter. Validation decodes predictions
exactly as the policy node does (both stages, heatmap lifting) and reports translation error (mm) of the
fine and of the coarse stage, rotation error (degrees, to the nearest equivalent orientation) and flag
accuracy, overall and per task.

Files next to ``--out CKPT``: ``CKPT`` (the weights, configuration and training record: what the node
loads), ``<stem>.log.jsonl`` (losses and validation), ``<stem>.resume.pt`` (optimizer and random state,
for ``--resume``; not needed to run the policy).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional
from tqdm import tqdm

from vla_ros.policy.inference import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from vla_ros.policy.language import InstructionEncoder
from vla_ros.policy.model import BINARY_HEADS, KeyframeNetwork
from vla_ros.policy.observation import heatmap_targets
from vla_ros.policy.pointcloud import FEATURE_CHANNELS
from vla_ros.policy.settings import CONFIG_FILE, PolicyConfig, load_policy_config
from vla_ros.policy.stages import TwoStageOutput, run_stages, to_fine
from vla_ros.reports import machine_info
from vla_ros.robot.settings import load_robot_settings
from vla_ros.robot.urdf import add_robot_argument
from vla_ros.training.policy.batches import Batch, make_batch
from vla_ros.training.policy.data import load_samples
from vla_ros.training.policy.validation import validate


def training_forward(
    model: KeyframeNetwork, batch: Batch, config: PolicyConfig, rng: np.random.Generator
) -> tuple[TwoStageOutput, torch.Tensor]:
    """Both stages on ``batch`` with training's targets: the fine cube centred on the target moved by
    up to ``fine_centre_noise``, the heads at the target, the rotation axes conditioned on the target
    bins. Returns the output and the targets in the fine cubes' coordinates."""
    noise = config.training.fine_centre_noise / config.scene.half_size
    jitter = torch.from_numpy(rng.uniform(-noise, noise, batch.targets.shape).astype(np.float32))
    centres = batch.targets + jitter.to(batch.targets.device)
    fine_targets = to_fine(batch.targets, centres, config.model.fine_zoom)
    output = run_stages(
        model,
        batch.clouds,
        batch.language,
        batch.proprio,
        config.lifting,
        centres,
        fine_targets,
        batch.rotation_bins[:, 0],
    )
    return output, fine_targets


def _heatmap_loss(logits: torch.Tensor, targets: torch.Tensor, config: PolicyConfig) -> torch.Tensor:
    expected = heatmap_targets(targets, config.model, config.training.heatmap_sigma)
    return -(expected.flatten(2) * functional.log_softmax(logits.flatten(2), dim=-1)).sum(dim=-1).mean()


def _rotation_loss(model: KeyframeNetwork, output: TwoStageOutput, batch: Batch) -> torch.Tensor:
    """Per sample, the Euler bins' cross-entropy (mean over the axes) against the nearest equivalent
    target; each equivalent conditions the axes on its own bins."""
    per_equivalent = []
    for index in range(batch.rotation_bins.shape[1]):
        bins = batch.rotation_bins[:, index]
        heads = (
            output.heads if index == 0 else model.heads(output.fine, output.fine_points, batch.proprio, bins)
        )
        entropy = functional.cross_entropy(
            heads.rotation_logits.flatten(0, 1), bins.flatten(), reduction="none"
        )
        per_equivalent.append(entropy.view(len(bins), 3).mean(dim=1))
    return torch.stack(per_equivalent, dim=1).min(dim=1).values.mean()


def losses(
    model: KeyframeNetwork,
    output: TwoStageOutput,
    batch: Batch,
    fine_targets: torch.Tensor,
    config: PolicyConfig,
) -> dict[str, torch.Tensor]:
    """The loss terms of a batch (each a scalar tensor) and their sum under ``total``."""
    heads = output.heads
    terms = {
        "heatmap_coarse": _heatmap_loss(output.coarse.heatmap_logits, batch.targets, config),
        "heatmap_fine": _heatmap_loss(output.fine.heatmap_logits, fine_targets, config),
        "rotation": _rotation_loss(model, output, batch),
    }
    for name in BINARY_HEADS:
        terms[name] = functional.cross_entropy(heads.binary_logits[name], batch.binary[name])
    terms["total"] = sum(terms.values())
    return terms


def learning_rate(step: int, config: PolicyConfig) -> float:
    """Linear warm-up, then cosine decay to zero at ``training.steps``."""
    training = config.training
    if step < training.warmup_steps:
        return training.learning_rate * (step + 1) / training.warmup_steps
    progress = (step - training.warmup_steps) / max(1, training.steps - training.warmup_steps)
    return training.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _companion(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def train(
    data: list[Path],
    out: Path,
    config: PolicyConfig,
    val_data: list[Path] | None = None,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    equivalent_yaws: tuple[float, ...] = (0.0,),
) -> dict[str, Any]:
    """Train and write the checkpoint ``out``; returns the training record (also stored in it).
    ``equivalent_yaws``: the robot gripper's (``GripperSettings.equivalent_yaws``): validation's, and the
    rotation loss's with ``training.twin_rotation_loss``."""
    loss_yaws = equivalent_yaws if config.training.twin_rotation_loss else (0.0,)
    training = config.training
    seed = training.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    encoder = InstructionEncoder(device)
    train_samples = load_samples(data, config, encoder, seed, progress, training.path_noise)
    val_samples = (
        load_samples(val_data, config, encoder, seed + 1, progress, augmented=False) if val_data else []
    )
    model = KeyframeNetwork(config.model, FEATURE_CHANNELS).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    rng = np.random.default_rng(seed)
    step, elapsed = 0, 0.0
    resume_path, log_path = _companion(out, ".resume.pt"), _companion(out, ".log.jsonl")
    if resume and resume_path.is_file():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, elapsed = state["step"], state["elapsed_s"]
    elif log_path.exists():
        log_path.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "command": " ".join(["vla-ros", *sys.argv[1:]]) if sys.argv and "vla-ros" in sys.argv[0] else "",
        "data": [str(path) for path in data],
        "val_data": [str(path) for path in val_data or []],
        "train_samples": len(train_samples),
        "train_samples_intermediate": sum(sample.intermediate for sample in train_samples),
        "train_samples_planner_path": sum(sample.path_source == "planner" for sample in train_samples),
        "val_samples": len(val_samples),
        "equivalent_yaws": list(equivalent_yaws),
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "machine": machine_info(),
    }

    def save_checkpoint(validation: dict[str, float] | None) -> None:
        record.update(steps=step, train_time_s=elapsed, validation=validation)
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "architecture": config.architecture(),
                "model": model.state_dict(),
                "training": json.loads(json.dumps(record)),
            },
            out,
        )
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "elapsed_s": elapsed,
            },
            resume_path,
        )

    model.train()
    validation = None
    bar = tqdm(total=training.steps, initial=step, desc="train policy", disable=not progress)
    with log_path.open("a") as log:
        while step < training.steps:
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, config)
            indices = rng.choice(
                len(train_samples), training.batch_size, replace=len(train_samples) < training.batch_size
            )
            batch = make_batch([train_samples[i] for i in indices], config, device, rng, loss_yaws)
            output, fine_targets = training_forward(model, batch, config, rng)
            terms = losses(model, output, batch, fine_targets, config)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            elapsed += time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{terms['total'].item():.3f}")
            entry: dict[str, Any] = {"step": step, "time_s": round(elapsed, 2)}
            entry.update({f"loss_{k}": round(v.item(), 5) for k, v in terms.items()})
            if val_samples and (step % training.validation_every == 0 or step == training.steps):
                validation = validate(model, val_samples, config, device, equivalent_yaws)
                entry["validation"] = validation
                bar.write(
                    f"step {step}: "
                    + ", ".join(f"{k} {v:.3g}" for k, v in validation.items() if k != "per_task")
                )
            log.write(json.dumps(entry) + "\n")
            if step % training.checkpoint_every == 0 or step == training.steps:
                log.flush()
                save_checkpoint(validation)
    bar.close()
    return record


def _run(args: argparse.Namespace) -> int:
    config = load_policy_config(args.config)
    overrides = {name: getattr(args, name) for name in ("steps", "batch_size") if getattr(args, name)}
    if overrides:
        config = replace(config, training=replace(config.training, **overrides))
    if args.threads:
        torch.set_num_threads(args.threads)
    robot = load_robot_settings(args.robot)
    record = train(
        args.data,
        args.out,
        config,
        args.val_data,
        args.device,
        args.resume,
        equivalent_yaws=robot.gripper.equivalent_yaws(),
    )
    print(f"wrote {args.out}: {record['steps']} steps in {record['train_time_s']:.0f} s")
    if record.get("validation"):
        print(json.dumps(record["validation"], indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train-policy`` subcommand."""
    parser = subparsers.add_parser(
        "train-policy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset directories (collect)")
    parser.add_argument("--val-data", type=Path, nargs="*", help="validation dataset directories")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint file to write (e.g. policy.pt)")
    parser.add_argument("--config", default=CONFIG_FILE, help="policy parameter file")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--steps", type=int, default=0, help="override training.steps")
    parser.add_argument("--batch-size", type=int, default=0, help="override training.batch_size")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--resume", action="store_true", help="continue from <out stem>.resume.pt")
    add_robot_argument(parser)  # its gripper's yaw_symmetry: the rotation loss's equivalent targets
    parser.set_defaults(func=_run)
