"""Token ids: the vocabulary as consecutive ranges of subjects, relations and attributes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Vocabulary"]


@dataclass(frozen=True)
class Vocabulary:
    """Token ids: subjects ``[0, N)``, relations ``[N, N+R)``, attributes ``[N+R, N+R+M)``.

    Examples
    --------
    >>> vocab = Vocabulary(n_subjects=5, n_relations=2, n_attributes=5)
    >>> vocab.d_vocab, vocab.relation_offset, vocab.attribute_offset
    (12, 5, 7)
    """

    n_subjects: int
    n_relations: int
    n_attributes: int

    @property
    def relation_offset(self) -> int:
        return self.n_subjects

    @property
    def attribute_offset(self) -> int:
        return self.n_subjects + self.n_relations

    @property
    def d_vocab(self) -> int:
        return self.n_subjects + self.n_relations + self.n_attributes

    def attribute_of(self, tokens: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Attribute id of each token, or -1 for a token that is not an attribute."""
        ids = np.asarray(tokens, dtype=np.int64) - self.attribute_offset
        return np.where((ids >= 0) & (ids < self.n_attributes), ids, -1)
