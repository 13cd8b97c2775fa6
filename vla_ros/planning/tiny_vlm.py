"""A tiny LLaVA-style image-text-to-text model built offline, saved as a standard transformers model.

CLIP vision tower + Llama text model at toy size, a byte-level BPE tokenizer trained with
``tokenizers`` on the given texts, a ``LlavaProcessor`` with a Jinja chat template. The directory
written by :func:`build_tiny_llava` loads with ``AutoProcessor`` and
``AutoModelForImageTextToText`` exactly as a downloaded VLM would. Weights are random until trained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

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
    """Sizes of the tiny model (square input images of ``image_size`` pixels)."""

    image_size: int = 32
    patch_size: int = 8
    vision_width: int = 32
    vision_layers: int = 2
    text_width: int = 64
    text_layers: int = 2
    attention_heads: int = 2
    vocab_size: int = 400
    max_positions: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
            )
        if self.vision_width % self.attention_heads or self.text_width % self.attention_heads:
            raise ValueError("vision_width and text_width must be multiples of attention_heads")


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer (any text stays encodable) with the special tokens above."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
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


def build_model(tokenizer: PreTrainedTokenizerFast, spec: TinyVlmSpec) -> LlavaForConditionalGeneration:
    """A randomly initialised tiny LLaVA (seeded by ``spec.seed``) matching the tokenizer."""
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
    torch.manual_seed(spec.seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def build_tiny_llava(out_dir: str | Path, texts: Iterable[str], spec: TinyVlmSpec | None = None) -> Path:
    """Build tokenizer (trained on ``texts``), processor and random model; save all to ``out_dir``."""
    spec = spec or TinyVlmSpec()
    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    build_processor(tokenizer, spec).save_pretrained(out_dir)
    build_model(tokenizer, spec).save_pretrained(out_dir)
    return out_dir
