r"""The marginal path and marginal vector field in closed form for a Gaussian source and a Gaussian target.

With the independent coupling, :math:`x_0 \sim \mathcal N(m_0, S_0)`, :math:`x_1 \sim \mathcal N(m_1, S_1)` and an
affine path :math:`x_t = \alpha_t x_0 + \beta_t x_1 + \gamma_t \varepsilon` (:mod:`pgm_ppl.flow_matching.paths`),
:math:`x_t` and the conditional target :math:`u_t` are jointly Gaussian, so the marginal path (course eq. (8.13))
and Thm 8.1's marginal field (8.14), :math:`v_t(x) = \mathbb E[u_t \mid x_t = x]`, are

.. math::
    p_t = \mathcal N(m_t, \Sigma_t),\quad m_t = \alpha_t m_0 + \beta_t m_1,\quad
    \Sigma_t = \alpha_t^2 S_0 + \beta_t^2 S_1 + \gamma_t^2 I,

    v_t(x) = \dot m_t + C_t \Sigma_t^{-1} (x - m_t),\qquad
    C_t = \operatorname{Cov}(u_t, x_t) = \alpha_t\dot\alpha_t S_0 + \beta_t\dot\beta_t S_1 + \gamma_t\dot\gamma_t I.

This is the reference the tests use: the FM loss (8.8) is computable, Thm 8.2 (equal CFM and FM gradients) can be
checked, and the ODE of :math:`v_t` pushes :math:`p_0` to :math:`p_1` exactly (continuity equation).
"""

from __future__ import annotations

import torch

from pgm_ppl.flow_matching.paths import ProbabilityPath

__all__ = ["GaussianMarginal"]


class GaussianMarginal(torch.nn.Module):
    r"""Marginal path and field of ``path`` between :math:`\mathcal N(m_0, S_0)` and :math:`\mathcal N(m_1, S_1)`.

    Parameters
    ----------
    path
        A :class:`~pgm_ppl.flow_matching.ProbabilityPath` (for Lipman's path the source must be
        :math:`\mathcal N(0, I)`, its noise).
    mean0, cov0, mean1, cov1
        Means ``(d,)`` and covariances ``(d, d)`` (float64 is advised for references).

    Notes
    -----
    ``forward(t, x)`` is the marginal field :math:`v_t(x)` (``x`` of shape ``(n, d)``, ``t`` a scalar or ``(n,)``),
    so the module is a field for :class:`pgm_ppl.flows.ContinuousFlow`.
    """

    def __init__(self, path: ProbabilityPath, mean0: torch.Tensor, cov0: torch.Tensor, mean1: torch.Tensor,
                 cov1: torch.Tensor) -> None:
        super().__init__()
        self.path = path
        for name, value in (("mean0", mean0), ("cov0", cov0), ("mean1", mean1), ("cov1", cov1)):
            self.register_buffer(name, torch.as_tensor(value))
        d = self.mean0.shape[-1]
        if self.cov0.shape != (d, d) or self.cov1.shape != (d, d) or self.mean1.shape != (d,):
            raise ValueError(f"cov0, cov1, mean1: expected shapes ({d}, {d}), ({d}, {d}), ({d},) to match mean0 "
                             f"of shape ({d},), got {tuple(self.cov0.shape)}, {tuple(self.cov1.shape)}, "
                             f"{tuple(self.mean1.shape)}.")
        self.register_buffer("eye", torch.eye(d, dtype=self.cov0.dtype))
        self.features = d

    def _scalars(self, t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        t = torch.as_tensor(t, dtype=self.mean0.dtype, device=self.mean0.device)
        return (*self.path.coefficients(t), *self.path.derivatives(t))

    def mean(self, t: torch.Tensor | float) -> torch.Tensor:
        """:math:`m_t`, shape ``(d,)`` for a scalar ``t``."""
        a, b, *_ = self._scalars(t)
        return a * self.mean0 + b * self.mean1

    def covariance(self, t: torch.Tensor | float) -> torch.Tensor:
        r""":math:`\Sigma_t`, shape ``(d, d)`` for a scalar ``t``."""
        a, b, g, *_ = self._scalars(t)
        return a ** 2 * self.cov0 + b ** 2 * self.cov1 + g ** 2 * self.eye

    def distribution(self, t: torch.Tensor | float) -> torch.distributions.MultivariateNormal:
        """The marginal :math:`p_t` as a torch distribution (a scalar ``t``)."""
        return torch.distributions.MultivariateNormal(self.mean(t), self.covariance(t))

    def log_prob(self, t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p_t(x)` per row, shape ``(n,)``, in nats."""
        return self.distribution(t).log_prob(x)

    def forward(self, t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=self.mean0.dtype, device=self.mean0.device)
        scalar = t.ndim == 0
        a, b, g, da, db, dg = (c.reshape(-1, 1, 1) for c in self._scalars(t.reshape(-1)))
        sigma = a ** 2 * self.cov0 + b ** 2 * self.cov1 + g ** 2 * self.eye  # (n or 1, d, d)
        cross = a * da * self.cov0 + b * db * self.cov1 + g * dg * self.eye
        gain = torch.linalg.solve(sigma, cross.transpose(-1, -2)).transpose(-1, -2)  # C_t Sigma_t^{-1}
        mean = (a * self.mean0 + b * self.mean1).squeeze(1)  # (n or 1, d)
        drift = (da * self.mean0 + db * self.mean1).squeeze(1)
        dtype, x = x.dtype, x.to(self.mean0.dtype)
        if scalar:
            return (drift + (x - mean) @ gain[0].T).to(dtype)
        return (drift + torch.einsum("nij,nj->ni", gain, x - mean)).to(dtype)
