r"""Mixtures of factor analysers by EM (Ghahramani & Hinton, 1996; McLachlan & Peel, 2000).

.. math::
    p(x) = \sum_k \pi_k\, \mathcal N(x \mid \mu_k, W_k W_k^\top + \Psi_k), \qquad W_k \in \mathbb R^{d \times q},\ \Psi_k \text{ diagonal}.

Each component is a factor analyser (:mod:`pgm_ppl.em.factor_analysis`); the latents are the label
:math:`z_n` and the factors :math:`f_n`. With :math:`h_{nk}` the responsibilities,
:math:`\beta_k = W_k^\top C_k^{-1}` and the augmented factor :math:`\tilde f = (f, 1)`, the M-step solves for
:math:`\tilde W_k = [W_k, \mu_k]` jointly,

.. math::
    \tilde W_k = \Big(\sum_n h_{nk} x_n \mathbb E[\tilde f \mid x_n, k]^\top\Big)
                 \Big(\sum_n h_{nk} \mathbb E[\tilde f \tilde f^\top \mid x_n, k]\Big)^{-1}, \qquad
    \Psi_k = \frac{1}{N_k}\operatorname{diag}\Big(\sum_n h_{nk} (x_n - \tilde W_k \mathbb E[\tilde f \mid x_n, k]) x_n^\top\Big),

:math:`\pi_k = N_k / N`. The posterior moments are linear in :math:`x_n`, so every sum reduces to the
weighted statistics :math:`N_k, \sum_n h_{nk} x_n, \sum_n h_{nk} x_n x_n^\top`: the step is vectorised
over components, and its cost beyond the E-step does not grow with N.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from numpy.typing import ArrayLike

from pgm_ppl.em import _gaussian as G
from pgm_ppl.core.linalg import solve_psd
from pgm_ppl.core.validation import check_data, check_int
from pgm_ppl.core.em import EStep, run_em
from pgm_ppl.em.gmm import fit_gmm


@dataclass(frozen=True)
class MFAParams:
    """Weights (K,), means (K, d), loadings (K, d, q), noise variances (K, d)."""

    weights: np.ndarray
    means: np.ndarray
    loadings: np.ndarray
    noise_variance: np.ndarray

    def covariances(self) -> np.ndarray:
        """(K, d, d) component covariances :math:`W_k W_k^\\top + \\Psi_k`."""
        return (np.einsum("kdq,keq->kde", self.loadings, self.loadings)
                + np.einsum("kd,de->kde", self.noise_variance, np.eye(self.means.shape[1])))


@dataclass(frozen=True)
class MFAResult:
    """Fitted parameters, final log-likelihood, its non-decreasing trace, convergence flag and iteration count."""

    params: MFAParams
    log_likelihood: float
    log_likelihood_trace: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def fit_mfa(X: ArrayLike, num_components: int, num_factors: int, *, max_iter: int = 500, tol: float = 1e-8,
            tol_rule: str = "relative", min_noise_variance: float = 1e-6, seed: int = 0) -> MFAResult:
    """Fit a mixture of factor analysers by EM, started from a k-means-initialised diagonal GMM.

    Parameters
    ----------
    X
        (N, d) data.
    num_components, num_factors
        K and q (1 <= q < d).
    max_iter, tol, tol_rule
        Stopping rule of :func:`pgm_ppl.core.em.run_em`: ``"relative"`` (change of the log-likelihood over its
        magnitude, the default) or ``"absolute"`` (change of the per-observation mean, scikit-learn's mixture rule).
    min_noise_variance
        Lower bound on every :math:`\\Psi_k` entry (prevents collapse), relative to the mean sample variance
        :math:`\\bar s` of ``X`` (the floor is ``min_noise_variance`` :math:`\\cdot \\bar s`, as in
        :func:`~pgm_ppl.em.factor_analysis.fit_factor_analysis`), so it means the same in any unit.
    seed
        Seed of the initialisation.

    Returns
    -------
    MFAResult

    Raises
    ------
    ValueError
        If K or q is out of range.
    """
    X = check_data(X, "X")
    N, d = X.shape
    check_int(num_components, "num_components", minimum=1, maximum=N)
    if not 1 <= num_factors < d:
        raise ValueError(f"num_factors must be between 1 and d - 1 = {d - 1}; got {num_factors}.")
    scale = float(X.var(0).mean()) or 1.0    # floors relative to the data, so the fit is the same in any unit
    gmm = fit_gmm(X, num_components, covariance_type="diag", max_iter=10, seed=seed, reg_covar=1e-6 * scale).params
    rng = np.random.default_rng(seed)
    loadings = 0.1 * np.sqrt(gmm.covariances.mean(1))[:, None, None] * rng.standard_normal(
        (num_components, d, num_factors))
    start = tuple(torch.as_tensor(a) for a in (gmm.weights, gmm.means, loadings, gmm.covariances))
    Xt = torch.as_tensor(X)
    floor = min_noise_variance * scale
    run = run_em(start, partial(_e_step, X=Xt), partial(_m_step, X=Xt, floor=floor),
                 max_iter=max_iter, tol=tol, tol_rule=tol_rule,
                 num_observations=N)
    w, m, W, psi = (a.numpy().copy() for a in run.params)
    return MFAResult(MFAParams(w, m, W, psi), run.log_likelihood, run.log_likelihood_trace, run.converged,
                     run.num_iterations, run.stop_reason, run.rule)


def mfa_log_prob(X: ArrayLike, params: MFAParams) -> np.ndarray:
    """Per-point :math:`\\log p(x_n)`, shape (N,)."""
    state = tuple(torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in
                  (params.weights, params.means, params.loadings, params.noise_variance))
    return torch.logsumexp(_log_joint(torch.as_tensor(check_data(X, "X")), state), 1).numpy()


def _covariances(W: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    return W @ W.transpose(1, 2) + torch.diag_embed(psi)


def _log_joint(X: torch.Tensor, state: tuple) -> torch.Tensor:
    weights, means, W, psi = state
    prec_chol = G.precision_cholesky(_covariances(W, psi), "full")
    return G.log_gaussian_prob(X, means, prec_chol, "full") + torch.log(weights)


def _e_step(state: tuple, *, X: torch.Tensor) -> EStep:
    log_joint = _log_joint(X, state)
    log_norm = torch.logsumexp(log_joint, 1, keepdim=True)
    return EStep(torch.exp(log_joint - log_norm), float(log_norm.sum()))


def _m_step(h: torch.Tensor, state: tuple, *, X: torch.Tensor, floor: float) -> tuple:
    _, mu, W, psi = state
    K, d, q = W.shape
    nk = h.sum(0) + 1e-300                                                  # (K,)
    m = h.T @ X                                                             # sum_n h x      (K, d)
    Sx = torch.einsum("nk,nd,ne->kde", h, X, X)                             # sum_n h x x^T  (K, d, d)
    beta = solve_psd(_covariances(W, psi), W, name="W W^T + Psi",           # W^T C^-1       (K, q, d)
                     fix="raise the noise-variance floor").transpose(1, 2)
    # E[f | x, k] = beta (x - mu); the sums below are exact consequences of that linearity.
    Sxc = Sx - m.unsqueeze(2) * mu.unsqueeze(1)                             # sum h x (x - mu)^T
    x_f = Sxc @ beta.transpose(1, 2)                                        # sum h x E[f]^T  (K, d, q)
    f_sum = torch.einsum("kqd,kd->kq", beta, m - nk[:, None] * mu)          # sum h E[f]      (K, q)
    centred = Sxc - mu.unsqueeze(2) * (m - nk[:, None] * mu).unsqueeze(1)   # sum h (x-mu)(x-mu)^T
    ff = (nk[:, None, None] * (torch.eye(q, dtype=X.dtype) - beta @ W)
          + beta @ centred @ beta.transpose(1, 2))                          # sum h E[f f^T]  (K, q, q)
    lhs = torch.cat([x_f, m.unsqueeze(2)], dim=2)                           # (K, d, q + 1)
    top = torch.cat([ff, f_sum.unsqueeze(2)], dim=2)
    bottom = torch.cat([f_sum.unsqueeze(1), nk[:, None, None]], dim=2)
    moment = torch.cat([top, bottom], dim=1)                                # (K, q + 1, q + 1)
    W_aug = torch.linalg.solve(moment.transpose(1, 2), lhs.transpose(1, 2)).transpose(1, 2)
    new_psi = (torch.diagonal(Sx, dim1=1, dim2=2) - (W_aug * lhs).sum(2)) / nk[:, None]
    return nk / nk.sum(), W_aug[:, :, q], W_aug[:, :, :q], new_psi.clamp_min(floor)
