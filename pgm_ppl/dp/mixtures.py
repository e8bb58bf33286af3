r"""The truncated stick-breaking DP Gaussian mixture as a backend-neutral model (course §4.2, Def. 4.3).

.. math::

    V_k \sim \mathrm{Beta}(1, \alpha)\ (k < K),\quad V_K = 1,\quad
    C_k = V_k \textstyle\prod_{j<k}(1 - V_j),\qquad
    \mu_k \sim \mathcal N(0, s_0^2 I_d),\quad \sigma_{kj} \sim \mathrm{HalfNormal}(1),

    z_n \sim \mathrm{Cat}(C),\qquad x_n \mid z_n \sim \mathcal N(\mu_{z_n}, \mathrm{diag}(\sigma_{z_n}^2)).

Setting :math:`V_K = 1` makes the truncated weights sum to one (Ishwaran and James, 2001; the error of
truncation is bounded by :func:`pgm_ppl.dp.random_measures.truncation_error_bound`). The assignments
:math:`z_n` are enumerated, so :func:`pgm_ppl.fit` runs NUTS or SVI (``TraceEnum_ELBO``) on either backend
over :math:`V, \mu, \sigma` only; :func:`assignment_probabilities` recovers :math:`q(z_n)` from draws.

Label switching. The stick-breaking prior is *not* invariant to permuting components: :math:`C_k` is
stochastically decreasing in :math:`k` (:math:`\mathbb E[C_k] = \alpha^{k-1}/(1+\alpha)^k`) and the sticks
:math:`V` cannot be permuted into sticks of the same law. So :func:`dp_mixture` carries no
:func:`~pgm_ppl.backend.annotations.exchangeable_components` annotation: relabelling draws by a permutation
would assume a symmetric posterior it does not have, and would leave ``v`` inconsistent with ``weights``.
The ordering is weak, though: a cluster of :math:`n` points sits at index :math:`k` or :math:`j` with
posterior odds of order one, and NUTS cannot move between those modes, so separate chains may hold the same
cluster under different indices, and empty components simply sample their prior. R-hat and ESS on ``mu``,
``sigma`` or ``weights`` across chains therefore measure label disagreement, not convergence. Report
label-invariant quantities instead: :func:`co_clustering_probabilities` (pools all chains), the MAP clustering
from one chain's :func:`assignment_probabilities` compared by adjusted Rand index, the number of components with
weight above a threshold, sorted weights, and the pointwise ``log_likelihood`` group of the fit (LOO, and
R-hat on its sum). With few draws a chain can also keep a redundant component that holds a few points of a
cluster (metastable, not a posterior feature: the CRP prior odds of such a split are ~1e-3); more warm-up
or more chains and the co-clustering matrix show it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logsumexp
from scipy.stats import norm

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array

__all__ = ["dp_mixture", "dp_mixture_guide", "assignment_probabilities", "co_clustering_probabilities",
           "stick_weights"]


def stick_weights(v: Array) -> Array:
    r"""Backend-neutral :math:`C_k = V_k\prod_{j<k}(1-V_j)` for :math:`k \le K-1` plus the leftover
    :math:`C_K = \prod_{j<K}(1-V_j)`, from sticks of shape (..., K-1); computed in log space."""
    log_rest = ops.cumsum(ops.log1p(-v), axis=-1)
    zero = ops.zeros(tuple(v.shape[:-1]) + (1,))
    return ops.exp(ops.concatenate([ops.log(v), zero], axis=-1)
                   + ops.concatenate([zero, log_rest], axis=-1))


def dp_mixture(x: Array, num_components: int = 10, *, alpha: float = 1.0, prior_scale: float = 3.0) -> None:
    r"""Truncated stick-breaking DP mixture of diagonal Gaussians with enumerated assignments.

    Parameters
    ----------
    x
        Data, shape (N, d); standardise the columns first (the priors assume unit scale).
    num_components
        Truncation level :math:`K` (number of sticks); choose it with
        :func:`pgm_ppl.dp.random_measures.truncation_level`.
    alpha
        DP concentration :math:`\alpha`.
    prior_scale
        Prior standard deviation :math:`s_0` of the component means.
    """
    K, (num_data, num_features) = num_components, x.shape
    with pyro.plate("sticks", K - 1):
        v = pyro.sample("v", dist.Beta(1.0, alpha))  # V_k ~ Beta(1, alpha), Def. 4.3
    weights = pyro.deterministic("weights", stick_weights(v))  # C_k = V_k prod_{j<k} (1 - V_j)
    with pyro.plate("components", K):
        mu = pyro.sample("mu", dist.Normal(0.0, prior_scale).expand([num_features]).to_event(1))
        sigma = pyro.sample("sigma", dist.HalfNormal(1.0).expand([num_features]).to_event(1))
    with pyro.plate("data", num_data):
        z = pyro.sample("z", dist.Categorical(weights), infer={"enumerate": "parallel"})
        pyro.sample("x", dist.Normal(mu[z], sigma[z]).to_event(1), obs=x)


def dp_mixture_guide(x: Array, num_components: int = 10, *, alpha: float = 1.0,
                     prior_scale: float = 3.0) -> None:
    r"""Blei-Jordan mean-field guide for :func:`dp_mixture`, with :math:`z` left to enumeration.

    .. math:: q(V_k) = \mathrm{Beta}(a_k, b_k),\quad q(\mu_k) = \mathcal N(m_k, \mathrm{diag}(s_k^2)),\quad
              q(\sigma_k) = \mathrm{LogNormal}(l_k, \mathrm{diag}(t_k^2)).

    The means :math:`m_k` start at :math:`K` (``num_components``) data points spread evenly through ``x`` and the
    sticks at the prior; an autoguide would start every :math:`\mu_k` at the same point, a symmetric saddle from
    which SVI often merges clusters.
    """
    K, (num_data, num_features) = num_components, x.shape
    a = pyro.param("v_a", ops.ones(K - 1), constraint=dist.constraints.positive)
    b = pyro.param("v_b", alpha * ops.ones(K - 1), constraint=dist.constraints.positive)
    start = np.linspace(0, num_data - 1, K).round().astype(np.int64)
    loc = pyro.param("mu_loc", x[start])
    scale = pyro.param("mu_scale", 0.1 * ops.ones((K, num_features)), constraint=dist.constraints.positive)
    log_loc = pyro.param("sigma_loc", -1.0 * ops.ones((K, num_features)))
    log_scale = pyro.param("sigma_scale", 0.1 * ops.ones((K, num_features)), constraint=dist.constraints.positive)
    with pyro.plate("sticks", K - 1):
        pyro.sample("v", dist.Beta(a, b))
    with pyro.plate("components", K):
        pyro.sample("mu", dist.Normal(loc, scale).to_event(1))
        pyro.sample("sigma", dist.LogNormal(log_loc, log_scale).to_event(1))


def _responsibilities(x: ArrayLike, weights: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    r"""Per-draw :math:`p(z_n = k \mid x_n, C, \mu, \sigma)`, shape (S, N, K), draws flattened."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights).reshape(-1, np.shape(weights)[-1])
    m = np.asarray(mu).reshape((w.shape[0],) + np.shape(mu)[-2:])
    s = np.asarray(sigma).reshape(m.shape)
    if x.ndim != 2 or x.shape[1] != m.shape[-1]:
        raise ValueError(f"x: expected shape (N, {m.shape[-1]}), got {x.shape}")
    log_lik = norm.logpdf(x[None, :, None, :], m[:, None], s[:, None]).sum(-1)  # (S, N, K)
    logits = np.log(np.clip(w, 1e-300, None))[:, None, :] + log_lik
    return np.exp(logits - logsumexp(logits, axis=-1, keepdims=True))


