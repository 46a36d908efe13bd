"""Grid codes are exact in the dtype they run in, or refused: never built silently inexact.

For every bit width p from 2 to 16 and both dtypes, the construction at the largest N the bits
allow with one code coordinate (N = 2^p, k = 1) either recalls every fact through the forward
pass or is refused with a one-line reason. The refusal happens exactly where the logits need more
significand bits than the dtype has (``3k·2^(2p-2) > 2^m``, proofs/block_recall.md).
"""

import pytest

from geoconstruct import GridCodes, construct_single_hop, proven_dimension
from geoconstruct.codes.codebooks import SIGNIFICAND_BITS, exact_grid_logits

CASES = [(bits, dtype) for bits in range(2, 17) for dtype in ("float32", "float64")]


def heavy(bits, dtype):
    """The forward pass over N = 2^p prompts and 2N + 1 tokens: slow from p = 13 on."""
    return bits >= 13 and exact_grid_logits(bits, 1, SIGNIFICAND_BITS[dtype])


@pytest.mark.parametrize(
    ("bits", "dtype"),
    [
        pytest.param(bits, dtype, marks=[pytest.mark.slow] if heavy(bits, dtype) else [])
        for bits, dtype in CASES
    ],
)
def test_grid_codes_recall_every_fact_or_are_refused(bits, dtype):
    family = GridCodes(bits=bits)
    n_subjects = 2**bits
    d = proven_dimension(n_subjects, 1, layout="block", codebook=family)
    exact = exact_grid_logits(bits, 1, SIGNIFICAND_BITS[dtype])
    if not exact:
        with pytest.raises(
            ValueError, match=rf"not exact in {dtype}.*use dtype='float64'"
        ) as error:
            construct_single_hop(n_subjects, 1, d, layout="block", codebook=family, dtype=dtype)
        assert "\n" not in str(error.value)
        return
    construction = construct_single_hop(
        n_subjects, 1, d, layout="block", codebook=family, dtype=dtype, seed=bits
    )
    assert construction.codebook.code_length == 1
    report = construction.recall()  # the forward pass on every prompt
    assert report.n_correct == report.n_queries == n_subjects, report.failures
    assert report.min_margin >= 0.5  # exact: the nearest other code is at distance >= 1


def test_the_float32_limit_is_where_the_significand_runs_out():
    """float32 holds grid logits up to p = 12 at k = 1 and p = 11 at k = 2; float64 all to 16."""
    assert [p for p in range(2, 17) if exact_grid_logits(p, 1, 24)][-1] == 12
    assert [p for p in range(2, 17) if exact_grid_logits(p, 2, 24)][-1] == 11
    assert all(exact_grid_logits(p, 4, 53) for p in range(2, 17))


def test_the_inexact_float32_construction_would_have_failed():
    """What the refusal prevents: at p = 16 the weights, run in float32, answer wrongly."""
    import numpy as np

    from geoconstruct.model.transformer import TransformerConfig, forward

    built = construct_single_hop(
        65536, 1, 2, layout="block", codebook=GridCodes(bits=16), dtype="float64"
    )
    config = TransformerConfig(**(built.config.as_dict() | {"dtype": "float32"}))
    weights = {name: array.astype(np.float32) for name, array in built.weights.items()}
    queries = np.arange(30_000, 31_000)  # codes of size about 2^15: logits near 2^31
    tokens, answers = built.prompts(queries)
    logits = forward(weights, config, tokens, last_position_only=True)
    assert (logits.argmax(axis=1) != answers).mean() > 0.5
