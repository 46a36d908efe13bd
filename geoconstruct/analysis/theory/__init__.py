"""What is bounded or predicted before anything is built: the information-theoretic lower bounds,
and the predicted transition (an estimate)."""
