"""Plain-text reports of the library's summaries, as the command line prints them."""

from __future__ import annotations

from typing import TextIO

from geoconstruct.analysis.mechanism.transfer import TransferSummary
from geoconstruct.analysis.output.tables import render_table
from geoconstruct.cli.reports import (
    BoundsSummary,
    MultiHopSummary,
    SingleHopSummary,
)
from geoconstruct.training.comparison import ComparisonRow

__all__ = [
    "print_bounds",
    "print_control",
    "print_multi_hop",
    "print_single_hop",
    "print_trained",
    "print_transfer",
]


def print_single_hop(summary: SingleHopSummary, out: TextIO) -> None:
    """A single-hop construction's report: its shape, guarantee, storage and recall.

    Parameters
    ----------
    summary : SingleHopSummary
        What the command measured.
    out : text stream
        Where the lines are written.
    """
    widths = {name: stop - start for name, (start, stop) in summary.residual_layout.items()}
    output, subject = summary.residual_layout["output"], summary.residual_layout["subject"]
    in_place = " in the subject subspace" if output[0] < subject[1] else ""
    certified = summary.method == "certified"
    lines = [
        f"single hop: N={summary.n_subjects} subjects, R={summary.n_relations} relations, "
        f"layout={summary.layout}, codebook={summary.codebook}, seed={summary.seed}, "
        f"{summary.dtype}",
        f"d_model          {summary.d_model}  (smallest with a proof: {summary.proven_d}; "
        f"subject {widths['subject']}, relation {widths['relation']}, "
        f"output {widths['output']}{in_place}, unused {widths['unused']})",
        f"guarantee        {summary.guarantee}",
        f"d_mlp            {summary.d_mlp}",
        f"d_vocab          {summary.d_vocab}",
        f"parameters       {summary.params_total:,} total",
        f"  fact-dependent {summary.params_fact_dependent:,}  (subject embeddings, N x d_s)",
        f"  generic        {summary.params_generic:,}  (of which MLP {summary.params_mlp:,})",
        f"storage          {summary.precision}: efficiency "
        f"{summary.storage_efficiency_per_subject:.3f} of the per-subject bound, "
        f"{summary.storage_efficiency_global:.3f} of the global bound",
        f"recall           {summary.n_correct:,} / {summary.n_queries:,} facts "
        + (
            f"(a seeded sample of {summary.n_facts:,}; accuracy {summary.accuracy:.6f}, "
            f"95 % interval [{summary.accuracy_low:.4f}, {summary.accuracy_high:.4f}])"
            if summary.sampled
            else f"(accuracy {summary.accuracy:.6f})"
        ),
        *_by_relation(summary),
        f"min margin       {summary.min_margin:.6g}" + _margin_note(summary),
        f"method           {summary.method}"
        + (
            f", {summary.n_certified:,} facts certified, {summary.n_fallback:,} left to the "
            "forward pass"
            + (
                f" (nothing certified: {summary.certificate_reason})"
                if not summary.n_certified
                else ""
            )
            if certified
            else ", the forward pass on every prompt"
            + (" of the sample" if summary.sampled else "")
        ),
        f"wall time        construct {summary.construct_seconds:.2f} s, "
        f"recall {summary.recall_seconds:.2f} s",
        *_saved(summary.saved),
    ]
    lines += [
        f"  failed: subject {failure['subject']}, relation {failure['relation']}: "
        f"expected {failure['expected']}, predicted {failure['predicted']}"
        for failure in summary.failures
    ]
    print("\n".join(lines), file=out)


def _by_relation(summary: SingleHopSummary) -> list[str]:
    """The accuracy of each relation (of the sample, if sampled): every one up to eight
    relations, beyond that the lowest and the highest."""
    shares = summary.relation_accuracy
    if not shares:
        return []
    if len(shares) <= 8:
        listed = ", ".join(f"{share:.4f}" for share in shares)
        return [f"by relation      {listed}  (r = 0..{len(shares) - 1})"]
    low, high = (
        min(range(len(shares)), key=shares.__getitem__),
        max(range(len(shares)), key=shares.__getitem__),
    )
    return [
        f"by relation      lowest {shares[low]:.4f} (r = {low}), "
        f"highest {shares[high]:.4f} (r = {high}), over {len(shares)} relations"
    ]


