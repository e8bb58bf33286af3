r"""Per-engine adapters: every engine's result becomes the one :class:`~pgm_ppl.core.Fit`.

:func:`as_fit` is a :func:`functools.singledispatch` with one adapter per engine result type (the shape of
arviz-base's ``io_numpyro``: one adapter per engine, one converter after it). A ``Fit`` passes through;
:func:`pgm_ppl.diagnostics.to_inference_data` calls :func:`as_fit` first, so every result reaches ArviZ with
one signature, ``to_inference_data(result, data)``.

What goes where:

- ``posterior``: a point estimate (EM, k-means, MLE, MAP/Newton mode of a GP classifier, GP hyper-parameters)
  as one draw with ``point_estimate=True``; a variational posterior (CAVI) or a Laplace Gaussian as
  ``num_samples`` draws from :math:`q`, made by a ``numpy.random.Generator`` seeded with ``seed`` (no
  global random state);
- ``losses`` (and so ``sample_stats["loss"]`` over the ``step`` axis): the quantity the engine *minimised*
  at every iteration: the negative log-likelihood for EM (Baum-Welch, Kalman EM and Bayesian-network EM
  included), the negative ELBO for CAVI, the negative log marginal likelihood or negative ELBO for GP
  training, the distortion for k-means and :math:`\mathrm{KL}(q\|p)` for the mean-field Gaussian;
  ``converged`` and ``stop_reason`` (``"tol"`` or ``"max_iter"``) are set where the engine has a rule;
- ``data`` (optional, what the engine was fitted on) adds ``observed_data`` and, where the model defines
  one, the pointwise ``log_likelihood`` (for draws: one value per draw and observation). For EM its sum is
  the engine's own :math:`\log p(x \mid \hat\theta)`;
- ``density`` where the fitted model has a density on new data: Gaussian mixtures
  (:class:`~pgm_ppl.em.density.GaussianMixtureDensity`), factor analysis and PPCA (their Gaussian
  marginal), mixtures of factor analysers, Bernoulli mixtures, the Bayesian mixtures fitted by CAVI
  (posterior predictive over the draws) and an HMM fitted on sequences of one length (per sequence).

Engines register lazily: an adapter is attached to its result class the first time a result is converted,
and only for engine modules already imported, so importing diagnostics loads neither PyTorch nor GPyTorch.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np
from scipy.special import log_expit, log_ndtr, logsumexp

from pgm_ppl.core import Fit
from pgm_ppl.core.linalg import ROUNDING_JITTER, cholesky

__all__ = ["as_fit", "supported_result_types"]

# (module, class name) -> adapter; attached to ``as_fit`` on first use (see ``_register_imported``).
_ADAPTERS: dict[tuple[str, str], Callable[..., Fit]] = {}


def _adapter(module: str, name: str) -> Callable[[Callable[..., Fit]], Callable[..., Fit]]:
    def decorate(function: Callable[..., Fit]) -> Callable[..., Fit]:
        _ADAPTERS[(module, name)] = function
        return function
    return decorate


def supported_result_types() -> list[str]:
    """The result types :func:`as_fit` converts, as ``module.Class`` names (``Fit`` first)."""
    return ["pgm_ppl.core.result.Fit"] + [f"{module}.{name}" for module, name in _ADAPTERS]


@functools.singledispatch
def as_fit(result: Any, data: Any = None, *, num_samples: int = 1000, seed: int = 0) -> Fit:
    """Turn any pgm_ppl engine result into a :class:`~pgm_ppl.core.Fit`.

    Parameters
    ----------
    result
        What an engine returned: ``fit_gmm``, ``run_em`` and the other EM fitters, ``kmeans``, the CAVI
        fitters, ``dp.cavi.run``, ``dp.gibbs.run``, ``baum_welch``, ``kalman_em``, Bayesian-network
        ``expectation_maximization``, GP ``train`` / ``train_cg`` / ``train_svgp``, the GP classifiers,
        ``fit_mle``, ``laplace_approximation``, ``logistic_regression_newton``; a ``Fit`` passes through.
    data
        The data the engine was fitted on, shaped as the engine took it (``X``; ``(X, y)`` for regression and
        GP engines; ``counts`` for LDA; a ``{variable: states}`` mapping for a Bayesian network). It adds
        ``observed_data`` and, where the model defines one, the pointwise ``log_likelihood``.
    num_samples
        Draws from a variational (CAVI) or Laplace posterior; ignored for point estimates.
    seed
        Seed of the ``numpy.random.Generator`` that makes those draws.

    Returns
    -------
    Fit
        ``losses`` holds the quantity the engine minimised per iteration (negative log-likelihood for EM,
        negative ELBO for CAVI and variational GPs, negative log marginal likelihood for exact GP training).

    Raises
    ------
    TypeError
        If ``result`` is of a type no adapter handles (the message lists the supported types).
    ValueError
        If ``data`` is given with a ``Fit`` (it already carries its data) or does not fit the model.
    """
    if _register_imported(type(result)):
        return as_fit(result, data, num_samples=num_samples, seed=seed)
    raise TypeError(
        f"result: expected the result of a pgm_ppl engine, got {type(result).__module__}.{type(result).__qualname__}. "
        f"Supported result types: {', '.join(supported_result_types())}.")


def _register_imported(cls: type) -> bool:
    """Attach the adapters of every imported engine module; True if ``cls`` now has one."""
    for (module, name), function in _ADAPTERS.items():
        if module in sys.modules:
            target = getattr(sys.modules[module], name, None)
            if isinstance(target, type) and target not in as_fit.registry:
                as_fit.register(target, function)
    return as_fit.dispatch(cls) is not as_fit.registry[object]


@as_fit.register
def _fit(result: Fit, data: Any = None, *, num_samples: int = 1000, seed: int = 0) -> Fit:
    if data is not None:
        raise ValueError("data: a Fit already carries its observed data; call to_inference_data(fit) without data.")
    return result


# --------------------------------------------------------------------------------------------------- helpers

def _np(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _point(values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One draw of one chain: shape ``(1, 1, *site_shape)``."""
    return {name: _np(value)[None, None] for name, value in values.items()}


