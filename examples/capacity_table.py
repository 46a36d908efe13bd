"""Capacity against dimension: a small dimension table beside the lower bounds, and its plot.

Run with ``python examples/capacity_table.py [FIGURE.png]`` (the plot needs the ``plot`` extra).
"""

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from geoconstruct.analysis.measurement.capacity import dimension_table
from geoconstruct.analysis.measurement.dimension_search import capacity, measure_min_dimension
from geoconstruct.analysis.output.plotting import plot_dimension_table
from geoconstruct.analysis.output.tables import render_table
from geoconstruct.analysis.theory.bounds import global_bits, per_subject_bits

print(f"R·log2 N! for N=4096, R=4: {global_bits(4096, 4):,.0f} bits (any model)")
print(f"R·log2 N  for N=4096, R=4: {per_subject_bits(4096, 4):.0f} bits per subject embedding")
# The paper's construction (gaussian codes, superposed), measured on two seeds:
found = measure_min_dimension(1024, 4, seeds=(0, 1))
assert found.basis == "every_fact" and found.d < found.proven_d
print(f"gaussian, superposed, N=1024, R=4: min d = {found.d} (proved: {found.proven_d})")
print(f"capacity of d=96, R=4 (gaussian, superposed): N = {capacity(96, 4, seeds=(0, 1)):,}")
# Grid codes in the block layout: the exact regime.
grid = {"layout": "block", "codebook": "grid", "precision": "int8", "seeds": (0,)}
# Every check is proved by the certificate (grid codes read out cleanly); search up to N = 2^14.
largest = capacity(12, 4, max_subjects=2**14, **grid)
assert largest == 2**14  # two 8-bit digits name 2^16 subjects: all 2^14 fit
print(f"capacity of d=12, R=4, grid, int8: N >= {largest:,} (searched up to 2^14)")

# Any concurrent.futures executor runs the cells; threads keep this example light.
with ThreadPoolExecutor(max_workers=2) as pool:
    rows = dimension_table(
        [256, 1024],
        [1, 4],
        codebooks=["grid", "gaussian"],
        precisions=["int8"],
        seeds=(0, 1),
        executor=pool,
    )
# The certificate proves every grid row; the forward pass checks every fact of the random
# superposed codes (rounded to int8, their codes are no longer the ones the certificate reads).
assert all(row.min_d_basis == "certified" for row in rows if row.codebook == "grid")
assert all(row.min_d_basis == "every_fact" for row in rows if row.codebook == "gaussian")
print(render_table(rows))

if len(sys.argv) > 1:
    figure_path = Path(sys.argv[1])
else:
    figure_path = Path(tempfile.mkdtemp()) / "dimension_table.png"
try:
    written = plot_dimension_table(rows, figure_path)
except ImportError as missing:  # the plot extra is not installed: say how to install it
    print(f"no figure: {missing}")
else:
    print(f"figure written to {written}")
