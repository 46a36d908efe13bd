"""Verification: the forward pass as the judge, in bounded memory, and the recall certificate."""
