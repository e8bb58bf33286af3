r"""Collapsed Gibbs sampling for the DP Gaussian mixture (Neal, 2000, algorithm 3).

Model: :math:`\Theta \sim \mathrm{DP}(\alpha, G)`, :math:`G = \mathcal N(m_0, \tau^2 I)` over component
means, :math:`x_n \mid \mu_{z_n} \sim \mathcal N(\mu_{z_n}, \sigma^2 I)` with :math:`\sigma` known. The
means are integrated out (conjugacy), so the state is the partition alone and each assignment is resampled
from its CRP-times-predictive conditional

.. math::

    p(z_i = k \mid z_{-i}, x) \propto n_{-i,k}\,
        \mathcal N\!\big(x_i;\ \hat m_{k},\ (s_{k}^2 + \sigma^2) I\big), \qquad
    p(z_i = \text{new} \mid z_{-i}, x) \propto \alpha\, \mathcal N\!\big(x_i;\ m_0,\ (\tau^2+\sigma^2) I\big),

where :math:`s_k^2 = (\tau^{-2} + n_{-i,k}\sigma^{-2})^{-1}` and
:math:`\hat m_k = s_k^2(m_0/\tau^2 + \sum_{j \ne i, z_j = k} x_j/\sigma^2)` are the posterior
moments of :math:`\mu_k` given the other members. The sweep over :math:`i` is sequential by nature;
each update is vectorised over clusters and keeps running sufficient statistics (counts and sums).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from pgm_ppl.core.validation import check_data
from scipy.special import logsumexp

__all__ = ["CollapsedGibbsResult", "GibbsState", "init", "step", "run", "co_clustering_frequencies"]


@dataclass(frozen=True)
class GibbsState:
    """Partition state: ``labels`` (N,) in 0..K-1 with no empty cluster, ``counts`` (K,), ``sums`` (K, d)."""

    labels: np.ndarray
    counts: np.ndarray
    sums: np.ndarray


@dataclass(frozen=True)
class CollapsedGibbsResult:
    """Draws of :func:`run`: ``labels`` (num_samples, N), ``num_clusters`` (num_samples,), the
    ``co_clustering`` matrix :math:`P(z_i = z_j \\mid x)` (N, N) estimated from the draws, and the
    final ``state``. ``pgm_ppl.diagnostics.to_inference_data(result, X)`` gives the draws for ArviZ."""

    labels: np.ndarray
    num_clusters: np.ndarray
    co_clustering: np.ndarray
    state: GibbsState

    def num_clusters_distribution(self) -> dict[int, float]:
        """Posterior probability of each number of clusters (relative frequencies of the draws)."""
        values, counts = np.unique(self.num_clusters, return_counts=True)
        return {int(v): float(c) / self.num_clusters.size for v, c in zip(values, counts)}

    def map_labels(self) -> np.ndarray:
        """The draw whose partition agrees best with the co-clustering matrix (least squares)."""
        same = self.labels[:, :, None] == self.labels[:, None, :]
        loss = ((same - self.co_clustering[None]) ** 2).sum((1, 2))
        return self.labels[int(np.argmin(loss))]


def _check(X: ArrayLike, alpha: float, noise_scale: float, prior_scale: float) -> np.ndarray:
    X = check_data(X, "X")
    for name, value in (("alpha", alpha), ("noise_scale", noise_scale), ("prior_scale", prior_scale)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    return X


def init(X: ArrayLike, labels: ArrayLike | None = None) -> GibbsState:
    """State from initial ``labels`` (all points in one cluster when None); labels are compacted."""
    X = np.asarray(X, dtype=np.float64)
    z = np.zeros(X.shape[0], dtype=np.int64) if labels is None else np.asarray(labels)
    if z.shape != (X.shape[0],):
        raise ValueError(f"labels: expected shape ({X.shape[0]},), got {z.shape}")
    _, z = np.unique(z, return_inverse=True)
    counts = np.bincount(z).astype(np.float64)
    sums = np.zeros((counts.size, X.shape[1]))
    np.add.at(sums, z, X)
    return GibbsState(z, counts, sums)


def _log_predictive(xi, counts, sums, m0, sigma2, tau2) -> np.ndarray:
    s2 = 1.0 / (1.0 / tau2 + counts / sigma2)
    mean = s2[:, None] * (m0 / tau2 + sums / sigma2)
    var = s2 + sigma2
    d = xi.size
    return -0.5 * (((xi - mean) ** 2).sum(1) / var + d * np.log(2 * np.pi * var))


def step(state: GibbsState, X: np.ndarray, rng: np.random.Generator, *, alpha: float, noise_scale: float,
         prior_scale: float, mean_prior: np.ndarray) -> GibbsState:
    """One systematic sweep of algorithm 3 over all points; returns the new (compacted) state."""
    z, counts, sums = state.labels.copy(), state.counts.copy(), state.sums.copy()
    sigma2, tau2 = noise_scale**2, prior_scale**2  # the notes' sigma^2 and tau^2
    log_u = np.log(rng.uniform(size=X.shape[0]))
    for i in range(X.shape[0]):
        k = z[i]
        counts[k] -= 1.0
        sums[k] -= X[i]
        if counts[k] == 0:  # drop the emptied cluster: move the last one into its slot
            last = counts.size - 1
            counts[k], sums[k] = counts[last], sums[last]
            z[z == last] = k
            counts, sums = counts[:last], sums[:last]
        logits = np.concatenate([
            np.log(counts) + _log_predictive(X[i], counts, sums, mean_prior, sigma2, tau2),
            [np.log(alpha) + _log_predictive(X[i], np.zeros(1), np.zeros((1, X.shape[1])), mean_prior,
                                             sigma2, tau2)[0]],
        ])
        cdf = np.cumsum(np.exp(logits - logsumexp(logits)))
        new = int(min(np.searchsorted(cdf, np.exp(log_u[i])), cdf.size - 1))
        if new == counts.size:
            counts = np.append(counts, 0.0)
            sums = np.vstack([sums, np.zeros(X.shape[1])])
        z[i] = new
        counts[new] += 1.0
        sums[new] += X[i]
    return GibbsState(z, counts, sums)


def co_clustering_frequencies(labels: np.ndarray) -> np.ndarray:
    """:math:`\\hat P(z_i = z_j)` from label draws (S, N), averaged over draws; shape (N, N)."""
    labels = np.asarray(labels)
    K = int(labels.max()) + 1
    onehot = np.eye(K)[labels]
    return np.einsum("sik,sjk->ij", onehot, onehot) / labels.shape[0]


def run(X: ArrayLike, *, alpha: float = 1.0, noise_scale: float = 1.0, prior_scale: float = 3.0,
        mean_prior: ArrayLike | None = None, num_samples: int = 200, num_warmup: int = 50,
        labels: ArrayLike | None = None, seed: int = 0) -> CollapsedGibbsResult:
    """Run ``num_warmup + num_samples`` sweeps, keeping the last ``num_samples`` partitions.

    Parameters
    ----------
    X
        Data (N, d).
    alpha
        DP concentration.
    noise_scale
        Known within-cluster standard deviation :math:`\\sigma` (a scale, not a variance).
    prior_scale
        Prior standard deviation :math:`\\tau` of the cluster means around ``mean_prior`` (default:
        the data mean).
    labels
        Initial partition (one cluster when None).
    seed
        Seed of the sampler's generator.
    """
    X = _check(X, alpha, noise_scale, prior_scale)
    m0 = X.mean(0) if mean_prior is None else np.asarray(mean_prior, dtype=np.float64)
    if m0.shape != (X.shape[1],):
        raise ValueError(f"mean_prior: expected shape ({X.shape[1]},), got {m0.shape}")
    rng = np.random.default_rng(seed)
    state = init(X, labels)
    draws = []
    for sweep in range(num_warmup + num_samples):
        state = step(state, X, rng, alpha=alpha, noise_scale=noise_scale, prior_scale=prior_scale, mean_prior=m0)
        if sweep >= num_warmup:
            draws.append(state.labels)
    draws = np.stack(draws)
    return CollapsedGibbsResult(draws, draws.max(1) + 1, co_clustering_frequencies(draws), state)
