"""How a construction stores its facts, read off its weights: probes, causal interventions, and
zero-shot transfer."""
