"""Every command-line failure is one line on stderr and exit status 2 (1 for a bug in the
library): no traceback, nothing printed before it, whatever the subcommand and whatever is wrong
(a value, a size the construction refuses, an output path, a missing optional extra)."""

import argparse
import sys

import pytest

from geoconstruct.cli import main
from geoconstruct.cli.parser import build_parser

SIZE = ["--subjects", "100", "--relations", "2"]
MISSING = "/nonexistent-geoconstruct-dir/out"

BAD_INVOCATIONS = [
    # construct: bad values, refused sizes, contradictory options
    (["construct", "--subjects", "0", "--relations", "2"], "n_subjects must be"),
    (["construct", "--subjects", "10", "--relations", "0"], "n_relations must be"),
    (["construct", "--subjects", "ten", "--relations", "2"], "invalid int value"),
    (["construct", *SIZE, "--dim", "2"], "requires d >= 3"),
    (["construct", *SIZE, "--sample-size", "0"], "--sample-size must be"),
    (["construct", *SIZE, "--codebook", "grid"], "unit-norm"),
    (["construct", *SIZE, "--bits", "8"], "--bits applies to grid codes"),
    (["construct", *SIZE, "--codebook", "bch", "--max-coherence", "1.5"], "max_coherence"),
    (["construct", *SIZE, "--precision", "int99"], "format must be one of"),
    (["construct", *SIZE, "--layout", "diagonal"], "invalid choice"),
    (["construct", *SIZE, "--memory-budget", "1K"], "bytes"),
    (["construct", *SIZE, "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["construct", "--relations", "2"], "the following arguments are required: --subjects"),
    # the other subcommands
    (["dimension", "--subjects", "0", "--relations", "2"], "n_subjects must be"),
    (["bounds", "--subjects", "0", "--relations", "2"], "n_subjects"),
    (["bounds", "--subjects", "100", "--relations", "2", "--bits", "0"], "bits"),
    (["multihop", "--entities", "100", "--relations", "2", "--hops", "0", "--steps", "1"], "hops"),
    (["multihop", "--entities", "100", "--relations", "2", "--hops", "2", "--steps", "3"], "steps"),
    (["transfer", "--subjects", "0", "--relations", "2"], "n_subjects must be"),
    (["bench", "--subjects", "0"], "subjects must be"),
    (["bench", "--subjects", "100", "--repeats", "0"], "repeats must be"),
    (["demo", "--subjects", "0"], "n_subjects must be"),
    # tables: bad values and bad output paths, before any work
    (["table", "dimension", "--subjects", "0", "--relations", "2"], "subjects must be"),
    (["table", "dimension", "--codebook", "hadamard"], "codebook must be one of"),
    (["table", "dimension", "--precision", "float7"], "format must be one of"),
    (["table", "capacity", "--dims", "0"], "dims must be"),
    (["table", "tradeoff", "--hops", "0"], "hops must be"),
    (["table", "transition", "--ratios", "0"], "positive numbers"),
    (["table", "transition", "--codebook", "grid,gaussian"], "one codebook"),
    (["table", "dimension", "--subjects", "64", "--plot", f"{MISSING}/x.png"], "cannot write"),
    (["table", "dimension", "--subjects", "64", "--save", f"{MISSING}/x"], "cannot write"),
    (
        ["table", "capacity", "--dims", "64", "--plot", "/tmp/x.png"],
        "unrecognized arguments: --plot",
    ),
    (["table", "frobnicate"], "invalid choice"),
    # train: bad sizes and options
    (["train", "--subjects", "1", "--relations", "2", "--dim", "8"], "n_subjects must be"),
    (["train", "--subjects", "20", "--relations", "2", "--dim", "8", "--steps", "0"], "steps must"),
    (["train", "--subjects", "20", "--relations", "2"], "required: --dim"),
    (["frobnicate"], "invalid choice"),
    # the audit's unclear inputs: each names its flag, before any work
    (["table", "transition", "--dims", "2,3", "--subjects", "256", "--relations", "4"], "--dims"),
    (["construct", *SIZE, "--max-coherence", "0.3"], "--max-coherence"),
    (["table", "dimension", "--workers", "0"], "argument --workers: must be at least 1, got 0"),
    (["table", "transition", "--workers", "0"], "argument --workers: must be at least 1"),
    (["bounds", "--subjects", "1", "--relations", "4"], "--subjects must be at least 2"),
]


@pytest.mark.parametrize(
    ("argv", "message"), BAD_INVOCATIONS, ids=[" ".join(argv)[:60] for argv, _ in BAD_INVOCATIONS]
)
def test_a_bad_invocation_is_one_line_and_exit_2(capsys, argv, message):
    try:
        status = main(argv)
    except SystemExit as exit_info:  # argparse's own refusals
        status = exit_info.code
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""  # nothing printed before the error
    assert err.count("\n") == 1 and err.startswith("geoconstruct"), err
    assert message in err and "Traceback" not in err


def test_there_are_at_least_25_bad_invocations_covering_every_subcommand():
    assert len(BAD_INVOCATIONS) >= 25
    subcommands = {argv[0] for argv, _ in BAD_INVOCATIONS}
    assert {
        "construct",
        "dimension",
        "bounds",
        "multihop",
        "table",
        "transfer",
        "train",
        "bench",
    } <= subcommands


def test_a_missing_extra_is_named(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plot extra were absent
    argv = ["table", "dimension", "--subjects", "64", "--plot", str(tmp_path / "x.png")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "pip install 'geoconstruct[plot]'" in err


def _parsers(parser, path=("geoconstruct",)):
    """Every parser of the command line, with its path: the top level, subcommands, table kinds."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_option_says_what_it_is():
    undocumented = [
        (" ".join(path), action.option_strings)
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if action.option_strings and not action.help
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    ("kind", "own", "foreign"),
    [
        ("dimension", "--subjects", "--dims"),
        ("capacity", "--max-subjects", "--subjects"),
        ("tradeoff", "--hops", "--layout"),
        ("baselines", "--sample-size", "--plot"),
        ("transition", "--ratios", "--precision"),
    ],
)
def test_each_table_kind_has_its_own_help(capsys, kind, own, foreign):
    with pytest.raises(SystemExit) as exit_info:
        main(["table", kind, "--help"])
    out, _ = capsys.readouterr()
    assert exit_info.value.code == 0
    assert f"geoconstruct table {kind}" in out and own in out and foreign not in out


def test_help_shows_a_default_of_zero(capsys):
    with pytest.raises(SystemExit):
        main(["construct", "--help"])
    out, _ = capsys.readouterr()
    assert "seed of the facts and the codes (default: 0)" in " ".join(out.split())


@pytest.mark.parametrize(
    "bug", [TypeError("unsupported operand"), RuntimeError("oops"), KeyError(3)]
)
def test_a_bug_in_the_library_exits_1_and_says_it_is_a_bug(capsys, monkeypatch, bug):
    """A plain TypeError or RuntimeError from inside the library is not the user's mistake: it is
    reported as a bug (exit 1, one line), not as a refused request (exit 2)."""
    from geoconstruct.cli import commands

    def broken(args):
        raise bug

    monkeypatch.setitem(commands.HANDLERS, "demo", broken)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "a bug in geoconstruct" in err


def test_the_library_s_own_refusals_exit_2(capsys, monkeypatch):
    from geoconstruct import InputTypeError, NoResultError
    from geoconstruct.cli import commands

    for refusal in (InputTypeError("d must be an integer"), NoResultError("no code length")):

        def refuse(args, refusal=refusal):
            raise refusal

        monkeypatch.setitem(commands.HANDLERS, "demo", refuse)
        assert main(["demo"]) == 2
        assert "internal error" not in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error(capsys, monkeypatch):
    """``geoconstruct ... | head``: the reader going away ends the command quietly."""
    from geoconstruct.cli import commands

    def write_to_a_closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(commands.HANDLERS, "demo", write_to_a_closed_pipe)
    assert main(["demo"]) == 0
    assert capsys.readouterr().err == ""
