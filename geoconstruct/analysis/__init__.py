"""Analysis of constructions, in four groups: ``theory`` (bounds and the predicted transition),
``measurement`` (what the forward pass measures), ``mechanism`` (how the facts are stored) and
``output`` (tables and figures)."""
