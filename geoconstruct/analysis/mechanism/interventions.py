"""A causal test of the superposition: swap one relation's attribute inside a subject embedding.

If ``e_s = Σ_r B_r u_{π_r(s)}`` and the MLP selects relation r's term, then writing

    e'_s = e_s + B_r (u_{a'} − u_{π_r(s)})

into the embedding table should move the model's answer for ``(s, r)`` to ``a'`` and leave its
answers for every other relation where they were. :func:`intervention_probe` makes one such
edit in every subject's row (a random relation, a random new attribute, from ``seed``), runs
every prompt ``[s, r']`` through the forward pass with the edited table, and reports how often
the answer moved, how often the other answers stayed, and how often both held. Edits in
different rows never meet: a prompt reads one subject's row.

The read maps and codes come from the construction (its own ``B_r`` and codebook) or, for weights
alone, from :func:`~geoconstruct.analysis.mechanism.transfer.fit_superposition`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_int
from geoconstruct.constructions.queries import prompt_tokens, query_pairs
from geoconstruct.facts import Facts, generator
from geoconstruct.model.assembly import with_subject_rows
from geoconstruct.model.transformer import TransformerConfig, Weights
from geoconstruct.model.vocabulary import Vocabulary
from geoconstruct.verification.evaluation import predict_tokens

__all__ = ["InterventionReport", "intervention_probe"]


@dataclass(frozen=True)
class InterventionReport:
    """What one edit per subject did to the model's answers.

    Attributes
    ----------
    n_interventions : int
        Edits made (one per subject).
    moved : float
        Share of edits after which the answer for the edited relation is the new attribute.
    kept : float
        Share of edits after which every other relation's answer is unchanged.
    success : float
        Share of edits with both.
    """

    n_interventions: int
    moved: float
    kept: float
    success: float


def intervention_probe(
    weights: Weights,
    config: TransformerConfig,
    facts: Facts,
    codes: npt.ArrayLike,
    read_maps: npt.ArrayLike,
    *,
    subject_columns: slice = slice(None),
    seed: int = 0,
) -> InterventionReport:
    """Edit one relation's attribute in every subject embedding and check what the model answers.

    Parameters
    ----------
    codes : array_like, shape [N, k]
        ``u_a`` for every attribute.
    read_maps : array_like, shape [R, d_s, k]
        ``B_r``, mapping a code into the embedding columns ``subject_columns`` (d_s of them).
    subject_columns : slice
        Where in ``W_E``'s rows the superposition lives (default: all of ``d_model``).

    Returns
    -------
    InterventionReport

    Examples
    --------
    >>> from geoconstruct import construct_single_hop
    >>> c = construct_single_hop(300, 3, 60, layout="block", codebook="grid", seed=0)
    >>> report = intervention_probe(c.weights, c.config, c.facts, c.codebook.codes,
    ...                             c.metadata.read_maps, subject_columns=c.residual["subject"])
    >>> report.n_interventions, report.success
    (300, 1.0)
    """
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    if n_subjects < 2:
        raise ValueError("an intervention needs a second attribute to move to: N >= 2")
    seed = require_int("seed", seed, minimum=0)
    code_table = np.asarray(codes, dtype=np.float64)
    maps = np.asarray(read_maps, dtype=np.float64)
    rng = generator(seed)
    subjects = np.arange(n_subjects)
    edited = rng.integers(n_relations, size=n_subjects)  # the relation each edit changes
    old = facts.permutations[edited, subjects]
    new = (old + rng.integers(1, n_subjects, size=n_subjects)) % n_subjects  # any other attribute

    # e'_s = e_s + B_r (u_new − u_old), in the subject columns of W_E
    rows = np.asarray(weights["embed.W_E"], dtype=np.float64)[:n_subjects, subject_columns]
    delta = np.einsum("sdk,sk->sd", maps[edited], code_table[new] - code_table[old])
    edited_weights = with_subject_rows(weights, n_subjects, subject_columns, rows + delta)

    # every prompt [s, r'] of the edited model: query r'·N + s
    vocabulary = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    tokens = prompt_tokens(vocabulary, *query_pairs(n_subjects, n_relations))
    predicted = vocabulary.attribute_of(predict_tokens(edited_weights, config, tokens))
    answers = predicted.reshape(n_relations, n_subjects)  # [R, N]

    expected = facts.permutations.copy()  # [R, N]
    expected[edited, subjects] = new
    right = answers == expected
    moved = right[edited, subjects]
    others = right.copy()
    others[edited, subjects] = True
    kept = others.all(axis=0)
    return InterventionReport(
        n_interventions=n_subjects,
        moved=float(moved.mean()),
        kept=float(kept.mean()),
        success=float((moved & kept).mean()),
    )
