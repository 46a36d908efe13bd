"""The numpy forward pass against an independent einsum transcription of TransformerLens."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geoconstruct.model.transformer import (
    TransformerConfig,
    forward,
    random_weights,
    validate_weights,
    zero_weights,
)


def reference_forward(W, cfg, tokens):
    """TransformerLens's computation, written from its definitions with einsum, no shared code."""
    tokens = np.asarray(tokens)
    n_pos = tokens.shape[1]
    x = W["embed.W_E"][tokens] + W["pos_embed.W_pos"][np.arange(n_pos)][None]
    for layer in range(cfg.n_layers):
        p = f"blocks.{layer}."
        q = np.einsum("bpd,hde->bphe", x, W[p + "attn.W_Q"]) + W[p + "attn.b_Q"]
        k = np.einsum("bpd,hde->bphe", x, W[p + "attn.W_K"]) + W[p + "attn.b_K"]
        v = np.einsum("bpd,hde->bphe", x, W[p + "attn.W_V"]) + W[p + "attn.b_V"]
        scores = np.einsum("bqhe,bkhe->bhqk", q, k) / np.sqrt(cfg.d_head)
        allowed = np.tril(np.ones((n_pos, n_pos), bool))
        scores = np.where(allowed, scores, -np.inf)
        pattern = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = pattern / pattern.sum(-1, keepdims=True)
        z = np.einsum("bhqk,bkhe->bqhe", pattern, v)
        x = x + np.einsum("bqhe,hed->bqd", z, W[p + "attn.W_O"]) + W[p + "attn.b_O"]
        pre = np.einsum("bpd,dm->bpm", x, W[p + "mlp.W_in"]) + W[p + "mlp.b_in"]
        x = (
            x
            + np.einsum("bpm,md->bpd", np.maximum(pre, 0), W[p + "mlp.W_out"])
            + W[p + "mlp.b_out"]
        )
    return np.einsum("bpd,dv->bpv", x, W["unembed.W_U"]) + W["unembed.b_U"]


CONFIG = TransformerConfig(
    d_model=12, n_layers=2, n_heads=3, d_head=5, d_mlp=17, d_vocab=23, n_ctx=6
)


@given(seed=st.integers(0, 2**32 - 1), n_pos=st.integers(1, 6), batch=st.integers(1, 9))
def test_forward_matches_einsum_reference_float64(seed, n_pos, batch):
    weights = random_weights(CONFIG, seed, scale=1.5)
    tokens = np.random.default_rng(seed).integers(0, CONFIG.d_vocab, size=(batch, n_pos))
    expected = reference_forward(weights, CONFIG, tokens)
    logits = forward(weights, CONFIG, tokens)
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-10)
    last = forward(weights, CONFIG, tokens, last_position_only=True)
    np.testing.assert_allclose(last, expected[:, -1], rtol=0, atol=1e-10)


@given(seed=st.integers(0, 2**32 - 1))
def test_forward_float32_runs_in_float32_and_agrees(seed):
    config32 = TransformerConfig(**{**CONFIG.as_dict(), "dtype": "float32"})
    weights = random_weights(config32, seed)
    tokens = np.random.default_rng(seed).integers(0, CONFIG.d_vocab, size=(4, 6))
    logits = forward(weights, config32, tokens)
    assert logits.dtype == np.float32
    as64 = {name: array.astype(np.float64) for name, array in weights.items()}
    np.testing.assert_allclose(logits, reference_forward(as64, CONFIG, tokens), atol=1e-4)


def test_attention_is_causal():
    weights = random_weights(CONFIG, 1)
    tokens = np.array([[1, 2, 3, 4, 5]])
    changed = tokens.copy()
    changed[0, 3] = 9
    before, after = forward(weights, CONFIG, tokens), forward(weights, CONFIG, changed)
    np.testing.assert_array_equal(before[:, :3], after[:, :3])
    assert not np.allclose(before[:, 3:], after[:, 3:])


def test_weight_names_and_shapes_are_transformer_lens():
    shapes = CONFIG.weight_shapes()
    assert shapes["embed.W_E"] == (23, 12)
    assert shapes["pos_embed.W_pos"] == (6, 12)
    assert shapes["blocks.1.attn.W_Q"] == (3, 12, 5)
    assert shapes["blocks.1.attn.b_K"] == (3, 5)
    assert shapes["blocks.0.attn.W_O"] == (3, 5, 12)
    assert shapes["blocks.0.attn.b_O"] == (12,)
    assert shapes["blocks.0.mlp.W_in"] == (12, 17)
    assert shapes["blocks.0.mlp.W_out"] == (17, 12)
    assert shapes["unembed.W_U"] == (12, 23)
    assert shapes["unembed.b_U"] == (23,)
    assert len(shapes) == 4 + 12 * 2
    assert CONFIG.n_params() == sum(int(np.prod(s)) for s in shapes.values())


def test_validate_weights_names_the_problem():
    weights = zero_weights(CONFIG)
    validate_weights(weights, CONFIG)
    missing = dict(weights)
    del missing["unembed.b_U"]
    with pytest.raises(ValueError, match=re.escape("missing ['unembed.b_U']")):
        validate_weights(missing, CONFIG)
    wrong_shape = {**weights, "blocks.0.mlp.W_in": np.zeros((12, 16))}
    with pytest.raises(ValueError, match=re.escape("blocks.0.mlp.W_in has shape")):
        validate_weights(wrong_shape, CONFIG)
    wrong_dtype = {**weights, "embed.W_E": np.zeros((23, 12), np.float32)}
    with pytest.raises(ValueError, match="dtype float32"):
        validate_weights(wrong_dtype, CONFIG)


@pytest.mark.parametrize(
    ("tokens", "error", "message"),
    [
        ([[0, 23]], ValueError, "token ids must lie in \\[0, 23\\)"),
        ([[-1, 2]], ValueError, "token ids must lie"),
        ([[1] * 7], ValueError, "exceed n_ctx=6"),
        ([1, 2], ValueError, "shape \\[batch, pos\\]"),
        ([[0.5, 1.0]], TypeError, "integer ids"),
    ],
)
def test_bad_tokens_are_refused(tokens, error, message):
    with pytest.raises(error, match=message):
        forward(zero_weights(CONFIG), CONFIG, tokens)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("d_model", 0, ValueError),
        ("n_heads", 1.0, TypeError),
        ("act_fn", "gelu", ValueError),
        ("normalization_type", "LN", ValueError),
        ("dtype", "float16", ValueError),
    ],
)
def test_config_validation(field, value, error):
    with pytest.raises(error, match=field):
        TransformerConfig(**{**CONFIG.as_dict(), field: value})
