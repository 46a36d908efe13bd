"""save → load round trips, and every kind of bad file is refused with a clear error."""

import hashlib
import io
import json
import re
import zipfile

import numpy as np
import pytest
from cases import LAYOUT_CODEBOOKS
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension
from geoconstruct.io import FORMAT_VERSION, ConstructionFileError, load, save

SETTINGS = LAYOUT_CODEBOOKS


def build(n_subjects=60, n_relations=2, layout="block", codebook="grid", seed=0, dtype="float64"):
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    return construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=seed, dtype=dtype
    )


@settings(max_examples=20)
@given(
    n_subjects=st.integers(1, 150),
    n_relations=st.integers(1, 4),
    setting=st.sampled_from(SETTINGS),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_save_load_round_trip_gives_identical_weights_and_report(
    tmp_path_factory, n_subjects, n_relations, setting, seed, dtype
):
    layout, codebook = setting
    original = build(n_subjects, n_relations, layout, codebook, seed, dtype)
    path = tmp_path_factory.mktemp("io") / "construction.npz"
    loaded = load(save(original, path))
    assert loaded.weights.keys() == original.weights.keys()
    for name, array in original.weights.items():
        assert loaded.weights[name].dtype == array.dtype
        assert loaded.weights[name].tobytes() == array.tobytes(), name
    assert loaded.config == original.config
    assert loaded.facts == original.facts
    assert loaded.codebook.codes.tobytes() == original.codebook.codes.tobytes()
    assert loaded.metadata.read_maps.tobytes() == original.metadata.read_maps.tobytes()
    assert (loaded.metadata.layout, loaded.residual, loaded.vocabulary) == (
        original.metadata.layout,
        original.residual,
        original.vocabulary,
    )
    assert (loaded.metadata.gate_scale, loaded.seed) == (
        original.metadata.gate_scale,
        original.seed,
    )
    assert loaded.codebook.trace_code == original.codebook.trace_code
    assert loaded.recall() == original.recall()
    assert loaded.recall(method="certified") == original.recall(method="certified")
    tokens, answers = loaded.prompts()
    expected_tokens, expected_answers = original.prompts()
    assert np.array_equal(tokens, expected_tokens) and np.array_equal(answers, expected_answers)


def test_numpy_can_read_the_arrays(tmp_path):
    original = build()
    with np.load(save(original, tmp_path / "c.npz")) as archive:
        assert np.array_equal(archive["weights/embed.W_E"], original.weights["embed.W_E"])


def rewrite(source, target, *, drop=(), replace=None):
    """Copy the archive at source to target, dropping and replacing members."""
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name in drop:
                continue
            new.writestr(name, replace.get(name, old.read(name)))
    return target


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


@pytest.fixture
def saved(tmp_path):
    return save(build(), tmp_path / "good.npz")


def manifest_of(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json"))


def test_truncated_file_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        truncated = tmp_path / f"truncated{cut}.npz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ConstructionFileError, match="corrupt, truncated"):
            load(truncated)


def test_not_an_archive_is_refused(tmp_path):
    plain = tmp_path / "notes.npz"
    plain.write_text("these are not weights")
    with pytest.raises(ConstructionFileError, match="corrupt, truncated or not a zip file"):
        load(plain)
    array_only = tmp_path / "array.npy"
    np.save(array_only, np.zeros(3))
    with pytest.raises(ConstructionFileError, match="corrupt, truncated or not a zip file"):
        load(array_only)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ConstructionFileError, match=re.escape("no metadata.json")):
        load(foreign)


def test_missing_array_is_refused(saved, tmp_path):
    broken = rewrite(saved, tmp_path / "missing.npz", drop=("weights/blocks.0.mlp.W_in.npy",))
    with pytest.raises(
        ConstructionFileError, match=re.escape("missing the array 'weights/blocks.0.mlp.W_in'")
    ):
        load(broken)


def test_wrong_shape_is_refused(saved, tmp_path):
    broken = rewrite(
        saved,
        tmp_path / "shape.npz",
        replace={"weights/unembed.b_U.npy": npy_bytes(np.zeros(5))},
    )
    with pytest.raises(
        ConstructionFileError, match=re.escape("'weights/unembed.b_U' has shape [5]")
    ):
        load(broken)


def test_wrong_shape_consistent_with_the_manifest_is_refused(saved, tmp_path):
    manifest = manifest_of(saved)
    bad = np.zeros(5)
    manifest["arrays"]["weights/unembed.b_U"].update(
        shape=[5], sha256=hashlib.sha256(bad.tobytes()).hexdigest()
    )
    broken = rewrite(
        saved,
        tmp_path / "shape2.npz",
        replace={"weights/unembed.b_U.npy": npy_bytes(bad), "metadata.json": json.dumps(manifest)},
    )
    with pytest.raises(ConstructionFileError, match=re.escape("unembed.b_U has shape (5,)")):
        load(broken)


def test_wrong_version_is_refused(saved, tmp_path):
    manifest = manifest_of(saved)
    manifest["format_version"] = FORMAT_VERSION + 1
    broken = rewrite(
        saved, tmp_path / "version.npz", replace={"metadata.json": json.dumps(manifest)}
    )
    with pytest.raises(ConstructionFileError, match=f"reads format version {FORMAT_VERSION}"):
        load(broken)


def test_changed_values_fail_the_checksum(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        embed = np.lib.format.read_array(archive.open("weights/embed.W_E.npy"))
    embed = embed.copy()
    embed[0, 0] += 1.0
    broken = rewrite(
        saved, tmp_path / "edited.npz", replace={"weights/embed.W_E.npy": npy_bytes(embed)}
    )
    with pytest.raises(ConstructionFileError, match="does not match its checksum"):
        load(broken)


def test_flipped_byte_is_refused(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("weights/embed.W_E.npy")
    data[info.header_offset + 200] ^= 0xFF  # inside the stored array data
    corrupt = tmp_path / "flipped.npz"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ConstructionFileError, match=r"CRC|checksum"):
        load(corrupt)


def test_facts_from_another_construction_are_refused(saved, tmp_path):
    other = save(build(seed=1), tmp_path / "other.npz")
    with zipfile.ZipFile(other) as archive:
        foreign_facts = archive.read("facts/permutations.npy")
        foreign_digest = manifest_of(other)["arrays"]["facts/permutations"]
    manifest = manifest_of(saved)
    manifest["arrays"]["facts/permutations"] = foreign_digest
    broken = rewrite(
        saved,
        tmp_path / "mismatched.npz",
        replace={"facts/permutations.npy": foreign_facts, "metadata.json": json.dumps(manifest)},
    )
    with pytest.raises(ConstructionFileError, match="do not belong together"):
        load(broken)


def test_invalid_manifest_is_refused(saved, tmp_path):
    broken = rewrite(saved, tmp_path / "json.npz", replace={"metadata.json": b"{not json"})
    with pytest.raises(ConstructionFileError, match="not valid JSON"):
        load(broken)


def test_missing_file_and_wrong_object(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "absent.npz")
    with pytest.raises(TypeError, match="Construction"):
        save({"embed.W_E": np.zeros(3)}, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "c.npz"
    save(build(seed=1), path)
    save(build(seed=2), path)
    assert load(path).seed == 2
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


# --- multi-hop constructions ------------------------------------------------------------------


def build_multi_hop(n_entities=40, n_relations=2, hops=3, steps=2, seed=0, codebook="grid"):
    from geoconstruct import construct_multi_hop, multi_hop_dimension

    d = multi_hop_dimension(n_entities, n_relations, hops, steps, codebook=codebook)
    return construct_multi_hop(
        n_entities, n_relations, hops, steps, d, codebook=codebook, seed=seed
    )


@settings(max_examples=12)
@given(
    n_entities=st.integers(2, 120),
    n_relations=st.integers(1, 3),
    hops=st.integers(1, 3),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
    codebook=st.sampled_from(["grid", "rademacher", "bch"]),
)
def test_multi_hop_round_trip_gives_identical_weights_and_report(
    tmp_path_factory, n_entities, n_relations, hops, data, seed, codebook
):
    steps = data.draw(st.integers(1, hops))
    original = build_multi_hop(n_entities, n_relations, hops, steps, seed, codebook)
    loaded = load(save(original, tmp_path_factory.mktemp("io") / "multi.npz"))
    assert type(loaded) is type(original)
    for name, array in original.weights.items():
        assert loaded.weights[name].tobytes() == array.tobytes(), name
    assert loaded.facts == original.facts and loaded.config == original.config
    assert (loaded.metadata.hops, loaded.metadata.steps, loaded.metadata.hops_per_pass) == (
        hops,
        steps,
        original.metadata.hops_per_pass,
    )
    assert loaded.residual == original.residual and loaded.kind == original.kind
    assert loaded.metadata.attention_bound == original.metadata.attention_bound
    assert loaded.recall() == original.recall()


def test_multi_hop_with_foreign_facts_is_refused(tmp_path):
    saved = save(build_multi_hop(seed=0), tmp_path / "a.npz")
    other = save(build_multi_hop(seed=1), tmp_path / "b.npz")
    with zipfile.ZipFile(other) as archive:
        foreign_facts = archive.read("facts/permutations.npy")
    manifest = manifest_of(saved)
    manifest["arrays"]["facts/permutations"] = manifest_of(other)["arrays"]["facts/permutations"]
    broken = rewrite(
        saved,
        tmp_path / "mismatched.npz",
        replace={"facts/permutations.npy": foreign_facts, "metadata.json": json.dumps(manifest)},
    )
    with pytest.raises(ConstructionFileError, match="do not belong together"):
        load(broken)


def test_multi_hop_manifest_without_its_fields_is_refused(tmp_path):
    saved = save(build_multi_hop(), tmp_path / "a.npz")
    manifest = manifest_of(saved)
    del manifest["metadata"]["attention_bound"]
    broken = rewrite(saved, tmp_path / "b.npz", replace={"metadata.json": json.dumps(manifest)})
    with pytest.raises(ConstructionFileError, match=r"missing 'attention_bound'"):
        load(broken)


# --- safetensors (optional extra) -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["single_hop", "multi_hop"])
def test_safetensors_round_trip(tmp_path, kind):
    original = (
        build(codebook="bch", layout="superposed") if kind == "single_hop" else (build_multi_hop())
    )
    loaded = load(save(original, tmp_path / "c.safetensors"))
    assert type(loaded) is type(original)
    for name, array in original.weights.items():
        assert loaded.weights[name].tobytes() == array.tobytes(), name
    assert loaded.facts == original.facts
    assert loaded.recall() == original.recall()


def test_safetensors_bad_files_are_refused(tmp_path):
    path = save(build(), tmp_path / "c.safetensors")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConstructionFileError, match="not a readable safetensors file"):
        load(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(ConstructionFileError, match="not a readable safetensors file"):
        load(garbage)
    import safetensors.numpy

    bare = tmp_path / "bare.safetensors"
    safetensors.numpy.save_file({"x": np.zeros(3)}, bare)
    with pytest.raises(ConstructionFileError, match="without a geoconstruct manifest"):
        load(bare)
    # an array changed behind the manifest's back fails its checksum
    arrays = safetensors.numpy.load_file(path)
    from safetensors import safe_open

    with safe_open(path, framework="numpy") as handle:
        metadata = handle.metadata()
    arrays["weights/embed.W_E"] = arrays["weights/embed.W_E"] + 1.0
    tampered = tmp_path / "tampered.safetensors"
    safetensors.numpy.save_file(arrays, tampered, metadata=metadata)
    with pytest.raises(ConstructionFileError, match="does not match its checksum"):
        load(tampered)
