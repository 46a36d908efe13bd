"""Files and export: save and load constructions, hand them to TransformerLens."""

from geoconstruct.io.files import (
    FORMAT_VERSION,
    ConstructionFileError,
    load,
    save,
    to_transformer_lens,
    transformer_lens_config,
    transformer_lens_state_dict,
)

__all__ = [
    "FORMAT_VERSION",
    "ConstructionFileError",
    "load",
    "save",
    "to_transformer_lens",
    "transformer_lens_config",
    "transformer_lens_state_dict",
]