def _margin_note(summary: SingleHopSummary) -> str:
    """What the min margin is: computed by the forward pass, certified, or both."""
    if summary.method != "certified" or summary.n_certified == 0:
        return ""  # every margin was computed by the forward pass
    if summary.n_fallback == 0:
        return " (a certified lower bound)"
    return (
        f" (a lower bound: certified for {summary.n_certified:,} facts, computed by the forward "
        f"pass for {summary.n_fallback:,})"
    )


def _saved(path: str | None) -> list[str]:
    """The line saying where ``--save`` wrote the construction, and how to read it back."""
    if path is None:
        return []
    return [f"saved            {path} (geoconstruct recall {path} checks it again)"]


def print_multi_hop(summary: MultiHopSummary, out: TextIO) -> None:
    """A multi-hop construction's report: its shape and every chain's recall, pass by pass.

    Parameters
    ----------
    summary : MultiHopSummary
        What the command measured.
    out : text stream
        Where the lines are written.
    """
    checked = (
        f"a seeded sample of {summary.n_queries:,} of {summary.total_queries:,} queries"
        if summary.sampled
        else f"all {summary.total_queries:,} queries"
    )
    per_pass = ", ".join(f"{count:,}" for count in summary.pass_correct)
    lines = [
        f"multi hop: N={summary.n_entities} entities, R={summary.n_relations} relations, "
        f"H={summary.hops} hops in L={summary.steps} steps "
        f"(g={summary.hops_per_pass} hops a pass, {summary.passes} "
        f"pass{'es' if summary.passes != 1 else ''}), "
        f"codebook={summary.codebook}, seed={summary.seed}, {summary.dtype}",
        f"d_model          {summary.d_model}  (smallest that works: {summary.required_d})",
        f"entity d_s       {summary.entity_dim} = {summary.chains_per_pass} chains x "
        f"k={summary.code_length}",
        f"per-pass bound   d_s >= {summary.per_pass_min_d_s} at p={summary.bits} bits "
        f"({summary.per_pass_bits:,.1f} bits; ratio "
        f"{summary.entity_dim / summary.per_pass_min_d_s:.3f})",
        f"heads            {summary.n_heads} x d_head {summary.d_head}, score gap "
        f"{summary.score_gap:g}: leakage <= {summary.leakage_bound:.3g}, output error <= "
        f"{summary.output_error_bound:.3g} "
        f"(decoding tolerance {summary.decoding_tolerance:g})",
        f"d_mlp            {summary.d_mlp}",
        f"parameters       {summary.params_total:,} total",
        f"recall           {summary.n_correct:,} / {summary.n_queries:,} "
        f"(accuracy {summary.accuracy:.6f}) over {checked}",
        f"right per pass   {per_pass}",
        f"min margin       {summary.min_margin:.6g}",
        f"wall time        construct {summary.construct_seconds:.2f} s, "
        f"recall {summary.recall_seconds:.2f} s",
        *_saved(summary.saved),
    ]
    lines += [
        f"  failed: entity {failure['entity']}, chain {failure['chain']}: expected "
        f"{failure['expected']}, predicted {failure['predicted']} "
        f"(first wrong at pass {failure['first_wrong_pass']})"
        for failure in summary.failures
    ]
    print("\n".join(lines), file=out)


