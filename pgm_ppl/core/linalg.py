r"""Guarded factorisations: the one place pgm_ppl takes a Cholesky factor, a precision factor or a PD solve.

Every Cholesky or positive-definite solve of the classical engines (``gp``, ``em``, ``cavi``, ``dp``) goes
through :func:`cholesky`, so a matrix that is not positive definite is reported in one message style, in the
caller's words: the culprit (``name``), what was expected, what was found, and what to do (``fix``):

    ``K + noise * I: expected a positive-definite matrix, got one whose Cholesky factorisation fails
    (smallest eigenvalue -3.1e-17 at scale 1); increase the noise variance.``

Jitter policy
-------------
A jitter :math:`\delta I` changes the matrix, so it is the caller's decision, stated in its argument
``max_jitter`` (relative to the matrix's scale :math:`s`, the mean magnitude of its diagonal):

- ``max_jitter=0`` (the default): no jitter. Used where a user parameter already plays that role (the GP's
  noise variance, EM's ``reg_covar``): the error says to increase that parameter instead.
- ``max_jitter > 0``: the plain factorisation is tried first (a well-conditioned matrix is factorised
  exactly as LAPACK would); on failure, :math:`\delta` starts at :math:`n\,\epsilon\,s` (the size of the
  rounding error of an :math:`n \times n` factorisation, :math:`\epsilon` the dtype's machine epsilon) and
  grows tenfold until the factorisation succeeds or :math:`\delta` would exceed ``max_jitter`` :math:`\cdot s`.
  :data:`ROUNDING_JITTER` (:math:`\sqrt\epsilon` of the dtype; 1.5e-8 in float64, 3.5e-4 in float32) is the
  cap for matrices that are positive definite in exact arithmetic and fail only by rounding (posterior
  scale matrices, precisions assembled from a PD prior plus a scatter).

Everything works on numpy arrays and torch tensors alike, batched over leading axes, and keeps the dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["ROUNDING_JITTER", "cholesky", "gaussian_kl", "log_det_from_cholesky", "precision_cholesky",
           "relative_eps", "solve_psd"]

ROUNDING_JITTER = "rounding"
"""Marker for ``max_jitter``: :math:`\\sqrt\\epsilon` of the matrix's dtype."""


