r"""Label alignment between two mixture fits (course chapter 2, label switching).

A mixture likelihood is invariant to the :math:`K!` relabellings of its components, so two fits (or a fit
and the truth) can only be compared after matching labels. We solve the assignment problem

.. math::
    \sigma^\star = \arg\min_{\sigma \in S_K} \sum_{k} C_{k, \sigma(k)}

exactly with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``), rather than the greedy
nearest-mean matching of the course demo, which can assign two components to the same reference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment


class Alignment(NamedTuple):
    """A matching: ``permutation[k]`` is the estimated component matched to reference component ``k``."""

    permutation: np.ndarray
    cost: float


def match_components(reference: ArrayLike, estimate: ArrayLike) -> Alignment:
    r"""Match estimated components to reference components by minimal total squared distance.

    Parameters
    ----------
    reference
        (K, p) reference component summaries (means, or flattened parameters).
    estimate
        (K, p) estimated summaries, same shape.

    Returns
    -------
    Alignment
        ``estimate[permutation]`` lines up with ``reference``; ``cost`` is
        :math:`\sum_k \|r_k - e_{\sigma(k)}\|^2`.

    Raises
    ------
    ValueError
        If the two arrays do not have the same (K, p) shape.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    ref = ref.reshape(ref.shape[0], -1) if ref.ndim else ref
    est = est.reshape(est.shape[0], -1) if est.ndim else est
    if ref.ndim != 2 or ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same shape (K, p); got {np.shape(reference)} "
                         f"and {np.shape(estimate)}.")
    cost = ((ref[:, None, :] - est[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return Alignment(cols[np.argsort(rows)], float(cost[rows, cols].sum()))


def align_labels(reference_labels: ArrayLike, labels: ArrayLike, num_components: int | None = None) -> Alignment:
    """Match hard labels by maximal agreement (Hungarian on the negated contingency table).

    Returns an :class:`Alignment` whose ``permutation[k]`` is the label matched to reference label ``k``
    and whose ``cost`` is the number of points that disagree after matching.
    """
    ref = np.asarray(reference_labels, dtype=np.int64)
    lab = np.asarray(labels, dtype=np.int64)
    if ref.shape != lab.shape or ref.ndim != 1:
        raise ValueError(f"reference_labels and labels must be 1-D of equal length; got {ref.shape} and {lab.shape}.")
    if ref.size and (ref.min() < 0 or lab.min() < 0):
        raise ValueError("labels must be non-negative integers.")
    K = num_components or int(max(ref.max(initial=-1), lab.max(initial=-1)) + 1)
    table = np.zeros((K, K))
    np.add.at(table, (ref, lab), 1.0)
    rows, cols = linear_sum_assignment(-table)
    return Alignment(cols[np.argsort(rows)], float(ref.size - table[rows, cols].sum()))
