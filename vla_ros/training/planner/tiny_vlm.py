"""A tiny LLaVA-style image-text-to-text model built offline, saved as a standard transformers model.

CLIP vision tower + Llama text model at small size, a byte-level BPE tokenizer trained with
``tokenizers`` on the given texts, a ``LlavaProcessor`` with a Jinja chat template. The tokenizer
also holds HAMSTER's answer vocabulary as whole tokens: every coordinate ``0.00`` ... ``1.00`` (at the
answer's number of decimals) and the two gripper actions, so a coordinate is one token (a class) and
answers stay short. The directory
written by :func:`build_tiny_llava` loads with ``AutoProcessor`` and
``AutoModelForImageTextToText`` exactly as a downloaded VLM would. Weights are random until trained.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from vla_ros.planning.hamster_format import CLOSE_GRIPPER, OPEN_GRIPPER

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>", IMAGE_TOKEN)
# "role: content" lines; image parts become the image token, which the processor expands.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- message['role'] + ': ' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '" + IMAGE_TOKEN + "' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- 'assistant: ' -}}{%- endif -%}"
)


@dataclass(frozen=True)
class TinyVlmSpec:
    """Sizes of the tiny model (square input images of ``image_size`` pixels).

    ``coordinate_decimals`` is the number of decimals of the answer's coordinates that get one
    token each (``10**decimals + 1`` tokens for 0 to 1).
    """

    image_size: int = 32
    patch_size: int = 8
    vision_width: int = 32
    vision_layers: int = 2
    text_width: int = 64
    text_layers: int = 2
    attention_heads: int = 2
    vocab_size: int = 400
    max_positions: int = 1024
    coordinate_decimals: int = 2

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )
        if self.vision_width % self.attention_heads or self.text_width % self.attention_heads:
            raise ValueError("vision_width and text_width must be multiples of attention_heads")
        if not 0 <= self.coordinate_decimals <= 3:
            raise ValueError(f"coordinate_decimals must be in [0, 3], got {self.coordinate_decimals}")


def answer_tokens(decimals: int) -> list[str]:
    """The answer's whole-word tokens: the coordinates from 0 to 1 at ``decimals`` and the actions."""
    steps = 10**decimals
    return [f"{value / steps:.{decimals}f}" for value in range(steps + 1)] + [OPEN_GRIPPER, CLOSE_GRIPPER]


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, decimals: int = 2, whole_texts: Sequence[str] = ()
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer (any text stays encodable) with the special tokens above.

    The answer tokens of :func:`answer_tokens` are added whole (matched before the BPE splits the
    text), so ``0.53`` is one token; other numbers still encode byte by byte. ``whole_texts``
    (for example the fixed parts of a prompt template) are added whole as well.
    """
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    added = [*answer_tokens(decimals), *(text for text in whole_texts if text)]
    tokenizer.add_tokens([AddedToken(token, normalized=False) for token in added])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )


def build_processor(tokenizer: PreTrainedTokenizerFast, spec: TinyVlmSpec) -> LlavaProcessor:
    """A LlavaProcessor that resizes the whole image (no crop) to the model's square input."""
    image_processor = CLIPImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size},
        do_center_crop=False,
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=spec.patch_size,
        vision_feature_select_strategy="full",
        num_additional_image_tokens=1,  # the CLS token, kept by the "full" strategy
        chat_template=CHAT_TEMPLATE,
    )


