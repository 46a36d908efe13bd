"""Multi-hop queries: one pass against chain of thought, and the capacity–depth trade-off.

Run with ``python examples/multi_hop.py``.
"""

from geoconstruct import construct_multi_hop, multi_hop_dimension
from geoconstruct.analysis.measurement.tradeoff import tradeoff_table
from geoconstruct.analysis.output.tables import render_table

n_entities, n_relations, hops = 1_000, 3, 3

for steps in (1, 3):  # all three hops in one pass, or one hop a pass (full chain of thought)
    d = multi_hop_dimension(n_entities, n_relations, hops, steps)
    construction = construct_multi_hop(n_entities, n_relations, hops, steps, d, seed=0)
    report = construction.recall()  # every query; in chain of thought every intermediate too
    bound = construction.metadata.attention_bound
    assert report.all_correct and report.n_queries == n_entities * n_relations**hops
    print(
        f"H={hops}, L={steps}: d={d}, entity d_s={construction.residual.size('subject')}, "
        f"{len(report.pass_correct)} pass(es), "
        f"recalled {report.n_correct:,}/{report.n_queries:,}, "
        f"right per pass {report.pass_correct}, attention leakage <= {bound.leakage_bound:.2g}"
    )

# Ask the chain-of-thought model one query by hand; each pass answers one intermediate entity.
entities, chains = [7], [[0, 1, 2]]
predicted, margins = construction.queries.run(construction, entities, chains)
truth = [
    int(construction.queries.answers(construction, entities, [chains[0][: h + 1]])[0])
    for h in range(hops)
]
assert predicted[0].tolist() == truth
print(f"chain (0, 1, 2) from entity 7: the passes answer {predicted[0].tolist()}, truth {truth}")

# The trade-off: d_s against the per-pass lower bound for every H and L, grid codes at int8.
rows = tradeoff_table(4096, 4, [1, 2, 3], precision="int8", sample_size=2_000)
assert all(row.recall_accuracy == 1.0 for row in rows)
print(render_table(rows))
