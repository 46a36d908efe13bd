"""Training, as an optional comparison: ``pip install 'geoconstruct[train]'`` (torch).

Nothing in the rest of the library imports this package; every construction is closed form.
"""

from geoconstruct.training.trainer import TrainedModel, train_single_hop

__all__ = ["TrainedModel", "train_single_hop"]
