r"""Vectorised Gaussian-mixture kernels in torch (float64): log-densities and M-step covariance estimates.

Private helpers of :mod:`pgm_ppl.em.gmm`; they trust their inputs. Shapes of the covariance parameter by
``covariance_type`` (the four structures of course chapter 2 and scikit-learn):

- ``"full"``: (K, d, d), one matrix per component;
- ``"tied"``: (d, d), one matrix shared by all components;
- ``"diag"``: (K, d), one diagonal per component;
- ``"spherical"``: (K,), one variance per component.

Precisions are carried as Cholesky factors :math:`P` with :math:`P P^\top = \Sigma^{-1}` (upper triangular
:math:`P = L^{-\top}` for :math:`\Sigma = L L^\top`), as in scikit-learn, so that the Mahalanobis term is
:math:`\|(x - \mu) P\|^2` (a matrix product, faster than a triangular solve) and
:math:`\log|\Sigma|^{-1/2} = \sum_i \log P_{ii}`.
"""

from __future__ import annotations

import math

import torch

from pgm_ppl.core.linalg import precision_cholesky as core_precision_cholesky

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def outer_products(X: torch.Tensor) -> torch.Tensor:
    r"""(N, d*d) rows :math:`\operatorname{vec}(x_n x_n^\top)`, cached by the full-covariance M-step."""
    return (X.unsqueeze(2) * X.unsqueeze(1)).reshape(X.shape[0], -1)


def weighted_covariances(X: torch.Tensor, resp: torch.Tensor, nk: torch.Tensor, means: torch.Tensor,
                         covariance_type: str, XX: torch.Tensor | None = None) -> torch.Tensor:
    r"""Responsibility-weighted scatter divided by its weight, before any regularisation (course eq. (2.14)).

    ``full``: :math:`S_k = \frac{1}{N_k}\sum_n \gamma_{nk}(x_n-\mu_k)(x_n-\mu_k)^\top`; ``tied``:
    :math:`\frac{1}{N}\sum_k N_k S_k`; ``diag``: the diagonals of :math:`S_k`; ``spherical``: their means.

    For ``full`` with the cached outer products ``XX`` (see :func:`outer_products`), :math:`S_k` is
    :math:`\frac{1}{N_k}\sum_n \gamma_{nk} x_n x_n^\top - \mu_k\mu_k^\top`, one matrix product for all
    components (several times faster than the centred form). Its rounding error grows like
    :math:`\epsilon \|\mu_k\|^2 / \lambda_{\min}(S_k)`; the caller centres X, and where that ratio
    exceeds 1e6 the centred form is used instead.
    """
    if covariance_type == "full":
        if XX is not None:
            d = X.shape[1]
            cov = (resp.T @ XX).view(-1, d, d) / nk[:, None, None] - means.unsqueeze(2) * means.unsqueeze(1)
            ratio = (means * means).sum(1) / torch.linalg.eigvalsh(cov)[:, 0]
            if bool(torch.all((ratio >= 0) & (ratio < 1e6))):
                return cov
        diff = X.unsqueeze(0) - means.unsqueeze(1)                      # (K, N, d)
        weighted = diff * resp.T.unsqueeze(-1)
        return torch.matmul(weighted.transpose(1, 2), diff) / nk[:, None, None]
    if covariance_type == "tied":
        avg_x2 = X.T @ X
        avg_means2 = (nk[:, None] * means).T @ means
        return (avg_x2 - avg_means2) / nk.sum()
    avg_x2 = (resp.T @ (X * X)) / nk[:, None]
    avg_x_means = means * (resp.T @ X) / nk[:, None]
    diag = avg_x2 - 2.0 * avg_x_means + means ** 2
    return diag if covariance_type == "diag" else diag.mean(dim=1)


def add_to_diagonal(cov: torch.Tensor, value: float, covariance_type: str) -> torch.Tensor:
    """Return ``cov`` plus ``value`` on its diagonal (scikit-learn's ``reg_covar``)."""
    if value == 0.0:
        return cov
    if covariance_type in ("full", "tied"):
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
        return cov + value * eye
    return cov + value


