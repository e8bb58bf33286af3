"""Linear-Gaussian state-space models: Kalman filter, RTS smoother, log-likelihood and EM.

The linear-Gaussian case of the notes' state-space model (course Example 3.3, the case they call
tractable):

.. math::

    z_1\\sim\\mathcal N(\\mu_0, P_0),\\qquad z_t = A z_{t-1} + \\epsilon_t,\\ \\epsilon_t\\sim\\mathcal N(0,Q),\\qquad
    x_t = C z_t + \\eta_t,\\ \\eta_t\\sim\\mathcal N(0,R).

Filter (predict, then update with the innovation :math:`v_t=x_t-C\\mu_{t|t-1}`, :math:`S_t=CP_{t|t-1}C^\\top+R`,
gain :math:`K_t=P_{t|t-1}C^\\top S_t^{-1}`) and log-likelihood :math:`\\sum_t\\log\\mathcal N(v_t;0,S_t)`; the
Rauch-Tung-Striebel smoother runs backwards with :math:`J_t=P_{t|t}A^\\top P_{t+1|t}^{-1}`,

.. math::

    \\mu_{t|T}=\\mu_{t|t}+J_t(\\mu_{t+1|T}-\\mu_{t+1|t}),\\qquad
    P_{t|T}=P_{t|t}+J_t(P_{t+1|T}-P_{t+1|t})J_t^\\top,\\qquad
    \\mathrm{Cov}(z_{t+1},z_t\\mid x)=P_{t+1|T}J_t^\\top.

EM (course Ch. 2; Shumway and Stoffer 1982) uses these smoothed moments as the E-step.

NaN entries of ``x`` are missing. At step :math:`t` with observed index set :math:`o_t`, the observed part
:math:`x_{t,o}=C_{o}z_t+\\eta_{t,o}` has noise covariance :math:`R_{oo}` (the marginal of the missing
entries), so the update uses the rows :math:`C_o`, :math:`x_{t,o}` and the block :math:`R_{oo}` and filter,
smoother and log-likelihood stay exact; a row with nothing observed is a prediction step only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from pgm_ppl.core.em import EStep, run_em
from pgm_ppl.core.linalg import cholesky

__all__ = ["LinearGaussianSSM", "KalmanFilterResult", "kalman_filter", "SmootherResult", "rts_smoother",
           "KalmanEMResult", "kalman_em"]


def _mat(name: str, value: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    value = np.atleast_2d(np.asarray(value, dtype=np.float64))
    if value.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {value.shape}.")
    return _finite(name, value)


def _factor(matrix: np.ndarray, name: str, fix: str) -> tuple[np.ndarray, bool]:
    """Lower Cholesky factor for ``cho_solve``: LAPACK's fast path, and on failure the one guarded helper
    :func:`pgm_ppl.core.linalg.cholesky` (no jitter), whose ValueError names ``name`` and ends with ``fix``."""
    try:
        return cho_factor(matrix, lower=True)
    except (np.linalg.LinAlgError, ValueError):
        return cholesky(matrix, name=name, fix=fix), True


def _floored(matrix: np.ndarray, floor: float) -> np.ndarray:
    """The symmetric part of ``matrix`` with its eigenvalues raised to at least ``floor``."""
    matrix = 0.5 * (matrix + matrix.T)
    eigval, eigvec = np.linalg.eigh(matrix)
    if eigval[0] >= floor:
        return matrix
    return (eigvec * np.maximum(eigval, floor)) @ eigvec.T


def _finite(name: str, value: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: expected finite values, got {value[where]} at index "
                         f"{where[0] if len(where) == 1 else where}.")
    return value


@dataclass(frozen=True, eq=False)
class LinearGaussianSSM:
    """Parameters :math:`(A, C, Q, R, \\mu_0, P_0)`; state dimension ``m``, observation dimension ``d``.

    Scalars are accepted for one-dimensional models (``LinearGaussianSSM(1, 1, 1400, 15000, 1100, 1e7)``).

    Raises
    ------
    ValueError
        If a parameter has the wrong shape or a NaN or infinite entry (both named), or ``Q``, ``R`` or ``P0`` is
        not symmetric positive definite.
    """

    A: np.ndarray
    C: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    mu0: np.ndarray
    P0: np.ndarray

    def __post_init__(self) -> None:
        m = np.atleast_2d(np.asarray(self.A)).shape[0]
        d = np.atleast_2d(np.asarray(self.C)).shape[0]
        values = {"A": _mat("A", self.A, (m, m)), "C": _mat("C", self.C, (d, m)), "Q": _mat("Q", self.Q, (m, m)),
                  "R": _mat("R", self.R, (d, d)), "P0": _mat("P0", self.P0, (m, m))}
        mu0 = _finite("mu0", np.asarray(self.mu0, dtype=np.float64).reshape(-1))
        if mu0.shape != (m,):
            raise ValueError(f"mu0 must have {m} entries, got shape {np.shape(self.mu0)}.")
        for name in ("Q", "R", "P0"):
            if not np.allclose(values[name], values[name].T, rtol=1e-10, atol=0.0):
                raise ValueError(f"{name}: expected a symmetric positive-definite matrix, got a non-symmetric one.")
            cholesky(values[name], name=name, fix="pass a symmetric positive-definite covariance")
        for name, value in {**values, "mu0": mu0}.items():
            object.__setattr__(self, name, value)

    def sample(self, length: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw latent states ``z`` of shape ``(T, m)`` and observations ``x`` of shape ``(T, d)``."""
        rng = np.random.default_rng(seed)
        m, d = self.A.shape[0], self.C.shape[0]
        z = np.empty((int(length), m))
        z[0] = rng.multivariate_normal(self.mu0, self.P0)
        eps = rng.multivariate_normal(np.zeros(m), self.Q, size=int(length))
        for t in range(1, int(length)):
            z[t] = self.A @ z[t - 1] + eps[t]
        x = z @ self.C.T + rng.multivariate_normal(np.zeros(d), self.R, size=int(length))
        return z, x


