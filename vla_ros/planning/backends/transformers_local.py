"""The transformers backend: a local image-text-to-text model directory, run with ``generate``.

Any model that ``AutoProcessor`` and ``AutoModelForImageTextToText`` (or, on transformers 4,
``AutoModelForVision2Seq``) load works: a large pretrained VLM or the small planner trained here.
Nothing is downloaded: every ``from_pretrained`` call is ``local_files_only``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from PIL import Image

from vla_ros.config import resolve_package_path
from vla_ros.planning.backends.base import PlannerAnswer, PlannerBackend
from vla_ros.planning.errors import BackendError, ModelLoadError
from vla_ros.planning.images import check_rgb_image
from vla_ros.planning.settings import TransformersBackendConfig

MODEL_CLASS_NAMES = ("AutoModelForImageTextToText", "AutoModelForVision2Seq")


class TransformersBackend(PlannerBackend):
    """Loads the model and processor once, then answers with greedy (or sampled) generation."""

    name = "transformers"

    def __init__(self, config: TransformersBackendConfig) -> None:
        self.config = config
        model_dir = resolve_package_path(config.model_dir)
        if not config.model_dir or not (model_dir / "config.json").is_file():
            raise ModelLoadError(
                f"not a model directory (no config.json): {config.model_dir!r}; give a local directory "
                "saved with save_pretrained (models are never downloaded)"
            )
        if config.cpu_threads > 0:
            torch.set_num_threads(config.cpu_threads)  # process-wide: the planner runs in its own process
        try:
            self.device = torch.device(config.device)
        except RuntimeError as error:
            raise ModelLoadError(f"not a torch device: {config.device!r}") from error
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelLoadError(f"cannot load a processor from {model_dir}: {error}") from error
        if not getattr(self.processor, "chat_template", None):
            raise ModelLoadError(f"the processor in {model_dir} has no chat template")
        model = _load_model(model_dir, config.dtype)
        try:
            self.model = model.to(self.device).eval()
        except (RuntimeError, AssertionError) as error:  # torch asserts when CUDA is missing
            raise ModelLoadError(f"cannot move the model to {config.device!r}: {error}") from error

    @property
    def deterministic(self) -> bool:
        """Greedy decoding without a sampled retry (``retry_temperature`` 0) always answers the same."""
        return not self.config.do_sample and self.config.retry_temperature == 0

    @property
    def description(self) -> str:
        """The backend's name and its model directory."""
        return f"{self.name}:{self.config.model_dir}"

    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Generate an answer; only the newly generated tokens are decoded."""
        return self._generate(image_rgb, prompt, self.config.do_sample, self.config.temperature)

    def plan_again(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Answer again after an answer that did not parse: greedy decoding would repeat it, so sample
        at ``retry_temperature`` (where that is 0, the same as :meth:`plan`)."""
        if self.config.do_sample or self.config.retry_temperature == 0:
            return self.plan(image_rgb, prompt)
        return self._generate(image_rgb, prompt, True, self.config.retry_temperature)

    def _generate(
        self, image_rgb: np.ndarray, prompt: str, do_sample: bool, temperature: float
    ) -> PlannerAnswer:
        start = time.perf_counter()
        image = Image.fromarray(check_rgb_image(image_rgb))
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(images=[image], text=[text], return_tensors="pt")
        inputs = {key: self._to_device(value) for key, value in inputs.items()}
        try:
            with torch.inference_mode():
                output = self.model.generate(**inputs, **self._generation_kwargs(do_sample, temperature))
        except (RuntimeError, ValueError) as error:
            raise BackendError(f"generation failed: {error}") from error
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        answer = self.processor.batch_decode(new_tokens, skip_special_tokens=True)[0]
        return PlannerAnswer(answer, time.perf_counter() - start, self.name)

    def _generation_kwargs(self, do_sample: bool, temperature: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.config.max_new_tokens, "do_sample": do_sample}
        if do_sample:
            kwargs["temperature"] = temperature
        return kwargs

    def _to_device(self, value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return value
        if value.is_floating_point():
            return value.to(self.device, dtype=self.model.dtype)
        return value.to(self.device)


def _load_model(model_dir: Path, dtype: str) -> torch.nn.Module:
    """Load with the first auto class of :data:`MODEL_CLASS_NAMES` this transformers has that fits."""
    torch_dtype: Any = dtype if dtype == "auto" else getattr(torch, dtype)
    errors = []
    for class_name in MODEL_CLASS_NAMES:
        auto_class = getattr(transformers, class_name, None)
        if auto_class is None:
            continue
        try:
            return auto_class.from_pretrained(model_dir, local_files_only=True, dtype=torch_dtype)
        except (OSError, ValueError, KeyError) as error:
            errors.append(f"{class_name}: {error}")
    raise ModelLoadError(f"cannot load an image-text-to-text model from {model_dir}: " + "; ".join(errors))