def assignment_probabilities(x: ArrayLike, weights: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    r""":math:`p(z_n = k \mid x_n, C, \mu, \sigma)` averaged over posterior draws.

    ``weights`` (..., K), ``mu`` and ``sigma`` (..., K, d) hold draws with any leading sample axes (as in
    ``Fit.posterior``); returns (N, K). Average over draws of one chain only: components of different
    chains may carry different labels (see the module docstring); :func:`co_clustering_probabilities` does not.
    """
    return _responsibilities(x, weights, mu, sigma).mean(0)


def co_clustering_probabilities(x: ArrayLike, weights: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    r"""Posterior co-clustering matrix :math:`P_{nm} = p(z_n = z_m \mid x)`, label-invariant.

    .. math:: P_{nm} = \frac1S \sum_{s=1}^S \sum_{k=1}^K r^{(s)}_{nk}\, r^{(s)}_{mk}, \qquad
              r^{(s)}_{nk} = p(z_n = k \mid x_n, C^{(s)}, \mu^{(s)}, \sigma^{(s)}),

    for :math:`n \ne m`, using that the :math:`z_n` are independent given the globals of draw :math:`s`,
    and :math:`P_{nn} = 1`. Each term is invariant to relabelling the components of its draw, so draws of all
    chains may be pooled. Arguments as in :func:`assignment_probabilities`; returns (N, N).
    """
    r = _responsibilities(x, weights, mu, sigma)
    P = np.einsum("snk,smk->nm", r, r) / r.shape[0]
    np.fill_diagonal(P, 1.0)
    return P
