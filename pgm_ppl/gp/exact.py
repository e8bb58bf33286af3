r"""Exact GP regression (course §4.4): log marginal likelihood, posterior, hyper-parameter learning.

With :math:`C = K_{XX} + \sigma_n^2 I = LL^\top` and :math:`\alpha = C^{-1} y`,

.. math::

    \log p(y \mid X) = -\tfrac12 y^\top \alpha - \textstyle\sum_i \log L_{ii} - \tfrac N2 \log 2\pi
    \qquad \text{(course eq. (4.22))},

    m_* = K_{*X}\alpha, \qquad \Sigma_* = K_{**} - V^\top V,\ V = L^{-1}K_{X*}
    \qquad \text{(eqs. (4.29)-(4.30), Alg. 3)}.

Hyper-parameters (the kernel's GPyTorch parameters and the noise variance) are learned by maximising
(4.22) with Adam or L-BFGS in the kernels' unconstrained (softplus) coordinates, from several restarts
(course Alg. 2).

The scalable path (``cg=CGOptions(...)`` in :func:`log_marginal_likelihood` and :func:`posterior`, and
:func:`train_cg`) replaces the Cholesky factorisation by GPyTorch's BBMM inference (Gardner et al., 2018):
:math:`C^{-1}y` and :math:`C^{-1}K_{X*}` by preconditioned conjugate gradients, :math:`O(N^2)` per
iteration, and

.. math::

    \log|C| = \log|P| + \operatorname{tr}\log(P^{-1/2} C P^{-1/2})
    \approx \log|P| + \frac1t \sum_{i=1}^t w_i^\top \log(P^{-1/2} C P^{-1/2})\, w_i,
    \qquad w_i \sim \mathcal N(0, I),

by stochastic Lanczos quadrature, with :math:`P = LL^\top + \sigma_n^2 I` the pivoted-Cholesky
preconditioner of rank :math:`r` and :math:`t` probe vectors. The estimate is unbiased up to the Lanczos
quadrature error, with standard deviation :math:`\sqrt{2\sum_i \log^2\lambda_i / t}` over the eigenvalues
:math:`\lambda_i` of :math:`P^{-1}C`. The probes are drawn inside a forked torch RNG seeded by
:attr:`CGOptions.seed`, so results are reproducible and the global RNG is left untouched.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import gpytorch
import numpy as np
import torch
from scipy.stats import norm

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core._stack import user_stacklevel
from pgm_ppl.core.convergence import ConvergenceWarning, warn_not_converged
from pgm_ppl.core.linalg import cholesky
from pgm_ppl.core.validation import check_data
from pgm_ppl.gp.kernels import DTYPE, TensorLike, as_inputs
from pgm_ppl.training import train as train_module

__all__ = ["log_marginal_likelihood", "posterior", "train", "train_cg", "CGOptions", "GPPosterior", "GPPredictive",
           "GPTraining", "gaussian_predictive"]

_NOISE_FIX = ("increase the noise variance (the noise is the model's only jitter: with repeated or very close "
              "inputs a noise near 0 leaves K + noise * I singular)")


@dataclass(frozen=True)
class CGOptions:
    r"""Settings of GPyTorch's conjugate-gradient (BBMM) inference, used in place of Cholesky.

    Attributes
    ----------
    max_iter
        Cap on CG iterations (GPyTorch's ``max_cg_iterations``).
    tol
        Relative residual :math:`\lVert Cv - b\rVert / \lVert b\rVert` at which CG stops (GPyTorch's
        ``cg_tolerance`` and ``eval_cg_tolerance``; GPyTorch trains at 1 and predicts at 0.01).
    num_probes
        Probe vectors :math:`t` of the stochastic log-determinant (``num_trace_samples``).
    lanczos_iterations
        Lanczos steps per probe (``max_lanczos_quadrature_iterations``).
    preconditioner_rank
        Rank :math:`r` of the pivoted-Cholesky preconditioner (``max_preconditioner_size``), used at every
        N (GPyTorch's default skips it below N = 2,000); 0 turns preconditioning off.
    seed
        Seeds the probe vectors (drawn in a forked torch RNG).
    tol_rule
        Only ``"relative"``: GPyTorch's CG checks the residual relative to :math:`\lVert b\rVert` and offers no
        absolute rule, so any other value is refused rather than silently ignored.
    """

    max_iter: int = 1000
    tol: float = 0.01
    num_probes: int = 10
    lanczos_iterations: int = 20
    preconditioner_rank: int = 15
    seed: int = 0
    tol_rule: str = "relative"

    def __post_init__(self):
        for name in ("max_iter", "num_probes", "lanczos_iterations"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"CGOptions.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.preconditioner_rank, int) or self.preconditioner_rank < 0:
            raise ValueError(f"CGOptions.preconditioner_rank must be a non-negative integer, "
                             f"got {self.preconditioner_rank!r}")
        if not self.tol > 0:
            raise ValueError(f"CGOptions.tol must be positive, got {self.tol!r}")
        if self.tol_rule != "relative":
            raise ValueError(f"CGOptions.tol_rule: expected 'relative' (GPyTorch's CG has only a relative residual "
                             f"rule), got {self.tol_rule!r}.")


@contextlib.contextmanager
def _cg_mode(options: CGOptions) -> Iterator[None]:
    """GPyTorch's settings for ``options`` (Cholesky off), inside a torch RNG forked and seeded."""
    s = gpytorch.settings
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch_seeded(options.seed))
        for setting in (s.max_cholesky_size(0), s.max_cg_iterations(options.max_iter),
                        s.cg_tolerance(options.tol), s.eval_cg_tolerance(options.tol),
                        s.num_trace_samples(options.num_probes),
                        s.max_lanczos_quadrature_iterations(options.lanczos_iterations),
                        s.max_preconditioner_size(options.preconditioner_rank), s.min_preconditioning_size(1)):
            stack.enter_context(setting)
        yield


def _targets(y: TensorLike, n: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(y, dtype=np.float64) if not isinstance(y, torch.Tensor) else y, dtype=DTYPE)
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"y: expected shape ({n},) to match x, got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        check_data(t, "y", ndim=1)  # raises the one message style, naming the first non-finite entry
    return t


def _noise(noise_variance) -> torch.Tensor:
    value = float(noise_variance)
    if not value > 0:
        raise ValueError(f"noise_variance must be positive, got {noise_variance!r}")
    return torch.tensor(value, dtype=DTYPE)


def _z(level: float) -> float:
    """Standard-normal quantile of a central interval of probability ``level``."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return float(norm.ppf(0.5 + level / 2))


def _lml(kernel, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    r"""Eq. (4.22) with the analytic gradient :math:`\partial/\partial C = \tfrac12(\alpha\alpha^\top - C^{-1})`.

    The Cholesky factorisation and :math:`C^{-1}` run outside autograd (LAPACK ``potrf``/``potri``); the
    returned value carries the gradient through :math:`\langle \partial/\partial C, C(\theta)\rangle`,
    so back-propagation only differentiates the kernel's O(N^2) evaluation (course Alg. 2).
    """
    C = kernel(x).to_dense() + noise * torch.eye(x.shape[0], dtype=DTYPE)
    with torch.no_grad():
        L = cholesky(C, name="K + noise * I", fix=_NOISE_FIX)
        alpha = torch.cholesky_solve(y[:, None], L)
        value = -0.5 * (y @ alpha[:, 0]) - L.diagonal().log().sum() - 0.5 * x.shape[0] * math.log(2 * math.pi)
    if not C.requires_grad:
        return value
    with torch.no_grad():
        G = torch.cholesky_inverse(L).mul_(-0.5).addmm_(alpha, alpha.T, alpha=0.5)
    inner = (G * C).sum()
    return value + inner - inner.detach()


def _cg_lml(kernel, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Eq. (4.22) by GPyTorch's CG and stochastic Lanczos quadrature; call it inside :func:`_cg_mode`."""
    inv_quad, logdet = kernel(x).add_diagonal(noise).inv_quad_logdet(y[:, None], logdet=True)
    return -0.5 * inv_quad - 0.5 * logdet - 0.5 * x.shape[0] * math.log(2 * math.pi)


def log_marginal_likelihood(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, noise_variance: float, *,
                            cg: CGOptions | None = None) -> float:
    r"""Log evidence :math:`\log \mathcal N(y; 0, K_{XX} + \sigma_n^2 I)`, course eq. (4.22).

    Parameters
    ----------
    kernel
        Covariance function (see :mod:`pgm_ppl.gp.kernels`).
    x, y
        Inputs (N,) or (N, d) and targets (N,).
    noise_variance
        Noise variance :math:`\sigma_n^2`.
    cg
        None (default) for the exact Cholesky value; :class:`CGOptions` for GPyTorch's CG/Lanczos estimate
        (see the module docstring for its error).
    """
    xt = as_inputs(x)
    yt, s2 = _targets(y, xt.shape[0]), _noise(noise_variance)
    with torch.no_grad():
        if cg is None:
            return float(_lml(kernel, xt, yt, s2))
        with _cg_mode(cg):
            return float(_cg_lml(kernel, xt, yt, s2))


TARGETS = ("f", "y")
"""What a :class:`GPPredictive` describes: the latent function ``"f"`` or a noisy observation ``"y"``."""


@dataclass(frozen=True)
class GPPredictive:
    r"""What every GP predictor's ``predict(x_new)`` returns: the marginal predictive at M test inputs.

    Attributes
    ----------
    mean, variance, std
        Predictive mean, variance and standard deviation, shape (M,).
    lower, upper
        The central ``level`` interval, shape (M,): ``mean -/+ z std`` for a Gaussian predictive; for the
        warped GP the pushed-forward quantiles (the predictive of :math:`y_*` is not Gaussian there).
    level
        Probability of the central interval.
    target
        ``"f"``: the latent function :math:`f_*`; ``"y"``: a noisy observation :math:`y_* = f_* + \epsilon`
        (the latent variance plus the noise variance; for the warped GP, :math:`g^{-1}(f_* + \epsilon)`).
    covariance
        Joint predictive covariance (M, M) when ``predict(..., full_cov=True)`` asked for it, else None.
    """

    mean: np.ndarray
    variance: np.ndarray
    std: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    target: str
    covariance: np.ndarray | None = None


def gaussian_predictive(mean: torch.Tensor | np.ndarray, variance: torch.Tensor | np.ndarray, *, level: float,
                        target: str, covariance: torch.Tensor | np.ndarray | None = None) -> GPPredictive:
    """A Gaussian :class:`GPPredictive` from its mean and variance (negative rounding error clipped to 0)."""
    m = np.asarray(mean, dtype=np.float64)
    var = np.clip(np.asarray(variance, dtype=np.float64), 0.0, None)
    std = np.sqrt(var)
    z = _z(level)
    cov = None if covariance is None else np.asarray(covariance, dtype=np.float64)
    return GPPredictive(m, var, std, m - z * std, m + z * std, level, target, cov)


def check_predict_options(include_noise: bool, full_cov: bool, level: float) -> None:
    """The arguments every ``predict`` shares, checked in one place."""
    for name, value in (("include_noise", include_noise), ("full_cov", full_cov)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: expected a bool, got {type(value).__name__}.")
    _z(level)


class GPPosterior:
    r"""A GP conditioned on data (course eqs. (4.29)-(4.30), Alg. 3): made by :func:`posterior`, or by
    :attr:`GPTraining.posterior` after training; :meth:`predict` at any test inputs.

    The Cholesky factor :math:`L` of :math:`C = K_{XX} + \sigma_n^2 I` and :math:`\alpha = C^{-1}y` are
    computed once, so each prediction costs :math:`O(NM + N^2M)`. With ``cg`` the solves are GPyTorch's
    preconditioned CG instead (deterministic: no probe vectors), to CG's relative residual ``cg.tol``.
    """

    def __init__(self, kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, noise_variance: float, *,
                 cg: CGOptions | None = None) -> None:
        self.kernel = kernel
        self.x = as_inputs(x)
        self.y = _targets(y, self.x.shape[0])
        self.noise_variance = float(_noise(noise_variance))
        self.cg = cg
        self._chol: torch.Tensor | None = None
        self._alpha: torch.Tensor | None = None
        if cg is None:
            with torch.no_grad():
                C = kernel(self.x).to_dense() + self.noise_variance * torch.eye(self.x.shape[0], dtype=DTYPE)
                self._chol = cholesky(C, name="K + noise * I", fix=_NOISE_FIX)
                self._alpha = torch.cholesky_solve(self.y[:, None], self._chol)[:, 0]

    def predict(self, x_new: TensorLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95) -> GPPredictive:
        r"""Predictive at ``x_new`` (M,) or (M, d): :math:`m_* = K_{*X}\alpha`,
        :math:`\Sigma_* = K_{**} - K_{*X}C^{-1}K_{X*}` (eqs. (4.29)-(4.30)).

        Parameters
        ----------
        x_new
            Test inputs with the training inputs' number of columns.
        include_noise
            False: the latent :math:`f_*` (``target="f"``); True: noisy :math:`y_*`, adding
            :math:`\sigma_n^2` to the variance (``target="y"``).
        full_cov
            Also return the joint (M, M) covariance (:math:`O(M^2)` memory).
        level
            Probability of the central interval, in (0, 1).

        Raises
        ------
        ValueError
            ``x_new`` non-finite or with another number of columns; ``level`` outside (0, 1).
        """
        check_predict_options(include_noise, full_cov, level)
        xs = as_inputs(x_new, "x_new")
        if xs.shape[1] != self.x.shape[1]:
            raise ValueError(f"x_new: expected {self.x.shape[1]} input columns like x, got {xs.shape[1]}")
        s2 = self.noise_variance if include_noise else 0.0
        with torch.no_grad():
            Ksx = self.kernel(xs, self.x).to_dense()
            if self.cg is None:
                mean = Ksx @ self._alpha
                V = torch.linalg.solve_triangular(self._chol, Ksx.T, upper=False)
                W = V  # K_{*X} C^{-1} K_{X*} = V^T V
            else:
                with _cg_mode(self.cg):
                    solves = self.kernel(self.x).add_diagonal(torch.tensor(self.noise_variance, dtype=DTYPE)).solve(
                        torch.cat([self.y[:, None], Ksx.T], dim=1))
                mean, V, W = Ksx @ solves[:, 0], Ksx.T, solves[:, 1:]  # K_{*X} (C^{-1} K_{X*})
            if full_cov:
                cov = self.kernel(xs).to_dense() - V.T @ W + s2 * torch.eye(xs.shape[0], dtype=DTYPE)
                var = cov.diagonal()
            else:
                cov = None
                var = self.kernel(xs, diag=True) - (V * W).sum(0) + s2
        return gaussian_predictive(mean.numpy(), var.numpy(), level=level, target="y" if include_noise else "f",
                                   covariance=None if cov is None else cov.numpy())


def posterior(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, noise_variance: float, *,
              cg: CGOptions | None = None) -> GPPosterior:
    r"""Condition the GP on ``(x, y)`` (course eqs. (4.29)-(4.30), Alg. 3); predict with ``.predict(x_new)``.

    ``kernel``, ``x``, ``y`` and ``noise_variance`` (the model's only jitter) are those of
    :func:`log_marginal_likelihood`; ``cg`` None (default) factorises by Cholesky once, a :class:`CGOptions`
    solves by GPyTorch's preconditioned CG at each prediction.

    Raises
    ------
    ValueError
        Non-finite or mis-shaped data, a non-positive noise variance, or :math:`K + \sigma_n^2 I` not positive
        definite (the message says to increase the noise variance).
    """
    return GPPosterior(kernel, x, y, noise_variance, cg=cg)


@dataclass(frozen=True)
class GPTraining:
    """Result of :func:`train` and :func:`train_cg`: the best ``kernel`` and ``noise_variance``, their log
    marginal likelihood, the ``losses`` (negative LML per step) of the best restart, the final LML of every
    restart, the optimiser, the wall-clock ``seconds``, and the training inputs ``x`` (N, d) and targets ``y``
    (N,) it was fitted to; :meth:`predict` conditions on them (by CG when ``cg`` is set, as after
    :func:`train_cg`)."""

    kernel: gpytorch.kernels.Kernel
    noise_variance: float
    log_marginal_likelihood: float
    losses: np.ndarray
    restart_values: np.ndarray
    optimizer: str
    seconds: float
    x: np.ndarray
    y: np.ndarray
    cg: CGOptions | None = None

    @functools.cached_property
    def posterior(self) -> GPPosterior:
        """The trained GP conditioned on its training data (factorised once, on first use)."""
        return GPPosterior(self.kernel, self.x, self.y, self.noise_variance, cg=self.cg)

    def predict(self, x_new: TensorLike, *, include_noise: bool = False, full_cov: bool = False,
                level: float = 0.95) -> GPPredictive:
        """The trained GP's predictive at ``x_new``: :meth:`GPPosterior.predict` (same arguments)."""
        return self.posterior.predict(x_new, include_noise=include_noise, full_cov=full_cov, level=level)


class _Objective(torch.nn.Module):
    """Negative eq. (4.22) over the kernel's parameters and the softplus-coordinate noise variance, by
    Cholesky or (``use_cg``, inside :func:`_cg_mode`) by GPyTorch's CG; ``loss(batch)`` is it on the full
    batch ``(x, y)`` for :func:`pgm_ppl.training.train`."""

    def __init__(self, kernel: gpytorch.kernels.Kernel, noise_variance: float, use_cg: bool = False) -> None:
        super().__init__()
        self.kernel = kernel
        # softplus^-1(v) = v + log(1 - e^-v): log(expm1(v)) overflowed for v > 709 (y in large units)
        raw = noise_variance + math.log(-math.expm1(-noise_variance))
        self.raw_noise = torch.nn.Parameter(torch.tensor(raw, dtype=DTYPE))
        self.use_cg = use_cg

    @property
    def noise_variance(self) -> torch.Tensor:
        # softplus(raw) underflows to 0 for raw < -745 in float64; the floor keeps C positive definite there and
        # is far below any noise variance the Cholesky of K + noise * I can use (it is relative to K's scale)
        return torch.nn.functional.softplus(self.raw_noise) + torch.finfo(DTYPE).tiny

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -(_cg_lml if self.use_cg else _lml)(self.kernel, x, y, self.noise_variance)

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return self(x, y)


def _perturb(module: torch.nn.Module, generator: torch.Generator, scale: float) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))