def print_bounds(summary: BoundsSummary, out: TextIO) -> None:
    """The lower bounds, and the d_s of each construction beside them.

    Parameters
    ----------
    summary : BoundsSummary
        What the command measured.
    out : text stream
        Where the lines are written.
    """
    lines = [
        f"N={summary.n_subjects} subjects, R={summary.n_relations} relations, "
        f"p={summary.bits} bits a parameter",
        f"global bound        R·log2 N! = {summary.global_bits:,.1f} bits "
        f"-> at least {summary.global_min_params:,} parameters",
        f"per-subject bound   R·log2 N = {summary.per_subject_bits:.2f} bits "
        f"-> d_s >= {summary.per_subject_min_d_s} (fact-independent read-out)",
        f"packing bound       unit codes with coherence <= 1/2 need k >= "
        f"{summary.packing_min_k} (spherical caps)",
        "",
        render_table(summary.constructions, "md").rstrip("\n"),
        "(unit-code rows store real numbers; the bound at p bits applies to grid codes; "
        "block rows use coherence <= 1/2, the superposed bch row 0.875)",
    ]
    print("\n".join(lines), file=out)


def print_trained(row: ComparisonRow, out: TextIO) -> None:
    """A trained model read by the probes.

    Parameters
    ----------
    row : ComparisonRow
        A trained model's row (:func:`~geoconstruct.training.comparison.trained_row`).
    out : text stream
        Where the lines are written.
    """
    lines = [
        f"{row.model}: N={row.n_subjects} subjects, R={row.n_relations} relations, "
        f"d_model={row.d_model}, d_mlp={row.d_mlp}, seed={row.seed}",
        f"final loss         {row.final_loss:.3g}",
        f"recall             {row.accuracy:.4f} of {row.n_subjects * row.n_relations:,} facts",
        f"superposition R²   {row.superposition_r2:.3f} (adjusted {row.adjusted_r2:.3f})",
        f"MLP verdict        {row.selector_verdict}",
        f"intervention       moved {row.intervention_moved:.3f}, others kept "
        f"{row.intervention_kept:.3f}, both {row.intervention_success:.3f}",
        f"transfer           {row.transfer:.4f} on fresh facts (seeds "
        f"{', '.join(map(str, row.transfer_seeds))})",
        f"wall time          {row.seconds:.1f} s",
    ]
    out.write("\n".join(lines) + "\n")


def print_control(trained: ComparisonRow, control: ComparisonRow, out: TextIO) -> None:
    """The trained model beside its frozen-embedding control, on what the embeddings decide.

    Parameters
    ----------
    trained : ComparisonRow
        The trained model's row.
    control : ComparisonRow
        The frozen-embedding control's row.
    out : text stream
        Where the lines are written.
    """
    out.write(
        f"control: with W_E frozen at its initialisation, superposition R² "
        f"{control.superposition_r2:.3f} against {trained.superposition_r2:.3f} trained, "
        f"transfer {control.transfer:.4f} against {trained.transfer:.4f}, recall "
        f"{control.accuracy:.4f} against {trained.accuracy:.4f}\n"
    )


def print_transfer(summary: TransferSummary, out: TextIO) -> None:
    """Recall of new facts before and after the subject embeddings are rewritten.

    Parameters
    ----------
    summary : TransferSummary
        What the command measured.
    out : text stream
        Where the lines are written.
    """

    def count(report_name: str) -> str:
        report = getattr(summary, report_name)
        return f"{report.n_correct:,} / {report.n_queries:,}"

    lines = [
        f"transfer: N={summary.n_subjects} subjects, R={summary.n_relations} relations, "
        f"layout={summary.layout}, codebook={summary.codebook}, seed={summary.seed}, "
        f"new facts from seed {summary.new_seed}",
        f"original facts recalled {count('original')}",
        f"new facts, before       {count('stale')}  "
        "(the old embeddings still answer the old facts)",
        f"new facts recalled     {count('moved')}  "
        "after rewriting the subject embeddings with the known B_r",
        (
            f"fitted from weights    R² = {summary.fitted_r2:.6f}; new facts recalled "
            f"{count('fitted')}"
            if summary.fitted is not None
            else f"fitted from weights    skipped: {summary.fit_skipped}"
        ),
        ("unchanged bit for bit: attention, MLP, unembedding" if summary.unchanged else "CHANGED: ")
        + f" ({summary.n_kept_arrays} arrays, SHA-256 compared)",
    ]
    print("\n".join(lines), file=out)
