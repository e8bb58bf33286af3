r"""Binary GP classification by the Laplace approximation (Rasmussen and Williams, 2006, Algs. 3.1-3.2).

Model: :math:`f \sim \mathcal{GP}(0, k)`, :math:`p(y_n = 1 \mid f_n) = \sigma(f_n)` (logistic). Newton's
method finds the posterior mode :math:`\hat f`, with :math:`W = \mathrm{diag}(\pi(1-\pi))`,
:math:`B = I + W^{1/2}KW^{1/2} = LL^\top`, and the Laplace evidence

.. math:: \log q(y \mid X) = -\tfrac12 a^\top\hat f + \textstyle\sum_n \log\sigma(\tilde y_n \hat f_n)
          - \sum_i \log L_{ii}, \qquad \hat f = K a,\ \tilde y = 2y - 1.

Predictions: :math:`\mathbb E[f_*] = k_*^\top(y - \hat\pi)`,
:math:`\mathbb V[f_*] = k_{**} - v^\top v`, :math:`v = L^{-1}W^{1/2}k_*`, and the probit approximation
:math:`p(y_*=1) \approx \sigma(\mathbb E[f_*]/\sqrt{1 + \pi\mathbb V[f_*]/8})` (MacKay, 1992).
The variational alternative (:func:`variational_classification`) maximises the ELBO
:math:`\sum_n \mathbb E_{q(f_n)}[\log p(y_n \mid f_n)] - \mathrm{KL}(q(u)\|p(u))` with GPyTorch's
``BernoulliLikelihood`` (probit link) and inducing points at the training inputs.
This topic is in the syllabus but absent from the notes (course map row 4.24).
"""

from __future__ import annotations

from dataclasses import dataclass

import copy

import gpytorch
import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.linalg import cho_solve, solve_triangular
from scipy.special import expit, log_expit

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged
from pgm_ppl.core.linalg import ROUNDING_JITTER, cholesky
from pgm_ppl.core.validation import check_int
from pgm_ppl.gp.exact import GPPredictive, check_predict_options, gaussian_predictive
from pgm_ppl.gp.kernels import TensorLike, as_inputs, gram
from pgm_ppl.training import train as train_module

_B_FIX = "check the kernel's hyper-parameters (the matrix is I plus a PSD term, so only a non-finite Gram matrix breaks it)"

__all__ = ["LaplaceGPC", "laplace_classification", "VariationalGPC", "variational_classification"]


@dataclass(frozen=True)
class LaplaceGPC:
    """A fitted Laplace GP classifier: ``mode`` :math:`\\hat f` (N,), ``log_marginal_likelihood``, the
    Newton ``num_iterations``, and what prediction needs (kernel, inputs, labels, W^{1/2}, L); ``stop_reason``
    (``"tol"`` or ``"max_iter"``) and ``rule`` (the ``tol_rule`` checked) say what stopped Newton."""

    kernel: gpytorch.kernels.Kernel
    x: np.ndarray
    y: np.ndarray
    mode: np.ndarray
    log_marginal_likelihood: float
    num_iterations: int
    sqrt_w: np.ndarray
    chol: np.ndarray
    stop_reason: str = "tol"
    rule: str = "absolute"

    def predict(self, x_new: TensorLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95) -> GPPredictive:
        r"""The Laplace posterior of the latent :math:`f_*` (R&W Alg. 3.2, ``target="f"``):
        :math:`\mathbb E[f_*] = k_*^\top(y - \hat\pi)`, :math:`\mathbb V[f_*] = k_{**} - v^\top v`.

        The arguments are those of :meth:`pgm_ppl.gp.GPPosterior.predict`; a classifier's observations are
        labels, not :math:`f + \epsilon`, so ``include_noise=True`` is refused: :meth:`predict_proba` gives
        :math:`p(y_* = 1)`.
        """
        check_predict_options(include_noise, full_cov, level)
        if include_noise:
            raise ValueError("include_noise: expected False (the classifier's observations are labels; "
                             "use predict_proba for p(y = 1)), got True.")
        Ks = gram(self.kernel, x_new, self.x)
        mean = Ks @ (self.y - expit(self.mode))
        v = solve_triangular(self.chol, self.sqrt_w[:, None] * Ks.T, lower=True)
        if full_cov:
            cov = gram(self.kernel, x_new) - v.T @ v
            return gaussian_predictive(mean, np.diag(cov).copy(), level=level, target="f", covariance=cov)
        kss = np.diag(gram(self.kernel, x_new))
        return gaussian_predictive(mean, kss - (v * v).sum(0), level=level, target="f")

    def predict_proba(self, x_new: TensorLike) -> np.ndarray:
        """:math:`p(y_* = 1 \\mid x_*)` by the probit approximation of the logistic-Gaussian integral."""
        latent = self.predict(x_new)
        return expit(latent.mean / np.sqrt(1.0 + np.pi * latent.variance / 8.0))