def _adam(obj: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor], num_steps: int, learning_rate: float,
          seed: int = 0) -> list[float]:
    """Full-batch Adam on ``obj.loss`` through the training engine (:func:`pgm_ppl.training.train`); the loss
    at every step. ``seed`` only reaches randomness inside the loss (CG's probe vectors): the full batch makes
    the engine's row shuffling a permutation of the same sum."""
    fit = train_module(obj, data, num_steps=num_steps, batch_size=data[0].shape[0], learning_rate=learning_rate,
                       dtype=DTYPE, seed=seed, num_generated=0, progress_bar=False)
    return fit.losses.tolist()


def _optimise(obj: _Objective, x: torch.Tensor, y: torch.Tensor, optimizer: str, num_steps: int,
              learning_rate: float) -> list[float]:
    """The loss at every evaluation; L-BFGS's iteration count is left in ``obj.lbfgs_iterations``.

    Adam runs through the training engine. L-BFGS runs here: it re-evaluates the objective many times per
    step (a strong-Wolfe line search through a closure), which the engine's one-evaluation step does not do.
    """
    if optimizer == "adam":
        return _adam(obj, (x, y), num_steps, learning_rate)
    losses: list[float] = []
    with torch.no_grad():  # the gradient scales with the objective: y in units of 1e8 gives an LML of ~1e16
        scale = max(1.0, abs(float(obj(x, y))))
    opt = torch.optim.LBFGS(obj.parameters(), lr=1.0, max_iter=num_steps, line_search_fn="strong_wolfe",
                            tolerance_grad=_LBFGS_GRAD_TOL * scale, tolerance_change=_LBFGS_CHANGE_TOL)
    best = [math.inf, copy.deepcopy(obj.state_dict())]

    def closure() -> torch.Tensor:
        opt.zero_grad()
        try:
            loss = obj(x, y)
        except ValueError as error:  # K + noise * I stopped being positive definite at this trial point
            raise _LostDefiniteness from error
        loss.backward()
        losses.append(float(loss.detach()))
        if losses[-1] < best[0]:
            best[:] = losses[-1], copy.deepcopy(obj.state_dict())
        return loss

    obj.lost_definiteness = False
    try:
        opt.step(closure)
    except _LostDefiniteness:
        if not math.isfinite(best[0]):  # the starting point itself: nothing to return
            raise ValueError("every restart failed (K + noise * I not positive definite); start from a larger "
                             "noise_variance") from None
        obj.load_state_dict(best[1])  # the best point evaluated before the line search left the PD region
        obj.lost_definiteness = True
    obj.lbfgs_iterations = int(opt.state[opt.param_groups[0]["params"][0]].get("n_iter", 0))
    return losses


