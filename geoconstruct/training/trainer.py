"""Gradient descent on the constructions' architecture, as a comparison (needs the ``train`` extra).

geoconstruct builds every construction in closed form; this module exists only to ask whether
gradient descent finds the same geometry. :func:`train_single_hop` trains, from scratch, the
one-layer transformer a construction is (the vocabulary, the ``[s, r]`` prompts, attention, a
ReLU MLP, no normalisation) on all ``N·R`` facts with Adam, and returns its weights in
TransformerLens names, which every analysis takes. It trains through the library's one forward
pass (:func:`~geoconstruct.model.transformer.forward`, on torch parameters, so that gradients
flow); recall is then judged by the same pass on the exported numpy weights.

With ``freeze_embeddings=True`` the embeddings stay at their random initialisation (the paper's
appendix D control): the facts can then only live in the MLP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_int
from geoconstruct.constructions.queries import prompt_tokens, query_pairs
from geoconstruct.facts import Facts, random_facts, require_facts, seed_streams
from geoconstruct.model.backends import require_torch
from geoconstruct.model.transformer import TransformerConfig, Weights, forward
from geoconstruct.model.vocabulary import Vocabulary
from geoconstruct.verification.evaluation import score_prompts
from geoconstruct.verification.report import RecallReport, recall_report

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_STEPS",
    "DEFAULT_WEIGHT_DECAY",
    "TrainedModel",
    "require_torch",
    "single_hop_prompts",
    "train_single_hop",
]

DEFAULT_STEPS = 600
DEFAULT_LEARNING_RATE = 3e-3
DEFAULT_WEIGHT_DECAY = 1.0
"""Decoupled weight decay (AdamW). Measured at N = 256, R = 2, d = 32: with it, the fitted
superposition explains R² = 0.81 of the trained embeddings (0.52 with frozen ones); without it,
0.54 (0.50), at the same recall of every fact."""


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """Weights gradient descent found for a set of facts, in TransformerLens names.

    Attributes
    ----------
    config : TransformerConfig
        float32, one layer, the construction's vocabulary and context of 2.
    weights : mapping of str to ndarray
        Read-only arrays of TransformerLens names and shapes.
    facts : Facts
        The facts it was trained on.
    vocabulary : Vocabulary
        Subjects ``[0, N)``, relations ``[N, N+R)``, attributes ``[N+R, 2N+R)``.
    losses : tuple of float
        The training loss after each step.
    frozen_embeddings : bool
        Whether ``W_E`` was kept at its random initialisation.
    seed : int
    """

    config: TransformerConfig
    weights: Weights
    facts: Facts
    vocabulary: Vocabulary
    losses: tuple[float, ...]
    frozen_embeddings: bool
    seed: int

    def recall(self, facts: Facts | None = None) -> RecallReport:
        """Every fact through the numpy forward pass (default: the facts it was trained on)."""
        facts = self.facts if facts is None else facts
        tokens, answers = single_hop_prompts(facts, self.vocabulary)
        scores = score_prompts(self.weights, self.config, tokens, answers)
        return recall_report(
            scores,
            tokens,
            answers,
            self.vocabulary,
            n_facts=facts.n_facts,
            n_queries=facts.n_facts,
            total_queries=facts.n_facts,
        )


def single_hop_prompts(
    facts: Facts, vocabulary: Vocabulary
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every prompt ``[s, N + r]`` ([N·R, 2], query ``r·N + s``) and its attribute token.

    Parameters
    ----------
    vocabulary : Vocabulary
        Token ids of subjects, relations and attributes.
    """
    subjects, relations = query_pairs(facts.n_subjects, facts.n_relations)
    answers = facts.answer(subjects, relations) + vocabulary.attribute_offset
    return prompt_tokens(vocabulary, subjects, relations), np.asarray(answers, dtype=np.int64)


def train_single_hop(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    d_mlp: int | None = None,
    n_heads: int = 1,
    steps: int = DEFAULT_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    seed: int = 0,
    facts: Facts | None = None,
    freeze_embeddings: bool = False,
    progress: Callable[[int], None] | None = None,
) -> TrainedModel:
    """Train the one-layer architecture from scratch on every fact, full batch, with AdamW.

    Parameters
    ----------
    d_mlp : int, optional
        Hidden units of the MLP (default ``4·d``).
    n_heads : int
        Attention heads.
    steps : int
        Adam steps on the full batch of ``N·R`` prompts (cross-entropy at the last position).
    learning_rate : float
    weight_decay : float
        Decoupled weight decay (AdamW; 0 is plain Adam).
    freeze_embeddings : bool
        Keep ``W_E`` at its random initialisation (the frozen-embedding control).

    Returns
    -------
    TrainedModel

    Raises
    ------
    ImportError
        If torch is not installed, naming the extra that installs it.
    """
    torch = require_torch("train")
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    d = require_int("d", d, minimum=1)
    n_heads = require_int("n_heads", n_heads, minimum=1)
    if d % n_heads:
        raise ValueError(f"d={d} must be a multiple of n_heads={n_heads}")
    d_mlp = require_int("d_mlp", 4 * d if d_mlp is None else d_mlp, minimum=1)
    steps = require_int("steps", steps, minimum=1)
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    seed = require_int("seed", seed, minimum=0)
    if facts is None:  # the facts construct_single_hop stores for this seed
        facts = random_facts(n_subjects, n_relations, seed_streams(seed).facts)
    require_facts("facts", facts, n_subjects, n_relations)
    vocabulary = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    config = TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=n_heads,
        d_head=d // n_heads,
        d_mlp=d_mlp,
        d_vocab=vocabulary.d_vocab,
        n_ctx=2,
        dtype="float32",
    )

    generator = torch.Generator().manual_seed(seed)
    parameters = {
        name: torch.nn.Parameter(torch.randn(shape, generator=generator) * _init_scale(name, shape))
        for name, shape in config.weight_shapes().items()
    }
    if freeze_embeddings:
        parameters["embed.W_E"].requires_grad_(False)
    trained = [p for p in parameters.values() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=learning_rate, weight_decay=weight_decay)
    tokens_np, answers_np = single_hop_prompts(facts, vocabulary)
    tokens, answers = torch.from_numpy(tokens_np), torch.from_numpy(answers_np)
    losses = []
    for _ in range(steps):
        logits = forward(parameters, config, tokens, last_position_only=True)  # [N·R, d_vocab]
        loss = torch.nn.functional.cross_entropy(logits, answers)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(1)

    weights = {}
    for name, parameter in parameters.items():
        array = parameter.detach().numpy().astype(np.float32)
        array.flags.writeable = False
        weights[name] = array
    return TrainedModel(
        config=config,
        weights=MappingProxyType(weights),
        facts=facts,
        vocabulary=vocabulary,
        losses=tuple(losses),
        frozen_embeddings=freeze_embeddings,
        seed=seed,
    )


def _init_scale(name: str, shape: tuple[int, ...]) -> float:
    """Standard deviation at initialisation: 0 for biases, ``1/sqrt(fan_in)`` for matrices."""
    if name.rsplit(".", 1)[-1].startswith("b_"):
        return 0.0
    if name in ("embed.W_E", "pos_embed.W_pos"):
        return 1.0
    return 1.0 / math.sqrt(shape[-2])
