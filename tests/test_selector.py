import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from geoconstruct.model.selector import gated_difference, selector_mlp

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(z=finite, closed_by=st.integers(1, 5), slack=st.floats(0, 1e6, allow_nan=False))
def test_gate_lemma_open_passes_and_closed_blocks(z, closed_by, slack):
    scale = abs(z) + slack  # any λ >= |z|
    if scale == 0:
        scale = 1.0
    assert gated_difference([z], [0], scale)[0] == z
    assert gated_difference([z], [-closed_by], scale)[0] == 0.0


def test_gate_leaks_when_the_bound_is_violated():
    # |z| > λ: the closed gate lets z - λ through, so λ must bound every selectable coordinate
    assert gated_difference([5.0], [-1], 3.0)[0] == 2.0


@given(
    n_keys=st.integers(1, 5),
    code_length=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_selector_writes_the_selected_read_for_the_open_key_only(n_keys, code_length, seed):
    rng = np.random.default_rng(seed)
    source_dim = 6
    d_model = source_dim + n_keys + code_length
    reads = np.zeros((n_keys, d_model, code_length))
    reads[:, :source_dim] = rng.standard_normal((n_keys, source_dim, code_length))
    gates = np.zeros((n_keys, d_model))
    gates[np.arange(n_keys), source_dim + np.arange(n_keys)] = 1.0
    output = np.zeros((code_length, d_model))
    output[np.arange(code_length), source_dim + n_keys + np.arange(code_length)] = 1.0
    source = rng.standard_normal(source_dim)
    scale = np.abs(np.einsum("d,cdk->ck", source, reads[:, :source_dim])).max() + 1.0
    mlp = selector_mlp(reads, gates, 1.0, output, scale)
    assert mlp.d_mlp == 2 * n_keys * code_length
    for key in range(n_keys):
        x = np.zeros(d_model)
        x[:source_dim] = source
        x[source_dim + key] = 1.0
        written = np.maximum(x @ mlp.W_in + mlp.b_in, 0) @ mlp.W_out + mlp.b_out
        expected = np.zeros(d_model)
        expected[source_dim + n_keys :] = source @ reads[key, :source_dim]
        np.testing.assert_allclose(written, expected, atol=1e-9)
