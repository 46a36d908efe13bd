"""geoconstruct: closed-form transformer weights that memorise facts geometrically.

Subject embeddings are superpositions of their attribute codes and a small ReLU MLP selects the
attribute the relation asks for.

Examples
--------
Build a construction, run it as a real transformer, check that every fact is recalled:

>>> from geoconstruct import construct_single_hop, proven_dimension
>>> d = proven_dimension(2000, 4)   # random gaussian codes, superposed: the paper's construction
>>> construction = construct_single_hop(n_subjects=2000, n_relations=4, d=d, seed=0)
>>> report = construction.recall()
>>> report.n_correct == report.n_queries == report.n_facts == 8000
True
>>> construction.guarantee.scope   # proved with probability >= 1 - δ over the draw
'with_probability'

Grid codes in the block layout are the exact regime: every fact, for every draw, at a d of
a few times log2 N:

>>> exact = construct_single_hop(2000, 4, d=proven_dimension(2000, 4, layout="block",
...     codebook="grid"), layout="block", codebook="grid")
>>> exact.config.d_model, exact.recall().accuracy
(12, 1.0)

Multi-hop queries ("the mother of the wife of x") by chain of thought, one hop a pass:

>>> from geoconstruct import construct_multi_hop, multi_hop_dimension
>>> d = multi_hop_dimension(500, 3, hops=3, steps=3)
>>> chain_of_thought = construct_multi_hop(500, 3, hops=3, steps=3, d=d, seed=0)
>>> chain_of_thought.recall().accuracy   # all 500·3³ queries, every intermediate entity too
1.0
"""

from geoconstruct._validation import InputTypeError, MemoryBudgetError, NoResultError
from geoconstruct.analysis.theory.prediction import (
    predicted_accuracy,
    predicted_min_dimension,
    predicted_success,
    predicted_success_dimension,
)
from geoconstruct.codes.codebooks import GaussianCodes, GridCodes, RademacherCodes
from geoconstruct.codes.protocol import Codebook
from geoconstruct.constructions.baselines import construct_baseline
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.disjoint import construct_disjoint, disjoint_dimension
from geoconstruct.constructions.layouts import Layout
from geoconstruct.constructions.multi_hop import construct_multi_hop, multi_hop_dimension
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import proven_dimension, required_dimension
from geoconstruct.facts import Facts, random_facts
from geoconstruct.model.transformer import TransformerConfig, forward
from geoconstruct.verification.report import ChainFailure, Failure, RecallReport

__version__ = "0.1.0"

__all__ = [
    "ChainFailure",
    "Codebook",
    "Construction",
    "Facts",
    "Failure",
    "GaussianCodes",
    "GridCodes",
    "InputTypeError",
    "Layout",
    "MemoryBudgetError",
    "NoResultError",
    "RademacherCodes",
    "RecallReport",
    "TransformerConfig",
    "__version__",
    "construct_baseline",
    "construct_disjoint",
    "construct_multi_hop",
    "construct_single_hop",
    "disjoint_dimension",
    "forward",
    "multi_hop_dimension",
    "predicted_accuracy",
    "predicted_min_dimension",
    "predicted_success",
    "predicted_success_dimension",
    "proven_dimension",
    "random_facts",
    "required_dimension",
]
