"""Every kind of construction goes through the same interface: save, load, recall, TransformerLens.

One parametrised test over single hop (each layout and codebook), multi-hop (one pass and chain of
thought) and both baselines: the file round trip is byte-identical, the loaded construction
recalls every fact through the forward pass, and TransformerLens, given the loaded weights,
answers every query too.
"""

import numpy as np
import pytest
import torch

from geoconstruct import (
    Construction,
    construct_baseline,
    construct_disjoint,
    construct_multi_hop,
    construct_single_hop,
    disjoint_dimension,
    multi_hop_dimension,
    proven_dimension,
)
from geoconstruct.io import load, save, to_transformer_lens


def single_hop(layout, codebook):
    def build():
        d = proven_dimension(120, 3, layout=layout, codebook=codebook)
        return construct_single_hop(120, 3, d, layout=layout, codebook=codebook, seed=5)

    return build


def multi_hop(hops, steps):
    def build():
        d = multi_hop_dimension(40, 2, hops, steps)
        return construct_multi_hop(40, 2, hops, steps, d, seed=5)

    return build


def baseline(kind):
    return lambda: construct_baseline(100, 3, kind, seed=5)


KINDS = {
    "single_hop-block-grid": single_hop("block", "grid"),
    "single_hop-block-gaussian": single_hop("block", "gaussian"),
    "single_hop-block-rademacher": single_hop("block", "rademacher"),
    "single_hop-block-bch": single_hop("block", "bch"),
    "single_hop-superposed-gaussian": single_hop("superposed", "gaussian"),
    "single_hop-superposed-rademacher": single_hop("superposed", "rademacher"),
    "single_hop-superposed-bch": single_hop("superposed", "bch"),
    "multi_hop-one_pass": multi_hop(3, 1),
    "multi_hop-chain_of_thought": multi_hop(3, 3),
    "disjoint-grid": lambda: construct_disjoint(100, 3, disjoint_dimension(100, 3), seed=5),
    "disjoint-gaussian": lambda: construct_disjoint(
        100, 3, disjoint_dimension(100, 3, codebook="gaussian"), codebook="gaussian", seed=5
    ),
    "key_value": baseline("key_value"),
    "outer_product": baseline("outer_product"),
}


def transformer_lens_answers(construction):
    """The answer TransformerLens gives to every query, and the true answers."""
    model = to_transformer_lens(construction)

    def argmax(tokens):
        with torch.no_grad():
            logits = model(torch.from_numpy(np.ascontiguousarray(tokens)))
        return logits[:, -1].argmax(-1).numpy()

    if construction.kind != "multi_hop":
        tokens, answers = construction.prompts()
        return argmax(tokens), answers
    queries, facts = construction.queries, construction.facts
    g = construction.metadata.hops_per_pass
    entities, chains = queries.queries(construction)
    padded = np.full((entities.size, queries.n_passes * g), facts.n_relations)
    padded[:, : chains.shape[1]] = chains
    current = entities
    for step in range(queries.n_passes):
        relation_tokens = padded[:, step * g : (step + 1) * g] + facts.n_subjects
        current = argmax(np.concatenate([relation_tokens, current[:, None]], axis=1))
    return current, queries.answers(construction, entities, chains)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_saves_loads_recalls_and_runs_in_transformer_lens(kind, tmp_path):
    original = KINDS[kind]()
    assert isinstance(original, Construction)
    loaded = load(save(original, tmp_path / "construction.npz"))

    assert (loaded.kind, loaded.config, loaded.seed) == (original.kind, original.config, 5)
    assert loaded.facts == original.facts and loaded.residual == original.residual
    assert loaded.guarantee == original.guarantee and loaded.guarantee.proved
    assert loaded.weights.keys() == original.weights.keys()
    for name, array in original.weights.items():
        assert loaded.weights[name].dtype == array.dtype
        assert loaded.weights[name].tobytes() == array.tobytes(), name

    report = loaded.recall()
    assert report.n_queries == loaded.total_queries
    assert report.n_correct == report.n_queries, report.failures
    assert report.n_facts == loaded.facts.n_facts

    predicted, answers = transformer_lens_answers(loaded)
    assert predicted.size == loaded.total_queries
    assert np.array_equal(predicted, answers)  # 100 % through TransformerLens
