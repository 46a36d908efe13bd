"""TransformerLens itself runs the constructions and recalls every fact (optional extra ``tl``).

The test extra installs TransformerLens and torch, so these tests run in CI; without them the
imports below fail the module loudly rather than skip it.
"""

import numpy as np
import pytest
import torch

from geoconstruct import (
    construct_multi_hop,
    construct_single_hop,
    multi_hop_dimension,
    proven_dimension,
)
from geoconstruct.constructions.baselines import construct_baseline
from geoconstruct.io import to_transformer_lens, transformer_lens_state_dict
from geoconstruct.model.transformer import forward


def transformer_lens_logits(model, tokens):
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(tokens))).numpy()


@pytest.mark.parametrize(
    ("layout", "codebook", "dtype"),
    [
        ("block", "grid", "float64"),
        ("block", "gaussian", "float32"),
        ("superposed", "gaussian", "float64"),
        ("superposed", "bch", "float32"),
    ],
)
def test_transformer_lens_recalls_every_single_hop_fact(layout, codebook, dtype):
    n_subjects, n_relations = 400, 3
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    construction = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=2, dtype=dtype
    )
    model = to_transformer_lens(construction)
    tokens, answers = construction.prompts()
    logits = transformer_lens_logits(model, tokens)
    assert logits.shape == (n_subjects * n_relations, 2, construction.config.d_vocab)
    assert np.array_equal(logits[:, -1].argmax(-1), answers)  # every fact
    # and the same numbers as the library's forward pass, up to rounding
    ours = forward(construction.weights, construction.config, tokens[:200])
    tolerance = 1e-9 if dtype == "float64" else 2e-3
    assert np.allclose(logits[:200], ours, rtol=0, atol=tolerance * np.abs(ours).max())


def test_transformer_lens_runs_the_chain_of_thought_loop():
    """Every pass of every 3-hop query, with TransformerLens as the model in the loop."""
    n, n_relations, hops = 120, 3, 3
    construction = construct_multi_hop(
        n, n_relations, hops, hops, multi_hop_dimension(n, n_relations, hops, hops), seed=4
    )
    model = to_transformer_lens(construction)
    entities, chains = construction.queries.queries(construction)
    current = entities
    for step in range(hops):
        relation_tokens = chains[:, step : step + 1] + n
        tokens = np.concatenate([relation_tokens, current[:, None]], axis=1)
        current = transformer_lens_logits(model, tokens)[:, -1].argmax(-1)
        assert np.array_equal(
            current, construction.queries.answers(construction, entities, chains[:, : step + 1])
        )
    assert current.size == n * n_relations**hops


def test_transformer_lens_answers_in_a_single_pass():
    n, n_relations, hops = 64, 2, 3
    construction = construct_multi_hop(
        n, n_relations, hops, 1, multi_hop_dimension(n, n_relations, hops, 1), seed=1
    )
    model = to_transformer_lens(construction)
    entities, chains = construction.queries.queries(construction)
    tokens = np.concatenate([chains + n, entities[:, None]], axis=1)
    predicted = transformer_lens_logits(model, tokens)[:, -1].argmax(-1)
    assert np.array_equal(predicted, construction.queries.answers(construction, entities, chains))


def test_baselines_run_in_transformer_lens_too():
    memory = construct_baseline(300, 2, "key_value", seed=0)
    tokens, answers = memory.prompts()
    logits = transformer_lens_logits(to_transformer_lens(memory), tokens)
    assert np.array_equal(logits[:, -1].argmax(-1), answers)


def test_the_state_dict_has_transformer_lens_names_and_the_weights():
    construction = construct_single_hop(100, 2, proven_dimension(100, 2), seed=0)
    state = transformer_lens_state_dict(construction)
    assert set(state) == set(construction.weights)
    for name, tensor in state.items():
        assert isinstance(tensor, torch.Tensor)
        assert tensor.numpy().tobytes() == construction.weights[name].tobytes()
