"""Every recipe by its ``kind``: how to read its metadata back and reassemble its weights.

:func:`geoconstruct.io.load` uses this to rebuild a construction from the facts, codes and
metadata a file holds, and to check that the stored weights are exactly what the recipe writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geoconstruct.codes.protocol import Codebook
from geoconstruct.constructions import baselines, disjoint, multi_hop, single_hop
from geoconstruct.constructions.construction import Construction
from geoconstruct.facts import Facts

__all__ = ["RECIPES", "Recipe"]

Assemble = Callable[[Facts, Codebook, Any, int, str, int], Construction]


@dataclass(frozen=True)
class Recipe:
    """How to read a kind's metadata back, and how to assemble it from its parts."""

    read_metadata: Callable[[dict[str, Any], dict[str, Any]], Any]
    assemble: Assemble


RECIPES: dict[str, Recipe] = {
    "single_hop": Recipe(single_hop.SingleHopMetadata.from_manifest, single_hop.assemble),
    "multi_hop": Recipe(multi_hop.MultiHopMetadata.from_manifest, multi_hop.assemble),
    "disjoint": Recipe(disjoint.DisjointMetadata.from_manifest, disjoint.assemble),
    **{
        kind: Recipe(
            baselines.BaselineMetadata.from_manifest, functools.partial(baselines.assemble, kind)
        )
        for kind in baselines.BASELINE_KINDS
    },
}