def relative_eps(dtype: Any) -> float:
    """Machine epsilon of a numpy or torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).eps)
    return float(np.finfo(dtype).eps)


def _as_tensor(A: Any) -> tuple[torch.Tensor, bool]:
    if isinstance(A, torch.Tensor):
        return A, False
    array = np.asarray(A)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(array)), True


def _smallest_eigenvalue(A: torch.Tensor) -> float:
    try:
        return float(torch.linalg.eigvalsh(0.5 * (A + A.transpose(-1, -2))).min())
    except RuntimeError:  # NaN entries
        return float("nan")


def cholesky(A: Any, *, name: str = "matrix", fix: str = "check how it was built",
             max_jitter: float | str = 0.0) -> Any:
    r"""Lower Cholesky factor :math:`L` with :math:`L L^\top = A + \delta I`, under the module's jitter policy.

    Parameters
    ----------
    A
        Symmetric matrix, shape (..., n, n); numpy array or torch tensor (the factor has the same type).
    name
        How the user knows the matrix (``"K + noise * I"``, ``"covariance of component 2"``).
    fix
        What the user can do about it, ending the message (``"increase the noise variance"``).
    max_jitter
        Largest jitter relative to the matrix's scale (0: none; :data:`ROUNDING_JITTER`: :math:`\sqrt\epsilon`).

    Raises
    ------
    ValueError
        If ``A`` has non-finite entries, or is not positive definite within the allowed jitter; the message
        names ``name``, the smallest eigenvalue, the matrix's scale and the index of the failing matrix of a
        batch, and ends with ``fix``.
    """
    T, was_numpy = _as_tensor(A)
    if not bool(torch.isfinite(T).all()):
        raise ValueError(f"{name}: expected a finite positive-definite matrix, got non-finite entries; {fix}.")
    L, info = torch.linalg.cholesky_ex(T)
    if bool((info > 0).any()):
        eps = relative_eps(T.dtype)
        cap = math.sqrt(eps) if max_jitter == ROUNDING_JITTER else float(max_jitter)
        n = T.shape[-1]
        scale = T.diagonal(dim1=-2, dim2=-1).abs().mean(-1, keepdim=True).clamp_min(torch.finfo(T.dtype).tiny)
        eye = torch.eye(n, dtype=T.dtype, device=T.device)
        jitter = n * eps
        while bool((info > 0).any()) and jitter <= cap:
            L, info = torch.linalg.cholesky_ex(T + (jitter * scale)[..., None] * eye)
            jitter *= 10.0
        if bool((info > 0).any()):
            _raise_not_pd(T, info, name, fix, cap)
    return L.numpy() if was_numpy else L


def _raise_not_pd(T: torch.Tensor, info: torch.Tensor, name: str, fix: str, cap: float) -> None:
    bad = torch.nonzero(info > 0)[0].tolist() if info.ndim else []
    M = T[tuple(bad)] if bad else T
    where = f" (matrix {tuple(bad) if len(bad) > 1 else bad[0]} of the batch)" if bad else ""
    scale = float(M.diagonal().abs().mean())
    with_jitter = f" even with a jitter of {cap:.1g} times its scale" if cap > 0 else ""
    raise ValueError(f"{name}{where}: expected a positive-definite matrix, got one whose Cholesky factorisation "
                     f"fails{with_jitter} (smallest eigenvalue {_smallest_eigenvalue(M):.3g} at scale "
                     f"{scale:.3g}); {fix}.")


def precision_cholesky(cov: Any, *, name: str = "covariance", fix: str = "check how it was built",
                       max_jitter: float | str = 0.0) -> Any:
    r"""Upper-triangular :math:`P = L^{-\top}` with :math:`P P^\top = \Sigma^{-1}` for :math:`\Sigma = L L^\top`.

    scikit-learn's ``precisions_cholesky_`` convention: the Mahalanobis term is :math:`\|(x - \mu) P\|^2`
    and :math:`\log|\Sigma|^{-1/2} = \sum_i \log P_{ii}`. Batched over leading axes; guarded by
    :func:`cholesky` (same arguments, same errors).
    """
    L = cholesky(cov, name=name, fix=fix, max_jitter=max_jitter)
    T, was_numpy = _as_tensor(L)
    eye = torch.eye(T.shape[-1], dtype=T.dtype, device=T.device).expand_as(T)
    P = torch.linalg.solve_triangular(T, eye, upper=False).transpose(-1, -2)
    return P.numpy() if was_numpy else P


def log_det_from_cholesky(L: Any) -> Any:
    """:math:`\\log|A| = 2\\sum_i \\log L_{ii}` for a Cholesky factor ``L`` of ``A`` (batched)."""
    if isinstance(L, torch.Tensor):
        return 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    return 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)


def solve_psd(A: Any, B: Any, *, name: str = "matrix", fix: str = "check how it was built",
              max_jitter: float | str = 0.0) -> Any:
    """:math:`A^{-1} B` for a positive-definite ``A`` by its guarded Cholesky factor (numpy or torch)."""
    L = cholesky(A, name=name, fix=fix, max_jitter=max_jitter)
    if isinstance(L, torch.Tensor):
        B = torch.as_tensor(B, dtype=L.dtype)
        return torch.cholesky_solve(B[..., None] if B.ndim == L.ndim - 1 else B, L).reshape(B.shape)
    import scipy.linalg

    return scipy.linalg.cho_solve((L, True), np.asarray(B, dtype=L.dtype))


def gaussian_kl(mean_q: Any, cov_q: Any, mean_p: Any, cov_p: Any) -> float:
    r""":math:`\mathrm{KL}(\mathcal N(m_q, S_q) \,\|\, \mathcal N(m_p, S_p))` in closed form (course eq. (1.38)).

    .. math::
        \tfrac12\Big[\operatorname{tr}(S_p^{-1}S_q) + (m_p - m_q)^\top S_p^{-1}(m_p - m_q) - d
        + \log\frac{|S_p|}{|S_q|}\Big],

    computed from the Cholesky factors (:math:`S_p^{-1}S_q` is never formed). Returns ``inf`` when either
    covariance is singular (a degenerate Gaussian is not absolutely continuous with respect to a
    non-degenerate one, and vice versa), unless both are the same distribution (then 0).

    Raises
    ------
    ValueError
        If the shapes do not match the first mean's length d.
    """
    m0, m1 = np.atleast_1d(np.asarray(mean_q, np.float64)), np.atleast_1d(np.asarray(mean_p, np.float64))
    S0, S1 = np.atleast_2d(np.asarray(cov_q, np.float64)), np.atleast_2d(np.asarray(cov_p, np.float64))
    d = m0.shape[0]
    for label, arr, shape in (("mean_p", m1, (d,)), ("cov_q", S0, (d, d)), ("cov_p", S1, (d, d))):
        if arr.shape != shape:
            raise ValueError(f"{label}: expected shape {shape} to match mean_q, got {arr.shape}.")
    if np.array_equal(m0, m1) and np.array_equal(S0, S1):
        return 0.0
    try:
        c0 = cholesky(S0, name="cov_q")
        c1 = cholesky(S1, name="cov_p")
    except ValueError:
        return float("inf")
    import scipy.linalg

    A = scipy.linalg.solve_triangular(c1, c0, lower=True)
    b = scipy.linalg.solve_triangular(c1, m1 - m0, lower=True)
    log_det = log_det_from_cholesky(c1) - log_det_from_cholesky(c0)
    return float(0.5 * ((A * A).sum() + b @ b - d + log_det))
