"""A construction saved, loaded, and run by TransformerLens itself (optional extra ``tl``).

Run with ``python examples/transformer_lens_round_trip.py``.
"""

import tempfile
from pathlib import Path

import numpy as np
import torch

from geoconstruct import (
    construct_multi_hop,
    construct_single_hop,
    multi_hop_dimension,
    proven_dimension,
)
from geoconstruct.io import load, save, to_transformer_lens

construction = construct_single_hop(2_000, 4, proven_dimension(2_000, 4), seed=0)
with tempfile.TemporaryDirectory() as folder:
    loaded = load(save(construction, Path(folder) / "facts.npz"))  # validated before it is built
assert loaded.recall().all_correct
print(f"loaded: {loaded.config.d_model=}, {loaded.recall().accuracy=}")

model = to_transformer_lens(loaded)  # TransformerLens 4's native bridge, weights converted by TL
tokens, answers = loaded.prompts()
with torch.no_grad():
    logits = model(torch.from_numpy(tokens))  # [batch, pos, d_vocab]
recalled = int((logits[:, -1].argmax(-1).numpy() == answers).sum())
assert recalled == len(answers)
print(f"TransformerLens recalls {recalled:,} / {len(answers):,} facts")

# Chain of thought with TransformerLens in the loop: each pass's answer is the next entity token.
n, n_relations, hops = 500, 3, 3
cot = construct_multi_hop(
    n, n_relations, hops, hops, multi_hop_dimension(n, n_relations, hops, hops)
)
model = to_transformer_lens(cot)
entities, chains = cot.queries.queries(cot)
current = entities
for step in range(hops):
    prompt = np.concatenate([chains[:, step : step + 1] + n, current[:, None]], axis=1)
    with torch.no_grad():
        current = model(torch.from_numpy(prompt))[:, -1].argmax(-1).numpy()
right = int((current == cot.queries.answers(cot, entities, chains)).sum())
assert right == len(entities)
print(
    f"TransformerLens answers {right:,} / {len(entities):,} three-hop queries by chain of thought"
)
