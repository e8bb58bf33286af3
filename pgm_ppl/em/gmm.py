r"""Gaussian mixture models fitted by EM (course chapter 2, eqs. (2.5)-(2.15)).

.. math::
    p(x \mid \theta) = \sum_{k=1}^K \pi_k \, \mathcal N(x \mid \mu_k, \Sigma_k) \quad (2.5), \qquad
    \gamma_{nk} = \frac{\pi_k \mathcal N(x_n \mid \mu_k, \Sigma_k)}{\sum_j \pi_j \mathcal N(x_n \mid \mu_j, \Sigma_j)} \quad (2.11),

    N_k = \sum_n \gamma_{nk}, \quad \mu_k = \frac{1}{N_k}\sum_n \gamma_{nk} x_n \ (2.13), \quad
    \Sigma_k = \frac{1}{N_k}\sum_n \gamma_{nk}(x_n - \mu_k)(x_n - \mu_k)^\top \ (2.14), \quad \pi_k = \frac{N_k}{N} \ (2.15).

The covariance may be full, diagonal, tied (shared) or spherical. Everything runs in float64 torch, in
log-space with log-sum-exp, with Cholesky factors of the precisions. The degeneracy remedies of the notes
(Remark 2.10 and "Does EM fix ill-posed maximum likelihood?") are options: ``reg_covar`` (damping
:math:`\Sigma_k + \epsilon I`, scikit-learn's semantics), ``covariance_floor`` (constrained ML,
:math:`\Sigma_k \succeq \sigma^2_{\min} I`), tied covariances, and MAP-EM with a Dirichlet prior on
:math:`\pi` and an inverse-Wishart prior on the covariances.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from numpy.typing import ArrayLike

from pgm_ppl.em import _gaussian as G
from pgm_ppl.core.linalg import cholesky
from pgm_ppl.core.validation import check_choice, check_data, check_int, warn_if_reg_covar_dominates
from pgm_ppl.core.em import EStep, run_em
from pgm_ppl.clustering import distinct_clusters, kmeans, kmeans_plusplus, squared_distances

INITS = ("kmeans", "k-means++", "random", "random_from_data")
_EPS = 10.0 * float(np.finfo(np.float64).eps)
_MAX_CACHE = 50_000_000          # largest N d^2 for which the outer products x_n x_n^T are cached (400 MB)


@dataclass(frozen=True)
class GMMParams:
    """Gaussian-mixture parameters :math:`\\theta = (\\pi, \\mu, \\Sigma)`.

    Attributes
    ----------
    weights
        (K,) mixing proportions :math:`\\pi_k`.
    means
        (K, d) component means :math:`\\mu_k`.
    covariances
        Shape by ``covariance_type``: full (K, d, d), tied (d, d), diag (K, d), spherical (K,). Full (K, d, d)
        matrices are accepted for every type and converted, when they have its structure (K equal matrices for
        tied, diagonal ones for diag, multiples of the identity for spherical; else a ValueError).
    covariance_type
        One of ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"``.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str = "full"

    def __post_init__(self) -> None:
        check_choice(self.covariance_type, "covariance_type", G.COVARIANCE_TYPES)
        for name in ("weights", "means", "covariances"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        if self.means.ndim != 2:
            raise ValueError(f"means must have shape (K, d); got {self.means.shape}.")
        K, d = self.means.shape
        expected = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}[self.covariance_type]
        if np.shape(self.weights) != (K,):
            raise ValueError(f"weights must have shape (K,) = {(K,)}; got {np.shape(self.weights)}.")
        if self.covariance_type != "full" and np.shape(self.covariances) == (K, d, d):
            object.__setattr__(self, "covariances", _from_full(self.covariances, self.covariance_type))
        if np.shape(self.covariances) != expected:
            raise ValueError(f"covariances for covariance_type {self.covariance_type!r} must have shape "
                             f"{expected}; got {np.shape(self.covariances)}.")

    @property
    def num_components(self) -> int:
        """K."""
        return int(np.shape(self.means)[0])

    def full_covariances(self) -> np.ndarray:
        """The (K, d, d) covariance matrices whatever the structure."""
        K, d = self.means.shape
        cov = np.asarray(self.covariances)
        if self.covariance_type == "full":
            return cov
        if self.covariance_type == "tied":
            return np.broadcast_to(cov, (K, d, d)).copy()
        if self.covariance_type == "diag":
            return np.einsum("kd,de->kde", cov, np.eye(d))
        return cov[:, None, None] * np.eye(d)