_LBFGS_GRAD_TOL, _LBFGS_CHANGE_TOL = 1e-9, 1e-12
"""L-BFGS's gradient tolerance, relative to the starting objective's magnitude (at least 1), and its change
tolerance, absolute: torch applies it to the parameter step as well as to the loss change, and the parameters
are unconstrained (softplus) coordinates whose scale does not depend on the data's units."""


class _LostDefiniteness(Exception):
    """Raised inside the L-BFGS closure to stop the run at a trial point where Cholesky failed."""


def train(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, *, noise_variance: float = 0.1,
          optimizer: str = "lbfgs", max_iter: int = 100, learning_rate: float = 0.05, num_restarts: int = 0,
          restart_scale: float = 1.0, seed: int = 0) -> GPTraining:
    r"""Learn kernel hyper-parameters and the noise variance by maximising eq. (4.22) (course Alg. 2).

    The first run starts from ``kernel`` and ``noise_variance``; each of the ``num_restarts`` further runs starts
    from them with N(0, ``restart_scale``\ :sup:`2`) noise added to every unconstrained parameter
    (seeded by ``seed``). The run with the highest log marginal likelihood is returned; ``kernel`` itself
    is not modified.

    Parameters
    ----------
    optimizer
        ``"lbfgs"`` (``max_iter`` L-BFGS iterations with a strong-Wolfe line search, as scikit-learn's
        L-BFGS-B; it stops when the gradient's largest entry falls below 1e-9 times the starting
        :math:`\max(1, |\log p(y \mid X)|)`, or a step changes the loss or the unconstrained parameters by
        less than 1e-12) or ``"adam"`` (``max_iter`` full-batch steps at ``learning_rate``, as GPyTorch's
        examples).
        Adam runs through the training engine :func:`pgm_ppl.training.train` (the negative LML is the
        module's ``loss``); L-BFGS runs its own ``torch.optim.LBFGS`` loop, because its strong-Wolfe line
        search re-evaluates the objective through a closure several times per iteration, which the engine's
        one-evaluation-per-step loop does not express.

    Standardise ``y`` first: the unconstrained coordinates are GPyTorch's softplus, linear above ~30, so a noise
    or kernel variance of 1e15 (targets in units of 1e8) barely moves under either optimiser.

    Returns
    -------
    GPTraining
        The best run; ``.predict(x_new)`` conditions the trained GP on ``(x, y)``.

    Raises
    ------
    ValueError
        Bad arguments or data, or every restart failed (:math:`K + \sigma_n^2 I` not positive definite).

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        When the best L-BFGS run used all ``max_iter`` iterations without meeting its tolerances (Adam runs
        a fixed budget and does not warn).
    """
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not isinstance(num_restarts, int) or num_restarts < 0:
        raise ValueError(f"num_restarts must be a non-negative integer, got {num_restarts!r}")
    xt = as_inputs(x)
    yt = _targets(y, xt.shape[0])
    float(_noise(noise_variance))
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    runs = []
    for r in range(num_restarts + 1):
        obj = _Objective(copy.deepcopy(kernel), noise_variance)
        if r > 0:
            _perturb(obj, generator, restart_scale)
        try:
            losses = _optimise(obj, xt, yt, optimizer, max_iter, learning_rate)
            with torch.no_grad():
                final = -float(obj(xt, yt))
        except (ValueError, FloatingPointError):  # not PD, or a non-finite loss (NonFiniteLossError)
            continue
        if np.isfinite(final):
            runs.append((final, obj, losses))
    if not runs:
        raise ValueError("every restart failed (K + noise * I not positive definite); start from a larger noise")
    best, obj, losses = max(runs, key=lambda run: run[0])
    if optimizer == "lbfgs" and getattr(obj, "lost_definiteness", False):
        warnings.warn("GP training (L-BFGS) stopped where K + noise * I stopped being positive definite: the log "
                      "marginal likelihood grows without bound as the noise variance goes to 0 when the kernel "
                      "can interpolate y exactly (constant or noise-free targets, fewer distinct inputs than "
                      "parameters); returned the best point reached, whose tiny noise variance is an artefact of that.",
                      ConvergenceWarning, stacklevel=user_stacklevel())
    elif optimizer == "lbfgs" and getattr(obj, "lbfgs_iterations", 0) >= max_iter:  # Adam: a fixed budget
        warn_not_converged("GP training (L-BFGS)", max_iter, hint="the gradient and the loss were still changing "
                           "beyond L-BFGS's tolerances; raise max_iter.", stacklevel=user_stacklevel())
    return GPTraining(obj.kernel, float(obj.noise_variance.detach()), best, np.asarray(losses),
                      np.array([run[0] for run in runs]), optimizer, time.perf_counter() - start, xt.numpy(),
                      yt.numpy())


