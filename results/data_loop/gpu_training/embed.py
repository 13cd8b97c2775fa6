"""Here: the embeddings of every instruction of the given datasets, for the device run."""

import json
import sys
from pathlib import Path

from vla_ros.policy.language import InstructionEncoder

encoder = InstructionEncoder("cpu")
instructions = sorted(
    {
        json.loads(meta.read_text())["instruction"]
        for root in sys.argv[1:]
        for meta in Path(root).glob("*/meta.json")
    }
)
Path(".devdata/embeddings.json").write_text(json.dumps({i: encoder(i).tolist() for i in instructions}))
print(len(instructions), "instructions")
