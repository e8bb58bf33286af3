r"""Warped GP (Snelson, Rasmussen and Ghahramani, 2004): a GP on monotonically transformed targets.

A learned monotone bijection :math:`g` (:func:`pgm_ppl.flows.monotone_spline`: Pyro's rational-quadratic
``Spline`` transform, the building block of neural spline flows; course row 8.23) maps the observations to
:math:`z_n = g(y_n)`, which follow a GP. By the change of variables,

.. math:: \log p(y \mid X) = \log \mathcal N\big(g(y);\ 0,\ K + \sigma_n^2 I\big)
          + \sum_{n=1}^N \log \lvert g'(y_n) \rvert ,

the GP evidence (4.22) plus the log-Jacobian; both :math:`g` and the kernel are fitted by maximising it.
Predictions push the Gaussian predictive of :math:`z_*` back through :math:`g^{-1}`: the median is
:math:`g^{-1}(m_*)` and quantiles map to quantiles. This is the one-dimensional normalising flow of the
later chapters, with a GP as the base distribution.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch
from numpy.typing import ArrayLike
from pyro.distributions.transforms import Spline

from pgm_ppl.flows import monotone_spline
from pgm_ppl.gp.exact import GPPosterior, GPPredictive, _lml, _Objective, _targets, check_predict_options, posterior
from pgm_ppl.gp.kernels import DTYPE, TensorLike, as_inputs
from pgm_ppl.training import train as train_module

__all__ = ["WarpedGP", "train_warped"]

_QUADRATURE_RANGE, _QUADRATURE_NODES = 8.0, 801  # xi in [-8, 8]: tail mass 1.2e-15


@dataclass(frozen=True)
class WarpedGP:
    """A fitted warped GP: ``transform`` :math:`g`, ``kernel``, ``noise_variance``, training data, its
    ``log_marginal_likelihood`` (with the Jacobian), ``losses`` and ``seconds``."""

    transform: Spline
    kernel: gpytorch.kernels.Kernel
    noise_variance: float
    x: np.ndarray
    y: np.ndarray
    log_marginal_likelihood: float
    losses: np.ndarray
    seconds: float

    def warp(self, y: ArrayLike) -> np.ndarray:
        """:math:`g(y)`, shape (N,)."""
        with torch.no_grad():
            return self.transform(torch.as_tensor(np.asarray(y, dtype=np.float64))[:, None])[:, 0].numpy()

    def unwarp(self, z: ArrayLike) -> np.ndarray:
        """:math:`g^{-1}(z)`, shape (N,)."""
        with torch.no_grad():
            return self.transform.inv(torch.as_tensor(np.asarray(z, dtype=np.float64))[:, None])[:, 0].numpy()

    @functools.cached_property
    def posterior(self) -> GPPosterior:
        """The GP on the warped targets :math:`z = g(y)`, conditioned on the training data."""
        return posterior(self.kernel, self.x, self.warp(self.y), self.noise_variance)

    def predict(self, x_new: TensorLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95) -> GPPredictive:
        r"""Predictive of :math:`g^{-1}(f_*)` (``target="f"``) or, with ``include_noise``, of
        :math:`y_* = g^{-1}(f_* + \epsilon)` (``target="y"``), pushed through :math:`g^{-1}` from the Gaussian
        predictive :math:`\mathcal N(m_*, s_*^2)` of the warped GP.

        ``lower``/``upper`` are exact quantiles (:math:`g^{-1}` is monotone, so quantiles map to quantiles;
        the median is :math:`g^{-1}(m_*)`); ``mean`` and ``variance`` are
        :math:`\mathbb E[g^{-1}(m_* + s_*\xi)]` and its variance, :math:`\xi \sim \mathcal N(0, 1)`, by
        the trapezoid rule on 801 points of :math:`\xi \in [-8, 8]` (the spline is only piecewise smooth, which
        defeats Gauss-Hermite; the tail mass left out is 1e-15). ``full_cov`` is refused: the predictive is not
        Gaussian.
        Other arguments as :meth:`pgm_ppl.gp.GPPosterior.predict`.
        """
        check_predict_options(include_noise, full_cov, level)
        if full_cov:
            raise ValueError("full_cov: expected False (the warped predictive is not Gaussian, so it has no "
                             "covariance that describes it), got True.")
        zp = self.posterior.predict(x_new, include_noise=include_noise, level=level)
        nodes = np.linspace(-_QUADRATURE_RANGE, _QUADRATURE_RANGE, _QUADRATURE_NODES)  # trapezoid rule in xi
        weights = np.exp(-0.5 * nodes**2)
        weights[[0, -1]] *= 0.5
        weights = weights / weights.sum()
        values = self.unwarp((zp.mean[:, None] + zp.std[:, None] * nodes[None, :]).ravel()).reshape(-1, nodes.size)
        mean = values @ weights
        variance = np.clip(((values - mean[:, None]) ** 2) @ weights, 0.0, None)
        return GPPredictive(mean, variance, np.sqrt(variance), self.unwarp(zp.lower), self.unwarp(zp.upper), level,
                            zp.target)


def train_warped(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, *, noise_variance: float = 0.1, count_bins: int = 8,
                 bound: float = 4.0, num_steps: int = 300, learning_rate: float = 0.02,
                 seed: int = 0) -> WarpedGP:
    """Fit kernel, noise and a monotone spline warping by Adam on the warped evidence.

    Standardise ``y`` first: the spline is the identity outside [-``bound``, ``bound``].
    ``seed`` seeds the spline's random initial parameters. Full-batch Adam (``num_steps`` steps at
    ``learning_rate``) runs through the training engine (:func:`pgm_ppl.training.train`).
    """
    xt = as_inputs(x)
    yt = _targets(y, xt.shape[0])
    if not noise_variance > 0:
        raise ValueError(f"noise_variance must be positive, got {noise_variance!r}")
    transform = monotone_spline(count_bins=count_bins, bound=bound, seed=seed, dtype=DTYPE)
    obj = _WarpedObjective(transform, copy.deepcopy(kernel), noise_variance)
    start = time.perf_counter()
    fit = train_module(obj, (xt, yt), num_steps=num_steps, batch_size=xt.shape[0], learning_rate=learning_rate,
                       dtype=DTYPE, num_generated=0, progress_bar=False)
    with torch.no_grad():
        final = -float(obj.loss((xt, yt)))
    return WarpedGP(transform, obj.kernel, float(obj.noise_variance.detach()), xt.numpy(), yt.numpy(), final,
                    fit.losses, time.perf_counter() - start)


class _WarpedObjective(_Objective):
    """Minus the warped evidence (module docstring) on the full batch ``(x, y)``, as the engine's ``loss``."""

    def __init__(self, transform: Spline, kernel: gpytorch.kernels.Kernel, noise_variance: float) -> None:
        super().__init__(kernel, noise_variance)
        self.transform = transform

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        z = self.transform(y[:, None])
        log_jac = self.transform.log_abs_det_jacobian(y[:, None], z).sum()
        return -(_lml(self.kernel, x, z[:, 0], self.noise_variance) + log_jac)
