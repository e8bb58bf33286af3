r"""Pushforward measures (course chapter 1, §1.3: eqs. (1.5)-(1.6), Thm. 1.1, Exs. 1.2-1.3, Figs. 1.1-1.2).

For a random variable :math:`X \sim P` and a measurable map :math:`T`, the law of :math:`Y = T(X)` is the
pushforward :math:`T_\# P(A) = P(T^{-1}(A))` (1.6). Three ways to compute it:

- discrete: add the masses of all points with the same image (:func:`pushforward_discrete`);
- by sampling: apply :math:`T` to draws of :math:`X` (:func:`pushforward_histogram` bins them by source
  quantile, as in Fig. 1.2);
- by change of variables (1.5), extended to maps that are injective on pieces: if
  :math:`T^{-1}(y) = \{g_1(y), \dots, g_m(y)\}` with differentiable branches :math:`g_i`,

  .. math::
      p_Y(y) = \sum_{i=1}^m p_X(g_i(y))\, |\det \nabla g_i(y)|,

  with the Jacobians from torch autodiff (:func:`pushforward_log_density`). For bijections, Pyro's and
  torch's ``TransformedDistribution`` do the one-branch case; the sum over branches is what they lack
  (e.g. :math:`T(x) = x^2`, whose pushforward of :math:`\mathcal N(0, 1)` is :math:`\chi^2_1`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch.func import jacrev, vmap


def pushforward_discrete(pmf: Mapping[Hashable, float], T: Mapping[Hashable, Hashable] | Callable) -> dict:
    r"""Push a discrete distribution through a map: :math:`(T_\# P)(\{y\}) = \sum_{x: T(x) = y} P(\{x\})` (Ex. 1.2).

    Parameters
    ----------
    pmf
        Mapping from source points to probabilities (non-negative, summing to one).
    T
        A mapping or a callable on source points; many-to-one maps add their masses.

    Returns
    -------
    dict
        Target point -> probability, in order of first appearance.

    Raises
    ------
    ValueError
        If ``pmf`` is not a distribution or ``T`` has no image for a source point.

    Examples
    --------
    >>> pushforward_discrete({1: 0.2, 2: 0.5, 3: 0.3}, {1: "a", 2: "b", 3: "b"})
    {'a': 0.2, 'b': 0.8}
    """
    masses = np.asarray(list(pmf.values()), dtype=np.float64)
    if np.any(masses < 0) or not np.isclose(masses.sum(), 1.0, rtol=0, atol=1e-9):
        raise ValueError(f"pmf must have non-negative masses summing to 1; got sum {masses.sum()!r}.")
    out: dict = {}
    for x, p in pmf.items():
        if isinstance(T, Mapping):
            if x not in T:
                raise ValueError(f"T has no image for source point {x!r}.")
            y = T[x]
        else:
            y = T(x)
        out[y] = out.get(y, 0.0) + float(p)
    return out


class PushforwardHistogram(NamedTuple):
    """Counts of :math:`T(X)` by target bin, split by source quantile bin (Fig. 1.2).

    ``counts[j, b]`` counts draws from source bin ``j`` (equal-mass bins between ``source_edges``) landing
    in target bin ``b`` (between ``target_edges[b]`` and ``target_edges[b + 1]``); ``density`` is
    ``counts`` normalised so that the stacked histogram integrates to one.
    """

    counts: np.ndarray
    density: np.ndarray
    source_edges: np.ndarray
    target_edges: np.ndarray


def pushforward_histogram(samples: ArrayLike, T: Callable[[np.ndarray], np.ndarray], *, num_source_bins: int = 10,
                          num_target_bins: int = 60, target_range: tuple[float, float] | None = None
                          ) -> PushforwardHistogram:
    """Pushforward by sampling: histogram of ``T(samples)`` coloured by where each draw came from.

    Parameters
    ----------
    samples
        1-D draws of the source :math:`X`.
    T
        Vectorised map applied to the draws.
    num_source_bins
        Number of equal-probability source bins (empirical quantiles).
    num_target_bins
        Number of target bins.
    target_range
        (low, high) of the target bins; the range of the mapped draws by default.

    Returns
    -------
    PushforwardHistogram
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1 or x.size < num_source_bins:
        raise ValueError(f"samples must be 1-D with at least num_source_bins={num_source_bins} draws; "
                         f"got shape {x.shape}.")
    y = np.asarray(T(x), dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(f"T must map the draws elementwise; got output shape {y.shape} for input {x.shape}.")
    source_edges = np.quantile(x, np.linspace(0.0, 1.0, num_source_bins + 1))
    source_bin = np.clip(np.searchsorted(source_edges, x, side="right") - 1, 0, num_source_bins - 1)
    low, high = target_range if target_range is not None else (y.min(), y.max())
    target_edges = np.linspace(low, high, num_target_bins + 1)
    counts = np.stack([np.histogram(y[source_bin == j], bins=target_edges)[0] for j in range(num_source_bins)])
    density = counts / (x.size * np.diff(target_edges))[None, :]
    return PushforwardHistogram(counts, density, source_edges, target_edges)


def pushforward_log_density(log_p_x: Callable[[torch.Tensor], torch.Tensor],
                            inverse_branches: Sequence[Callable[[torch.Tensor], torch.Tensor]],
                            y: ArrayLike | torch.Tensor) -> torch.Tensor:
    r"""Log-density of :math:`Y = T(X)` by change of variables, summed over the branches of :math:`T^{-1}` (1.5).

    .. math::
        \log p_Y(y) = \log \sum_i \exp\big(\log p_X(g_i(y)) + \log|\det \nabla g_i(y)|\big).

    Parameters
    ----------
    log_p_x
        Log-density of :math:`X`, mapping one point (a 0-d tensor, or shape (d,)) to a 0-d tensor; it is
        vectorised with ``torch.func.vmap``.
    inverse_branches
        The local inverses :math:`g_i` of :math:`T`, each mapping one point to one point (same shape). A
        branch returning NaN (e.g. :math:`\sqrt{y}` for :math:`y < 0`) contributes nothing at that point.
        The ``.inv`` of a torch or Pyro ``Transform`` is a valid branch (its log-determinant is then
        recomputed by autodiff, not taken from the transform).
    y
        Points, shape (N,) for scalars or (N, d) for vectors. A floating array or tensor keeps its dtype (float64
        numpy input is computed in float64); integers use torch's default dtype.

    Returns
    -------
    torch.Tensor
        (N,) log-densities, ``-inf`` where no branch applies. Differentiable with respect to ``y``.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal
    >>> branches = [torch.sqrt, lambda y: -torch.sqrt(y)]
    >>> pushforward_log_density(Normal(0., 1.).log_prob, branches, torch.tensor([1.0])).exp()  # chi2(1) at 1
    tensor([0.2420])
    """
    if len(inverse_branches) == 0:
        raise ValueError("inverse_branches must hold at least one branch.")
    y = _as_float_tensor(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must have shape (N,) or (N, d); got {tuple(y.shape)}.")
    terms = []
    for g in inverse_branches:
        x = vmap(g)(y)
        jac = vmap(jacrev(g))(y)
        log_det = torch.log(jac.abs()) if y.ndim == 1 else torch.linalg.slogdet(jac)[1]
        term = vmap(log_p_x)(torch.nan_to_num(x)) + log_det
        invalid = torch.isnan(x) if y.ndim == 1 else torch.isnan(x).any(-1)
        terms.append(torch.where(invalid | torch.isnan(term), torch.full_like(term, -torch.inf), term))
    return torch.logsumexp(torch.stack(terms), dim=0)


def _as_float_tensor(y: ArrayLike | torch.Tensor) -> torch.Tensor:
    """``y`` as a tensor without a silent change of floating dtype (numpy float64 stays float64)."""
    if torch.is_tensor(y):
        return y if y.is_floating_point() else y.to(torch.get_default_dtype())
    array = np.asarray(y)
    if np.issubdtype(array.dtype, np.floating):
        return torch.as_tensor(array)
    return torch.as_tensor(array, dtype=torch.get_default_dtype())
