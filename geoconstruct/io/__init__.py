"""Files and export: save and load constructions of every kind, hand them to TransformerLens or
to plain torch (and through it to nnsight)."""

from geoconstruct.io.files import FORMAT_VERSION, ConstructionFileError, load, save
from geoconstruct.io.torch_module import to_torch
from geoconstruct.io.transformer_lens import (
    to_transformer_lens,
    transformer_lens_config,
    transformer_lens_state_dict,
)

__all__ = [
    "FORMAT_VERSION",
    "ConstructionFileError",
    "load",
    "save",
    "to_torch",
    "to_transformer_lens",
    "transformer_lens_config",
    "transformer_lens_state_dict",
]
