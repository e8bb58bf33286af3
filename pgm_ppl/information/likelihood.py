r"""Likelihood training (course chapter 1, §1.4: eqs. (1.7)-(1.14), MLE asymptotics) and Example 1.1.

:func:`autodiff_mle` maximises any differentiable log-likelihood written in torch,
:math:`\hat\theta = \arg\max_\theta \ell(\theta)` (1.8), in an unconstrained space (positive or bounded
parameters are mapped with ``torch.distributions.biject_to``) by :func:`pgm_ppl.core.optimize.find_mode` (BFGS
and a Newton polish, the mode finder the Laplace approximation uses too, here on torch derivatives), and
reports standard errors from the observed information
:math:`\mathcal J(\hat\theta) = -\nabla^2 \ell(\hat\theta)` (autodiff Hessian):
:math:`\sqrt n(\hat\theta - \theta) \to \mathcal N(0, I(\theta)^{-1})`, so
:math:`\operatorname{se}(\hat\theta_j) \approx \sqrt{[\mathcal J(\hat\theta)^{-1}]_{jj}}`.

The generative classifier of Example 1.1 models :math:`p(x \mid y = c) = \mathcal N(\mu_c, \Sigma_c)` and
:math:`p(y = c) = \pi_c`, and classifies by Bayes' rule (1.3)-(1.4); with a shared covariance its log-odds
are affine in :math:`x` (the logistic form of (1.2)), with separate ones quadratic (Exercise 1.1).
:func:`fit_logistic_regression` fits the discriminative counterpart (1.2) by the same optimiser.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch.distributions import biject_to, constraints

from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import ConvergenceWarning
from pgm_ppl.core.linalg import cholesky
from pgm_ppl.core.optimize import find_mode

LogLikelihood = Callable[[dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class MLEResult:
    """Result of :func:`autodiff_mle`.

    Attributes
    ----------
    params
        Name -> estimate :math:`\\hat\\theta` (numpy arrays, constrained space).
    log_likelihood
        :math:`\\ell(\\hat\\theta)`.
    standard_errors
        Name -> :math:`\\sqrt{\\operatorname{diag}\\mathcal J^{-1}}`, same shapes as ``params`` (NaN if
        :math:`\\mathcal J` is not positive definite).
    observed_information
        :math:`\\mathcal J(\\hat\\theta)` over the parameters flattened in the order of ``params``.
    converged
        Whether the optimiser met its gradient tolerance.
    """

    params: dict[str, np.ndarray]
    log_likelihood: float
    standard_errors: dict[str, np.ndarray]
    observed_information: np.ndarray
    converged: bool


def autodiff_mle(log_likelihood: LogLikelihood, init: Mapping[str, ArrayLike], *,
                 support: Mapping[str, constraints.Constraint] | None = None, max_iter: int = 500,
                 tol: float = 1e-10) -> MLEResult:
    r"""Maximise a torch log-likelihood :math:`\ell(\theta)` and compute observed-information standard errors.

    Parameters
    ----------
    log_likelihood
        Function of a dict of float64 tensors (named like ``init``) returning the scalar total
        log-likelihood of the data (which it closes over), e.g. :math:`\sum_n \log p_\theta(y_n)` (1.9).
    init
        Name -> initial value, inside the support.
    support
        Name -> ``torch.distributions.constraints`` constraint (default: real). The optimiser works on
        :math:`\operatorname{biject\_to}(c)^{-1}(\theta)`; the Hessian is taken in the original space.
    max_iter
        BFGS iteration cap.
    tol
        Gradient tolerance (largest absolute entry, in the unconstrained space).

    Returns
    -------
    MLEResult

    Raises
    ------
    ValueError
        If ``init`` is empty, a support names an unknown parameter, an initial value is outside its
        support, or the log-likelihood is not a finite scalar at ``init``.
    """
    if not init:
        raise ValueError("init must name at least one parameter.")
    support = dict(support or {})
    unknown = set(support) - set(init)
    if unknown:
        raise ValueError(f"support names parameters not in init: {sorted(unknown)}.")
    names = list(init)
    bij = {k: biject_to(support.get(k, constraints.real)) for k in names}
    values = {k: torch.as_tensor(np.asarray(init[k], dtype=np.float64)) for k in names}
    for k in names:
        if not bool(torch.all(support.get(k, constraints.real).check(values[k]))):
            raise ValueError(f"init[{k!r}] = {values[k].numpy()} is outside its support {support[k]}.")
    start = float(log_likelihood(values))
    if not np.isfinite(start):
        raise ValueError(f"log_likelihood is not finite at init (got {start}).")
    free = {k: bij[k].inv(values[k]).detach() for k in names}
    free_shapes = [free[k].shape for k in names]
    shapes = [values[k].shape for k in names]

    def unflatten(vec: torch.Tensor, parts_shapes: list) -> dict[str, torch.Tensor]:
        parts, start_i = {}, 0
        for k, shape in zip(names, parts_shapes):
            size = int(np.prod(shape)) if len(shape) else 1
            parts[k] = vec[start_i:start_i + size].reshape(shape)
            start_i += size
        return parts

    def free_loss(vec: torch.Tensor) -> torch.Tensor:
        return -log_likelihood({k: bij[k](v) for k, v in unflatten(vec, free_shapes).items()})

    def value_and_grad(u: np.ndarray) -> tuple[float, np.ndarray]:
        vec = torch.as_tensor(u, dtype=torch.float64).clone().requires_grad_(True)
        loss = free_loss(vec)
        (grad,) = torch.autograd.grad(loss, vec)
        return float(loss.detach()), grad.numpy()

    def free_hessian(u: np.ndarray) -> np.ndarray:
        return torch.autograd.functional.hessian(free_loss, torch.as_tensor(u, dtype=torch.float64)).numpy()

    found = find_mode(value_and_grad, free_hessian, torch.cat([free[k].reshape(-1) for k in names]).numpy(),
                      max_iter=max_iter, tol=tol)
    theta = {k: bij[k](v).detach() for k, v in unflatten(torch.as_tensor(found.mode), free_shapes).items()}
    flat = torch.cat([theta[k].reshape(-1) for k in names])

    def flat_log_lik(vec: torch.Tensor) -> torch.Tensor:
        return log_likelihood(unflatten(vec, shapes))

    info = -torch.autograd.functional.hessian(flat_log_lik, flat).numpy()  # observed information, original space
    se_flat = _standard_errors(info)
    params, errors, i = {}, {}, 0
    for k, shape in zip(names, shapes):
        size = int(np.prod(shape)) if len(shape) else 1
        params[k] = theta[k].numpy().copy()
        errors[k] = se_flat[i:i + size].reshape(shape)
        i += size
    return MLEResult(params, float(log_likelihood(theta)), errors, info, found.converged)


def _standard_errors(info: np.ndarray) -> np.ndarray:
    try:
        chol = cholesky(info, name="Fisher information")
    except ValueError:  # not positive definite at the optimum: the standard errors are undefined
        return np.full(info.shape[0], np.nan)
    inv_chol = np.linalg.inv(chol)
    return np.sqrt((inv_chol ** 2).sum(0))


def fit_logistic_regression(X: ArrayLike, y: ArrayLike, *, fit_intercept: bool = True) -> MLEResult:
    r"""Maximum-likelihood logistic regression :math:`P(Y = 1 \mid x) = \sigma(\theta^\top x + b)` (course eq. (1.2)).

    The log-likelihood is the negative binary cross-entropy (1.12)-(1.14). Parameters are ``"weights"``
    (d,) and, with ``fit_intercept``, ``"intercept"`` (scalar), with standard errors.

    Raises
    ------
    ValueError
        If ``X`` is not (N, d) or ``y`` is not a 0/1 vector of length N.
    """
    Xt, yt = _classification_data(X, y)
    if not torch.all((yt == 0) | (yt == 1)):
        raise ValueError("y must contain only the labels 0 and 1.")
    init = {"weights": np.zeros(Xt.shape[1])}
    if fit_intercept:
        init["intercept"] = np.zeros(())

    def log_lik(theta: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = Xt @ theta["weights"] + (theta["intercept"] if fit_intercept else 0.0)
        return -torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, reduction="sum")

    result = autodiff_mle(log_lik, init)
    with torch.no_grad():
        theta = {k: torch.as_tensor(v, dtype=Xt.dtype) for k, v in result.params.items()}
        margins = (2.0 * yt - 1.0) * (Xt @ theta["weights"] + (theta["intercept"] if fit_intercept else 0.0))
    if bool((margins > 0).all()):
        # a separating hyperplane exists (every point on its side): sup of the likelihood is 1, never attained
        warnings.warn("fit_logistic_regression: X separates the classes of y perfectly (every point is classified "
                      "correctly), so the maximum-likelihood weights are infinite; the returned values only reflect "
                      "where the optimiser stopped (converged=False). Add data of both classes that overlap, or use "
                      "a prior (penalised fit).", ConvergenceWarning, stacklevel=user_stacklevel())
        result = replace(result, converged=False)
    return result


@dataclass(frozen=True)
class GaussianClassifier:
    """Generative Gaussian classifier of Example 1.1, fitted by :func:`fit_gaussian_classifier`.

    Attributes
    ----------
    classes
        (C,) class labels, sorted.
    priors
        (C,) class probabilities :math:`\\pi_c` (class frequencies).
    means
        (C, d) class means :math:`\\mu_c`.
    covariances
        (C, d, d) class covariances (all equal when ``shared_covariance``), maximum-likelihood (1/N).
    shared_covariance
        Whether one pooled covariance is used (linear decision boundary).
    """

    classes: np.ndarray
    priors: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    shared_covariance: bool

    def log_joint(self, X: ArrayLike) -> np.ndarray:
        """(N, C) :math:`\\log \\pi_c + \\log \\mathcal N(x_n \\mid \\mu_c, \\Sigma_c)`."""
        X = np.asarray(X, dtype=np.float64)
        chol = cholesky(self.covariances, name="covariances", fix="pass positive-definite class covariances")
        diff = X[None, :, :] - self.means[:, None, :]
        z = np.linalg.solve(chol, diff.transpose(0, 2, 1))                  # (C, d, N)
        log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)
        d = X.shape[1]
        log_n = -0.5 * ((z ** 2).sum(1) + log_det[:, None] + d * np.log(2 * np.pi))
        return (log_n + np.log(self.priors)[:, None]).T

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        r"""Posterior class probabilities by Bayes' rule, :math:`p(y = c \mid x) \propto \pi_c f_c(x)` (1.3)-(1.4)."""
        lj = self.log_joint(X)
        lj -= lj.max(1, keepdims=True)
        p = np.exp(lj)
        return p / p.sum(1, keepdims=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Most probable class label for each row."""
        return self.classes[self.log_joint(X).argmax(1)]


def fit_gaussian_classifier(X: ArrayLike, y: ArrayLike, *, shared_covariance: bool = True) -> GaussianClassifier:
    """Fit the class-conditional Gaussians of Example 1.1 by maximum likelihood.

    With ``shared_covariance`` the pooled covariance :math:`\\frac1N\\sum_c\\sum_{n: y_n = c}(x_n-\\mu_c)(x_n-\\mu_c)^\\top`
    is used for every class (linear discriminant analysis); otherwise each class has its own (quadratic).

    Raises
    ------
    ValueError
        If a class has too few points for a positive-definite covariance.
    """
    Xt, _ = _classification_data(X, np.zeros(np.shape(X)[0]))
    X = Xt.numpy()
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape (N,) = {(X.shape[0],)}; got {y.shape}.")
    classes, index = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"y must hold at least two classes; got {classes.tolist()}.")
    onehot = np.eye(classes.size)[index]                                    # (N, C)
    counts = onehot.sum(0)
    means = onehot.T @ X / counts[:, None]
    diff = X[None] - means[:, None]
    scatter = np.einsum("nc,cnd,cne->cde", onehot, diff, diff)
    covs = (np.broadcast_to(scatter.sum(0) / X.shape[0], scatter.shape).copy() if shared_covariance
            else scatter / counts[:, None, None])
    eig = np.linalg.eigvalsh(covs)
    # singular to rounding: the smallest eigenvalue within d * eps of the largest (an exact 0 comes out +-1e-17)
    singular = eig[:, 0] <= X.shape[1] * np.finfo(np.float64).eps * eig[:, -1]
    if singular.any():
        c = int(np.argmax(singular))
        raise ValueError(f"X: the covariance of class {classes[c].tolist()!r} is singular (smallest eigenvalue {eig[c, 0]:.3g} "
                         f"against a largest of {eig[c, -1]:.3g}: too few points, or collinear columns); use "
                         "shared_covariance=True, drop a column or add data.")
    return GaussianClassifier(classes, counts / X.shape[0], means, covs, shared_covariance)


def _classification_data(X: ArrayLike, y: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    Xa = np.asarray(X, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if Xa.ndim != 2:
        raise ValueError(f"X must have shape (N, d); got {Xa.shape}.")
    if ya.shape != (Xa.shape[0],):
        raise ValueError(f"y must have shape (N,) = {(Xa.shape[0],)}; got {ya.shape}.")
    if not np.all(np.isfinite(Xa)):
        raise ValueError("X must be finite.")
    return torch.as_tensor(Xa), torch.as_tensor(ya)
