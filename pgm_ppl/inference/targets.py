"""Worked targets of course chapter 3 for the samplers: the 2-D two-component mixture (Fig. 3.7), the
correlated bivariate Gaussian (Fig. 3.8) and the hierarchical Gaussian mixture's conjugate full
conditionals (Example 3.1), each vectorised over chains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array
from pgm_ppl.inference.gibbs import Conditional

FIG_3_7_WEIGHTS = np.array([0.55, 0.45])
FIG_3_7_MEANS = np.array([[-2.0, -1.0], [2.2, 1.7]])
FIG_3_7_COVS = np.array([[[1.0, 0.9], [0.9, 1.0]], [[0.9, -0.8], [-0.8, 0.9]]])


def mixture_log_density(weights: np.ndarray = FIG_3_7_WEIGHTS, means: np.ndarray = FIG_3_7_MEANS,
                        covs: np.ndarray = FIG_3_7_COVS) -> Callable[[np.ndarray], np.ndarray]:
    """Log-density :math:`\\log \\sum_k \\pi_k \\mathcal N(z; \\mu_k, \\Sigma_k)` of a Gaussian mixture,
    as a function of states ``(num_chains, d)``; the defaults are the target of course Fig. 3.7."""
    weights, means, covs = (np.asarray(a, dtype=np.float64) for a in (weights, means, covs))
    chol = np.linalg.cholesky(covs)
    log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(-1)
    d = means.shape[1]

    def log_density(z: np.ndarray) -> np.ndarray:
        diff = z[:, None, :] - means[None]                                       # (C, K, d)
        white = np.linalg.solve(chol[None], diff[..., None])[..., 0]             # L^{-1}(z - mu_k)
        log_comp = -0.5 * (white**2).sum(-1) - 0.5 * log_det - 0.5 * d * np.log(2 * np.pi)
        return logsumexp(np.log(weights) + log_comp, axis=1)

    return log_density


def gaussian_log_density(mean: np.ndarray, cov: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Log-density (up to a constant) of :math:`\\mathcal N(\\mu, \\Sigma)` on states ``(num_chains, d)``."""
    mean, precision = np.asarray(mean, dtype=np.float64), np.linalg.inv(np.asarray(cov, dtype=np.float64))
    return lambda z: -0.5 * np.einsum("ci,ij,cj->c", z - mean, precision, z - mean)


def gaussian_conditionals(mean: np.ndarray, cov: np.ndarray,
                          blocks: dict[str, list[int]]) -> dict[str, Conditional]:
    r"""Full conditionals of :math:`\mathcal N(m, \Sigma)` split into named blocks of coordinates.

    With the precision :math:`P = \Sigma^{-1}`, block :math:`A` given the rest :math:`B` is

    .. math::
        z_A \mid z_B \sim \mathcal N\big(m_A - P_{AA}^{-1} P_{AB}(z_B - m_B),\; P_{AA}^{-1}\big).

    State blocks have shape ``(num_chains, len(indices))``.
    """
    mean, precision = np.asarray(mean, dtype=np.float64), np.linalg.inv(np.asarray(cov, dtype=np.float64))
    covered = sorted(i for idx in blocks.values() for i in idx)
    if covered != list(range(len(mean))):
        raise ValueError(f"blocks must partition the coordinates 0..{len(mean) - 1}, got {blocks}.")

    def make(name):
        a = np.asarray(blocks[name])
        others = {other: np.asarray(idx) for other, idx in blocks.items() if other != name}
        cov_a = np.linalg.inv(precision[np.ix_(a, a)])
        chol = np.linalg.cholesky(cov_a)
        gains = {other: cov_a @ precision[np.ix_(a, idx)] for other, idx in others.items()}

        def conditional(rng, s):
            shift = sum((s[o] - mean[idx]) @ gains[o].T for o, idx in others.items())
            noise = rng.standard_normal(s[name].shape) @ chol.T
            return mean[a] - shift + noise

        return conditional

    return {name: make(name) for name in blocks}