def laplace_classification(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: ArrayLike, *, max_iter: int = 100,
                           tol: float = 1e-10, tol_rule: str = "absolute") -> LaplaceGPC:
    """Find the Laplace approximation of a binary GP classifier (labels ``y`` in {0, 1}) by Newton's method.

    Newton stops when the objective :math:`\\log p(y \\mid f) - \\tfrac12 f^\\top K^{-1} f` changes by less than ``tol``
    (``tol_rule="absolute"``, the default) or by less than ``tol`` times its magnitude (``"relative"``).
    """
    rule = check_tol_rule(tol_rule)
    X = as_inputs(x).numpy()
    y = np.asarray(y)
    if y.shape != (X.shape[0],) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"y: expected {X.shape[0]} labels in {{0, 1}}, got shape {y.shape}")
    y = y.astype(np.float64)
    K = gram(kernel, X)
    f = np.zeros(X.shape[0])
    objective = -np.inf
    converged = False
    for iteration in range(1, max_iter + 1):
        pi = expit(f)
        sqrt_w = np.sqrt(pi * (1 - pi))
        L = cholesky(np.eye(X.shape[0]) + sqrt_w[:, None] * K * sqrt_w[None, :], name="I + W^1/2 K W^1/2",
                     fix=_B_FIX, max_jitter=ROUNDING_JITTER)
        b = sqrt_w**2 * f + (y - pi)
        a = b - sqrt_w * cho_solve((L, True), sqrt_w * (K @ b))
        f = K @ a
        previous, objective = objective, -0.5 * a @ f + log_expit((2 * y - 1) * f).sum()
        if has_converged(previous, objective, tol, rule):
            converged = True
            break
    if not converged:
        warn_not_converged("laplace_classification (Newton)", max_iter, hint=f"the objective still rose by more "
                           f"than tol={tol} ({rule}); raise max_iter.", stacklevel=user_stacklevel())
    pi = expit(f)
    sqrt_w = np.sqrt(pi * (1 - pi))
    L = cholesky(np.eye(X.shape[0]) + sqrt_w[:, None] * K * sqrt_w[None, :], name="I + W^1/2 K W^1/2",
                     fix=_B_FIX, max_jitter=ROUNDING_JITTER)
    lml = objective - np.log(np.diag(L)).sum()
    return LaplaceGPC(kernel, X, y, f, float(lml), iteration, sqrt_w, L, "tol" if converged else "max_iter", rule)


@dataclass(frozen=True)
class VariationalGPC:
    """A variational GP classifier (GPyTorch model and Bernoulli likelihood) and its negative-ELBO ``losses``."""

    model: gpytorch.models.ApproximateGP
    likelihood: gpytorch.likelihoods.BernoulliLikelihood
    losses: np.ndarray

    def predict(self, x_new: TensorLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95) -> GPPredictive:
        """The variational posterior :math:`q(f_*)` of the latent function (``target="f"``); arguments as
        :meth:`LaplaceGPC.predict` (``include_noise=True`` is refused: use :meth:`predict_proba`)."""
        check_predict_options(include_noise, full_cov, level)
        if include_noise:
            raise ValueError("include_noise: expected False (the classifier's observations are labels; "
                             "use predict_proba for p(y = 1)), got True.")
        with torch.no_grad():
            f = self.model(as_inputs(x_new, "x_new"))
            cov = f.covariance_matrix.numpy() if full_cov else None
            return gaussian_predictive(f.mean.numpy(), f.variance.numpy(), level=level, target="f", covariance=cov)

    def predict_proba(self, x_new: TensorLike) -> np.ndarray:
        """:math:`p(y_* = 1 \\mid x_*) = \\mathbb E_{q(f_*)}[\\Phi(f_*)]` (closed form for the probit link)."""
        with torch.no_grad():
            return self.likelihood(self.model(as_inputs(x_new, "x_new"))).mean.numpy()


class _VariationalObjective(torch.nn.Module):
    """Minus the ELBO of the classifier on the full batch ``(x, y)``, as the training engine's ``loss``."""

    def __init__(self, model: gpytorch.models.ApproximateGP, likelihood: gpytorch.likelihoods.Likelihood,
                 num_data: int) -> None:
        super().__init__()
        self.model, self.likelihood = model, likelihood
        self.elbo = gpytorch.mlls.VariationalELBO(likelihood, model, num_data=num_data)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return -self.elbo(self.model(x), y)


def variational_classification(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: ArrayLike, *, num_steps: int = 300,
                               learning_rate: float = 0.05) -> VariationalGPC:
    """Fit :math:`q(u)` (Cholesky-parameterised, inducing points at the inputs, kernel fixed) by Adam on the ELBO.

    Full-batch Adam runs through the training engine (:func:`pgm_ppl.training.train`); only :math:`q(u)`'s
    parameters are trained (the kernel's and the inducing inputs' are frozen).
    """
    from pgm_ppl.gp.sparse import SVGP

    X = as_inputs(x)
    y = np.asarray(y)
    if y.shape != (X.shape[0],) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"y: expected {X.shape[0]} labels in {{0, 1}}, got shape {y.shape}")
    check_int(num_steps, "num_steps", minimum=1)
    model = SVGP(X.clone(), copy.deepcopy(kernel)).to(X.dtype)
    variational = set(model.variational_strategy._variational_distribution.parameters())
    for p in model.parameters():
        p.requires_grad_(p in variational)
    likelihood = gpytorch.likelihoods.BernoulliLikelihood().to(X.dtype)
    objective = _VariationalObjective(model, likelihood, X.shape[0])
    target = torch.as_tensor(y, dtype=X.dtype)
    fit = train_module(objective, (X, target), num_steps=num_steps, batch_size=X.shape[0],
                       learning_rate=learning_rate, dtype=X.dtype, num_generated=0, progress_bar=False)
    model.eval()
    return VariationalGPC(model, likelihood, fit.losses)