def _from_full(cov: np.ndarray, covariance_type: str) -> np.ndarray:
    """The tied (d, d), diag (K, d) or spherical (K,) parameters of full (K, d, d) covariances of that structure."""
    K, d, _ = cov.shape
    diag = np.einsum("kdd->kd", cov)
    converted = {"tied": cov[0], "diag": diag, "spherical": diag.mean(1)}[covariance_type]
    back = GMMParams(np.full(K, 1.0 / K), np.zeros((K, d)), converted, covariance_type).full_covariances()
    if not np.allclose(back, cov, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(cov).max()))):
        what = {"tied": "K equal matrices", "diag": "diagonal matrices", "spherical": "multiples of the identity"}
        raise ValueError(f"covariances: expected shape {converted.shape} for covariance_type {covariance_type!r}, or "
                         f"(K, d, d) full matrices that are {what[covariance_type]}; got (K, d, d) matrices that "
                         "are not.")
    return converted


@dataclass(frozen=True)
class DirichletPrior:
    """Dirichlet prior :math:`\\pi \\sim \\mathrm{Dir}(\\alpha)` for MAP-EM; ``concentration`` >= 1 (scalar or (K,))."""

    concentration: float | np.ndarray = 1.0


@dataclass(frozen=True)
class InverseWishartPrior:
    """Inverse-Wishart prior :math:`\\Sigma_k \\sim \\mathcal W^{-1}(\\Psi, \\nu)` for MAP-EM, with ``df`` :math:`\\nu > d - 1` and ``scale`` :math:`\\Psi` (d, d)."""

    df: float
    scale: np.ndarray


@dataclass(frozen=True)
class GMMResult:
    """Result of :func:`fit_gmm` (the best of its restarts).

    Attributes
    ----------
    params
        Fitted :class:`GMMParams`.
    log_likelihood
        Final objective: :math:`\\sum_n \\log p(x_n \\mid \\theta)` (plus the log-prior under MAP-EM).
    log_likelihood_trace
        The objective at every iterate (non-decreasing for exact EM, eq. (2.37)).
    elbo_trace
        :math:`\\mathcal L(q^{t+1}, \\theta^{t+1})` per step when ``record_elbo``, else NaNs.
    converged, num_iterations, stop_reason, rule
        As in :class:`pgm_ppl.core.em.EMResult`.
    initial_params
        Parameters the winning run started from.
    restart_log_likelihoods
        Final objective of every restart.
    """

    params: GMMParams
    log_likelihood: float
    log_likelihood_trace: np.ndarray
    elbo_trace: np.ndarray
    converged: bool
    num_iterations: int
    initial_params: GMMParams
    restart_log_likelihoods: np.ndarray
    stop_reason: str = "max_iter"
    rule: str = "relative"


@dataclass(frozen=True)
class _State:
    """Torch parameters with the precision Cholesky factors cached."""

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor
    prec_chol: torch.Tensor


def gmm_log_prob(X: ArrayLike, params: GMMParams) -> np.ndarray:
    """Per-point :math:`\\log p(x_n \\mid \\theta)` (course eq. (2.5)), shape (N,)."""
    log_joint = _log_joint(_to_tensor(_data_for(X, params)), _state_from_params(params), params.covariance_type)
    return torch.logsumexp(log_joint, dim=1).numpy()


