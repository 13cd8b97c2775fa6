"""Device-only: vla-ros train-policy with the instruction embeddings computed on the CPU machine (the
MiniLM package does not travel), looked up by instruction."""

import json
import sys
from pathlib import Path

import numpy as np

import vla_ros.training.policy.train as train
from vla_ros.cli import main

TABLE = json.loads(Path(".devdata/embeddings.json").read_text())


class PrecomputedEncoder:
    dim = len(next(iter(TABLE.values())))

    def __init__(self, device: str = "cpu") -> None:
        pass

    def __call__(self, instruction: str) -> np.ndarray:
        return np.asarray(TABLE[instruction], dtype=np.float32)


train.InstructionEncoder = PrecomputedEncoder
sys.exit(main())
