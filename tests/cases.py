"""Cases shared by several test modules."""

from geoconstruct.codes.codebooks import BCHCodes

SUPERPOSED_BCH = BCHCodes(max_coherence=0.875)
"""Dual-BCH codes with a guaranteed superposed margin of 1/8: short enough for quick tests."""

LAYOUT_CODEBOOKS = [
    ("block", "grid"),
    ("block", "gaussian"),
    ("block", "rademacher"),
    ("block", "bch"),
    ("superposed", "gaussian"),
    ("superposed", "rademacher"),
    ("superposed", SUPERPOSED_BCH),
]
"""Every layout with every codebook it accepts."""
