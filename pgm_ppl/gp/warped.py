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
import math
import time
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch
from pyro.distributions.transforms import Spline

from pgm_ppl.flows import monotone_spline
from pgm_ppl.gp.exact import GPPredictive, _lml, _targets, _z, posterior
from pgm_ppl.gp.kernels import DTYPE, as_inputs

__all__ = ["WarpedGP", "train_warped"]


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

    def warp(self, y) -> np.ndarray:
        """:math:`g(y)`."""
        with torch.no_grad():
            return self.transform(torch.as_tensor(np.asarray(y, dtype=np.float64))[:, None])[:, 0].numpy()

    def unwarp(self, z) -> np.ndarray:
        """:math:`g^{-1}(z)`."""
        with torch.no_grad():
            return self.transform.inv(torch.as_tensor(np.asarray(z, dtype=np.float64))[:, None])[:, 0].numpy()

    def predict(self, x_new, *, level: float = 0.95) -> GPPredictive:
        """Median :math:`g^{-1}(m_*)` and the central ``level`` interval of :math:`y_*` (``std`` is that of
        :math:`z_*`; ``covariance`` is None)."""
        zp = posterior(self.kernel, self.x, self.warp(self.y), self.noise_variance, x_new, include_noise=True,
                       full_cov=False)
        q = _z(level)
        return GPPredictive(self.unwarp(zp.mean), None, zp.std, self.unwarp(zp.mean - q * zp.std),
                            self.unwarp(zp.mean + q * zp.std), level)


def train_warped(kernel: gpytorch.kernels.Kernel, x, y, *, noise_variance: float = 0.1, count_bins: int = 8,
                 bound: float = 4.0, num_steps: int = 300, learning_rate: float = 0.02,
                 seed: int = 0) -> WarpedGP:
    """Fit kernel, noise and a monotone spline warping by Adam on the warped evidence.

    Standardise ``y`` first: the spline is the identity outside [-``bound``, ``bound``].
    ``seed`` seeds the spline's random initial parameters.
    """
    xt = as_inputs(x)
    yt = _targets(y, xt.shape[0])
    if not noise_variance > 0:
        raise ValueError(f"noise_variance must be positive, got {noise_variance!r}")
    transform = monotone_spline(count_bins=count_bins, bound=bound, seed=seed, dtype=DTYPE)
    kern = copy.deepcopy(kernel)
    raw_noise = torch.nn.Parameter(torch.tensor(math.log(math.expm1(noise_variance)), dtype=DTYPE))
    opt = torch.optim.Adam([*transform.parameters(), *kern.parameters(), raw_noise], lr=learning_rate)

    def objective():
        z = transform(yt[:, None])
        log_jac = transform.log_abs_det_jacobian(yt[:, None], z).sum()
        return -(_lml(kern, xt, z[:, 0], torch.nn.functional.softplus(raw_noise) + 1e-9) + log_jac)

    losses = np.empty(num_steps)
    start = time.perf_counter()
    for step in range(num_steps):
        opt.zero_grad()
        loss = objective()
        loss.backward()
        opt.step()
        losses[step] = float(loss.detach())
    with torch.no_grad():
        final = -float(objective())
    return WarpedGP(transform, kern, float(torch.nn.functional.softplus(raw_noise).detach()) + 1e-9,
                    xt.numpy(), yt.numpy(), final, losses, time.perf_counter() - start)