def bivariate_gaussian_conditionals(rho: float) -> dict[str, Conditional]:
    r"""Full conditionals of :math:`\mathcal N(0, [[1, \rho], [\rho, 1]])` (course Fig. 3.8):
    :math:`z_1 \mid z_2 \sim \mathcal N(\rho z_2, 1 - \rho^2)` and symmetrically; blocks ``z1``, ``z2``
    of shape ``(num_chains, 1)``."""
    if not -1 < rho < 1:
        raise ValueError(f"rho must lie in (-1, 1), got {rho}.")
    return gaussian_conditionals(np.zeros(2), np.array([[1.0, rho], [rho, 1.0]]), {"z1": [0], "z2": [1]})


def hierarchical_gmm(x: Array, num_components: int = 3, *, concentration: float = 1.0, prior_scale: float = 3.0,
                     noise_scale: float = 1.0) -> None:
    r"""Hierarchical Gaussian mixture with known isotropic noise, course Example 3.1.

    .. math::
        \pi \sim \mathrm{Dir}(\alpha 1_K), \quad \mu_k \sim \mathcal N(0, s_0^2 I_d), \quad
        z_n \sim \mathrm{Cat}(\pi), \quad x_n \mid z_n \sim \mathcal N(\mu_{z_n}, \sigma^2 I_d).

    Assignments are enumerated, so NUTS samples :math:`(\pi, \mu)`; :func:`hierarchical_gmm_conditionals`
    gives the Gibbs sampler of the same posterior. ``num_components`` is :math:`K`.
    """
    K, num_features = num_components, x.shape[1]
    pi = pyro.sample("pi", dist.Dirichlet(concentration * ops.ones(K)))
    with pyro.plate("components", K):
        mu = pyro.sample("mu", dist.Normal(0.0, prior_scale).expand([num_features]).to_event(1))
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Categorical(pi), infer={"enumerate": "parallel"})
        pyro.sample("x", dist.Normal(mu[z], noise_scale).to_event(1), obs=x)


def hierarchical_gmm_conditionals(x: np.ndarray, num_components: int, *, concentration: float = 1.0,
                                  prior_scale: float = 3.0, noise_scale: float = 1.0) -> dict[str, Conditional]:
    r"""Conjugate full conditionals of :func:`hierarchical_gmm`, vectorised over chains.

    .. math::
        p(z_n = k \mid \pi, \mu, x) \propto \pi_k \mathcal N(x_n; \mu_k, \sigma^2 I), \qquad
        \pi \mid z \sim \mathrm{Dir}(\alpha + N_k), \\
        \mu_k \mid z, x \sim \mathcal N\Big(\frac{\sum_{n: z_n = k} x_n / \sigma^2}{\lambda_k},
        \lambda_k^{-1} I\Big), \quad \lambda_k = s_0^{-2} + N_k / \sigma^2.

    State blocks: ``z`` ``(C, N)`` (labels stored as floats), ``pi`` ``(C, K)``, ``mu`` ``(C, K, d)``, with
    :math:`K` = ``num_components``.
    """
    x, K = np.asarray(x, dtype=np.float64), num_components
    one_hot = lambda z: (z[..., None] == np.arange(K)).astype(np.float64)  # noqa: E731

    def z_cond(rng, s):
        sq = ((x[None, :, None, :] - s["mu"][:, None]) ** 2).sum(-1)                     # (C, N, K)
        logits = np.log(s["pi"])[:, None] - 0.5 * sq / noise_scale**2
        return np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1).astype(np.float64)  # Gumbel-max

    def pi_cond(rng, s):
        g = rng.standard_gamma(concentration + one_hot(s["z"]).sum(1))
        return g / g.sum(-1, keepdims=True)

    def mu_cond(rng, s):
        r = one_hot(s["z"])                                                                # (C, N, K)
        precision = 1 / prior_scale**2 + r.sum(1) / noise_scale**2                        # (C, K)
        mean = np.einsum("cnk,nd->ckd", r, x) / noise_scale**2 / precision[..., None]
        return mean + rng.standard_normal(mean.shape) / np.sqrt(precision)[..., None]

    return {"z": z_cond, "pi": pi_cond, "mu": mu_cond}
