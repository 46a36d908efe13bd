"""Cases shared by several test modules, and a forward pass written independently of the library."""

import math

import numpy as np

from geoconstruct.codes.codebooks import BCHCodes

SUPERPOSED_BCH = BCHCodes(max_coherence=0.875)
"""Dual-BCH codes with a guaranteed superposed margin of 1/8: short enough for quick tests."""

LAYOUT_CODEBOOKS = [
    ("block", "grid"),
    ("block", "gaussian"),
    ("block", "rademacher"),
    ("block", "bch"),
    ("superposed", "gaussian"),
    ("superposed", "rademacher"),
    ("superposed", SUPERPOSED_BCH),
    ("block_separate", "grid"),
    ("superposed_separate", "gaussian"),
]
"""Every layout with every codebook it accepts (the in-place read-out, the default, with each;
the separate output subspace with one codebook each)."""


def failing_seeds_allowed(n_seeds, probability, false_alarm):
    """The smallest c with ``P(Binomial(n, p) > c) <= false_alarm``: more failing seeds than that
    refute a guarantee that each fails with probability at most p."""
    from scipy.stats import binom

    return int(binom.isf(false_alarm, n_seeds, probability))


def dimension_with_slack(n_subjects, n_relations, layout, codebook, failure_probability):
    """The proved d, or, where the guarantee is a probability (superposed random codes), the d at
    which the same theorem bounds the failure probability by ``failure_probability`` instead of
    1/100: a test asserting every fact on several draws there fails by chance with at most their
    number times that probability (a union bound, valid however the draws depend)."""
    from geoconstruct import proven_dimension
    from geoconstruct.codes.registry import resolve_codebook
    from geoconstruct.constructions.layouts import resolve_layout
    from geoconstruct.constructions.superposed_bound import superposed_code_length

    proven = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    shape, family = resolve_layout(layout), resolve_codebook(codebook)
    if not shape.relations.superposed or family.inner_product_law is None or n_relations < 2:
        return proven
    k = superposed_code_length(
        n_subjects, n_relations, failure_probability, inner_products=family.inner_product_law
    )
    return max(proven, shape.dimension(n_relations, k))


def independent_argmax(weights, tokens, chunk=1000):
    """A one-layer transformer in plain numpy, TransformerLens conventions, written anew here."""
    return np.concatenate([logits.argmax(axis=1) for logits in _logits(weights, tokens, chunk)])


def independent_logits(weights, tokens, chunk=1000):
    """The last position's logits from the same independent pass, ``chunk`` prompts at a time."""
    yield from _logits(weights, tokens, chunk)


def independent_margins(weights, tokens, answers, chunk=1000):
    """``logit[answer] − max of the other logits`` per prompt, from the same independent pass."""
    margins = []
    for start, logits in zip(
        range(0, len(tokens), chunk), _logits(weights, tokens, chunk), strict=True
    ):
        rows = np.arange(len(logits))
        own = logits[rows, answers[start : start + chunk]]
        logits[rows, answers[start : start + chunk]] = -np.inf
        margins.append(own - logits.max(axis=1))
    return np.concatenate(margins)


def _logits(weights, tokens, chunk):
    """The last position's logits, ``chunk`` prompts at a time."""
    W = weights
    for start in range(0, len(tokens), chunk):
        t = tokens[start : start + chunk]
        x = W["embed.W_E"][t] + W["pos_embed.W_pos"][: t.shape[1]]  # [n, p, d]
        q = (
            np.einsum("npd,hde->nhpe", x, W["blocks.0.attn.W_Q"], optimize=True)
            + W["blocks.0.attn.b_Q"][:, None]
        )
        k = (
            np.einsum("npd,hde->nhpe", x, W["blocks.0.attn.W_K"], optimize=True)
            + W["blocks.0.attn.b_K"][:, None]
        )
        v = (
            np.einsum("npd,hde->nhpe", x, W["blocks.0.attn.W_V"], optimize=True)
            + W["blocks.0.attn.b_V"][:, None]
        )
        scores = np.einsum("nhqe,nhke->nhqk", q, k, optimize=True) / math.sqrt(q.shape[-1])
        positions = np.arange(t.shape[1])
        scores = np.where(positions[None, :] > positions[:, None], -np.inf, scores)
        pattern = np.exp(scores - scores.max(axis=-1, keepdims=True))
        pattern /= pattern.sum(axis=-1, keepdims=True)
        z = np.einsum("nhqk,nhke->nhqe", pattern, v, optimize=True)
        x = (
            x
            + np.einsum("nhqe,hed->nqd", z, W["blocks.0.attn.W_O"], optimize=True)
            + W["blocks.0.attn.b_O"]
        )
        last = x[:, -1]  # the MLP acts position by position: only the last one is read out
        hidden = np.maximum(last @ W["blocks.0.mlp.W_in"] + W["blocks.0.mlp.b_in"], 0)
        last = last + hidden @ W["blocks.0.mlp.W_out"] + W["blocks.0.mlp.b_out"]
        yield last @ W["unembed.W_U"] + W["unembed.b_U"]
