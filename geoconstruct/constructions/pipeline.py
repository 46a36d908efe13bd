"""One build pipeline: what every recipe does before it writes a weight, written once.

A recipe is a small :class:`Recipe` spec: its dimension and code-length formulas, its memory
plan, its draw (codes and metadata, with their guarantee) and its assembly. :func:`build` owns
the rest, in this order, for every recipe: validate the sizes, the seed, the dtype and the facts;
resolve the codebook family (and let the recipe refuse one it cannot use); check ``d`` against
the recipe's minimum (the error names it); take the code length at ``d``; check the plan against
the memory budget before anything is allocated; split the seed (:func:`~geoconstruct.facts.
seed_streams`) and draw the facts; then the recipe draws and assembles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from geoconstruct._validation import require_dtype, require_int, require_within_budget
from geoconstruct.codes.protocol import Codebook, CodebookFamily
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.memory import MemoryPlan
from geoconstruct.facts import Facts, SeedStreams, random_facts, require_facts, seed_streams
from geoconstruct.model.transformer import DTYPES

__all__ = ["Recipe", "Sizes", "build", "sizes"]


@dataclass(frozen=True)
class Sizes:
    """A request's validated sizes and choices, as every recipe reads them.

    Attributes
    ----------
    n_subjects, n_relations : int
        N and R (N entities for multi-hop).
    family : CodebookFamily
        The attribute codes' family, resolved.
    dtype : str
        ``"float64"`` or ``"float32"``.
    """

    n_subjects: int
    n_relations: int
    family: CodebookFamily
    dtype: str

    @property
    def n_subjects_relations(self) -> tuple[int, int]:
        """``(N, R)``."""
        return self.n_subjects, self.n_relations


class Recipe(Protocol):
    """What a recipe supplies to :func:`build`; everything else is the pipeline's. Each method
    takes the validated ``request`` (and ``d``, ``code_length``, ``streams``: see the glossary).
    """

    def check(self, request: Sizes) -> None:
        """Refuse a family (or size) the recipe cannot build, with the reason."""
        ...

    def describe(self, request: Sizes) -> str:
        """The construction in words, for the error below its minimum d."""
        ...

    def minimum_dimension(self, request: Sizes) -> int:
        """The smallest ``d`` the recipe can assemble."""
        ...

    def default_dimension(self, request: Sizes) -> int:
        """The ``d`` built when none is given, the smallest with a proof."""
        ...

    def code_length_at(self, request: Sizes, d: int) -> int:
        """The code length k the recipe takes at ``d``."""
        ...

    def memory_plan(self, request: Sizes, d: int, code_length: int) -> MemoryPlan:
        """The peak bytes of the build, by part."""
        ...

    def draw(self, request: Sizes, code_length: int, streams: SeedStreams) -> tuple[Codebook, Any]:
        """The codes and the recipe's metadata (read maps, bounds, guarantee), from ``streams``."""
        ...

    def assemble(
        self, facts: Facts, codes: Codebook, metadata: Any, d: int, dtype: str, seed: int
    ) -> Construction[Any]:
        """Every weight, written from the parts.

        Parameters
        ----------
        codes : Codebook
            The attribute codes drawn.
        metadata : object
            The recipe's metadata, from :meth:`draw`.
        """
        ...


def sizes(
    n_subjects: int,
    n_relations: int,
    codebook: str | CodebookFamily,
    dtype: str,
    *,
    subjects_name: str = "n_subjects",
) -> Sizes:
    """Validate the sizes and the dtype, and resolve the codebook family.

    Parameters
    ----------
    subjects_name : str
        What N is called in an error (``"n_entities"`` for multi-hop).

    Examples
    --------
    >>> sizes(100, 2, "grid", "float32")
    Sizes(n_subjects=100, n_relations=2, family=GridCodes(bits=8), dtype='float32')
    """
    return Sizes(
        require_int(subjects_name, n_subjects, minimum=1),
        require_int("n_relations", n_relations, minimum=1),
        resolve_codebook(codebook),
        require_dtype(dtype, DTYPES),
    )


def build(
    recipe: Recipe,
    request: Sizes,
    d: int | None,
    *,
    seed: int,
    facts: Facts | None,
    memory_budget: int,
) -> Construction[Any]:
    """Build ``recipe`` for ``request`` at ``d`` (None: the recipe's default).

    Parameters
    ----------
    recipe : Recipe
        The recipe's spec.

    Raises
    ------
    ValueError
        On a family the recipe refuses, mismatched facts, or ``d`` below the recipe's minimum
        (``requires d >= <minimum>``).
    MemoryBudgetError
        Before anything is allocated, when the plan exceeds ``memory_budget``.
    """
    seed = require_int("seed", seed, minimum=0)
    recipe.check(request)
    d = recipe.default_dimension(request) if d is None else require_int("d", d, minimum=1)
    n_subjects, n_relations = request.n_subjects, request.n_relations
    if facts is not None:
        facts = require_facts("facts", facts, n_subjects, n_relations)
    minimum = recipe.minimum_dimension(request)
    if d < minimum:
        raise ValueError(f"{recipe.describe(request)} requires d >= {minimum}, got d={d}")
    code_length = recipe.code_length_at(request, d)
    request.family.check_dtype(code_length, request.dtype)
    plan = recipe.memory_plan(request, d, code_length)
    require_within_budget("this construction", plan.total, memory_budget)

    streams = seed_streams(seed)
    if facts is None:
        facts = random_facts(n_subjects, n_relations, streams.facts)
    codebook, metadata = recipe.draw(request, code_length, streams)
    return recipe.assemble(facts, codebook, metadata, d, request.dtype, seed)
