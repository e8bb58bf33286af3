r"""Entropy, cross-entropy, KL divergence, L1 distance and Pearson chi-squared (course chapter 1, §§1.5-1.6).

Discrete versions take probability vectors; continuous versions take vectorised log-density callables
(numpy in, numpy out, ``-inf`` where the density is zero) and integrate by adaptive quadrature
(``scipy.integrate.quad``) or by Monte Carlo. The KL divergence is :math:`+\infty` when absolute continuity
fails (course Def. 1.4): some set has positive probability under :math:`p` and zero under :math:`q`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate
from scipy.special import rel_entr, xlogy

from pgm_ppl.core.linalg import gaussian_kl
from pgm_ppl.core.validation import check_probability_rows

LogDensity = Callable[[np.ndarray], np.ndarray]
_QUAD = dict(epsabs=1e-13, epsrel=1e-12, limit=500)


class MonteCarloEstimate(NamedTuple):
    """A Monte Carlo average and its standard error :math:`\\hat s / \\sqrt{S}`."""

    estimate: float
    standard_error: float


def entropy(p: ArrayLike, *, base: float | None = None) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i` (course eq. (1.19)), with :math:`0 \log 0 = 0`.

    Parameters
    ----------
    p
        Probability vector (non-negative, summing to one).
    base
        Logarithm base; natural logarithm (nats) by default, 2 for bits.

    Raises
    ------
    ValueError
        If ``p`` is not a probability vector.
    """
    p = _check_pmf(p, "p")
    return float(-xlogy(p, p).sum() / _log_base(base))


def bernoulli_entropy(theta: ArrayLike) -> np.ndarray:
    r""":math:`H(\theta) = -\theta\log\theta - (1-\theta)\log(1-\theta)` elementwise (course Ex. 1.7, Fig. 1.3)."""
    theta = np.asarray(theta, dtype=np.float64)
    if np.any((theta < 0) | (theta > 1)):
        raise ValueError("theta must lie in [0, 1].")
    return -xlogy(theta, theta) - xlogy(1.0 - theta, 1.0 - theta)


def cross_entropy(p: ArrayLike, q: ArrayLike, *, base: float | None = None) -> float:
    r"""Cross-entropy :math:`H(p, q) = -\sum_i p_i \log q_i` (course eq. (1.25)); :math:`+\infty` if some :math:`q_i = 0 < p_i`."""
    p, q = _check_pair(p, q)
    if np.any((q == 0) & (p > 0)):
        return float("inf")
    return float(-xlogy(p, q).sum() / _log_base(base))


def kl_divergence(p: ArrayLike, q: ArrayLike, *, base: float | None = None) -> float:
    r"""Discrete KL divergence :math:`\mathrm{KL}(p\|q) = \sum_i p_i \log(p_i / q_i) = H(p, q) - H(p)` (course Def. 1.5, eq. (1.32)).

    Returns :math:`+\infty` when :math:`p \not\ll q` (some :math:`q_i = 0 < p_i`). Not symmetric, not a metric.
    """
    p, q = _check_pair(p, q)
    return max(float(rel_entr(p, q).sum() / _log_base(base)), 0.0)  # >= 0 (Gibbs); rounding may give -1e-17


def l1_distance(p: ArrayLike, q: ArrayLike) -> float:
    r""":math:`D_{L^1}(p, q) = \sum_i |p_i - q_i|` (course §1.6)."""
    p, q = _check_pair(p, q)
    return float(np.abs(p - q).sum())


def chi_squared_divergence(p: ArrayLike, q: ArrayLike) -> float:
    r"""Pearson :math:`D_{\chi^2}(p\|q) = \sum_i (p_i - q_i)^2 / q_i` (course §1.6); :math:`+\infty` if some :math:`q_i = 0 < p_i`."""
    p, q = _check_pair(p, q)
    if np.any((q == 0) & (p > 0)):
        return float("inf")
    pos = q > 0
    return float(((p[pos] - q[pos]) ** 2 / q[pos]).sum())


def differential_entropy(log_p: LogDensity, lower: float = -np.inf, upper: float = np.inf) -> float:
    r"""Differential entropy :math:`h(p) = -\int p(x) \log p(x)\,dx` by quadrature (course eq. (1.29)).

    Can be negative (Remark 1.9); :math:`h(U[a, b]) = \log(b - a)` (Ex. 1.8).
    """
    return -_quad(lambda x: _p_times(log_p(x), log_p(x)), lower, upper)


def differential_cross_entropy(log_p: LogDensity, log_q: LogDensity, lower: float = -np.inf,
                               upper: float = np.inf) -> float:
    r""":math:`h(p, q) = -\int p \log q` by quadrature (course eq. (1.30)); :math:`+\infty` when :math:`p \not\ll q`."""
    if _violates_continuity(log_p, log_q, lower, upper):
        return float("inf")
    return -_quad(lambda x: _p_times(log_p(x), log_q(x)), lower, upper)


