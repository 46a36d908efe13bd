"""Construction recipes: single hop, multi-hop and the associative-memory baselines."""
