"""What is measured by building constructions and asking the forward pass: minimum dimensions,
capacity, the transition, precision, the multi-hop trade-off, the baselines, and throughput."""