def _stop(converged: bool | None) -> str:
    return "" if converged is None else ("tol" if converged else "max_iter")


def _as_matrix(data: Any, name: str = "data") -> np.ndarray:
    x = _np(data)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name}: expected the (N, d) array the engine was fitted on, got shape {x.shape}.")
    return x


def _xy(data: Any, engine: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"data: {engine} was fitted on inputs and targets; pass data=(x, y), got "
                         f"{type(data).__name__}.")
    return _np(data[0]), _np(data[1])


def _fields(obj: Any) -> dict[str, np.ndarray]:
    """Numeric fields of a parameter object (dataclass, NamedTuple, dict, tuple or array) as numpy arrays."""
    if is_dataclass(obj):
        items = [(f.name, getattr(obj, f.name)) for f in fields(obj)]
    elif hasattr(obj, "_asdict"):
        items = list(obj._asdict().items())
    elif isinstance(obj, Mapping):
        items = list(obj.items())
    elif isinstance(obj, (tuple, list)):
        items = [(f"param_{i}", value) for i, value in enumerate(obj)]
    else:
        items = [("params", obj)]
    out = {}
    for name, value in items:
        try:
            array = _np(value)
        except (TypeError, ValueError):
            continue
        if array.dtype.kind in "fiub":
            out[str(name)] = array
    return out


def _em_fit(method: str, model: Callable, params: dict[str, np.ndarray], trace: np.ndarray, converged: bool,
            data: Any, *, dims: dict | None = None, pointwise: Callable[[np.ndarray], np.ndarray] | None = None,
            density: Any = None, extra: dict | None = None, observed_name: str = "x") -> Fit:
    """A point estimate with its negative log-likelihood trace and, given data, the pointwise log-likelihood."""
    observed, loglik, x = {}, {}, None
    if data is not None:
        x = _np(data) if hasattr(data, "detach") else np.asarray(data)   # integer data (HMM symbols) stay integer
        observed = {observed_name: x}
        if pointwise is not None:
            loglik = {observed_name: np.asarray(pointwise(x), dtype=np.float64)[None, None]}
    dims = dict(dims or {})
    if x is not None:
        dims.setdefault(observed_name, ["observation"] + [f"{observed_name}_dim_{i}" for i in range(1, x.ndim)])
    return Fit(method=method, backend="numpy", model=model, args=() if x is None else (x,), kwargs={},
               posterior=_point(params), log_likelihood=loglik, observed_data=observed, dims=dims,
               losses=-np.asarray(trace, dtype=np.float64), objective="negative_log_likelihood", point_estimate=True, converged=bool(converged),
               stop_reason=_stop(converged), density=density, params={**params, **(extra or {})})


@dataclass(frozen=True)
class _FunctionDensity:
    """A :class:`~pgm_ppl.core.Density` from a per-row log-density and a sampler."""

    kind: str
    _log_prob: Callable[[np.ndarray], np.ndarray]
    _sample: Callable[[int, np.random.Generator], np.ndarray]

    def log_prob(self, x: Any) -> np.ndarray:
        return np.asarray(self._log_prob(x), dtype=np.float64)

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        return self._sample(int(num_samples), np.random.default_rng(seed))


