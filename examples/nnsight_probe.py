"""Read the selector's hidden units with nnsight, through geoconstruct.io.to_torch.

Needs the nnsight extra (``pip install '.[nnsight]'``). nnsight runs the plain torch module that
``to_torch`` returns; its hidden units are checked against a numpy pass over the same weights.
(nnsight gives every Python object a ``save`` method once imported: run it in its own process.)
"""

import numpy as np
import torch
from nnsight import NNsight

from geoconstruct import construct_single_hop
from geoconstruct.io import to_torch

construction = construct_single_hop(300, 4, seed=3, dtype="float32")  # at the proved d
tokens, answers = construction.prompts()  # [N·R, 2] prompts [s, r], and their answer tokens
query = 517  # relation 1, subject 217
model = NNsight(to_torch(construction))
with model.trace(torch.from_numpy(tokens[[query]])):
    hidden = model.blocks[0].mlp.hook_post.output.save()  # [1, 2, d_mlp]: after the ReLU
    logits = model.output.save()  # [1, 2, d_vocab]

# The same hidden units in numpy: embed, attend (uniformly over [s, r]), the MLP's ReLU.
W = construction.weights
resid = W["embed.W_E"][tokens[query]] + W["pos_embed.W_pos"][:2]  # [2, d_model]
values = np.einsum("pm,hmd->hpd", resid, W["blocks.0.attn.W_V"]) + W["blocks.0.attn.b_V"][:, None]
last = resid[-1] + np.einsum("hd,hdm->m", values.mean(axis=1), W["blocks.0.attn.W_O"])
expected = np.maximum(last @ W["blocks.0.mlp.W_in"] + W["blocks.0.mlp.b_in"], 0)

difference = float(np.abs(hidden[0, -1].detach().numpy() - expected).max())
k = construction.codebook.code_length
open_keys = sorted({int(unit) // (2 * k) for unit in np.flatnonzero(expected > 0)})
answered = int(logits[0, -1].argmax()) == answers[query]
assert difference <= 1e-6 * (1 + np.abs(expected).max()), difference
assert open_keys == [int(tokens[query, 1]) - construction.vocabulary.relation_offset]
assert answered
# every selector unit: d_mlp = 2·R·k
assert hidden.shape[-1] == 2 * construction.facts.n_relations * k
print(
    f"nnsight read all {hidden.shape[-1]} hidden units (d_mlp = 2·R·k); "
    f"largest difference from numpy {difference:.1e}"
)
print(f"open selector keys {open_keys} (the prompted relation); answered: {answered}")