class KalmanFilterResult(NamedTuple):
    """Filtered moments :math:`\\mu_{t|t}, P_{t|t}`, predicted :math:`\\mu_{t|t-1}, P_{t|t-1}`, log-likelihood."""

    means: np.ndarray
    covariances: np.ndarray
    predicted_means: np.ndarray
    predicted_covariances: np.ndarray
    log_likelihood: float


class SmootherResult(NamedTuple):
    """Smoothed moments :math:`\\mu_{t|T}, P_{t|T}`, lag-one covariances, log-likelihood.

    ``lag_covariances[t]`` is :math:`\\mathrm{Cov}(z_{t+1},z_t\\mid x_{1:T})`, shape ``(T-1, m, m)``.
    """

    means: np.ndarray
    covariances: np.ndarray
    lag_covariances: np.ndarray
    log_likelihood: float


def _observations(model: LinearGaussianSSM, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    d = model.C.shape[0]
    if x.ndim != 2 or x.shape[1] != d or len(x) < 1:
        raise ValueError(f"x must have shape (T, {d}) (T >= 1), got {x.shape}.")
    infinite = np.isinf(x)
    if infinite.any():
        raise ValueError(f"x has infinite entries at (row, column) {np.argwhere(infinite)[:5].tolist()}; "
                         "mark missing entries with NaN.")
    return x


def _observed_block(model: LinearGaussianSSM, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`C_o` and :math:`R_{oo}` for the observed entries ``seen`` (a boolean mask of length d)."""
    if seen.all():
        return model.C, model.R
    return model.C[seen], model.R[np.ix_(seen, seen)]


def kalman_filter(model: LinearGaussianSSM, x: np.ndarray) -> KalmanFilterResult:
    """Kalman filter and exact log-likelihood :math:`\\log p(x_{1:T})` (Joseph-form covariance update).

    Parameters
    ----------
    model
        The parameters.
    x
        Observations, shape ``(T, d)`` (or ``(T,)`` when ``d = 1``); NaN entries are missing, and the
        update at each step uses the observed entries only (see the module notes).

    Raises
    ------
    ValueError
        If ``x`` has the wrong shape or infinite entries.
    """
    x = _observations(model, x)
    seen = ~np.isnan(x)
    t_len, m = len(x), model.A.shape[0]
    means, covs = np.empty((t_len, m)), np.empty((t_len, m, m))
    pred_means, pred_covs = np.empty((t_len, m)), np.empty((t_len, m, m))
    mean, cov = model.mu0, model.P0
    log_lik = 0.0
    eye = np.eye(m)
    for t in range(t_len):
        if t:
            mean, cov = model.A @ mean, model.A @ cov @ model.A.T + model.Q
        pred_means[t], pred_covs[t] = mean, cov
        if seen[t].any():
            c, r = _observed_block(model, seen[t])
            innovation = x[t, seen[t]] - c @ mean
            s = c @ cov @ c.T + r
            factor = _factor(s, f"innovation covariance C P C^T + R at time step {t}", "check the scales of Q, R and P0")
            gain = cho_solve(factor, c @ cov).T
            log_lik -= 0.5 * (innovation @ cho_solve(factor, innovation) + 2 * np.log(np.diag(factor[0])).sum()
                              + len(innovation) * np.log(2 * np.pi))
            mean = mean + gain @ innovation
            ikc = eye - gain @ c
            cov = ikc @ cov @ ikc.T + gain @ r @ gain.T
        means[t], covs[t] = mean, cov
    return KalmanFilterResult(means, covs, pred_means, pred_covs, float(log_lik))


def rts_smoother(model: LinearGaussianSSM, x: np.ndarray) -> SmootherResult:
    """Rauch-Tung-Striebel smoother: :math:`p(z_t\\mid x_{1:T})` and lag-one covariances.

    See Also
    --------
    kalman_filter : the forward pass it starts from.
    """
    f = kalman_filter(model, x)
    t_len, m = f.means.shape
    means, covs = f.means.copy(), f.covariances.copy()
    lag = np.empty((max(t_len - 1, 0), m, m))
    for t in range(t_len - 2, -1, -1):
        predicted = _factor(f.predicted_covariances[t + 1], f"predicted covariance at time step {t + 1}",
                            "check the scales of Q and P0")
        gain = cho_solve(predicted, model.A @ f.covariances[t]).T
        means[t] = f.means[t] + gain @ (means[t + 1] - f.predicted_means[t + 1])
        covs[t] = f.covariances[t] + gain @ (covs[t + 1] - f.predicted_covariances[t + 1]) @ gain.T
        covs[t] = 0.5 * (covs[t] + covs[t].T)
        lag[t] = covs[t + 1] @ gain.T
    return SmootherResult(means, covs, lag, f.log_likelihood)


@dataclass(frozen=True, slots=True)
class KalmanEMResult:
    """Result of :func:`kalman_em`.

    Attributes
    ----------
    model
        The fitted parameters.
    log_likelihood
        :math:`\\log p(x_{1:T})` at the start and after each M-step, length ``num_iterations + 1``; the last entry
        is the fitted model's.
    converged, num_iterations, stop_reason, rule
        How the EM loop stopped: the fields of :class:`pgm_ppl.core.em.EMResult` (the loop this runs on).
    """

    model: LinearGaussianSSM
    log_likelihood: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


_PARAMETERS = ("A", "C", "Q", "R", "mu0", "P0")


def _expected_observations(model: LinearGaussianSSM, x: np.ndarray,
                           s: SmootherResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The E-step for the missing entries of partly observed rows (the complete data of EM include them).

    Given :math:`z_t` and the observed entries :math:`x_{t,o}`, the missing ones :math:`u` are Gaussian,

    .. math::

        x_{t,u} = P_t z_t + G_t x_{t,o} + \\xi_t,\\qquad G_t = R_{uo}R_{oo}^{-1},\\quad P_t = C_u - G_t C_o,\\quad
        \\xi_t\\sim\\mathcal N(0, R_{uu} - G_t R_{ou}),

    so with the smoothed moments :math:`\\mu_{t|T}, P_{t|T}`, :math:`\\hat x_{t,u}=\\mathbb E[x_{t,u}\\mid x_{obs}]
    = P_t\\mu_{t|T}+G_tx_{t,o}`, :math:`\\mathrm{Cov}(x_{t,u},z_t\\mid x_{obs})=P_tP_{t|T}` and
    :math:`\\mathrm{Cov}(x_{t,u}\\mid x_{obs})=P_tP_{t|T}P_t^\\top+R_{uu}-G_tR_{ou}` (zero for observed entries).

    Returns
    -------
    xhat, cov_xz, cov_xx
        :math:`\\hat x_t` for the rows with at least one observed entry, shape ``(T_o, d)``, and the sums
        over those rows of the two conditional covariances, ``(d, m)`` and ``(d, d)``.
    """
    seen = ~np.isnan(x)
    xhat = x.copy()
    cov_xz, cov_xx = np.zeros(model.C.shape), np.zeros(model.R.shape)
    for t in np.flatnonzero(seen.any(1) & ~seen.all(1)):
        o, u = seen[t], ~seen[t]
        g = cho_solve(_factor(model.R[np.ix_(o, o)], "R (observed block)", "check R"), model.R[np.ix_(o, u)]).T
        p = model.C[u] - g @ model.C[o]
        xhat[t, u] = p @ s.means[t] + g @ x[t, o]
        cov_xz[u] += p @ s.covariances[t]
        cov_xx[np.ix_(u, u)] += p @ s.covariances[t] @ p.T + model.R[np.ix_(u, u)] - g @ model.R[np.ix_(o, u)]
    return xhat[seen.any(1)], cov_xz, cov_xx


_FLOOR = 1e-12
"""Floor of the eigenvalues of Q, R and P0 in EM, relative to the scale of the data (R) or of the smoothed states
(Q, P0): a series the model explains exactly (one observation, a constant) has a degenerate maximum-likelihood
R or Q = 0, which is not a valid model; it sits at the floor instead (scikit-learn's factor-analysis ``SMALL``)."""

_NO_SIGNAL = "the smoothed states carry no signal; fix A or C (learn fewer parameters) or add data"


def _data_scale(x: np.ndarray) -> float:
    """Mean variance of the observed columns; their mean square if all are constant; 1 if all are zero."""
    with np.errstate(invalid="ignore", divide="ignore"):
        variances = np.nanvar(x, axis=0)
        squares = np.nanmean(x * x, axis=0)
    variances, squares = variances[np.isfinite(variances)], squares[np.isfinite(squares)]
    return float(variances.mean() if variances.size else 0.0) or float(squares.mean() if squares.size else 0.0) or 1.0


def _m_step(model: LinearGaussianSSM, x: np.ndarray, s: SmootherResult, learn: Collection[str]) -> LinearGaussianSSM:
    """Closed-form ECM updates: A then Q given A, C then R given C, then mu0 and P0.

    C and R have no data when no row has an observed entry: they keep their values (no 0/0). The eigenvalues of
    Q, R and P0 are floored at ``_FLOOR`` times the data's (R) or the smoothed states' (Q, P0) scale.
    """
    mu, ezz = s.means, s.covariances + np.einsum("ti,tj->tij", s.means, s.means)
    state_floor = _FLOOR * (float(np.trace(ezz.mean(0))) / len(model.A) or 1.0)
    ezz_lag = s.lag_covariances + np.einsum("ti,tj->tij", mu[1:], mu[:-1])  # E[z_{t+1} z_t^T]
    new = {}
    a, c = model.A, model.C
    if len(mu) > 1:
        s11, s00, s10 = ezz[1:].sum(0), ezz[:-1].sum(0), ezz_lag.sum(0)
        if "A" in learn:
            a = new["A"] = cho_solve(_factor(s00, "sum of E[z_t z_t^T]", _NO_SIGNAL), s10.T).T
        if "Q" in learn:
            q = (s11 - a @ s10.T - s10 @ a.T + a @ s00 @ a.T) / (len(mu) - 1)
            new["Q"] = _floored(q, state_floor)
    rows = ~np.isnan(x).all(1)
    xhat, cov_xz, cov_xx = _expected_observations(model, x, s)
    sxx, sxz, szz = xhat.T @ xhat + cov_xx, xhat.T @ mu[rows] + cov_xz, ezz[rows].sum(0)
    if not rows.any():  # nothing observed: the emission parameters have zero counts and keep their values
        learn = set(learn) - {"C", "R"}
    if "C" in learn:
        c = new["C"] = cho_solve(_factor(szz, "sum of E[z_t z_t^T]", _NO_SIGNAL), sxz.T).T
    if "R" in learn:
        r = (sxx - c @ sxz.T - sxz @ c.T + c @ szz @ c.T) / rows.sum()
        new["R"] = _floored(r, _FLOOR * _data_scale(x))
    mu0 = new["mu0"] = mu[0] if "mu0" in learn else model.mu0
    if "P0" in learn:
        p0 = s.covariances[0] + np.outer(mu[0] - mu0, mu[0] - mu0)
        new["P0"] = _floored(p0, state_floor)
    return replace(model, **new)


def kalman_em(model: LinearGaussianSSM, x: np.ndarray, *, learn: Collection[str] = _PARAMETERS,
              max_iter: int = 200, tol: float = 1e-9, tol_rule: str = "relative") -> KalmanEMResult:
    """EM for the parameters of a linear-Gaussian state-space model; the log-likelihood never decreases.

    Parameters
    ----------
    model
        Initial parameters.
    x
        Observations ``(T, d)``; NaN entries are missing. In a partly observed row the missing entries join
        the complete data and the E-step adds their conditional moments given the observed data, so every
        iteration is an exact EM step and the log-likelihood still never decreases.
    learn
        Which of ``"A", "C", "Q", "R", "mu0", "P0"`` to update (the others stay fixed), for example
        ``("Q", "R")`` for a local-level model whose dynamics are known.
    max_iter, tol, tol_rule
        Stop when the log-likelihood changes by less than ``tol`` times its previous magnitude
        (``tol_rule="relative"``, the default) or by less than ``tol`` (``"absolute"``): the rules of
        :func:`pgm_ppl.core.em.run_em`, the one EM loop this runs on.

    Raises
    ------
    ValueError
        If ``learn`` names an unknown parameter or ``x`` has no observed value at all.

    Warns
    -----
    pgm_ppl.core.ConvergenceWarning
        When ``max_iter`` M-steps pass without the rule firing.
    """
    unknown = set(learn) - set(_PARAMETERS)
    if unknown:
        raise ValueError(f"learn names unknown parameters {sorted(unknown)}; valid: {list(_PARAMETERS)}.")
    x = _observations(model, x)
    if np.isnan(x).all():
        raise ValueError(f"x: expected at least one observed value, got all {x.size} entries missing (NaN); "
                         "there is nothing to fit.")
    learn = set(learn)

    def e_step(current: LinearGaussianSSM) -> EStep:
        smoothed = rts_smoother(current, x)
        return EStep(smoothed, smoothed.log_likelihood)

    result = run_em(model, e_step, lambda smoothed, current: _m_step(current, x, smoothed, learn),
                    max_iter=int(max_iter), tol=tol, tol_rule=tol_rule, name="kalman_em")
    return KalmanEMResult(result.params, result.log_likelihood_trace, result.converged, result.num_iterations,
                          result.stop_reason, result.rule)
