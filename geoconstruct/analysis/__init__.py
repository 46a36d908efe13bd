"""Analysis of constructions: bounds, precision, capacity, probes, transfer, comparison, bench."""