def kl_divergence_quadrature(log_p: LogDensity, log_q: LogDensity, lower: float = -np.inf,
                             upper: float = np.inf) -> float:
    r"""KL between densities, :math:`\int p(x) \log \frac{p(x)}{q(x)}\,dx`, by adaptive quadrature (course Def. 1.6).

    Parameters
    ----------
    log_p, log_q
        Vectorised log-densities (``-inf`` outside the support).
    lower, upper
        Integration range (may be infinite); it must contain the support of ``p``.

    Returns
    -------
    float
        The divergence, or ``inf`` when ``p`` has mass where ``q`` vanishes (checked on a dense grid and at
        every quadrature node).
    """
    if _violates_continuity(log_p, log_q, lower, upper):
        return float("inf")

    def integrand(x: np.ndarray) -> np.ndarray:
        lp, lq = log_p(x), log_q(x)
        return _p_times(lp, np.where(np.isfinite(lp), lp - lq, 0.0))

    return _quad(integrand, lower, upper)


def kl_divergence_monte_carlo(log_p: LogDensity, log_q: LogDensity, samples: ArrayLike) -> MonteCarloEstimate:
    r"""Monte Carlo KL, :math:`\frac1S \sum_s [\log p(x_s) - \log q(x_s)]` with :math:`x_s \sim p` (course eqs. (1.43)-(1.46)).

    Returns ``inf`` (with standard error ``nan``) if some sample has :math:`q(x_s) = 0`.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        raise ValueError("samples must not be empty.")
    diff = np.asarray(log_p(x), dtype=np.float64) - np.asarray(log_q(x), dtype=np.float64)
    if np.any(np.isposinf(diff)):
        return MonteCarloEstimate(float("inf"), float("nan"))
    return MonteCarloEstimate(float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1
                              else float("nan"))


def l1_distance_quadrature(log_p: LogDensity, log_q: LogDensity, lower: float = -np.inf,
                           upper: float = np.inf) -> float:
    r""":math:`\int |p(x) - q(x)|\,dx` by quadrature (course §1.6)."""
    return _quad(lambda x: np.abs(np.exp(log_p(x)) - np.exp(log_q(x))), lower, upper)


def chi_squared_quadrature(log_p: LogDensity, log_q: LogDensity, lower: float = -np.inf,
                           upper: float = np.inf) -> float:
    r""":math:`\int (p - q)^2 / q` by quadrature (course §1.6); :math:`+\infty` when :math:`p \not\ll q`."""
    if _violates_continuity(log_p, log_q, lower, upper):
        return float("inf")

    def integrand(x: np.ndarray) -> np.ndarray:
        lp, lq = log_p(x), log_q(x)
        safe = np.isfinite(lq)
        ratio = np.where(safe, np.exp(np.where(safe, lp - lq, 0.0)), 0.0)
        return np.where(safe, (ratio - 1.0) ** 2 * np.exp(np.where(safe, lq, -np.inf)), 0.0)

    return _quad(integrand, lower, upper)


def js_divergence(p: ArrayLike, q: ArrayLike, *, base: float | None = None) -> float:
    r"""Jensen-Shannon divergence :math:`\mathrm{JS}(p\|q) = \tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m)`,
    :math:`m = \tfrac12(p + q)` (course Def. 6.1).

    Symmetric, finite, :math:`0 \le \mathrm{JS} \le \log 2` (1 bit); :math:`\sqrt{\mathrm{JS}}` is a metric
    (Remark 6.8). ``scipy.spatial.distance.jensenshannon`` returns that square root (base e by default):
    ``js_divergence(p, q) == jensenshannon(p, q) ** 2``.

    Parameters
    ----------
    p, q
        Probability vectors of the same length.
    base
        Logarithm base; nats by default, 2 for bits.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not a probability vector, or their lengths differ.

    Examples
    --------
    >>> round(js_divergence([1.0, 0.0], [0.0, 1.0], base=2), 12)
    1.0
    """
    p, q = _check_pair(p, q)
    m = 0.5 * (p + q)
    return float(0.5 * (rel_entr(p, m).sum() + rel_entr(q, m).sum()) / _log_base(base))


def js_divergence_quadrature(log_p: LogDensity, log_q: LogDensity, lower: float = -np.inf,
                             upper: float = np.inf) -> float:
    r"""Jensen-Shannon divergence between densities by adaptive quadrature (course Def. 6.1), in nats.

    .. math:: \mathrm{JS}(p\|q) = \tfrac12 \int p \log \frac{2p}{p + q} + \tfrac12 \int q \log \frac{2q}{p + q},

    always finite (at most :math:`\log 2`); the GAN criterion at the optimal discriminator is
    :math:`C(G) = -\log 4 + 2\,\mathrm{JS}(p_{\mathrm{data}}\|p_g)` (Thm 6.1).

    Parameters
    ----------
    log_p, log_q
        Vectorised log-densities (``-inf`` outside the support).
    lower, upper
        Integration range containing both supports.
    """

    def integrand(x: np.ndarray) -> np.ndarray:
        lp, lq = np.asarray(log_p(x), dtype=np.float64), np.asarray(log_q(x), dtype=np.float64)
        lm = np.logaddexp(lp, lq) - np.log(2.0)
        return 0.5 * (_p_times(lp, lp - lm) + _p_times(lq, lq - lm))

    return _quad(integrand, lower, upper)


def kl_normal(mu0: float, sigma0: float, mu1: float, sigma1: float) -> float:
    r"""Closed-form :math:`\mathrm{KL}(\mathcal N(\mu_0, \sigma_0^2) \| \mathcal N(\mu_1, \sigma_1^2))` (course eq. (1.38)).

    .. math::
        \log\frac{\sigma_1}{\sigma_0} + \frac{\sigma_0^2 + (\mu_0 - \mu_1)^2}{2\sigma_1^2} - \frac12.

    ``sigma`` are standard deviations. A zero standard deviation is a point mass: the divergence is
    ``inf`` unless both are the same point mass (then 0).
    """
    if sigma0 < 0 or sigma1 < 0:
        raise ValueError(f"standard deviations must be >= 0; got sigma0={sigma0}, sigma1={sigma1}.")
    if sigma0 == 0 or sigma1 == 0:
        return 0.0 if (sigma0 == sigma1 and mu0 == mu1) else float("inf")
    # in ratios to sigma1, so that no square under- or overflows (sigma = 1e-200 divided 0 by 0)
    ratio, shift = sigma0 / sigma1, (mu0 - mu1) / sigma1
    return float(-np.log(ratio) + 0.5 * (ratio ** 2 + shift ** 2) - 0.5)


def kl_mvn(mean0: ArrayLike, cov0: ArrayLike, mean1: ArrayLike, cov1: ArrayLike) -> float:
    r"""Closed-form KL between multivariate Gaussians.

    .. math::
        \tfrac12\Big[\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d
        + \log\frac{|\Sigma_1|}{|\Sigma_0|}\Big].

    Returns ``inf`` when either covariance is singular (a degenerate Gaussian is not absolutely continuous
    with respect to a non-degenerate one, and vice versa), unless both are the same distribution (then 0).
    See :func:`pgm_ppl.core.linalg.gaussian_kl`, the one implementation (this is its name in chapter 1).
    """
    return gaussian_kl(mean0, cov0, mean1, cov1)


def _p_times(log_p: np.ndarray, f: np.ndarray) -> np.ndarray:
    """:math:`p \\cdot f` with :math:`0 \\cdot f = 0` wherever :math:`p = 0` (even if f is infinite)."""
    log_p = np.asarray(log_p, dtype=np.float64)
    pos = np.isfinite(log_p)
    return np.where(pos, np.exp(np.where(pos, log_p, 0.0)) * np.where(pos, f, 0.0), 0.0)


def _quad(f: Callable[[np.ndarray], np.ndarray], lower: float, upper: float) -> float:
    if not lower < upper:
        raise ValueError(f"lower must be below upper; got lower={lower}, upper={upper}.")
    value, _ = integrate.quad(lambda x: float(f(np.asarray([x]))[0]), lower, upper, **_QUAD)
    return float(value) if np.isfinite(value) else float("inf")


def _violates_continuity(log_p: LogDensity, log_q: LogDensity, lower: float, upper: float,
                         num_points: int = 20001) -> bool:
    """True if a grid point has :math:`p > 0 = q` (infinite bounds are scanned over [-1e3, 1e3])."""
    lo = max(lower, -1e3)
    hi = min(upper, 1e3)
    x = np.linspace(lo, hi, num_points)
    lp, lq = np.asarray(log_p(x)), np.asarray(log_q(x))
    return bool(np.any(np.isfinite(lp) & (lp > -700) & np.isneginf(lq)))


def _check_pmf(p: ArrayLike, name: str) -> np.ndarray:
    """``p`` as a float64 probability vector, renormalised (:func:`pgm_ppl.core.validation.check_probability_rows`:
    its sum may miss 1 by rounding at the input's precision; dividing by the sum keeps every divergence >= 0 and
    KL(p, p) = 0)."""
    if np.ndim(p) != 1:
        raise ValueError(f"{name}: expected a non-empty 1-D probability vector, got shape {np.shape(p)}.")
    return check_probability_rows(p, name)


def _check_pair(p: ArrayLike, q: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p, q = _check_pmf(p, "p"), _check_pmf(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length; got {p.size} and {q.size}.")
    return p, q


def _log_base(base: float | None) -> float:
    if base is None:
        return 1.0
    if base <= 0 or base == 1:
        raise ValueError(f"base must be positive and not 1; got {base}.")
    return float(np.log(base))
