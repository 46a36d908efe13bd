"""Cases shared by several test modules."""

LAYOUT_CODEBOOKS = [
    ("block", "grid"),
    ("block", "gaussian"),
    ("block", "rademacher"),
    ("superposed", "gaussian"),
    ("superposed", "rademacher"),
]
"""Every layout with every codebook it accepts."""