def train_cg(kernel: gpytorch.kernels.Kernel, x: TensorLike, y: TensorLike, *, noise_variance: float = 0.1,
             num_steps: int = 50, learning_rate: float = 0.1, cg: CGOptions = CGOptions()) -> GPTraining:
    r"""Scalable exact GP training with GPyTorch's conjugate gradients (BBMM) instead of Cholesky.

    Adam runs ``num_steps`` steps at ``learning_rate`` on eq. (4.22) estimated as in the module docstring:
    :math:`O(N^2)` per step instead of :math:`O(N^3)`, with fresh probe vectors each step (unbiased
    gradients), all drawn from one forked torch RNG seeded by ``cg.seed``. The reported
    ``log_marginal_likelihood`` is the CG estimate at the final hyper-parameters (one call of
    :func:`log_marginal_likelihood` with ``cg``); ``losses`` are the per-step estimates.
    """
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    xt = as_inputs(x)
    yt = _targets(y, xt.shape[0])
    obj = _Objective(copy.deepcopy(kernel), float(_noise(noise_variance)), use_cg=True)
    start = time.perf_counter()
    with _cg_mode(cg):
        losses = _adam(obj, (xt, yt), num_steps, learning_rate, seed=cg.seed)
    seconds = time.perf_counter() - start
    noise_value = float(obj.noise_variance.detach())
    lml = log_marginal_likelihood(obj.kernel, xt, yt, noise_value, cg=cg)
    return GPTraining(obj.kernel, noise_value, lml, np.asarray(losses), np.array([lml]), "adam-cg", seconds,
                      xt.numpy(), yt.numpy(), cg)