def build_model(
    tokenizer: PreTrainedTokenizerFast, spec: TinyVlmSpec, seed: int = 0
) -> LlavaForConditionalGeneration:
    """A randomly initialised tiny LLaVA (seeded by ``seed``) matching the tokenizer."""
    vision = CLIPVisionConfig(
        hidden_size=spec.vision_width,
        intermediate_size=2 * spec.vision_width,
        num_hidden_layers=spec.vision_layers,
        num_attention_heads=spec.attention_heads,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.text_width,
        intermediate_size=2 * spec.text_width,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.attention_heads,
        num_key_value_heads=spec.attention_heads,
        max_position_embeddings=spec.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    _init_geometry(model, tokenizer, spec)
    return model.eval()


def sinusoids(values: torch.Tensor, width: int) -> torch.Tensor:
    """(N, width) sine/cosine features of values in [0, 1] at geometric frequencies (1/2 to 32 turns)."""
    frequencies = 2 * math.pi * torch.logspace(-1, 5, width // 2, base=2.0)
    angles = values[:, None] * frequencies[None, :]
    features = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return torch.nn.functional.pad(features, (0, width - features.shape[1]))


def _init_geometry(
    model: LlavaForConditionalGeneration, tokenizer: PreTrainedTokenizerFast, spec: TinyVlmSpec
) -> None:
    """Start from weights that know image geometry and the order of the coordinates.

    The vision tower's patch position embeddings get 2D sine/cosine features of the patch centre
    (x in the first half of the width, y in the second), and the coordinate tokens' input and
    output embeddings get sine/cosine features of their value, so neighbouring coordinates start
    out similar. Only the initial values change: the architecture stays the standard one.
    """
    grid = spec.image_size // spec.patch_size
    centres = (torch.arange(grid, dtype=torch.float32) + 0.5) / grid
    half = spec.vision_width // 2
    x_features = sinusoids(centres, half).repeat(grid, 1)  # row-major patches: x varies fastest
    y_features = sinusoids(centres, spec.vision_width - half).repeat_interleave(grid, dim=0)
    vision_embeddings = model.model.vision_tower.embeddings.position_embedding.weight
    scale = float(vision_embeddings.detach().std())
    numbers = answer_tokens(spec.coordinate_decimals)[:-2]
    ids = torch.tensor(tokenizer.convert_tokens_to_ids(numbers))
    values = torch.tensor([float(number) for number in numbers])
    with torch.no_grad():
        vision_embeddings[1:] = torch.cat([x_features, y_features], dim=1) * scale * math.sqrt(2)
        for weights in (model.model.language_model.embed_tokens.weight, model.lm_head.weight):
            weights[ids] = sinusoids(values, spec.text_width) * float(weights.detach().std()) * math.sqrt(2)


class WeightTransferError(ValueError):
    """A trained model's weights do not fit the new model (other widths, depths or vocabulary)."""


def transfer_weights(source: torch.nn.Module, target: LlavaForConditionalGeneration) -> list[str]:
    """Copy a trained tiny LLaVA's weights into ``target``, resizing what the image size changes and
    adding text layers where ``target`` is deeper.

    Every parameter must exist in both with the same shape, except two of the vision tower's when
    the input image size differs, and the text layers ``target`` has beyond ``source``'s. Position
    embeddings: the class-token row is copied and the square grid of patch rows is resized bilinearly
    (as ViTs are fine-tuned at a higher resolution). Patch embedding: a kernel ``m`` times larger (same
    grid, ``m`` times the pixels per patch) is the old kernel repeated ``m`` x ``m`` per weight and
    divided by ``m**2``, so on an image enlarged ``m`` times the new model starts out answering as the
    old one did. An added text layer (after the trained ones) starts as a copy of the last trained
    layer with its attention and MLP output projections zeroed: it adds nothing to the residual
    stream, so the deeper model starts out answering as the trained one did, and fine-tuning grows it.
    Returns the names of the parameters not copied as they were (resized or added).
    """
    source_state = source.state_dict()
    target_state = target.state_dict()
    added_layers = _added_text_layers(source_state.keys(), target_state.keys())
    copied_keys = target_state.keys() - added_layers.keys()
    if source_state.keys() != copied_keys:
        missing = sorted(source_state.keys() ^ copied_keys)[:5]
        raise WeightTransferError(f"the models' parameters differ: {missing}")
    position_key = next(key for key in target_state if key.endswith("embeddings.position_embedding.weight"))
    patch_key = next(key for key in target_state if key.endswith("embeddings.patch_embedding.weight"))
    changed = []
    with torch.no_grad():
        for key, value in target_state.items():
            if key in added_layers:
                copied = source_state[added_layers[key]]
                value.copy_(torch.zeros_like(copied) if key.endswith(_OUTPUT_PROJECTIONS) else copied)
                changed.append(key)
                continue
            weights = source_state[key]
            if weights.shape == value.shape:
                value.copy_(weights)
            elif key == position_key and weights.shape[1] == value.shape[1]:
                value.copy_(_resize_position_grid(weights, value.shape[0] - 1))
                changed.append(key)
            elif key == patch_key and _is_kernel_multiple(weights.shape, value.shape):
                factor = value.shape[-1] // weights.shape[-1]
                value.copy_(weights.repeat_interleave(factor, 2).repeat_interleave(factor, 3) / factor**2)
                changed.append(key)
            else:
                raise WeightTransferError(
                    f"{key}: trained shape {tuple(weights.shape)} does not fit {tuple(value.shape)}"
                )
    return changed


_TEXT_LAYER = re.compile(r"^(.*language_model\.(?:model\.)?layers\.)(\d+)(\..+)$")
_OUTPUT_PROJECTIONS = ("self_attn.o_proj.weight", "mlp.down_proj.weight")


def _added_text_layers(source_keys: Iterable[str], target_keys: Iterable[str]) -> dict[str, str]:
    """Each parameter of a text layer ``target`` has beyond ``source``'s layers -> the same parameter
    of ``source``'s last layer (empty when ``target`` is not deeper)."""

    def depth(keys: Iterable[str]) -> int:
        return 1 + max((int(match[2]) for key in keys if (match := _TEXT_LAYER.match(key))), default=-1)

    trained = depth(source_keys)
    added = {}
    for key in target_keys:
        match = _TEXT_LAYER.match(key)
        if match and trained > 0 and int(match[2]) >= trained:
            added[key] = f"{match[1]}{trained - 1}{match[3]}"
    return added


def _is_kernel_multiple(old: torch.Size, new: torch.Size) -> bool:
    """Whether conv kernel shape ``new`` is ``old`` with both spatial sizes times the same integer."""
    return (
        old[:2] == new[:2]
        and new[2] % old[2] == 0
        and new[2] // old[2] == new[3] // old[3]
        and new[3] % old[3] == 0
    )


def _resize_position_grid(weights: torch.Tensor, patches: int) -> torch.Tensor:
    """Class row + ``patches`` rows bilinearly resized from the square grid of ``weights[1:]``."""
    old_grid, new_grid = math.isqrt(weights.shape[0] - 1), math.isqrt(patches)
    if old_grid**2 != weights.shape[0] - 1 or new_grid**2 != patches:
        raise WeightTransferError("vision position embeddings are not a square grid of patches")
    grid = weights[1:].reshape(old_grid, old_grid, -1).permute(2, 0, 1)[None]
    resized = torch.nn.functional.interpolate(
        grid, size=(new_grid, new_grid), mode="bilinear", align_corners=False
    )
    return torch.cat([weights[:1], resized[0].permute(1, 2, 0).reshape(patches, -1)])


def build_tiny_llava(
    out_dir: str | Path, texts: Iterable[str], spec: TinyVlmSpec | None = None, seed: int = 0
) -> Path:
    """Build tokenizer (trained on ``texts``), processor and random model; save all to ``out_dir``."""
    spec = spec or TinyVlmSpec()
    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(texts, spec.vocab_size, spec.coordinate_decimals)
    build_processor(tokenizer, spec).save_pretrained(out_dir)
    build_model(tokenizer, spec, seed).save_pretrained(out_dir)
    return out_dir
