r"""Sparse variational GP regression (SVGP) with inducing points and mini-batches (Hensman et al., 2013).

With :math:`M \ll N` inducing inputs :math:`Z` and :math:`q(u) = \mathcal N(m, S)`, the evidence lower bound

.. math::

    \mathcal L = \sum_{n=1}^N \mathbb E_{q(f_n)}[\log \mathcal N(y_n; f_n, \sigma_n^2)]
               - \mathrm{KL}(q(u)\,\|\,p(u))

is a sum over data points, so an unbiased estimate from a mini-batch :math:`B` scales the data term by
:math:`N/|B|`. Each step costs :math:`O(|B|M^2 + M^3)`, independent of :math:`N`, which is what lets
:math:`N = 10^6` train on a laptop. Built on GPyTorch's ``ApproximateGP``, ``VariationalStrategy``
(whitened) and ``VariationalELBO``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch

from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.gp.exact import GPPredictive, _targets, check_predict_options, gaussian_predictive
from pgm_ppl.gp.kernels import DTYPE, TensorLike, as_inputs
from pgm_ppl.training import train as train_module

__all__ = ["SVGP", "SVGPTraining", "train_svgp"]


class SVGP(gpytorch.models.ApproximateGP):
    """GPyTorch SVGP: zero mean, the given kernel, Cholesky-parameterised :math:`q(u)` at learned ``Z``."""

    def __init__(self, inducing_points: torch.Tensor, kernel: gpytorch.kernels.Kernel) -> None:
        distribution = gpytorch.variational.CholeskyVariationalDistribution(inducing_points.shape[0])
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing_points, distribution, learn_inducing_locations=True)
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ZeroMean()
        self.covar_module = kernel

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@dataclass(frozen=True)
class SVGPTraining:
    """Result of :func:`train_svgp`: the trained ``model`` and ``likelihood``, the negative ELBO per data
    point at each step (``losses``), the number of ``steps``, ``seconds`` and throughput
    ``points_per_second`` (mini-batch points processed per wall-clock second); :meth:`predict` at new inputs."""

    model: SVGP
    likelihood: gpytorch.likelihoods.GaussianLikelihood
    losses: np.ndarray
    steps: int
    seconds: float
    points_per_second: float

    def predict(self, x_new: TensorLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95, batch_size: int = 4096) -> GPPredictive:
        r"""Predictive of the SVGP at ``x_new``: :math:`q(f_*) = \int p(f_* \mid u)\, q(u)\, du` (Hensman et
        al., 2013, eq. (7)), or with ``include_noise`` that of :math:`y_*` (adds the learned noise variance).

        The arguments are those of :meth:`pgm_ppl.gp.GPPosterior.predict`; ``batch_size`` test points are
        evaluated at a time when ``full_cov`` is False (with it, all at once: the (M, M) covariance).
        """
        check_predict_options(include_noise, full_cov, level)
        check_int(batch_size, "batch_size", minimum=1)
        xs = as_inputs(x_new, "x_new")
        dim = self.model.variational_strategy.inducing_points.shape[-1]
        if xs.shape[1] != dim:
            raise ValueError(f"x_new: expected {dim} input columns like x, got {xs.shape[1]}")
        xs = xs.to(self.model.variational_strategy.inducing_points.dtype)
        means, variances, cov = [], [], None
        with torch.no_grad():
            for chunk in ([xs] if full_cov else torch.split(xs, batch_size)):
                f = self.model(chunk)
                out = self.likelihood(f) if include_noise else f
                means.append(out.mean.double())
                variances.append(out.variance.double())
                if full_cov:
                    cov = out.covariance_matrix.double().numpy()
        return gaussian_predictive(torch.cat(means).numpy(), torch.cat(variances).numpy(), level=level,
                                   target="y" if include_noise else "f", covariance=cov)


class _NegativeELBO(torch.nn.Module):
    """The SVGP's mini-batch loss for the training engine: minus GPyTorch's ``VariationalELBO`` (per row, scaled
    to the N rows), over the model's and the likelihood's parameters."""

    def __init__(self, model: SVGP, likelihood: gpytorch.likelihoods.GaussianLikelihood, num_data: int) -> None:
        super().__init__()
        self.model, self.likelihood = model, likelihood
        self.elbo = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=num_data)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return -self.elbo(self.model(x), y)


def train_svgp(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, *, num_inducing: int = 64,
               batch_size: int = 1024, num_epochs: float = 1.0, learning_rate: float = 0.01,
               noise_variance: float = 0.1, seed: int = 0, dtype: torch.dtype = torch.float32) -> SVGPTraining:
    r"""Train an SVGP by Adam on mini-batches drawn without replacement within each epoch (the training engine,
    :func:`pgm_ppl.training.train`, on minus GPyTorch's ``VariationalELBO``).

    Parameters
    ----------
    kernel
        Covariance function (copied, not modified).
    x, y
        Inputs (N,) or (N, d) and targets (N,).
    num_inducing
        :math:`M`; the inducing inputs start at a random subset of ``x`` (seeded).
    batch_size
        Mini-batch size :math:`|B|`.
    num_epochs
        Passes over the data (fractional values allowed); steps = ceil(num_epochs * N / batch_size).
    learning_rate
        Adam step size for all parameters (variational, kernel, noise, inducing inputs).
    noise_variance
        Initial noise variance, in ``y``'s units squared. The learned noise variance is kept above
        :math:`\min(\varepsilon_{dtype}\,\overline{y^2},\ \sigma^2_0/2)` (the dtype's machine epsilon times the
        targets' mean square, or half the initial value), in place of GPyTorch's absolute floor of 1e-4, which
        refused smaller values and swamped targets on a scale below 1e-2.
    seed
        Seeds the inducing-point subset and the mini-batch order.
    dtype
        float32 by default (mini-batch training tolerates it and runs about twice as fast on CPU);
        pass ``torch.float64`` for reference comparisons.

    GPyTorch keeps absolute floors that assume targets and a kernel variance of order one (a jitter of 1e-4
    (float32) or 1e-6 (float64) on :math:`K_{ZZ}`, predictive variances clamped at ``settings.min_variance``):
    standardise ``y`` first. On targets of scale 1e-8 the fit is meaningless otherwise (measured: predictive
    sd 1e-5, the mean 20% of the signal off).

    Raises
    ------
    ValueError
        Non-finite or mis-shaped data, or an argument out of range (the message names it).
    """
    xt = as_inputs(x)
    yt = _targets(y, xt.shape[0])
    n = xt.shape[0]
    if not isinstance(num_inducing, int) or not 1 <= num_inducing <= n:
        raise ValueError(f"num_inducing must be an integer in [1, {n}], got {num_inducing!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not num_epochs > 0:
        raise ValueError(f"num_epochs must be positive, got {num_epochs!r}")
    xt, yt = xt.to(dtype), yt.to(dtype)
    generator = torch.Generator().manual_seed(seed)
    Z = xt[torch.randperm(n, generator=generator)[:num_inducing]].clone()
    model = SVGP(Z, copy.deepcopy(kernel).to(dtype)).to(dtype)
    noise_variance = check_positive(noise_variance, "noise_variance")
    if noise_variance < torch.finfo(dtype).tiny:
        raise ValueError(f"noise_variance: expected at least {torch.finfo(dtype).tiny:.3g} (the smallest normal "
                         f"{dtype}), got {noise_variance!r}.")
    floor = min(torch.finfo(dtype).eps * (float(yt.double().square().mean()) or 1.0), 0.5 * noise_variance)
    likelihood = gpytorch.likelihoods.GaussianLikelihood(
        noise_constraint=gpytorch.constraints.GreaterThan(floor)).to(dtype)
    likelihood.noise = noise_variance
    objective = _NegativeELBO(model, likelihood, n)
    steps = int(np.ceil(num_epochs * n / batch_size))
    fit = train_module(objective, (xt, yt), num_steps=steps, batch_size=min(batch_size, n),
                       learning_rate=learning_rate, dtype=dtype, seed=seed, num_generated=0, progress_bar=False)
    losses, seconds = fit.losses, fit.seconds
    model.eval()
    likelihood.eval()
    return SVGPTraining(model, likelihood, losses, steps, seconds, steps * min(batch_size, n) / seconds)
