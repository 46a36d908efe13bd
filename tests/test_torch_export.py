"""``geoconstruct.io.to_torch``: a plain torch module whose forward pass is the library's.

nnsight reading the selector's hidden units through it is ``examples/nnsight_probe.py``, run in
its own process by tests/test_examples.py (nnsight gives every object a ``save`` method once
imported, which would leak into the other tests of a worker)."""

import numpy as np
import pytest
import torch  # the test extra installs torch: a missing torch fails, never skips
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_baseline, construct_multi_hop, construct_single_hop
from geoconstruct.io import to_torch
from geoconstruct.model.transformer import forward

LAYOUT_CODEBOOKS = [("superposed", "gaussian"), ("block", "grid"), ("superposed", "bch")]


@settings(max_examples=10, deadline=None)
@given(
    setting=st.sampled_from(LAYOUT_CODEBOOKS),
    n_subjects=st.integers(2, 120),
    n_relations=st.integers(1, 4),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_the_module_computes_the_numpy_forward_pass(setting, n_subjects, n_relations, dtype, seed):
    layout, codebook = setting
    c = construct_single_hop(
        n_subjects, n_relations, layout=layout, codebook=codebook, dtype=dtype, seed=seed
    )
    tokens, _ = c.prompts()
    module = to_torch(c)
    with torch.no_grad():
        logits = module(torch.from_numpy(tokens)).numpy()
    expected = forward(c.weights, c.config, tokens)  # [n, pos, d_vocab], the judge
    scale = 1 + np.abs(expected).max()
    assert logits.dtype == np.dtype(dtype)
    assert np.allclose(
        logits, expected, rtol=0, atol=(1e-4 if dtype == "float32" else 1e-10) * scale
    )
    assert not any(parameter.requires_grad for parameter in module.parameters())


def test_every_kind_exports_with_transformer_lens_names():
    kinds = [
        construct_multi_hop(30, 2, 2, 1, 80),
        construct_baseline(40, 2, "key_value"),
    ]
    for c in kinds:
        module = to_torch(c)
        names = {name for name, _ in module.named_parameters()}
        assert names == set(c.weights)  # embed.W_E, blocks.0.attn.W_Q, …, unembed.b_U
        tokens = np.array([[0, c.vocabulary.relation_offset], [1, c.vocabulary.relation_offset]])
        with torch.no_grad():
            got = module(torch.from_numpy(tokens)).numpy()
        assert np.allclose(got, forward(c.weights, c.config, tokens), atol=1e-9)


def test_a_non_construction_is_refused():
    with pytest.raises(TypeError, match="must be a Construction"):
        to_torch({"embed.W_E": np.zeros((2, 2))})
