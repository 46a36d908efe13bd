"""Quick start: build a construction, run it as a transformer, check every fact, save and reload.

Run with ``python examples/quickstart.py``.
"""

import tempfile
from pathlib import Path

from geoconstruct import construct_single_hop, proven_dimension
from geoconstruct.io import load, save

# 2,000 subjects, 4 relations: the block layout with 8-bit grid codes, at its smallest d.
grid = {"layout": "block", "codebook": "grid"}
d = proven_dimension(2_000, 4, **grid)
construction = construct_single_hop(n_subjects=2_000, n_relations=4, d=d, seed=0, **grid)
print(f"d_model = {construction.config.d_model}, d_mlp = {construction.config.d_mlp}")

# The forward pass on all 8,000 prompts [subject, relation] -> attribute: every fact recalled.
report = construction.recall()
assert report.all_correct and report.n_queries == report.n_facts == 8_000
print(f"recalled {report.n_correct} of {report.n_facts} facts, min margin {report.min_margin}")

# Ask a few questions directly: attribute ids, as the model answers them.
predicted = construction.predict([0, 1, 2], [3, 3, 3]).tolist()
truth = construction.facts.answer([0, 1, 2], [3, 3, 3]).tolist()
assert predicted == truth
print("model  :", predicted)
print("truth  :", truth)

# The MLP is a selector, not a key-value table: its size does not depend on N.
count = construction.parameter_count
print(f"MLP parameters {count.mlp}, fact-dependent parameters {count.fact_dependent}")

# Save, reload, and check the reloaded model recalls the same facts.
with tempfile.TemporaryDirectory() as folder:
    reloaded = load(save(construction, Path(folder) / "construction.npz"))
    assert reloaded.recall() == report
print("saved and reloaded: identical recall report")