def _gaussian_mixture_draws(x: np.ndarray, log_weights: np.ndarray, means: np.ndarray,
                            precisions: np.ndarray) -> np.ndarray:
    r"""Per-draw, per-row :math:`\log\sum_k \pi_k \mathcal N(x_n; \mu_k, \Lambda_k^{-1})`, shape (S, N).

    ``log_weights`` (S, K), ``means`` (S, K, d), ``precisions`` (S, K, d, d); chunked over draws.
    """
    d = x.shape[1]
    chol = cholesky(precisions, name="posterior draws' component precisions")  # Lambda = L L^T
    log_det = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)          # (S, K): log |Lambda|^(1/2)
    out = np.empty((len(means), len(x)))
    step = max(1, 2_000_000 // max(1, x.size * means.shape[1]))
    for start in range(0, len(means), step):
        sl = slice(start, start + step)
        y = np.einsum("nd,skde->snke", x, chol[sl]) - np.einsum("skd,skde->ske", means[sl], chol[sl])[:, None]
        log_gauss = -0.5 * (d * np.log(2 * np.pi) + (y**2).sum(-1)) + log_det[sl, None]
        out[sl] = logsumexp(log_weights[sl, None] + log_gauss, axis=-1)
    return out


def _mixture_predictive(weights: np.ndarray, means: np.ndarray, precisions: np.ndarray) -> _FunctionDensity:
    r"""Posterior predictive :math:`\log\frac1S\sum_s p(x \mid \theta_s)` of a Gaussian mixture over draws."""
    log_w = np.log(weights)
    covariances = np.linalg.inv(precisions)

    def log_prob(x):
        values = _gaussian_mixture_draws(_as_matrix(x, "x"), log_w, means, precisions)
        return logsumexp(values, axis=0) - np.log(len(values))

    def sample(n, rng):
        s = rng.integers(len(weights), size=n)
        u = rng.random(n)[:, None] > np.cumsum(weights[s], axis=1)
        k = np.minimum(u.sum(1), weights.shape[1] - 1)
        chol = cholesky(covariances[s, k], name="posterior draws' component covariances")
        return means[s, k] + np.einsum("nde,ne->nd", chol, rng.standard_normal((n, means.shape[-1])))

    return _FunctionDensity("posterior_predictive", log_prob, sample)


def _wishart_normal_draws(rng: np.random.Generator, num_samples: int, W_inv_chol: np.ndarray, nu: np.ndarray,
                          beta: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\Lambda_k \sim \mathcal W(W_k, \nu_k)` by Bartlett's decomposition :math:`\Lambda = B A A^\top
    B^\top` (:math:`B B^\top = W_k`, :math:`A` lower triangular, :math:`A_{ii}^2 \sim \chi^2_{\nu_k - i + 1}`,
    :math:`A_{ij} \sim \mathcal N(0, 1)` below the diagonal), then :math:`\mu_k \sim \mathcal N(m_k,
    (\beta_k \Lambda_k)^{-1})`. ``W_inv_chol`` is the Cholesky factor of :math:`W_k^{-1}`, (K, d, d)."""
    K, d = m.shape
    B = np.swapaxes(np.linalg.inv(W_inv_chol), 1, 2)                          # B B^T = W_k
    A = np.tril(rng.standard_normal((num_samples, K, d, d)), -1)
    A[..., np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(nu[:, None] - np.arange(d), (num_samples, K, d)))
    BA = B @ A
    Lambda = BA @ np.swapaxes(BA, -1, -2)
    C = cholesky(beta[:, None, None] * Lambda, name="beta_k Lambda_k")           # C C^T = beta_k Lambda_k
    mu = m + np.linalg.solve(np.swapaxes(C, -1, -2), rng.standard_normal((num_samples, K, d, 1)))[..., 0]
    return Lambda, mu


def _data_dims(name: str, x: np.ndarray) -> list[str]:
    return ["observation"] + [f"{name}_dim_{i}" for i in range(1, x.ndim)]


# ------------------------------------------------------------------------------------------------------- EM

@_adapter("pgm_ppl.em.gmm", "GMMResult")
def _gmm(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.em.density import GaussianMixtureDensity
    from pgm_ppl.em.gmm import fit_gmm, gmm_log_prob

    p = result.params
    cov_dims = {"full": ["component", "feature", "feature_"], "tied": ["feature", "feature_"],
                "diag": ["component", "feature"], "spherical": ["component"]}[p.covariance_type]
    return _em_fit("em", fit_gmm, {"weights": p.weights, "means": p.means, "covariances": p.covariances},
                   result.log_likelihood_trace, result.converged, data,
                   dims={"weights": ["component"], "means": ["component", "feature"], "covariances": cov_dims},
                   pointwise=lambda x: gmm_log_prob(x, p), density=GaussianMixtureDensity(p),
                   extra={"restart_log_likelihoods": result.restart_log_likelihoods,
                          "elbo_trace": result.elbo_trace})


@_adapter("pgm_ppl.core.em", "EMResult")
def _em(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.core.em import run_em

    # run_em knows only the steps it was given, not the model: no pointwise log-likelihood here
    return _em_fit("em", run_em, _fields(result.params), result.log_likelihood_trace, result.converged, data,
                   extra={"elbo_trace": result.elbo_trace})


def _gaussian_density(mean: np.ndarray, cov: np.ndarray) -> _FunctionDensity:
    from scipy.stats import multivariate_normal

    return _FunctionDensity("exact", lambda x: np.atleast_1d(multivariate_normal(mean, cov).logpdf(_as_matrix(x, "x"))),
                            lambda n, rng: rng.multivariate_normal(mean, cov, size=n))


@_adapter("pgm_ppl.em.factor_analysis", "FactorAnalysisResult")
def _factor_analysis(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.em.factor_analysis import fit_factor_analysis

    p = result.params
    density = _gaussian_density(p.mean, p.covariance())     # the marginal N(mu, W W^T + Psi)
    return _em_fit("em", fit_factor_analysis, _fields(p), result.log_likelihood_trace, result.converged, data,
                   dims={"mean": ["feature"], "loadings": ["feature", "factor"], "noise_variance": ["feature"]},
                   pointwise=density.log_prob, density=density)


@_adapter("pgm_ppl.em.mfa", "MFAResult")
def _mfa(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.em.mfa import fit_mfa, mfa_log_prob

    p = result.params
    cov = p.loadings @ np.swapaxes(p.loadings, 1, 2) + np.einsum("kd,de->kde", p.noise_variance,
                                                                   np.eye(p.means.shape[1]))

    def sample(n, rng):
        k = rng.choice(len(p.weights), size=n, p=p.weights / p.weights.sum())
        return p.means[k] + np.einsum("nde,ne->nd", cholesky(cov, name="component covariances")[k], rng.standard_normal((n, cov.shape[1])))

    return _em_fit("em", fit_mfa, _fields(p), result.log_likelihood_trace, result.converged, data,
                   dims={"weights": ["component"], "means": ["component", "feature"],
                         "loadings": ["component", "feature", "factor"], "noise_variance": ["component", "feature"]},
                   pointwise=lambda x: mfa_log_prob(x, p),
                   density=_FunctionDensity("exact", lambda x: mfa_log_prob(x, p), sample))


@_adapter("pgm_ppl.em.student_t", "StudentTMixtureResult")
def _student_t(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.em.student_t import fit_student_t_mixture, student_t_mixture_log_prob

    p = result.params

    def sample(n, rng):   # x = mu_k + L_k z / sqrt(u / nu_k), u ~ chi^2_{nu_k}
        k = rng.choice(len(p.weights), size=n, p=p.weights / p.weights.sum())
        z = np.einsum("nde,ne->nd", cholesky(p.scales, name="component scale matrices")[k], rng.standard_normal((n, p.means.shape[1])))
        return p.means[k] + z / np.sqrt(rng.chisquare(p.df[k]) / p.df[k])[:, None]

    return _em_fit("em", fit_student_t_mixture, _fields(p), result.log_likelihood_trace, result.converged, data,
                   dims={"weights": ["component"], "means": ["component", "feature"],
                         "scales": ["component", "feature", "feature_"], "df": ["component"]},
                   pointwise=lambda x: student_t_mixture_log_prob(x, p),
                   density=_FunctionDensity("exact", lambda x: student_t_mixture_log_prob(x, p), sample))


@_adapter("pgm_ppl.em.bernoulli_mixture", "BernoulliMixtureResult")
def _bernoulli_mixture(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.em.bernoulli_mixture import bernoulli_mixture_log_joint, fit_bernoulli_mixture

    p = result.params

    def log_prob(x):
        return logsumexp(bernoulli_mixture_log_joint(x, p), axis=1)

    def sample(n, rng):
        k = rng.choice(len(p.weights), size=n, p=p.weights / p.weights.sum())
        return (rng.random((n, p.probs.shape[1])) < p.probs[k]).astype(np.float64)

    return _em_fit("em", fit_bernoulli_mixture, _fields(p), result.log_likelihood_trace, result.converged, data,
                   dims={"weights": ["component"], "probs": ["component", "feature"]},
                   pointwise=log_prob, density=_FunctionDensity("exact", log_prob, sample))


@_adapter("pgm_ppl.clustering", "KMeansResult")
def _kmeans(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    from pgm_ppl.clustering import kmeans

    # k-means minimises the distortion J (course eq. (2.2)); it has no likelihood
    return _em_fit("kmeans", kmeans, {"centroids": result.centroids}, -np.asarray(result.distortion_trace),
                   result.converged, data, dims={"centroids": ["component", "feature"]},
                   extra={"labels": np.asarray(result.labels)})


# ----------------------------------------------------------------------------------------------------- CAVI

def _cavi_fit(model: Callable, posterior: dict, dims: dict, elbo: np.ndarray, converged: bool | None,
              observed: dict, loglik: dict, params: dict, density: Any = None, args: tuple = ()) -> Fit:
    return Fit(method="cavi", backend="numpy", model=model, args=args, kwargs={}, posterior=posterior,
               dims=dims, observed_data=observed, log_likelihood=loglik, params=params,
               losses=-np.asarray(elbo, dtype=np.float64), objective="negative_elbo", converged=converged, stop_reason=_stop(converged),
               density=density)


@_adapter("pgm_ppl.cavi.bayesian_gmm", "BGMMResult")
def _bayesian_gmm(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws from :math:`q(\pi)\prod_k q(\mu_k, \Lambda_k)`: sites ``pi`` (K,), ``mu`` (K, d), ``Lambda``
    (K, d, d); given ``X``, the pointwise :math:`\log p(x_n \mid \pi, \mu, \Lambda)` per draw."""
    from pgm_ppl.cavi.bayesian_gmm import fit_bayesian_gmm

    rng = np.random.default_rng(seed)
    st = result.state
    Lambda, mu = _wishart_normal_draws(rng, num_samples, st.W_inv_chol, st.nu, st.beta, st.m)
    pi = rng.dirichlet(st.alpha, size=num_samples)
    dims = {"pi": ["component"], "mu": ["component", "feature"], "Lambda": ["component", "feature", "feature_"]}
    observed, loglik, args = {}, {}, ()
    if data is not None:
        x = _as_matrix(data, "X")
        observed, args, dims["x"] = {"x": x}, (x,), _data_dims("x", x)
        loglik = {"x": _gaussian_mixture_draws(x, np.log(pi), mu, Lambda)[None]}
    return _cavi_fit(fit_bayesian_gmm, {"pi": pi[None], "mu": mu[None], "Lambda": Lambda[None]}, dims,
                     result.elbo, result.converged, observed, loglik,
                     {"alpha": st.alpha, "beta": st.beta, "m": st.m, "nu": st.nu},
                     density=_mixture_predictive(pi, mu, Lambda), args=args)


@_adapter("pgm_ppl.cavi.linear_regression", "BLRResult")
def _linear_regression(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of ``w`` from :math:`q(w)` and of ``tau`` from :math:`q(\tau)` (absent when :math:`\tau` was
    fixed); given ``(X, y)``, the pointwise :math:`\log \mathcal N(y_n; x_n^\top w, \tau^{-1})` per draw."""
    from pgm_ppl.cavi.linear_regression import fit_linear_regression

    rng = np.random.default_rng(seed)
    w = rng.multivariate_normal(result.m, result.S, size=num_samples)
    posterior, dims = {"w": w[None]}, {"w": ["feature"]}
    if np.isfinite(result.a):
        tau = rng.gamma(result.a, 1.0 / result.b, size=num_samples)
        posterior["tau"], dims["tau"] = tau[None], []
    else:
        tau = np.full(num_samples, np.nan if result.noise_precision is None else result.noise_precision)
    observed, loglik, args = {}, {}, ()
    if data is not None:
        X, y = _xy(data, "fit_linear_regression")
        observed, args = {"y": y}, (X, y)
        dims["y"] = ["observation"]
        if np.isfinite(tau).all():
            resid = y - w @ X.T                                                      # (S, N)
            loglik = {"y": (0.5 * np.log(tau / (2 * np.pi))[:, None] - 0.5 * tau[:, None] * resid**2)[None]}
    return _cavi_fit(fit_linear_regression, posterior, dims, result.elbo, result.converged, observed, loglik,
                     {"m": result.m, "S": result.S, "a": np.asarray(result.a), "b": np.asarray(result.b)}, args=args)


@_adapter("pgm_ppl.cavi.lda", "LDAResult")
def _lda(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of the topics ``beta`` (K, V) from :math:`\mathrm{Dir}(\lambda_k)` and of the document
    proportions ``theta`` (D, K) from :math:`\mathrm{Dir}(\gamma_d)` (normalised Gammas); given the
    ``counts``, the per-document :math:`\sum_v n_{dv}\log\sum_k\theta_{dk}\beta_{kv}` per draw."""
    from pgm_ppl.cavi.lda import fit_lda

    rng = np.random.default_rng(seed)
    beta = rng.standard_gamma(result.lam, size=(num_samples,) + result.lam.shape)
    theta = rng.standard_gamma(result.gamma, size=(num_samples,) + result.gamma.shape)
    beta /= beta.sum(-1, keepdims=True)
    theta /= theta.sum(-1, keepdims=True)
    dims = {"beta": ["topic", "word"], "theta": ["document", "topic"]}
    observed, loglik, args = {}, {}, ()
    if data is not None:
        counts = _as_matrix(data, "counts")
        if counts.shape != (result.gamma.shape[0], result.lam.shape[1]):
            raise ValueError(f"data: expected the (D, V) = {(result.gamma.shape[0], result.lam.shape[1])} counts "
                             f"LDA was fitted on, got shape {counts.shape}.")
        observed, args, dims["counts"] = {"counts": counts}, (counts,), ["document", "word"]
        values = np.stack([(counts * np.log(t @ b + 1e-300)).sum(1) for t, b in zip(theta, beta)])   # (S, D)
        loglik = {"counts": values[None]}
    return _cavi_fit(fit_lda, {"beta": beta[None], "theta": theta[None]}, dims, result.elbo, result.converged,
                     observed, loglik, {"lam": result.lam, "gamma": result.gamma}, args=args)


@_adapter("pgm_ppl.cavi.two_component", "MixtureMeansResult")
def _mixture_means(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of ``mu`` from :math:`\prod_k\mathcal N(m_k, s_k^2)`; given ``x``, the pointwise
    :math:`\log\sum_k \pi_k\mathcal N(x_n; \mu_k, \sigma^2)` per draw (weights and variance as fitted)."""
    from pgm_ppl.cavi.two_component import fit_mixture_means

    rng = np.random.default_rng(seed)
    mu = result.m + np.sqrt(result.s2) * rng.standard_normal((num_samples, len(result.m)))
    dims = {"mu": ["component"]}
    observed, loglik, args = {}, {}, ()
    if data is not None:
        x = _np(data).reshape(-1)
        observed, args, dims["x"] = {"x": x}, (x,), ["observation"]
        sq = (x[None, :, None] - mu[:, None]) ** 2                                   # (S, N, K)
        log_gauss = -0.5 * np.log(2 * np.pi * result.variance) - 0.5 * sq / result.variance
        loglik = {"x": logsumexp(np.log(result.weights) + log_gauss, axis=-1)[None]}
    return _cavi_fit(fit_mixture_means, {"mu": mu[None]}, dims, result.elbo, result.converged, observed, loglik,
                     {"m": result.m, "s2": result.s2}, args=args)


@_adapter("pgm_ppl.cavi.mean_field_gaussian", "MeanFieldGaussian")
def _mean_field_gaussian(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of ``z`` from :math:`q = \prod_i \mathcal N(m_i, s_i^2)`; ``losses`` is :math:`\mathrm{KL}(q\|p)`
    per sweep (what CAVI minimises here; the sweeps are a fixed budget, so ``converged`` is None)."""
    from pgm_ppl.cavi.mean_field_gaussian import mean_field_gaussian

    rng = np.random.default_rng(seed)
    z = result.mean + np.sqrt(result.variances) * rng.standard_normal((num_samples, len(result.mean)))
    return Fit(method="cavi", backend="numpy", model=mean_field_gaussian, args=(), kwargs={},
               posterior={"z": z[None]}, dims={"z": ["coordinate"]}, losses=np.asarray(result.kl, dtype=np.float64), objective="kl",
               stop_reason="num_sweeps", params={"mean": result.mean, "variances": result.variances})


# ------------------------------------------------------------------------------------------------------- DP

@_adapter("pgm_ppl.dp.cavi", "CAVIResult")
def _dp_cavi(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""The variational point (``point_estimate``): ``weights`` (stick-breaking at the variational means),
    ``mu`` and ``covariance`` (the mean of :math:`\Lambda_k^{-1}` under :math:`q`; undefined, hence not
    positive definite, for a component with :math:`\nu_k \le d + 1`); given ``x``, the pointwise mixture
    log-likelihood at the weights, means and precisions :math:`\mathbb E_q[\Lambda_k] = \nu_k W_k`. ``losses`` is
    minus the lower bound (scikit-learn's, up to a constant)."""
    from pgm_ppl.dp.cavi import run

    s = result.state
    d = s.means.shape[1]
    cov = s.covariances * (s.degrees_of_freedom / (s.degrees_of_freedom - d - 1))[:, None, None]
    dims = {"weights": ["component"], "mu": ["component", "feature"],
            "covariance": ["component", "feature", "feature_"]}
    observed, loglik, args = {}, {}, ()
    if data is not None:
        x = _as_matrix(data, "x")
        observed, args, dims["x"] = {"x": x}, (x,), _data_dims("x", x)
        # plug-in precisions E_q[Lambda_k] = nu_k W_k (scikit-learn's predict uses the same)
        loglik = {"x": _gaussian_mixture_draws(x, np.log(result.weights)[None], s.means[None],
                                               np.linalg.inv(s.covariances)[None])[None]}
    return Fit(method="cavi", backend="numpy", model=run, args=args, kwargs={},
               posterior=_point({"weights": result.weights, "mu": s.means, "covariance": cov}),
               observed_data=observed, log_likelihood=loglik, point_estimate=True, dims=dims,
               losses=-np.asarray(result.lower_bounds, dtype=np.float64), objective="negative_elbo", converged=bool(result.converged),
               stop_reason=_stop(result.converged), params={"gamma": s.gamma, "mean_precision": s.mean_precision,
                                                            "degrees_of_freedom": s.degrees_of_freedom})


@_adapter("pgm_ppl.dp.gibbs", "CollapsedGibbsResult")
def _dp_gibbs(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    """The kept draws (one chain): ``num_clusters`` and the labels ``z`` per draw. The component means are
    integrated out, so the data do not factorise given a partition: no pointwise log-likelihood."""
    from pgm_ppl.dp.gibbs import run

    observed, args, dims = {}, (), {"z": ["observation"]}
    if data is not None:
        x = _as_matrix(data, "x")
        observed, args, dims["x"] = {"x": x}, (x,), _data_dims("x", x)
    return Fit(method="gibbs", backend="numpy", model=run, args=args, kwargs={},
               posterior={"num_clusters": result.num_clusters[None].astype(np.float64), "z": result.labels[None]},
               observed_data=observed, dims=dims, stop_reason="num_samples")


# ------------------------------------------------------------------------------------------------ graphical

@_adapter("pgm_ppl.graphical.hmm", "BaumWelchResult")
def _baum_welch(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    """Point estimate of the HMM's parameters; ``losses`` is minus the log-likelihood at the start and after each
    M-step (the last is the fitted model's);
    given the sequences ``x`` (N, T[, D]), the log-likelihood of each sequence (states summed out), and a
    density over sequences of that length."""
    from pgm_ppl.graphical.hmm import baum_welch

    model = result.model
    params = {name: value for name, value in _fields(model).items()}
    dims = {"initial": ["state"], "transition": ["state", "state_"]}
    dims.update({name: ["state", "symbol" if name == "emission" else "feature"]
                 for name in ("emission", "means", "variances") if name in params})
    density = None
    if data is not None:
        length = np.shape(data)[1]
        density = _FunctionDensity("exact", model.log_likelihood,
                                   lambda n, rng: model.sample(n, length, seed=int(rng.integers(2**63)))[1])
    return _em_fit("baum_welch", baum_welch, params, result.log_likelihood, result.converged,
                   None if data is None else np.asarray(data), dims=dims, pointwise=model.log_likelihood,
                   density=density)


@_adapter("pgm_ppl.graphical.kalman", "KalmanEMResult")
def _kalman_em(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Point estimate of :math:`(A, C, Q, R, \mu_0, P_0)`; ``losses`` is minus the log-likelihood at the
    start and after each M-step; given ``x`` (T, d), the one-step-ahead terms :math:`\log p(x_t \mid x_{1:t-1})` (observed
    entries only; 0 for a fully missing row), whose sum is the Kalman filter's :math:`\log p(x_{1:T})`."""
    from pgm_ppl.graphical.kalman import kalman_em

    model = result.model

    def pointwise(x):
        return _kalman_pointwise(model, x)

    return _em_fit("kalman_em", kalman_em, _fields(model), result.log_likelihood, result.converged,
                   None if data is None else _as_matrix(data, "x"),
                   dims={"A": ["state", "state_"], "C": ["feature", "state"], "Q": ["state", "state_"],
                         "R": ["feature", "feature_"], "mu0": ["state"], "P0": ["state", "state_"],
                         "x": ["time", "feature"]},
                   pointwise=pointwise)


def _kalman_pointwise(model: Any, x: np.ndarray) -> np.ndarray:
    from pgm_ppl.graphical.kalman import kalman_filter

    filtered = kalman_filter(model, x)
    x = x.reshape(len(filtered.means), -1)
    seen = ~np.isnan(x)
    out = np.zeros(len(x))
    for t in np.flatnonzero(seen.any(1)):
        c, r = model.C[seen[t]], model.R[np.ix_(seen[t], seen[t])]
        innovation = x[t, seen[t]] - c @ filtered.predicted_means[t]
        s = c @ filtered.predicted_covariances[t] @ c.T + r
        chol = cholesky(s, name=f"innovation covariance at t={t}", fix="check the fitted R and the state covariances")
        z = np.linalg.solve(chol, innovation)
        out[t] = -0.5 * (z @ z + len(z) * np.log(2 * np.pi)) - np.log(np.diag(chol)).sum()
    return out


@_adapter("pgm_ppl.graphical.learning", "BayesNetEMResult")
def _bayesnet_em(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    """Point estimate of every CPT (site named after its variable); ``losses`` is minus the observed-data
    log-likelihood at the start and after each M-step; given the ``{variable: states}`` data (``-1`` = missing), each row's
    :math:`\\log p(x_{n,\\mathrm{obs}})` with its missing entries summed out by the junction tree."""
    from pgm_ppl.graphical.junction_tree import JunctionTree
    from pgm_ppl.graphical.learning import _data_matrix, expectation_maximization

    network = result.network
    params = {f"cpt_{v}": network.cpts[v] for v in network.variables}
    dims = {f"cpt_{v}": [f"{u}_state" for u in network.parents[v] + (v,)] for v in network.variables}
    if data is None:
        return _em_fit("bayesnet_em", expectation_maximization, params, result.log_likelihood, result.converged,
                       None, dims=dims)
    rows = _data_matrix(network.variables, network.cardinalities, data, allow_missing=True)
    patterns, inverse = np.unique(rows, axis=0, return_inverse=True)
    tree = JunctionTree(network.to_factor_graph())
    values = np.array([tree.calibrate({v: int(s) for v, s in zip(network.variables, p) if s >= 0}).log_value
                       for p in patterns])
    dims["rows"] = ["observation", "variable"]
    return _em_fit("bayesnet_em", expectation_maximization, params, result.log_likelihood, result.converged,
                   rows.astype(np.float64), dims=dims, pointwise=lambda _: values[np.ravel(inverse)],
                   observed_name="rows")


# ------------------------------------------------------------------------------------------------------- GP

def _hyperparameters(module: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """A GPyTorch module's hyper-parameters on their constrained scale (``raw_`` prefixes dropped)."""
    out = {}
    for name, param, constraint in module.named_parameters_and_constraints():
        if "variational" in name or "inducing" in name:
            continue
        value = constraint.transform(param) if constraint is not None else param
        out[prefix + name.replace("raw_", "").replace(".", "_")] = _np(value)
    return out


def _gp_fit(method: str, model: Callable, posterior: dict, losses: Any, observed: dict, loglik: dict, dims: dict,
            params: dict, *, point: bool, seconds: float = 0.0, args: tuple = (), converged: bool | None = None,
            stop_reason: str = "", objective: str = "negative_log_likelihood") -> Fit:
    """A GP result as a Fit; ``losses`` is the negative log marginal likelihood (exact GP) or negative ELBO."""
    return Fit(method=method, backend="torch", model=model, args=args, kwargs={}, posterior=posterior,
               observed_data=observed, log_likelihood=loglik, dims=dims, params=params, point_estimate=point,
               losses=None if losses is None else np.asarray(losses, dtype=np.float64), seconds=seconds,
               objective=objective if losses is not None else "", converged=converged, stop_reason=stop_reason)


@_adapter("pgm_ppl.gp.exact", "GPTraining")
def _gp_training(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Point estimate of the kernel's hyper-parameters and the ``noise`` variance; ``losses`` is the
    negative log marginal likelihood per step. Given ``(x, y)``, the chain-rule terms
    :math:`\log p(y_n \mid y_{1:n-1}, \hat\theta)` (the observations are dependent; these sum exactly to the
    log marginal likelihood, eq. (4.22), but depend on the row order: use held-out data, not ``az.loo``)."""
    from pgm_ppl.gp.exact import train
    from pgm_ppl.gp.kernels import gram

    posterior = {**_hyperparameters(result.kernel), "noise_variance": np.asarray(result.noise_variance)}
    observed, loglik, dims, args = {}, {}, {}, ()
    if data is not None:
        x, y = _xy(data, "GP training")
        y = y.reshape(-1)
        chol = cholesky(gram(result.kernel, x) + result.noise_variance * np.eye(len(y)), name="K + noise_variance * I",
                        fix="increase the noise variance")
        z = np.linalg.solve(chol, y)      # y = L z; the n-th row conditions on rows < n
        observed, args, dims["y"] = {"y": y}, (x, y), ["observation"]
        loglik = {"y": (-0.5 * z**2 - np.log(np.diag(chol)) - 0.5 * np.log(2 * np.pi))[None, None]}
    return _gp_fit("gp_" + result.optimizer, train, _point(posterior), result.losses, observed, loglik, dims,
                   {"log_marginal_likelihood": np.asarray(result.log_marginal_likelihood),
                    "restart_values": result.restart_values}, point=True, seconds=result.seconds, args=args,
                   stop_reason="num_steps")


def _variational_loglik(model: Any, likelihood: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pointwise :math:`\\log \\mathbb E_{q(f_n)} p(y_n \\mid f_n)` (closed form for both likelihoods)."""
    import torch

    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        xt = torch.as_tensor(x, dtype=dtype)
        yt = torch.as_tensor(y, dtype=dtype)
        return _np(likelihood.log_marginal(yt, model(xt.reshape(len(yt), -1))))


@_adapter("pgm_ppl.gp.sparse", "SVGPTraining")
def _svgp(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Point estimate of the kernel's hyper-parameters and the Gaussian noise (``q(u)`` stays in the model);
    ``losses`` is the negative ELBO per data point per step; given ``(x, y)``, the pointwise
    :math:`\log \mathbb E_{q(f_n)} \mathcal N(y_n; f_n, \sigma^2)`."""
    from pgm_ppl.gp.sparse import train_svgp

    posterior = {**_hyperparameters(result.model.covar_module),
                 "noise_variance": _np(result.likelihood.noise).reshape(())}
    observed, loglik, dims, args = {}, {}, {}, ()
    if data is not None:
        x, y = _xy(data, "train_svgp")
        y = y.reshape(-1)
        observed, args, dims["y"] = {"y": y}, (x, y), ["observation"]
        loglik = {"y": _variational_loglik(result.model, result.likelihood, x, y)[None, None]}
    return _gp_fit("svgp", train_svgp, _point(posterior), result.losses, observed, loglik, dims,
                   {"points_per_second": np.asarray(result.points_per_second)}, point=True, seconds=result.seconds,
                   args=args, stop_reason="num_steps", objective="negative_elbo")


@_adapter("pgm_ppl.gp.classification", "LaplaceGPC")
def _laplace_gpc(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""The posterior mode ``f`` (N,) of the latent function at the training inputs (``point_estimate``; the
    Laplace covariance stays in the result); the pointwise :math:`\log\sigma((2y_n - 1)\hat f_n)` on the
    training labels the result carries (``data`` is not needed)."""
    from pgm_ppl.gp.classification import laplace_classification

    y = result.y if data is None else _xy(data, "laplace_classification")[1].reshape(-1)
    if y.shape != result.mode.shape:
        raise ValueError(f"data: expected the {len(result.mode)} training labels, got shape {y.shape}.")
    loglik = log_expit((2 * y - 1) * result.mode)
    return _gp_fit("laplace_gpc", laplace_classification, _point({**_hyperparameters(result.kernel), "f": result.mode}),
                   None, {"y": y}, {"y": loglik[None, None]}, {"f": ["observation"], "y": ["observation"]},
                   {"log_marginal_likelihood": np.asarray(result.log_marginal_likelihood),
                    "num_iterations": np.asarray(result.num_iterations)}, point=True, args=(result.x, result.y))


@_adapter("pgm_ppl.gp.classification", "VariationalGPC")
def _variational_gpc(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of the latent ``f`` at the inducing inputs (the training inputs) from :math:`q(f)`; ``losses``
    is the negative ELBO per step; given ``(x, y)``, the pointwise :math:`\log\Phi((2y_n - 1) f_n)` per draw,
    with :math:`f(x)` drawn from :math:`q` by the same generator."""
    import torch

    from pgm_ppl.gp.classification import variational_classification

    rng = np.random.default_rng(seed)

    def draws(x):
        with torch.no_grad():
            q = result.model(torch.as_tensor(x, dtype=next(result.model.parameters()).dtype))
            mean, cov = _np(q.mean), _np(q.covariance_matrix)
        chol = cholesky(cov, name="variational posterior covariance", max_jitter=ROUNDING_JITTER)
        return mean + rng.standard_normal((num_samples, len(mean))) @ chol.T

    inducing = _np(result.model.variational_strategy.inducing_points)
    posterior = {"f": draws(inducing)[None]}
    observed, loglik, dims, args = {}, {}, {"f": ["inducing_point"]}, ()
    if data is not None:
        x, y = _xy(data, "variational_classification")
        y = y.reshape(-1)
        f = draws(x.reshape(len(y), -1))
        observed, args, dims["y"] = {"y": y}, (x, y), ["observation"]
        loglik = {"y": log_ndtr((2 * y - 1) * f)[None]}
    return _gp_fit("variational_gpc", variational_classification, posterior, result.losses, observed, loglik, dims,
                   {}, point=False, args=args, stop_reason="num_steps", objective="negative_elbo")


# ------------------------------------------------------------------------------------------ MLE and Laplace

@_adapter("pgm_ppl.information.likelihood", "MLEResult")
def _mle(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    """The estimates as a point (``point_estimate``), standard errors in ``params``. The result does not keep
    the model, so there is no pointwise log-likelihood; its total is ``params["log_likelihood"]``."""
    from pgm_ppl.information.likelihood import autodiff_mle

    observed = {} if data is None else {"data": _np(data)}
    return Fit(method="mle", backend="numpy", model=autodiff_mle, args=(), kwargs={},
               posterior=_point(result.params), observed_data=observed, point_estimate=True,
               converged=bool(result.converged), stop_reason="tol" if result.converged else "max_iter",
               params={"log_likelihood": np.asarray(result.log_likelihood),
                       **{f"{name}_se": _np(se) for name, se in result.standard_errors.items()}})


@_adapter("pgm_ppl.inference.laplace", "LaplaceResult")
def _laplace_result(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of ``z`` (d,) from the Laplace Gaussian :math:`\mathcal N(\hat z, H^{-1})`."""
    from pgm_ppl.inference.laplace import laplace_approximation

    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(np.atleast_1d(result.mode), np.atleast_2d(result.cov), size=num_samples)
    return Fit(method="laplace", backend="numpy", model=laplace_approximation, args=(), kwargs={},
               posterior={"z": z[None]}, dims={"z": ["coordinate"]},
               params={"mode": _np(result.mode), "cov": _np(result.cov),
                       "log_evidence": np.asarray(result.log_evidence)})


@_adapter("pgm_ppl.inference.laplace", "NewtonResult")
def _newton(result, data=None, *, num_samples=1000, seed=0) -> Fit:
    r"""Draws of ``w`` from the Laplace Gaussian :math:`\mathcal N(\hat w, -1/\ell''(\hat w))` (course Example
    3.4), the Newton iterates in ``params["trace"]``; given ``(x, y)``, the pointwise
    :math:`\log\sigma((2y_n - 1) w x_n)` per draw."""
    from pgm_ppl.inference.laplace import logistic_regression_newton

    rng = np.random.default_rng(seed)
    w = result.mode + np.sqrt(result.variance) * rng.standard_normal(num_samples)
    observed, loglik, dims, args = {}, {}, {}, ()
    if data is not None:
        x, y = _xy(data, "logistic_regression_newton")
        observed, args, dims["y"] = {"y": y}, (x, y), ["observation"]
        loglik = {"y": log_expit((2 * y - 1)[None] * w[:, None] * x[None])[None]}
    return Fit(method="newton", backend="numpy", model=logistic_regression_newton, args=args, kwargs={},
               posterior={"w": w[None]}, observed_data=observed, log_likelihood=loglik, dims=dims,
               params={"mode": np.asarray(result.mode), "variance": np.asarray(result.variance),
                       "trace": np.asarray(result.trace)})