def gmm_log_likelihood(X: ArrayLike, params: GMMParams) -> float:
    """Total log-likelihood :math:`\\ell(\\theta) = \\sum_n \\log p(x_n \\mid \\theta)` (course eq. (2.6))."""
    return float(gmm_log_prob(X, params).sum())


def gmm_responsibilities(X: ArrayLike, params: GMMParams) -> np.ndarray:
    """Responsibilities :math:`\\gamma_{nk}` (course eq. (2.11)), shape (N, K), rows summing to one."""
    log_joint = _log_joint(_to_tensor(_data_for(X, params)), _state_from_params(params), params.covariance_type)
    return torch.softmax(log_joint, dim=1).numpy()


def sample_gmm(params: GMMParams, num_samples: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ancestral sampling (course Remark 2.2): :math:`z_n \\sim \\mathrm{Cat}(\\pi)`, then :math:`x_n \\sim \\mathcal N(\\mu_{z_n}, \\Sigma_{z_n})`.

    Returns the (num_samples, d) draws and their (num_samples,) component labels.
    """
    rng = np.random.default_rng(seed)
    z = rng.choice(params.num_components, size=num_samples, p=np.asarray(params.weights) / np.sum(params.weights))
    chol = cholesky(params.full_covariances(), name="params.covariances",
                    fix="pass positive-definite component covariances")
    eps = rng.standard_normal((num_samples, params.means.shape[1]))
    return params.means[z] + np.einsum("nde,ne->nd", chol[z], eps), z


def fit_gmm(X: ArrayLike, num_components: int, *, covariance_type: str = "full",
            init: str | GMMParams = "kmeans", num_restarts: int = 1, max_iter: int = 100, tol: float = 1e-6,
            tol_rule: str = "relative", reg_covar: float = 1e-6, covariance_floor: float = 0.0,
            weight_prior: DirichletPrior | None = None, covariance_prior: InverseWishartPrior | None = None,
            record_elbo: bool = False, seed: int = 0) -> GMMResult:
    r"""Fit a Gaussian mixture by EM (or MAP-EM), keeping the best of ``num_restarts`` initialisations.

    The E-step computes :math:`\gamma_{nk}` (2.11) in log-space; the M-step is (2.13)-(2.15) for the chosen
    covariance structure, with :math:`N_k` offset by :math:`10\epsilon` and ``reg_covar`` added to the
    diagonal as in scikit-learn. Under MAP-EM (Remark 2.5) with :math:`\pi \sim \mathrm{Dir}(\alpha)` and
    :math:`\Sigma_k \sim \mathcal W^{-1}(\Psi, \nu)`:

    .. math::
        \pi_k = \frac{N_k + \alpha_k - 1}{N + \sum_j \alpha_j - K}, \qquad
        \Sigma_k = \frac{\Psi + N_k S_k}{\nu + N_k + d + 1}
        \quad (\text{tied: } \Sigma = \tfrac{\Psi + \sum_k N_k S_k}{\nu + N + d + 1}),

    with :math:`S_k` the weighted scatter of (2.14); the objective becomes
    :math:`\ell(\theta) + \log p(\theta)`. With ``reg_covar=0`` every step is an exact (constrained when
    ``covariance_floor > 0``) maximiser, so the trace never decreases.

    Parameters
    ----------
    X
        (N, d) data.
    num_components
        K.
    covariance_type
        ``"full"``, ``"tied"``, ``"diag"`` or ``"spherical"``.
    init
        ``"kmeans"`` (responsibilities from a k-means fit: the notes' "good" initialisation),
        ``"k-means++"`` (hard assignment to k-means++ seeds), ``"random"`` (uniform random
        responsibilities, as scikit-learn), ``"random_from_data"`` (the notes' "bad" initialisation: K
        random points as means, uniform weights, shared :math:`s^2 I` with :math:`s^2` the mean
        per-coordinate variance), or explicit :class:`GMMParams`.
    num_restarts
        Number of seeded initialisations (1 with explicit parameters); the highest final objective wins.
    max_iter, tol, tol_rule
        Stopping rule of :func:`pgm_ppl.core.em.run_em`; ``tol_rule="absolute"`` is scikit-learn's rule
        (absolute change of the per-point mean log-likelihood below ``tol``).
    reg_covar
        Non-negative value added to every covariance diagonal (scikit-learn's ``reg_covar``).
    covariance_floor
        Non-negative lower bound on covariance eigenvalues (constrained ML); 0 disables it.
    weight_prior, covariance_prior
        Priors for MAP-EM; the inverse-Wishart prior needs ``covariance_type`` full or tied.
    record_elbo
        Also compute :math:`\mathcal L(q^{t+1}, \theta^{t+1})` at every step (slower; excludes the log-prior).
    seed
        Seed of all initialisations.

    Returns
    -------
    GMMResult

    Raises
    ------
    ValueError
        On bad shapes, unknown names, negative regularisation, an invalid prior, or a collapsed covariance.

    See Also
    --------
    pgm_ppl.em.degeneracy.collapse_log_likelihood : why the remedies are needed.
    pgm_ppl.em.alignment.match_components : compare two fits up to label switching.
    """
    X = check_data(X, "X")
    N, d = X.shape
    check_int(num_components, "num_components", minimum=1, maximum=N)
    check_choice(covariance_type, "covariance_type", G.COVARIANCE_TYPES)
    if reg_covar < 0 or covariance_floor < 0:
        raise ValueError(f"reg_covar and covariance_floor must be >= 0; got {reg_covar} and {covariance_floor}.")
    alpha = _check_weight_prior(weight_prior, num_components)
    _check_covariance_prior(covariance_prior, covariance_type, d)
    warn_if_reg_covar_dominates(X, reg_covar, "fit_gmm")
    if isinstance(init, GMMParams):
        if init.means.shape != (num_components, d) or init.covariance_type != covariance_type:
            raise ValueError(f"init parameters must have {num_components} components in dimension {d} and "
                             f"covariance_type {covariance_type!r}; got means of shape {init.means.shape} "
                             f"and {init.covariance_type!r}.")
        if num_restarts != 1:
            raise ValueError("num_restarts must be 1 when init is an explicit GMMParams.")
    else:
        check_choice(init, "init", INITS)
        num_components = distinct_clusters(X, num_components, "fit_gmm")
        alpha = None if alpha is None else alpha[:num_components]
    shift = X.mean(0)                       # EM is translation-equivariant; centring improves rounding
    X = X - shift
    Xt = _to_tensor(X)
    XX = G.outer_products(Xt) if covariance_type == "full" and N * d * d <= _MAX_CACHE else None
    m_step = partial(_m_step, X=Xt, covariance_type=covariance_type, reg_covar=reg_covar,
                     covariance_floor=covariance_floor, alpha=alpha, covariance_prior=covariance_prior, XX=XX)
    e_step = partial(_e_step, X=Xt, covariance_type=covariance_type, alpha=alpha,
                     covariance_prior=covariance_prior)
    log_joint = partial(_log_joint, Xt, covariance_type=covariance_type) if record_elbo else None
    rng = np.random.default_rng(seed)
    best, best_start, finals = None, None, []
    for _ in range(num_restarts):
        start = (_state_from_params(init, -shift) if isinstance(init, GMMParams)
                 else _initial_state(X, Xt, num_components, init, covariance_type, reg_covar, covariance_floor, rng))
        run = run_em(start, e_step, m_step, max_iter=max_iter, tol=tol, tol_rule=tol_rule,
                     num_observations=N, log_joint=log_joint)
        finals.append(run.log_likelihood)
        if best is None or run.log_likelihood > best.log_likelihood:
            best, best_start = run, start
    return GMMResult(_params_from_state(best.params, covariance_type, shift), best.log_likelihood,
                     best.log_likelihood_trace, best.elbo_trace, best.converged, best.num_iterations,
                     _params_from_state(best_start, covariance_type, shift), np.asarray(finals),
                     best.stop_reason, best.rule)


def _data_for(X: ArrayLike, params: GMMParams) -> np.ndarray:
    """Validated data whose dimension matches the mixture's."""
    X = check_data(X, "X")
    if X.shape[1] != params.means.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns but the mixture has dimension {params.means.shape[1]}.")
    return X


def _log_joint(X: torch.Tensor, state: _State, covariance_type: str) -> torch.Tensor:
    """(N, K) matrix of :math:`\\log \\pi_k + \\log \\mathcal N(x_n \\mid \\mu_k, \\Sigma_k)`."""
    return G.log_gaussian_prob(X, state.means, state.prec_chol, covariance_type) + torch.log(state.weights)


def _e_step(state: _State, *, X: torch.Tensor, covariance_type: str, alpha: torch.Tensor | None,
            covariance_prior: InverseWishartPrior | None) -> EStep:
    """Responsibilities (2.11) and the objective at the current parameters."""
    log_joint = _log_joint(X, state, covariance_type)
    top = log_joint.amax(dim=1, keepdim=True)
    unnormalised = torch.exp(log_joint - top)
    total = unnormalised.sum(dim=1, keepdim=True)
    objective = float((top + torch.log(total)).sum()) + _log_prior(state, covariance_type, alpha, covariance_prior)
    return EStep(unnormalised / total, objective)


def _m_step(resp: torch.Tensor, state: _State | None, *, X: torch.Tensor, covariance_type: str, reg_covar: float,
            covariance_floor: float, alpha: torch.Tensor | None,
            covariance_prior: InverseWishartPrior | None, XX: torch.Tensor | None = None) -> _State:
    """M-step (2.13)-(2.15), or its MAP version, for the given responsibilities."""
    N, d = X.shape
    nk = resp.sum(0) + _EPS
    means = (resp.T @ X) / nk[:, None]
    cov = G.weighted_covariances(X, resp, nk, means, covariance_type, XX)
    if covariance_prior is not None:
        psi = _to_tensor(np.asarray(covariance_prior.scale, dtype=np.float64))
        if covariance_type == "full":
            cov = (psi + nk[:, None, None] * cov) / (covariance_prior.df + nk[:, None, None] + d + 1)
        else:
            cov = (psi + nk.sum() * cov) / (covariance_prior.df + nk.sum() + d + 1)
    cov = G.add_to_diagonal(cov, reg_covar, covariance_type)
    if covariance_floor > 0:
        cov = G.floor_covariances(cov, covariance_floor, covariance_type)
    weights = nk if alpha is None else nk + alpha - 1.0
    weights = weights / weights.sum()
    return _State(weights, means, cov, G.precision_cholesky(cov, covariance_type))


def _log_prior(state: _State, covariance_type: str, alpha: torch.Tensor | None,
               covariance_prior: InverseWishartPrior | None) -> float:
    """:math:`\\log \\mathrm{Dir}(\\pi \\mid \\alpha) + \\sum_k \\log \\mathcal W^{-1}(\\Sigma_k \\mid \\Psi, \\nu)` (0 without priors)."""
    total = 0.0
    if alpha is not None:
        total += float(torch.distributions.Dirichlet(alpha).log_prob(state.weights))
    if covariance_prior is not None:
        nu = float(covariance_prior.df)
        psi = _to_tensor(np.asarray(covariance_prior.scale, dtype=np.float64))
        d = psi.shape[0]
        # log|Sigma^{-1}| = 2 sum log diag(P); tr(Psi Sigma^{-1}) = ||P^T Psi^{1/2}||^2 = tr(P^T Psi P)
        log_det_prec = 2.0 * torch.log(torch.diagonal(state.prec_chol, dim1=-2, dim2=-1)).sum(-1)
        trace = torch.einsum("...ji,jl,...li->...", state.prec_chol, psi, state.prec_chol)
        log_norm = (0.5 * nu * torch.logdet(psi) - 0.5 * nu * d * np.log(2.0)
                    - torch.special.multigammaln(torch.tensor(0.5 * nu, dtype=torch.float64), d))
        total += float((log_norm + 0.5 * (nu + d + 1) * log_det_prec - 0.5 * trace).sum())
    return total


def _initial_state(X: np.ndarray, Xt: torch.Tensor, K: int, init: str, covariance_type: str, reg_covar: float,
                   covariance_floor: float, rng: np.random.Generator) -> _State:
    """Initial parameters from one of the named strategies (see :func:`fit_gmm`), inside the covariance floor."""
    N, d = X.shape
    if init == "random_from_data":
        means = X[rng.choice(N, size=K, replace=False)]
        s2 = max(float(X.var(axis=0).mean()), covariance_floor)
        cov = {"full": np.broadcast_to(s2 * np.eye(d), (K, d, d)).copy(), "tied": s2 * np.eye(d),
               "diag": np.full((K, d), s2), "spherical": np.full(K, s2)}[covariance_type]
        return _state_from_params(GMMParams(np.full(K, 1.0 / K), means, cov, covariance_type))
    if init == "random":
        resp = rng.uniform(size=(N, K))
        resp /= resp.sum(1, keepdims=True)
    else:
        if init == "kmeans":
            labels = kmeans(X, K, init="k-means++", seed=rng).labels
        else:
            labels = squared_distances(X, kmeans_plusplus(X, K, seed=rng)).argmin(1)
        resp = np.zeros((N, K))
        resp[np.arange(N), labels] = 1.0
    return _m_step(_to_tensor(resp), None, X=Xt, covariance_type=covariance_type, reg_covar=reg_covar,
                   covariance_floor=covariance_floor, alpha=None, covariance_prior=None)


def _check_weight_prior(prior: DirichletPrior | None, K: int) -> torch.Tensor | None:
    """Validate the Dirichlet prior and return its (K,) concentration."""
    if prior is None:
        return None
    alpha = np.broadcast_to(np.asarray(prior.concentration, dtype=np.float64), (K,)).copy()
    if np.any(alpha < 1.0):
        raise ValueError(f"DirichletPrior concentration must be >= 1 for a MAP estimate; got {alpha}.")
    return _to_tensor(alpha)


def _check_covariance_prior(prior: InverseWishartPrior | None, covariance_type: str, d: int) -> None:
    """The inverse-Wishart prior needs a full or tied covariance, df > d - 1 and a PD (d, d) scale."""
    if prior is None:
        return
    if covariance_type not in ("full", "tied"):
        raise ValueError(f"InverseWishartPrior needs covariance_type 'full' or 'tied'; got {covariance_type!r}.")
    scale = np.asarray(prior.scale, dtype=np.float64)
    if scale.shape != (d, d):
        raise ValueError(f"InverseWishartPrior scale must have shape (d, d) = {(d, d)}; got {scale.shape}.")
    if prior.df <= d - 1:
        raise ValueError(f"InverseWishartPrior df must exceed d - 1 = {d - 1}; got {prior.df}.")
    if np.any(np.linalg.eigvalsh(scale) <= 0):
        raise ValueError("InverseWishartPrior scale must be positive definite.")


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _state_from_params(params: GMMParams, shift: np.ndarray | float = 0.0) -> _State:
    """Torch state of ``params`` with means moved by ``shift``."""
    cov = _to_tensor(params.covariances)
    return _State(_to_tensor(params.weights), _to_tensor(np.asarray(params.means) + shift), cov,
                  G.precision_cholesky(cov, params.covariance_type))


def _params_from_state(state: _State, covariance_type: str, shift: np.ndarray | float = 0.0) -> GMMParams:
    """Numpy parameters of ``state`` with means moved by ``shift``."""
    return GMMParams(state.weights.numpy().copy(), state.means.numpy() + shift, state.covariances.numpy().copy(),
                     covariance_type)
