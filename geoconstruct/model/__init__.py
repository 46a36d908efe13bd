"""The model layer: the numpy transformer in TransformerLens conventions, and the selector MLP."""
