"""``vla-ros train-planner``: train the small planner VLM on the recorded episodes' path labels.

The model is a tiny LLaVA (:mod:`vla_ros.training.planner.tiny_vlm`) trained from scratch on (first colour
frame, instruction) -> HAMSTER answer. Each example is the string the planner's ``transformers``
backend builds at run time (the planner's ``prompt_template`` in a user message after the image,
through the model's chat template with the generation prompt) followed by the label answer and
the end-of-sequence token; the loss covers the answer tokens only. The output directory is a
standard transformers model directory (model, processor, tokenizer, chat template) at every
checkpoint; ``checkpoint/state.pt`` beside it holds the optimiser and the step, so ``--resume``
goes on where a run stopped; ``--init-from`` starts from another trained model's tokenizer and
weights instead of random ones (fine-tuning, also at a larger image size or with more text
layers). ``training_log.jsonl`` logs training loss and the validation metrics of
:mod:`vla_ros.training.planner.evaluation`; ``training.json`` records the command and timing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForImageTextToText, AutoProcessor

from vla_ros.planning.hamster_format import INSTRUCTION_PLACEHOLDER, build_prompt, format_answer
from vla_ros.planning.settings import PlannerConfig, load_planner_config
from vla_ros.reports import machine_info
from vla_ros.training.planner.config import (
    TrainingConfig,
    TrainingConfigError,
    TrainingError,
    load_training_config,
)
from vla_ros.training.planner.evaluation import evaluate_model, summarise
from vla_ros.training.planner.examples import IGNORE_INDEX, ExampleEncoder, split_validation
from vla_ros.training.planner.grounding import (
    GroundingHead,
    ImageTokenTap,
    ReferenceHead,
    landmark_colour,
)
from vla_ros.training.planner.samples import load_samples
from vla_ros.training.planner.tiny_vlm import (
    answer_tokens,
    build_model,
    build_processor,
    train_tokenizer,
    transfer_weights,
)

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
LOG_FILE = "training_log.jsonl"
RUN_FILE = "training.json"


def learning_rate_factor(step: int, warmup_steps: int, max_steps: int) -> float:
    """Linear warm-up from 0 to 1 over ``warmup_steps``, then cosine decay to 0 at ``max_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class AnswerLoss:
    """Cross-entropy on the answer tokens; a coordinate token's target is a Gaussian over coordinates.

    With ``sigma`` > 0 the target of a coordinate token (``0.00`` ... ``1.00``) spreads over the
    neighbouring coordinate tokens with weights exp(-(u - v)^2 / (2 sigma^2)), as RVT's heatmaps
    use a Gaussian around the true pixel: an answer one step off costs little, one far off much.
    """

    def __init__(self, tokenizer: Any, decimals: int, sigma: float) -> None:
        numbers = answer_tokens(decimals)[: 10**decimals + 1]
        self.ids = torch.tensor(tokenizer.convert_tokens_to_ids(numbers))
        self.values = torch.tensor([float(number) for number in numbers])
        self.index = torch.full((len(tokenizer),), -1, dtype=torch.long)
        self.index[self.ids] = torch.arange(len(numbers))
        self.sigma = sigma

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean loss over the labelled positions (labels not yet shifted)."""
        labels = labels[:, 1:].to(logits.device)
        mask = labels != IGNORE_INDEX
        log_probs = torch.log_softmax(logits[:, :-1][mask].float(), dim=-1)
        targets = labels[mask]
        losses = -log_probs.gather(1, targets[:, None]).squeeze(1)
        number = self.index.to(targets.device)[targets]
        is_number = number >= 0
        if self.sigma > 0 and bool(is_number.any()):
            values = self.values.to(logits.device)
            offsets = values[None, :] - values[number[is_number]][:, None]
            weights = torch.softmax(-(offsets**2) / (2 * self.sigma**2), dim=1)
            soft = -(weights * log_probs[is_number][:, self.ids.to(logits.device)]).sum(dim=1)
            losses = losses.masked_scatter(is_number, soft)
        return losses.mean()


@dataclass(frozen=True)
class TrainingRun:
    """What one call of :func:`train_planner` is asked to do."""

    data: tuple[Path, ...]
    out: Path
    val_data: tuple[Path, ...] = ()
    device: str = "cpu"
    seed: int = 0
    resume: bool = False
    keep_checkpoint: bool = False
    progress: bool = True
    stop_after: int | None = None
    init_from: Path | None = None


class PlannerTrainer:
    """Holds model, optimiser and data for one run; :meth:`run` trains to ``max_steps``."""

    def __init__(self, run: TrainingRun, config: TrainingConfig, planner_config: PlannerConfig) -> None:
        if config.model.coordinate_decimals != planner_config.answer_decimals:
            raise TrainingConfigError(
                f"model.coordinate_decimals ({config.model.coordinate_decimals}) must equal the planner's "
                f"answer_decimals ({planner_config.answer_decimals})"
            )
        self.run_spec, self.config, self.planner_config = run, config, planner_config
        self.device = torch.device(run.device)
        samples = load_samples(run.data, planner_config.parser)
        if run.val_data:
            self.train_samples, self.val_samples = samples, load_samples(run.val_data, planner_config.parser)
        else:
            self.train_samples, self.val_samples = split_validation(
                samples, config.validation.fraction, run.seed
            )
        state_path = run.out / CHECKPOINT_DIR / STATE_FILE
        if run.resume:
            if not state_path.is_file():
                raise TrainingError(f"nothing to resume: {state_path} does not exist")
            self.processor = AutoProcessor.from_pretrained(run.out, local_files_only=True)
            self.model = AutoModelForImageTextToText.from_pretrained(run.out, local_files_only=True)
        elif run.init_from is not None:
            self.processor, self.model = self._warm_start(run.init_from)
        else:
            texts = [build_prompt(planner_config.prompt_template, s.instruction) for s in self.train_samples]
            texts += [format_answer(s.label, planner_config.answer_decimals) for s in self.train_samples]
            if config.pointing.enabled:
                texts += [
                    config.pointing.prompt.replace("{object}", landmark.description)
                    for s in self.train_samples
                    for landmark in s.landmarks
                ]
            whole = (
                planner_config.prompt_template.split(INSTRUCTION_PLACEHOLDER)
                if config.template_tokens
                else []
            )
            tokenizer = train_tokenizer(
                texts,
                config.model.vocab_size,
                config.model.coordinate_decimals,
                [part.strip() for part in whole],
            )
            self.processor = build_processor(tokenizer, config.model)
            self.model = build_model(tokenizer, config.model, run.seed)
        self.model.to(self.device)
        state = torch.load(state_path, map_location=self.device, weights_only=False) if run.resume else None
        self.grounding_head, self.reference_head, self.image_tap = self._grounding(state)
        grounding = (
            None
            if self.grounding_head is None
            else (
                self.grounding_head.colours,
                config.model.image_size // config.model.patch_size,
                config.grounding.sigma_patches,
            )
        )
        self.encoder = ExampleEncoder(self.processor, planner_config, config.pointing, grounding)
        self.loss = AnswerLoss(
            self.processor.tokenizer, config.model.coordinate_decimals, config.coordinate_sigma
        )
        parameters = list(self.model.parameters())
        for head in (self.grounding_head, self.reference_head):
            parameters += [] if head is None else list(head.parameters())
        self.optimizer = torch.optim.AdamW(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: learning_rate_factor(step, config.warmup_steps, config.max_steps)
        )
        self.step = 0
        self.rng = np.random.default_rng(run.seed)
        self.elapsed_s = 0.0
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.step, self.elapsed_s = state["step"], state["elapsed_s"]
            if self.grounding_head is not None and self.reference_head is not None:
                self.grounding_head.load_state_dict(state["grounding_head"])
                self.reference_head.load_state_dict(state["reference_head"])
            self.rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"])
        else:
            torch.manual_seed(run.seed)

    def _grounding(
        self, state: dict[str, Any] | None
    ) -> tuple[GroundingHead | None, ReferenceHead | None, ImageTokenTap | None]:
        """The grounding head (colours of the training landmarks, or of the resumed run's ``state``),
        the reference head and the tap on the projector's image tokens; none when grounding is off or
        no sample has landmarks."""
        if not self.config.grounding.enabled:
            return None, None, None
        if state is not None:
            colours = state.get("grounding_colours")
        else:
            colours = sorted({landmark_colour(item) for s in self.train_samples for item in s.landmarks})
        if not colours:
            return None, None, None
        width = self.config.model.text_width
        return (
            GroundingHead(width, colours).to(self.device),
            ReferenceHead(width, 10**self.config.model.coordinate_decimals + 1).to(self.device),
            ImageTokenTap(self.model.model.multi_modal_projector),
        )

    def _warm_start(self, model_dir: Path) -> tuple[Any, Any]:
        """Tokenizer and weights of a trained model, at this configuration's image size."""
        tokenizer = AutoProcessor.from_pretrained(model_dir, local_files_only=True).tokenizer
        processor = build_processor(tokenizer, self.config.model)
        model = build_model(tokenizer, self.config.model, self.run_spec.seed)
        source = AutoModelForImageTextToText.from_pretrained(model_dir, local_files_only=True)
        transfer_weights(source, model)
        return processor, model

    def run(self) -> dict[str, Any]:
        """Train to ``max_steps`` with checkpoints and validations; return the final validation."""
        out, config = self.run_spec.out, self.config
        out.mkdir(parents=True, exist_ok=True)
        self._write_run_file(finished=False)
        started = time.perf_counter() - self.elapsed_s
        batches = self._batch_indices()
        bar = tqdm(
            total=config.max_steps,
            initial=self.step,
            desc="train-planner",
            disable=not self.run_spec.progress,
        )
        losses: list[float] = []
        end = (
            config.max_steps
            if self.run_spec.stop_after is None
            else min(self.run_spec.stop_after, config.max_steps)
        )
        while self.step < end:
            self.model.train()
            batch = self.encoder.batch(
                [self.train_samples[i] for i in next(batches)], config.augmentation, self.rng
            )
            loss = self._batch_loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            self.elapsed_s = time.perf_counter() - started
            last = self.step == end
            validate = last or (config.validation.every and self.step % config.validation.every == 0)
            if last or validate or self.step % config.checkpoint_every == 0:
                self._checkpoint()
                record: dict[str, Any] = {
                    "step": self.step,
                    "train_loss": float(np.mean(losses)),
                    "learning_rate": self.scheduler.get_last_lr()[0],
                    "elapsed_s": round(self.elapsed_s, 1),
                }
                losses = []
                if validate:
                    record.update(self.validate())
                    self.model.to(self.device)
                    bar.write(json.dumps(record))
                with (out / LOG_FILE).open("a") as stream:
                    stream.write(json.dumps(record) + "\n")
        bar.close()
        finished = self.step >= config.max_steps
        if finished and not self.run_spec.keep_checkpoint:
            shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
        final = self._last_validation()
        self._write_run_file(finished=finished, final=final)
        return final

    def validate(self) -> dict[str, Any]:
        """Teacher-forced loss on all validation episodes, greedy answers on up to max_episodes."""
        self.model.eval()
        losses = []
        with torch.inference_mode():
            for start in range(0, len(self.val_samples), self.config.batch_size):
                batch = self.encoder.batch(
                    self.val_samples[start : start + self.config.batch_size], None, self.rng
                )
                losses.append(float(self._batch_loss(batch)))
        answered = self.val_samples[: self.config.validation.max_episodes]
        results = evaluate_model(
            self.run_spec.out,
            answered,
            self.planner_config,
            self.config.resample_points,
            self.run_spec.device,
            progress=False,
        )
        return {"val_loss": float(np.mean(losses)), **{f"val_{k}": v for k, v in summarise(results).items()}}

    def _batch_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Answer loss, plus the weighted grounding loss when it is trained."""
        inputs = {
            key: value.to(self.device)
            for key, value in batch.items()
            if key not in ("labels", "grounding_targets", "reference_targets")
        }
        grounding = self.config.grounding
        if self.grounding_head is None or self.reference_head is None or self.image_tap is None:
            return self.loss(self.model(**inputs).logits, batch["labels"])
        output = self.model(**inputs, output_hidden_states=True)
        seen = self.grounding_head.loss(self.image_tap.patch_features(), batch["grounding_targets"])
        named = self.reference_head.loss(
            output.hidden_states[-1], batch["reference_targets"], grounding.reference_sigma
        )
        return (
            self.loss(output.logits, batch["labels"])
            + grounding.weight * seen
            + grounding.reference_weight * named
        )

    def _batch_indices(self) -> Iterator[np.ndarray]:
        """Endless shuffled epochs of batch indices (the last partial batch of an epoch dropped)."""
        size = min(self.config.batch_size, len(self.train_samples))
        while True:
            order = self.rng.permutation(len(self.train_samples))
            for start in range(0, len(order) - size + 1, size):
                yield order[start : start + size]

    def _checkpoint(self) -> None:
        """Save the model directory (loadable at once) and the optimiser state beside it."""
        out = self.run_spec.out
        self.processor.save_pretrained(out)
        self.model.save_pretrained(out)
        (out / CHECKPOINT_DIR).mkdir(exist_ok=True)
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        if self.grounding_head is not None:
            state["grounding_head"] = self.grounding_head.state_dict()
            state["reference_head"] = self.reference_head.state_dict()  # type: ignore[union-attr]
            state["grounding_colours"] = list(self.grounding_head.colours)
        torch.save(state, out / CHECKPOINT_DIR / STATE_FILE)

    def _last_validation(self) -> dict[str, Any]:
        lines = (self.run_spec.out / LOG_FILE).read_text().splitlines()
        return next(json.loads(line) for line in reversed(lines) if "val_loss" in json.loads(line))

    def _write_run_file(self, finished: bool, final: dict[str, Any] | None = None) -> None:
        record = {
            "command": sys.argv,
            "data": [str(p) for p in self.run_spec.data],
            "val_data": [str(p) for p in self.run_spec.val_data],
            "init_from": None if self.run_spec.init_from is None else str(self.run_spec.init_from),
            "train_episodes": len(self.train_samples),
            "val_episodes": len(self.val_samples),
            "seed": self.run_spec.seed,
            "device": self.run_spec.device,
            "threads": torch.get_num_threads(),
            "config": asdict(self.config),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "finished": finished,
            "steps": self.step,
            "training_seconds": round(self.elapsed_s, 1),
            "final_validation": final,
            "machine": machine_info(),
        }
        (self.run_spec.out / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n")


def train_planner(run: TrainingRun, config: TrainingConfig, planner_config: PlannerConfig) -> dict[str, Any]:
    """Train (or resume) a planner model into ``run.out``; returns the final validation record."""
    return PlannerTrainer(run, config, planner_config).run()


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    run = TrainingRun(
        data=tuple(args.data),
        out=args.out,
        val_data=tuple(args.val_data or ()),
        device=args.device,
        seed=args.seed,
        resume=args.resume,
        keep_checkpoint=args.keep_checkpoint,
        stop_after=args.stop_after,
        init_from=args.init_from,
    )
    config = load_training_config(args.config)
    if args.max_steps is not None:
        config = dataclasses.replace(config, max_steps=args.max_steps)
    final = train_planner(run, config, load_planner_config(args.planner_config))
    print(json.dumps(final))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train-planner`` subcommand."""
    parser = subparsers.add_parser(
        "train-planner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="training dataset directories")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument(
        "--val-data", type=Path, nargs="+", help="validation datasets (default: a share of --data)"
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of initialisation, split, shuffling, augmentation"
    )
    parser.add_argument("--resume", action="store_true", help="go on from the checkpoint in --out")
    parser.add_argument(
        "--init-from",
        type=Path,
        help="start from this trained model's tokenizer and weights (its widths and vision depth must "
        "match the config; a new image_size resizes the vision position grid, more text_layers are "
        "added after the trained ones, starting as no-ops) instead of random weights",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        help="train to this step instead of the config's max_steps (the cosine schedule ends there); "
        "resuming with a larger value restarts the decay from that point of the longer schedule",
    )
    parser.add_argument(
        "--stop-after", type=int, help="stop at this step (checkpoint kept, --resume goes on from it)"
    )
    parser.add_argument(
        "--keep-checkpoint", action="store_true", help="keep the optimiser state after the last step"
    )
    parser.add_argument(
        "--config",
        nargs="+",
        default=["planner_training.yaml"],
        help="training parameter file(s), later ones overriding earlier ones",
    )
    parser.add_argument("--planner-config", default="planner.yaml", help="planner parameter file")
    parser.set_defaults(func=_run)
