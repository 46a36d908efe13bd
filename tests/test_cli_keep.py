"""The command line keeps what it builds: --save, ``recall PATH`` and ``export PATH --to``."""

import json

import numpy as np
import pytest

from geoconstruct import construct_single_hop
from geoconstruct.cli import main
from geoconstruct.io import load, save


def test_construct_saves_what_recall_and_export_read(tmp_path, capsys):
    path = tmp_path / "x.npz"
    argv = ["construct", "--subjects", "300", "--relations", "2", "--save", str(path), "--quiet"]
    assert main(argv) == 0
    assert f"saved            {path}" in capsys.readouterr().out
    saved = load(path)
    again = construct_single_hop(300, 2, saved.config.d_model, seed=0)
    assert all(np.array_equal(saved.weights[n], again.weights[n]) for n in again.weights)

    assert main(["recall", str(path), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["passed"] and verdict["basis"] == "every_fact"
    assert verdict["n_checked"] == verdict["total_queries"] == 600

    for target, suffix in (("safetensors", ".safetensors"), ("torch", ".torch.pt")):
        assert main(["export", str(path), "--to", target]) == 0
        written = tmp_path / f"x{suffix}"
        assert f"wrote            {written}" in capsys.readouterr().out
        assert written.stat().st_size > 0
    assert load(tmp_path / "x.safetensors").facts == saved.facts


def test_the_exported_state_dicts_hold_the_weights(tmp_path):
    import torch  # the test extra installs it: a missing torch fails here, it does not skip

    construction = construct_single_hop(64, 2, seed=1)
    path = save(construction, tmp_path / "c.npz")
    assert main(["export", str(path), "--to", "transformer-lens", "--quiet"]) == 0
    state = torch.load(tmp_path / "c.transformer_lens.pt")
    assert main(["export", str(path), "--to", "torch", "--output", str(tmp_path / "t.pt")]) == 0
    plain = torch.load(tmp_path / "t.pt")

    def weight(name):
        return torch.from_numpy(np.array(construction.weights[name]))  # a writable copy

    for name in ("embed.W_E", "unembed.W_U", "blocks.0.mlp.W_in"):  # TransformerLens names
        assert torch.equal(plain[name], weight(name))
    # the TransformerLens 4 bridge's own names, its linear maps stored [out, in]
    assert torch.equal(state["embed.weight"], weight("embed.W_E"))
    assert torch.equal(state["unembed.weight"], weight("unembed.W_U").T)
    assert torch.equal(state["blocks.0.mlp.in.weight"], weight("blocks.0.mlp.W_in").T)


def test_a_saved_chain_of_thought_is_checked_by_its_loop(tmp_path, capsys):
    path = tmp_path / "chains.npz"
    argv = ["multihop", "--entities", "64", "--relations", "2", "--hops", "2", "--steps", "2"]
    assert main([*argv, "--save", str(path)]) == 0
    capsys.readouterr()
    assert main(["recall", str(path)]) == 0
    assert "every query recalled (every_fact)" in capsys.readouterr().out


def test_a_transfer_saves_the_transferred_construction(tmp_path, capsys):
    path = tmp_path / "moved.npz"
    argv = ["transfer", "--subjects", "200", "--relations", "2", "--new-seed", "7"]
    assert main([*argv, "--save", str(path)]) == 0
    assert f"saved            {path}: the transferred construction" in capsys.readouterr().out
    moved = load(path)
    assert moved.facts != load_original(tmp_path).facts
    assert main(["recall", str(path)]) == 0


def load_original(tmp_path):
    path = tmp_path / "original.npz"
    assert main(["construct", "--subjects", "200", "--relations", "2", "--save", str(path)]) == 0
    return load(path)


def test_recall_says_when_a_saved_construction_fails(tmp_path, capsys):
    path = save(construct_single_hop(2000, 4, 20, seed=0), tmp_path / "low.npz")
    assert main(["recall", str(path)]) == 1
    assert "a query was not recalled" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["recall", "missing.npz"], "no such file"),
        (["export", "missing.npz", "--to", "torch"], "no such file"),
        (["construct", "--subjects", "50", "--relations", "2", "--save", "x.txt"], "must end in"),
        (["construct", "--subjects", "50", "--relations", "2", "--save", "no/dir/x.npz"], "no "),
        (["export", "CORRUPT", "--to", "safetensors"], "CORRUPT"),
    ],
)
def test_bad_paths_get_one_line_errors(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "CORRUPT").write_bytes(b"not a construction")
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "x.txt").exists()
