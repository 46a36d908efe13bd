"""Capacity against dimension: a small dimension table beside the lower bounds, and its plot.

Run with ``python examples/capacity_table.py [FIGURE.png]`` (the plot needs the ``plot`` extra).
"""

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from geoconstruct.analysis.bounds import global_bits, per_subject_bits
from geoconstruct.analysis.capacity import capacity, dimension_table, min_dimension
from geoconstruct.analysis.plotting import plot_dimension_table
from geoconstruct.analysis.tables import render_table

print(f"R·log2 N! for N=4096, R=4: {global_bits(4096, 4):,.0f} bits (any model)")
print(f"R·log2 N  for N=4096, R=4: {per_subject_bits(4096, 4):.0f} bits per subject embedding")
print(f"min d at N=4096, R=4, int8: {min_dimension(4096, 4, precision='int8')}")
print(f"capacity of d=14, R=4, int8: N = {capacity(14, 4, precision='int8'):,}")

# Any concurrent.futures executor runs the cells; threads keep this example light.
with ThreadPoolExecutor(max_workers=2) as pool:
    rows = dimension_table(
        [256, 4096, 65536],
        [1, 4],
        codebooks=["grid", "bch"],
        precisions=["int8"],
        executor=pool,
    )
print(render_table(rows))

if len(sys.argv) > 1:
    figure_path = Path(sys.argv[1])
else:
    figure_path = Path(tempfile.mkdtemp()) / "dimension_table.png"
print(f"figure written to {plot_dimension_table(rows, figure_path)}")
