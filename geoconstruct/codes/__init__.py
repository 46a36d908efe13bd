"""Attribute codebooks: grid, gaussian, rademacher and dual-BCH codes."""
