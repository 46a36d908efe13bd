"""The forward pass on torch tensors agrees with the same pass on numpy arrays: logits to
rounding, the argmax exactly where the best logit is clear, ties broken the same way, and recall
reports alike."""

import numpy as np
import pytest
import torch  # the test extra installs it: a missing torch fails, never skips
from cases import LAYOUT_CODEBOOKS
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, required_dimension
from geoconstruct.model.backends import maps_on
from geoconstruct.model.transformer import TransformerConfig, forward, linear_maps, random_weights
from geoconstruct.verification.evaluation import predict_tokens, score_prompts

RTOL = {"float64": 1e-10, "float32": 2e-4}


@settings(max_examples=25, deadline=None)
@given(
    d_model=st.integers(2, 24),
    n_layers=st.integers(1, 2),
    n_heads=st.integers(1, 3),
    d_head=st.integers(1, 6),
    d_mlp=st.integers(1, 40),
    d_vocab=st.integers(2, 60),
    n_ctx=st.integers(1, 4),
    n_prompts=st.integers(1, 30),
    dtype=st.sampled_from(["float64", "float32"]),
    seed=st.integers(0, 2**16),
)
def test_logits_and_argmax_agree_on_random_weights(
    d_model, n_layers, n_heads, d_head, d_mlp, d_vocab, n_ctx, n_prompts, dtype, seed
):
    config = TransformerConfig(
        d_model=d_model,
        n_layers=n_layers,
        n_heads=n_heads,
        d_head=d_head,
        d_mlp=d_mlp,
        d_vocab=d_vocab,
        n_ctx=n_ctx,
        dtype=dtype,
    )
    weights = random_weights(config, seed=seed)
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, d_vocab, size=(n_prompts, rng.integers(1, n_ctx + 1)))
    ours = forward(weights, config, tokens, last_position_only=True)
    on_torch = maps_on(linear_maps(weights, config), "torch", "cpu")
    theirs = forward(weights, config, tokens, last_position_only=True, maps=on_torch).numpy()
    assert theirs.dtype == np.dtype(dtype)
    scale = max(1.0, float(np.abs(ours).max()))
    assert np.allclose(theirs, ours, rtol=0, atol=RTOL[dtype] * scale)
    # The argmax agrees wherever the best logit beats the runner-up by more than the rounding.
    top_two = np.sort(ours, axis=1)[:, -2:] if d_vocab > 1 else None
    clear = (top_two[:, 1] - top_two[:, 0]) > 10 * RTOL[dtype] * scale
    predicted = predict_tokens(weights, config, tokens, backend="torch")
    assert np.array_equal(predicted[clear], ours.argmax(axis=1)[clear])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ties_go_to_the_first_index_as_in_numpy(dtype):
    config = TransformerConfig(
        d_model=4, n_layers=1, n_heads=1, d_head=2, d_mlp=3, d_vocab=7, n_ctx=2, dtype=dtype
    )
    weights = {name: np.zeros(shape, dtype) for name, shape in config.weight_shapes().items()}
    weights["unembed.b_U"][[2, 5]] = 1.0  # two equal maxima: token 2 wins in both passes
    tokens = np.array([[0, 1], [3, 4]])
    for backend in ("numpy", "torch"):
        assert predict_tokens(weights, config, tokens, backend=backend).tolist() == [2, 2]
    answers = np.array([5, 2])  # the answer tied with an earlier token loses; with a later wins
    for backend in ("numpy", "torch"):
        scores = score_prompts(weights, config, tokens, answers, backend=backend)
        assert scores.n_correct == 1 and scores.failed_indices.tolist() == [0]
        assert scores.min_margin == 0.0


@settings(max_examples=12, deadline=None)
@given(
    setting=st.sampled_from(LAYOUT_CODEBOOKS),
    n_subjects=st.integers(2, 300),
    n_relations=st.integers(1, 4),
    extra=st.integers(0, 40),
    dtype=st.sampled_from(["float64", "float32"]),
    seed=st.integers(0, 2**16),
)
def test_recall_reports_agree_on_constructions(
    setting, n_subjects, n_relations, extra, dtype, seed
):
    layout, codebook = setting
    d = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook) + extra
    construction = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=seed, dtype=dtype
    )
    numpy_report = construction.recall(max_failures=10**6)
    torch_report = construction.recall(max_failures=10**6, backend="torch")
    scale = 1.0 + abs(numpy_report.min_margin)
    assert torch_report.min_margin == pytest.approx(
        numpy_report.min_margin, abs=RTOL[dtype] * 10 * scale
    )
    nearest_tie = float(np.abs(construction.margins()).min())  # every query's margin
    if nearest_tie > 100 * RTOL[dtype] * scale:  # no query near a tie (hypothesis found one
        # failing query at a tie beside another far below it: the min margin does not see it)
        assert torch_report.n_correct == numpy_report.n_correct
        # the same queries fail; which wrong token wins may differ where two wrong tokens tie
        # to rounding (rademacher codes at small k give equal logits to distinct tokens)
        assert [f[:3] for f in torch_report.failures] == [f[:3] for f in numpy_report.failures]


def test_a_sample_and_an_executor_give_the_numpy_report():
    from concurrent.futures import ThreadPoolExecutor

    construction = construct_single_hop(500, 3, 40, seed=2, dtype="float32")
    expected = construction.recall(sample=700, seed=5)
    with ThreadPoolExecutor(2) as pool:
        got = construction.recall(sample=700, seed=5, backend="torch", executor=pool)
    assert (got.n_correct, got.n_queries, got.failures) == (
        expected.n_correct,
        expected.n_queries,
        expected.failures,
    )


def test_bad_backends_and_devices_are_refused_before_any_work():
    construction = construct_single_hop(50, 2, 30)
    with pytest.raises(ValueError, match="backend must be one of"):
        construction.recall(backend="jax")
    with pytest.raises(ValueError, match="numpy backend runs on the cpu"):
        construction.recall(device="cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no GPU"):
            construction.recall(backend="torch", device="cuda")
