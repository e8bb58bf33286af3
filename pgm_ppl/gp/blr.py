r"""Bayesian linear regression in feature space, and its GP view (course §4.3, eqs. (4.17)-(4.21)).

With features :math:`\Phi = [\phi(x_n)^\top]_n` (N, m), prior :math:`w \sim \mathcal N(0, \Sigma_w)` and
:math:`y = \Phi w + \epsilon`, :math:`\epsilon \sim \mathcal N(0, \sigma^2 I)`:

.. math::

    p(y \mid X) = \mathcal N(0, \Phi\Sigma_w\Phi^\top + \sigma^2 I) \quad \text{(4.17)-(4.19)},\qquad
    \Sigma = (\Sigma_w^{-1} + \Phi^\top\Phi/\sigma^2)^{-1},\quad \mu = \Sigma\Phi^\top y/\sigma^2,

    m_* = \phi_*^\top\mu, \qquad v_* = \phi_*^\top\Sigma\phi_* \quad \text{(4.20)-(4.21)}

The same predictive is the GP posterior with kernel :math:`k(x, x') = \phi(x)^\top\Sigma_w\phi(x')`
(:class:`FeatureKernel`; course Def. 4.4): the weight-space route costs :math:`O(m^3)`, the function-space
route :math:`O(N^3)`. Predictions come from :meth:`BLRPosterior.predict`, as every GP predictor's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import gpytorch
import numpy as np
import torch
from numpy.typing import ArrayLike

from pgm_ppl.core.conjugate import gaussian_linear_posterior
from pgm_ppl.core.validation import check_data, check_positive
from pgm_ppl.gp.exact import GPPredictive, check_predict_options, gaussian_predictive
from pgm_ppl.gp.kernels import DTYPE, as_inputs

__all__ = ["gaussian_bump_features", "polynomial_features", "BLRPosterior", "blr_posterior",
           "FeatureKernel"]


def gaussian_bump_features(x: ArrayLike, centres: ArrayLike, lengthscale: float = 0.5) -> np.ndarray:
    r"""Gaussian bumps :math:`\phi_i(x) = \exp(-(x - c_i)^2 / (2\ell^2))` (Example 4.2, Fig. 4.6), shape (N, m)."""
    if not lengthscale > 0:
        raise ValueError(f"lengthscale must be positive, got {lengthscale!r}")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    c = np.asarray(centres, dtype=np.float64).reshape(-1)
    return np.exp(-((x[:, None] - c[None, :]) ** 2) / (2 * lengthscale**2))


def polynomial_features(x: ArrayLike, offset: float = 1.0) -> np.ndarray:
    r"""The 6 features of eq. (4.24) for :math:`d = p = 2`: :math:`\phi(x)^\top\phi(x') = (x^\top x' + c)^2`.

    .. math:: \phi(x) = (x_1^2,\ x_2^2,\ \sqrt2 x_1x_2,\ \sqrt{2c}\,x_1,\ \sqrt{2c}\,x_2,\ c)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x: expected shape (N, 2), got {x.shape}")
    if not offset >= 0:
        raise ValueError(f"offset must be non-negative, got {offset!r}")
    x1, x2 = x[:, 0], x[:, 1]
    r = np.sqrt(2 * offset)
    return np.stack([x1**2, x2**2, np.sqrt(2) * x1 * x2, r * x1, r * x2, np.full_like(x1, offset)], axis=1)


class BLRPosterior(NamedTuple):
    """Weight posterior ``mean`` :math:`\\mu` (m,) and ``covariance`` :math:`\\Sigma` (m, m), the
    ``noise_variance`` :math:`\\sigma^2` and the ``log_evidence`` :math:`\\log p(y \\mid X)`;
    :meth:`predict` at new features."""

    mean: np.ndarray
    covariance: np.ndarray
    noise_variance: float
    log_evidence: float

    def predict(self, Phi_new: ArrayLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95) -> GPPredictive:
        r"""Predictive at the features ``Phi_new`` (M, m) of the test inputs (eqs. (4.20)-(4.21)):
        :math:`m_* = \phi_*^\top\mu`, :math:`v_* = \phi_*^\top\Sigma\phi_*` for the latent
        :math:`f_* = \phi_*^\top w` (``target="f"``), plus :math:`\sigma^2` with ``include_noise``
        (``target="y"``). BLR's inputs are features, so this is the GP's ``predict(x_new)`` with
        :math:`x_* \mapsto \phi(x_*)` done by the caller; other arguments as
        :meth:`pgm_ppl.gp.GPPosterior.predict`.
        """
        check_predict_options(include_noise, full_cov, level)
        P = check_data(Phi_new, "Phi_new")
        if P.shape[1] != self.mean.size:
            raise ValueError(f"Phi_new: expected shape (M, {self.mean.size}), got {P.shape}")
        s2 = self.noise_variance if include_noise else 0.0
        target = "y" if include_noise else "f"
        if full_cov:
            cov = P @ self.covariance @ P.T + s2 * np.eye(P.shape[0])
            return gaussian_predictive(P @ self.mean, np.diag(cov).copy(), level=level, target=target,
                                       covariance=cov)
        variance = np.einsum("ij,jk,ik->i", P, self.covariance, P) + s2
        return gaussian_predictive(P @ self.mean, variance, level=level, target=target)


def blr_posterior(Phi: ArrayLike, y: ArrayLike, prior_cov: ArrayLike, noise_variance: float) -> BLRPosterior:
    r"""Weight posterior and evidence of Bayesian linear regression (eqs. (4.17)-(4.19)).

    Checks the shapes, then calls :func:`pgm_ppl.core.conjugate.gaussian_linear_posterior`, the one
    implementation (``noise_variance`` is :math:`\sigma^2`, a variance). The evidence uses the matrix
    determinant lemma and Woodbury identity, so everything is :math:`O(m^3 + Nm^2)`.
    """
    Phi = check_data(Phi, "Phi")
    n, m = Phi.shape
    y = check_data(y, "y", ndim=1)
    Sw = check_data(prior_cov, "prior_cov")
    if y.shape != (n,):
        raise ValueError(f"y: expected shape ({n},), got {y.shape}")
    if Sw.shape != (m, m):
        raise ValueError(f"prior_cov: expected shape ({m}, {m}), got {Sw.shape}")
    noise_variance = check_positive(noise_variance, "noise_variance")
    post = gaussian_linear_posterior(Phi, y, Sw, noise_variance)
    return BLRPosterior(post.mean, post.covariance, noise_variance, post.log_evidence)


class FeatureKernel(gpytorch.kernels.Kernel):
    r"""The degenerate kernel :math:`k(x, x') = \phi(x)^\top\Sigma_w\phi(x')` of a feature map (Remark 4.11).

    ``feature_map`` maps an (N, d) numpy array to (N, m) features; it has no trainable parameters.
    """

    def __init__(self, feature_map: Callable[[np.ndarray], np.ndarray], prior_cov: ArrayLike) -> None:
        super().__init__()
        self.feature_map = feature_map
        self.register_buffer("prior_cov", torch.as_tensor(np.asarray(prior_cov, dtype=np.float64), dtype=DTYPE))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.feature_map(x.detach().numpy()), dtype=DTYPE)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any) -> torch.Tensor:
        a, b = self._features(as_inputs(x1)), self._features(as_inputs(x2))
        if diag:
            return ((a @ self.prior_cov) * b).sum(-1)
        return a @ self.prior_cov @ b.T