def floor_covariances(cov: torch.Tensor, floor: float, covariance_type: str) -> torch.Tensor:
    r"""Project onto :math:`\{\Sigma \succeq \sigma^2_{\min} I\}` by clipping eigenvalues.

    For the Gaussian M-step objective :math:`-\tfrac{N_k}{2}(\log|\Sigma| + \operatorname{tr}(S\Sigma^{-1}))`
    the clipped matrix is the exact constrained maximiser, so EM stays monotone.
    """
    if covariance_type in ("full", "tied"):
        eigval, eigvec = torch.linalg.eigh(cov)
        return (eigvec * eigval.clamp_min(floor).unsqueeze(-2)) @ eigvec.transpose(-1, -2)
    return cov.clamp_min(floor)


_COLLAPSE_FIX = ("a component collapsed on too few points: increase reg_covar or covariance_floor, use a prior "
                 "or fewer components")


def precision_cholesky(cov: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """Cholesky factor of the precision in the convention of the module docstring, for every covariance type.

    Full and tied covariances go through :func:`pgm_ppl.core.linalg.precision_cholesky` (no jitter:
    ``reg_covar`` is the user's regulariser, and the error says to increase it).

    Raises
    ------
    ValueError
        If a covariance is not positive definite (a collapsed component).
    """
    if covariance_type in ("full", "tied"):
        return core_precision_cholesky(cov, name="a fitted covariance", fix=_COLLAPSE_FIX)
    if torch.any(cov <= 0):
        raise ValueError(f"a fitted variance: expected a positive number, got {float(cov.min()):.3g} (a component "
                         f"collapsed on one point); {_COLLAPSE_FIX}.")
    return torch.rsqrt(cov)


def log_gaussian_prob(X: torch.Tensor, means: torch.Tensor, prec_chol: torch.Tensor,
                      covariance_type: str) -> torch.Tensor:
    r"""Matrix of :math:`\log \mathcal N(x_n \mid \mu_k, \Sigma_k)`, shape (N, K) (course eq. (2.5))."""
    d = X.shape[1]
    if covariance_type == "full":
        N, K = X.shape[0], means.shape[0]
        log_det = torch.log(torch.diagonal(prec_chol, dim1=-2, dim2=-1)).sum(-1)            # (K,)
        # all K products x_n P_k in one (N, d) x (d, K d) matrix product, then subtract mu_k P_k
        y = (X @ prec_chol.permute(1, 0, 2).reshape(d, K * d)).view(N, K, d)
        y -= torch.einsum("kd,kde->ke", means, prec_chol)
        maha = y.square_().sum(-1)
    elif covariance_type == "tied":
        log_det = torch.log(torch.diagonal(prec_chol)).sum()
        y = (X @ prec_chol).unsqueeze(1) - (means @ prec_chol).unsqueeze(0)                # (N, K, d)
        maha = (y * y).sum(-1)
    elif covariance_type == "diag":
        log_det = torch.log(prec_chol).sum(-1)
        prec = prec_chol ** 2
        mm, xx = (means ** 2 * prec).sum(1), (X ** 2) @ prec.T
        maha = _resolved(mm - 2.0 * X @ (means * prec).T + xx, mm + xx, X, means, prec)
    else:
        log_det = d * torch.log(prec_chol)
        prec = prec_chol ** 2
        mm, xx = (means ** 2).sum(1) * prec, torch.outer((X ** 2).sum(1), prec)
        maha = _resolved(mm - 2.0 * (X @ means.T) * prec + xx, mm + xx, X, means, prec[:, None].expand_as(means))
    return -0.5 * (d * math.log(2.0 * math.pi) + maha) + log_det


def _resolved(maha: torch.Tensor, magnitude: torch.Tensor, X: torch.Tensor, means: torch.Tensor,
              prec: torch.Tensor) -> torch.Tensor:
    r"""The expanded Mahalanobis terms :math:`\|x\|^2_P - 2x^\top P\mu + \|\mu\|^2_P`, with the entries that the
    expansion cannot resolve (below :math:`\sqrt\epsilon` times the expanded terms' ``magnitude``: a point close
    to a mean far from the origin, whose every digit cancels) recomputed exactly from :math:`x - \mu`."""
    maha = maha.clamp_min(0.0)
    rows, cols = torch.nonzero(maha <= math.sqrt(torch.finfo(maha.dtype).eps) * magnitude, as_tuple=True)
    if rows.numel():
        maha[rows, cols] = ((X[rows] - means[cols]) ** 2 * prec[cols]).sum(-1)
    return maha
