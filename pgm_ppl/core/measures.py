"""The discrete measure, a value type shared by optimal transport and the Dirichlet process.

It lives in the contract layer because two engine families use it (``ot`` transports between discrete
measures; ``dp`` builds empirical and mixing measures) and engines do not import each other;
:mod:`pgm_ppl.ot` re-exports it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["DiscreteMeasure"]


class DiscreteMeasure(NamedTuple):
    r"""A discrete measure :math:`\sum_k w_k \delta_{x_k}` (course Def. 5.1): atoms (K, d), weights (K,)."""

    points: np.ndarray
    weights: np.ndarray
