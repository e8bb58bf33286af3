r"""Closed-form flows (course rows 8.3, 8.4, 8.6): affine, monotone rearrangement, Knothe-Rosenblatt.

Three maps :math:`T` whose pushforward :math:`T_\# p_u` is known exactly, written as torch/Pyro transforms so
they compose with any other flow layer inside :class:`~pyro.distributions.TransformedDistribution`:

* :class:`MatrixAffineTransform`: :math:`x = A u + b`; with :math:`u \sim \mathcal N(0, I)`,
  :math:`x \sim \mathcal N(b, A A^\top)` (Exercise 8.1).
* :class:`MonotoneRearrangement`: the 1-D map :math:`T = F_x^{-1} \circ F_u` (eq. (8.4)); with a uniform base it
  is inverse-CDF sampling (Exercise 8.2).
* :class:`KnotheRosenblatt`: the triangular map
  :math:`x_k = F_k^{-1}\big(F_{u,k}(u_k \mid u_{1:k-1}) \mid x_{1:k-1}\big)` built from conditional CDFs
  (course §8.1, Villani 2009 ch. 2); its Jacobian is triangular, with
  :math:`\log|\det\nabla T(u)| = \sum_k \log p_{u,k}(u_k \mid u_{<k}) - \log p_k(x_k \mid x_{<k})`.
  :func:`gaussian_conditionals` gives the conditionals of :math:`\mathcal N(m, \Sigma)`, for which the map is the
  lower-triangular Cholesky map :math:`x = m + L u`.

These are written here (not taken from Pyro) because Pyro's ``AffineTransform`` is element-wise and its
``LowerCholeskyAffine`` is triangular only; no library offers the monotone rearrangement or the KR map.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Distribution, Normal, Transform, constraints

from pgm_ppl.core.validation import check_int

__all__ = ["KnotheRosenblatt", "MatrixAffineTransform", "MonotoneRearrangement", "gaussian_conditionals"]

Conditional = Callable[[int, torch.Tensor], Distribution]
"""``conditional(k, prefix)``: the law of coordinate ``k`` given ``prefix`` (shape ``(..., k)``, the first ``k``
coordinates), a scalar-event distribution with ``cdf``, ``icdf`` and ``log_prob`` and batch shape ``(...)``."""


class MatrixAffineTransform(Transform):
    r""":math:`x = A u + b` for an invertible :math:`A` (``(d, d)``) and :math:`b` (``(d,)``), course Exercise 8.1.

    :math:`\log|\det \nabla T| = \log|\det A|` (constant); the inverse solves :math:`A u = x - b`. Acts on the
    last axis (``event_dim = 1``).

    Raises
    ------
    ValueError
        If ``A`` is not square, ``b`` does not have ``d`` entries, or ``A`` is singular.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, A: torch.Tensor, b: torch.Tensor, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        A, b = torch.as_tensor(A), torch.as_tensor(b)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A: expected a square (d, d) matrix, got shape {tuple(A.shape)}.")
        if b.shape != A.shape[:1]:
            raise ValueError(f"b: expected shape ({A.shape[0]},) to match A, got {tuple(b.shape)}.")
        sign, logabsdet = torch.linalg.slogdet(A)
        if sign == 0 or not torch.isfinite(logabsdet):
            raise ValueError("A: expected an invertible matrix, got a singular one.")
        self.A, self.b, self._logabsdet = A, b.to(A.dtype), logabsdet
        self._lu = torch.linalg.lu_factor(A)

    def _call(self, u: torch.Tensor) -> torch.Tensor:
        return u @ self.A.T + self.b

    def _inverse(self, x: torch.Tensor) -> torch.Tensor:
        rhs = (x - self.b).reshape(-1, x.shape[-1]).T
        return torch.linalg.lu_solve(*self._lu, rhs).T.reshape(x.shape)

    def log_abs_det_jacobian(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log|\\det A|`, broadcast to ``u.shape[:-1]``."""
        return self._logabsdet.expand(u.shape[:-1])


class MonotoneRearrangement(Transform):
    r"""The 1-D monotone rearrangement :math:`T(u) = F_x^{-1}(F_u(u))` (course eq. (8.4)), element-wise.

    Parameters
    ----------
    base, target
        Scalar distributions (torch/Pyro, e.g. ``Normal``, ``Uniform``, ``Exponential``, ``Laplace``) with ``cdf``,
        ``icdf`` and ``log_prob``: the law of :math:`u` and the law :math:`T` pushes it to.

    Notes
    -----
    :math:`T` is increasing, :math:`T_\# p_u = p_x`, and :math:`T'(u) = p_u(u) / p_x(T(u))`, so
    ``log_abs_det_jacobian(u, x)`` is :math:`\log p_u(u) - \log p_x(x)`. The inverse is
    :math:`F_u^{-1} \circ F_x`. With ``base = Uniform(0, 1)`` the map is :math:`F_x^{-1}`: inverse-CDF sampling
    (Exercise 8.2). It is also the 1-D optimal transport map (course chapter 5). Probabilities are clamped to
    :math:`[\epsilon, 1-\epsilon]` of the dtype so that far tails map to finite values.
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True

    def __init__(self, base: Distribution, target: Distribution, cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        for name, law in (("base", base), ("target", target)):
            if not all(hasattr(law, method) for method in ("cdf", "icdf", "log_prob")):
                raise TypeError(f"{name}: expected a distribution with cdf, icdf and log_prob, got "
                                f"{type(law).__name__}.")
        self.base, self.target = base, target

    @staticmethod
    def _clamp(p: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(p.dtype).eps
        return p.clamp(eps, 1 - eps)

    def _call(self, u: torch.Tensor) -> torch.Tensor:
        return self.target.icdf(self._clamp(self.base.cdf(u)))

    def _inverse(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.icdf(self._clamp(self.target.cdf(x)))

    def log_abs_det_jacobian(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log T'(u) = \\log p_u(u) - \\log p_x(x)`."""
        return self.base.log_prob(u) - self.target.log_prob(x)


class KnotheRosenblatt(Transform):
    r"""The Knothe-Rosenblatt triangular map between two laws given by their conditionals (course §8.1).

    Parameters
    ----------
    target
        ``target(k, x_prefix)``: the law of :math:`x_k` given :math:`x_{1:k-1}` (see :data:`Conditional`).
    features
        :math:`d`.
    base
        ``base(k, u_prefix)``: the same for :math:`u`; default the standard normal :math:`\mathcal N(0, I_d)`.

    Notes
    -----
    Forward, coordinate by coordinate:
    :math:`x_k = F_k^{-1}\big(F_{u,k}(u_k \mid u_{1:k-1}) \mid x_{1:k-1}\big)`; inverse:
    :math:`u_k = F_{u,k}^{-1}\big(F_k(x_k \mid x_{1:k-1}) \mid u_{1:k-1}\big)`. The Jacobian is lower triangular
    with :math:`\partial T_k / \partial u_k = p_{u,k}(u_k \mid \cdot) / p_k(x_k \mid \cdot)`, so
    :math:`\log|\det\nabla T(u)| = \sum_k [\log p_{u,k}(u_k \mid u_{<k}) - \log p_k(x_k \mid x_{<k})]`.
    Each step costs one call of each conditional: :math:`O(d)` calls.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, target: Conditional, features: int, base: Conditional | None = None,
                 cache_size: int = 0) -> None:
        super().__init__(cache_size=cache_size)
        self.features = check_int(features, "features")
        self.target = target
        self.base = base if base is not None else _standard_normal

    def _map(self, z: torch.Tensor, source: Conditional, destination: Conditional) -> torch.Tensor:
        out: list[torch.Tensor] = []
        for k in range(self.features):
            law_in, law_out = source(k, z[..., :k]), destination(k, torch.stack(out, -1) if out else z[..., :0])
            p = MonotoneRearrangement._clamp(law_in.cdf(z[..., k]))
            out.append(law_out.icdf(p))
        return torch.stack(out, -1)

    def _call(self, u: torch.Tensor) -> torch.Tensor:
        return self._map(u, self.base, self.target)

    def _inverse(self, x: torch.Tensor) -> torch.Tensor:
        return self._map(x, self.target, self.base)

    def log_abs_det_jacobian(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\sum_k \\log p_{u,k}(u_k \\mid u_{<k}) - \\log p_k(x_k \\mid x_{<k})`, shape ``u.shape[:-1]``."""
        total = torch.zeros(u.shape[:-1], dtype=u.dtype, device=u.device)
        for k in range(self.features):
            total = total + self.base(k, u[..., :k]).log_prob(u[..., k]) - self.target(k, x[..., :k]).log_prob(
                x[..., k])
        return total


def _standard_normal(k: int, prefix: torch.Tensor) -> Normal:
    zero = torch.zeros(prefix.shape[:-1], dtype=prefix.dtype, device=prefix.device)
    return Normal(zero, torch.ones_like(zero))


def gaussian_conditionals(mean: torch.Tensor, covariance: torch.Tensor) -> Conditional:
    r"""The conditionals :math:`x_k \mid x_{1:k-1}` of :math:`\mathcal N(m, \Sigma)`, for :class:`KnotheRosenblatt`.

    .. math::
        x_k \mid x_{<k} \sim \mathcal N\big(m_k + \Sigma_{k,<k}\Sigma_{<k,<k}^{-1}(x_{<k} - m_{<k}),\;
        \Sigma_{kk} - \Sigma_{k,<k}\Sigma_{<k,<k}^{-1}\Sigma_{<k,k}\big).

    The regression weights and variances are computed once, from the Cholesky factor :math:`L`
    (conditional standard deviation :math:`L_{kk}`).

    Raises
    ------
    ValueError
        If ``covariance`` is not a ``(d, d)`` positive definite matrix or ``mean`` does not have ``d`` entries.
    """
    mean, covariance = torch.as_tensor(mean), torch.as_tensor(covariance)
    d = mean.shape[-1] if mean.ndim == 1 else -1
    if mean.ndim != 1 or covariance.shape != (d, d):
        raise ValueError(f"covariance: expected shape ({d}, {d}) matching mean of shape {tuple(mean.shape)}, got "
                         f"{tuple(covariance.shape)}.")
    L, info = torch.linalg.cholesky_ex(covariance)
    if info != 0:
        raise ValueError("covariance: expected a positive definite matrix, got one whose Cholesky factorisation "
                         "fails.")
    weights = [torch.linalg.solve(covariance[:k, :k], covariance[:k, k]) if k else mean[:0] for k in range(d)]

    def conditional(k: int, prefix: torch.Tensor) -> Normal:
        loc = mean[k] + (prefix - mean[:k]) @ weights[k].to(prefix.dtype)
        return Normal(loc, L[k, k].to(prefix.dtype).expand(loc.shape))

    return conditional
