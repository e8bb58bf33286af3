r"""Conditional probability paths of flow matching and their conditional vector fields (course §8, flow matching).

Every path here is an *affine interpolant* of a source draw :math:`x_0 \sim p`, a target draw :math:`x_1 \sim q`
and independent noise :math:`\varepsilon \sim \mathcal N(0, I)`,

.. math::
    x_t = \psi_t(x_0, x_1, \varepsilon) = \alpha_t x_0 + \beta_t x_1 + \gamma_t \varepsilon,
    \qquad
    u_t = \partial_t \psi_t = \dot\alpha_t x_0 + \dot\beta_t x_1 + \dot\gamma_t \varepsilon,

with :math:`(\alpha_0, \beta_0) = (1, 0)`, :math:`(\alpha_1, \beta_1) = (\sigma_{\min}\text{ or }0, 1)`. Read as the
notes' Gaussian conditional path (8.16)-(8.18), :math:`p_t(x \mid z) = \mathcal N(\mu_t(z), \sigma_t^2 I)` with the
flow :math:`\phi_t(x) = \mu_t(z) + \sigma_t x` (8.19), the conditional vector field is Prop. 8.1's

.. math::
    v_t(x \mid z) = \dot\mu_t(z) + \frac{\dot\sigma_t}{\sigma_t}\bigl(x - \mu_t(z)\bigr),

and the CFM regression target at :math:`x_t` is :math:`u_t`. Two readings occur:

* conditioned on :math:`z = (x_0, x_1)`: :math:`\mu_t = \alpha_t x_0 + \beta_t x_1`, :math:`\sigma_t = \gamma_t`
  (I-CFM / rectified flow (8.22)-(8.24), the Schrödinger-bridge path, the variance-preserving path, stochastic
  interpolants);
* conditioned on :math:`z = x_1` alone, the source draw being the Gaussian noise itself (:math:`p = \mathcal N(0,I)`):
  :math:`\mu_t = \beta_t x_1`, :math:`\sigma_t = \alpha_t` (Lipman et al.'s OT path (8.20)-(8.21)).

Flow matching's losses built on these are **regressions**, not ELBOs (see :mod:`pgm_ppl.flow_matching.model`).

References
----------
Lipman, Chen, Ben-Hamu, Nickel & Le (2023). Flow matching for generative modeling. ICLR.
Liu, Gong & Liu (2023). Flow straight and fast: rectified flow. ICLR.
Tong, Fatras, Malkin, Huguet, Zhang, Rector-Brooks, Wolf & Bengio (2024). Improving and generalizing flow-based
generative models with minibatch optimal transport. TMLR (torchcfm: ``ConditionalFlowMatcher``,
``TargetConditionalFlowMatcher``, ``SchrodingerBridgeConditionalFlowMatcher``,
``VariancePreservingConditionalFlowMatcher``).
Albergo & Vanden-Eijnden (2023). Building normalizing flows with stochastic interpolants. ICLR; Albergo, Boffi &
Vanden-Eijnden (2023). Stochastic interpolants: a unifying framework for flows and diffusions. arXiv 2303.08797.
"""

from __future__ import annotations

import math

import torch

from pgm_ppl.core.validation import check_positive, check_probability

__all__ = ["BrownianBridgePath", "LinearPath", "LipmanOTPath", "ProbabilityPath", "VariancePreservingPath",
           "make_path"]


def _column(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``t`` as a tensor broadcasting against rows of ``like`` (a scalar, or one time per row).

    Raises a ``ValueError`` when ``t`` is neither a scalar nor one time per row of ``like`` (shapes only: the
    values are not read, so the training loop does not wait on them).
    """
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0 or (t.numel() == 1 and like.ndim < 2):
        return t
    if t.numel() == 1 and t.shape == (1,) * t.ndim:
        return t.reshape(*([1] * like.ndim))  # one time for every row, as a scalar would be
    rows = like.shape[0] if like.ndim else 1
    if t.shape not in ((rows,), (rows, 1)):
        raise ValueError(f"t: expected a scalar or one time per row, shape ({rows},), got shape {tuple(t.shape)} "
                         "(the paths take (t, x0, x1) in that order).")
    return t.reshape(-1, *([1] * (like.ndim - 1)))


def _check_ends(x0: torch.Tensor, x1: torch.Tensor) -> None:
    """Source and target batches of one shape ``(n, d)``."""
    if x0.shape != x1.shape:
        raise ValueError(f"x1: expected the shape of x0, {tuple(x0.shape)}, got {tuple(x1.shape)}.")


class ProbabilityPath:
    r"""An affine conditional path :math:`x_t = \alpha_t x_0 + \beta_t x_1 + \gamma_t \varepsilon` (module docstring).

    Subclasses give :meth:`coefficients` :math:`(\alpha_t, \beta_t, \gamma_t)` and :meth:`derivatives`
    :math:`(\dot\alpha_t, \dot\beta_t, \dot\gamma_t)` as functions of a time tensor. ``t`` is a scalar or one time
    per row (shape ``(n,)``); ``x0``, ``x1``, ``noise`` have shape ``(n, d)``.

    Attributes
    ----------
    noise_is_source : bool
        True when the conditioning variable is :math:`x_1` alone and the source draw is the Gaussian noise of the
        conditional path (Lipman's path; needs :math:`p = \mathcal N(0, I)`).
    """

    noise_is_source = False
    name = "path"

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def derivatives(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @property
    def stochastic(self) -> bool:
        """Whether :math:`\\gamma_t \\not\\equiv 0` (the path draws noise :math:`\\varepsilon`)."""
        return True

    def sample(self, t: torch.Tensor | float, x0: torch.Tensor, x1: torch.Tensor,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        r"""A point :math:`x_t = \alpha_t x_0 + \beta_t x_1 + \gamma_t \varepsilon` of the conditional path, ``(n, d)``.

        ``noise`` is :math:`\varepsilon` (drawn from torch's current generator when None and the path is stochastic).
        """
        _check_ends(x0, x1)
        t = _column(t, x0)
        a, b, g = self.coefficients(t)
        xt = a * x0 + b * x1
        if self.stochastic:
            xt = xt + g * (torch.randn_like(x0) if noise is None else noise)
        return xt

    def target(self, t: torch.Tensor | float, x0: torch.Tensor, x1: torch.Tensor,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        r"""The CFM regression target :math:`u_t = \dot\alpha_t x_0 + \dot\beta_t x_1 + \dot\gamma_t \varepsilon`
        at the point :meth:`sample` returns for the same ``noise`` (course eq. (8.15)), shape ``(n, d)``."""
        _check_ends(x0, x1)
        t = _column(t, x0)
        da, db, dg = self.derivatives(t)
        u = da * x0 + db * x1
        if self.stochastic:
            if noise is None:
                raise ValueError("noise: expected the noise tensor used by sample() for a stochastic path, got None.")
            u = u + dg * noise
        return u

    def sample_and_target(self, t: torch.Tensor | float, x0: torch.Tensor, x1: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(x_t, u_t, noise)`` with one fresh noise draw shared by both (torch's current generator).

        Raises
        ------
        ValueError
            ``x1`` not of ``x0``'s shape, or ``t`` neither a scalar nor one time per row.
        """
        noise = torch.randn_like(x0) if self.stochastic else None
        return self.sample(t, x0, x1, noise), self.target(t, x0, x1, noise), noise

    def conditional_mean_std(self, t: torch.Tensor | float, x0: torch.Tensor, x1: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The Gaussian conditional path's :math:`\mu_t(z)`, ``(n, d)``, and :math:`\sigma_t`, course eq. (8.16)."""
        _check_ends(x0, x1)
        t = _column(t, x0)
        a, b, g = self.coefficients(t)
        return a * x0 + b * x1, g * torch.ones_like(t)

    def conditional_field(self, t: torch.Tensor | float, x: torch.Tensor, x0: torch.Tensor,
                          x1: torch.Tensor) -> torch.Tensor:
        r"""Prop. 8.1's conditional field :math:`v_t(x \mid z) = \dot\mu_t + (\dot\sigma_t / \sigma_t)(x - \mu_t)`.

        Evaluated at any point ``x`` (``(n, d)``), it generates the conditional flow (8.19); at
        :math:`x = x_t` it equals :meth:`target`. Where :math:`\sigma_t \equiv 0` (rectified flow) it is
        :math:`\dot\mu_t`.
        """
        _check_ends(x0, x1)
        t = _column(t, x)
        a, b, g = self.coefficients(t)
        da, db, dg = self.derivatives(t)
        mean, velocity = a * x0 + b * x1, da * x0 + db * x1
        if not self.stochastic:
            return velocity.expand_as(x)
        return velocity + dg / g * (x - mean)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class _ConstantNoisePath(ProbabilityPath):
    """A path whose noise level :math:`\\gamma_t = \\sigma` is constant (deterministic when ``sigma = 0``)."""

    def __init__(self, sigma: float = 0.0) -> None:
        self.sigma = check_positive(sigma, "sigma", allow_zero=True)

    @property
    def stochastic(self) -> bool:
        return self.sigma > 0


class LinearPath(_ConstantNoisePath):
    r"""The independent-coupling linear interpolant of rectified flow and I-CFM, course eqs. (8.22)-(8.24).

    .. math::
        p_t(x \mid x_0, x_1) = \mathcal N\bigl(x;\ (1-t)x_0 + t x_1,\ \sigma^2 I\bigr),
        \qquad u_t = x_1 - x_0.

    ``sigma = 0`` is rectified flow (Liu et al. 2023); ``sigma > 0`` is Tong et al.'s I-CFM (and OT-CFM with the
    exact OT coupling); torchcfm's ``ConditionalFlowMatcher(sigma)``.
    """

    name = "linear"

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return 1 - t, t, self.sigma * torch.ones_like(t)

    def derivatives(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return -torch.ones_like(t), torch.ones_like(t), torch.zeros_like(t)

    def sample_and_target(self, t: torch.Tensor | float, x0: torch.Tensor, x1: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        # the same draws as the generic method, in three tensor operations (the hot loop of I-CFM and OT-CFM)
        _check_ends(x0, x1)
        target = x1 - x0
        xt = torch.addcmul(x0, _column(t, x0), target)
        noise = None
        if self.stochastic:
            noise = torch.randn_like(x0)
            xt = xt.add_(noise, alpha=self.sigma)
        return xt, target, noise


class LipmanOTPath(ProbabilityPath):
    r"""Lipman et al.'s OT conditional path with :math:`\sigma_{\min}`, course eqs. (8.20)-(8.21).

    .. math::
        \mu_t(x_1) = t x_1, \quad \sigma_t = 1 - (1 - \sigma_{\min}) t, \qquad
        v_t(x \mid x_1) = \frac{x_1 - (1 - \sigma_{\min}) x}{1 - (1 - \sigma_{\min}) t},

    conditioned on :math:`x_1` alone; the source draw :math:`x_0 \sim \mathcal N(0, I)` is the path's noise, so
    :math:`x_t = \sigma_t x_0 + t x_1` and :math:`u_t = x_1 - (1-\sigma_{\min}) x_0` (torchcfm's
    ``TargetConditionalFlowMatcher``). The marginal at :math:`t = 1` is :math:`q * \mathcal N(0, \sigma_{\min}^2 I)`.
    Remark 8.10: each conditional path is an OT displacement, the marginal path is not.
    """

    name = "lipman"
    noise_is_source = True

    def __init__(self, sigma_min: float = 0.1) -> None:
        self.sigma_min = check_probability(sigma_min, "sigma_min")

    @property
    def stochastic(self) -> bool:
        return False

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return 1 - (1 - self.sigma_min) * t, t, torch.zeros_like(t)

    def derivatives(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return -(1 - self.sigma_min) * torch.ones_like(t), torch.ones_like(t), torch.zeros_like(t)

    def conditional_mean_std(self, t: torch.Tensor | float, x0: torch.Tensor | None, x1: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Eq. (8.20)'s :math:`\mu_t(x_1) = t x_1` and :math:`\sigma_t` (``x0`` is not used)."""
        t = _column(t, x1)
        a, b, _ = self.coefficients(t)
        return b * x1, a * torch.ones_like(t)

    def conditional_field(self, t: torch.Tensor | float, x: torch.Tensor, x0: torch.Tensor | None,
                          x1: torch.Tensor) -> torch.Tensor:
        """Eq. (8.20)'s field at ``x`` (``(n, d)``) given ``x1`` (``x0`` is not used)."""
        if x.shape != x1.shape:
            raise ValueError(f"x1: expected the shape of x, {tuple(x.shape)}, got {tuple(x1.shape)}.")
        t = _column(t, x)
        a, b, _ = self.coefficients(t)
        da, db, _ = self.derivatives(t)
        return db * x1 + da / a * (x - b * x1)  # = (x1 - (1 - sigma_min) x) / sigma_t, eq. (8.20)


class BrownianBridgePath(ProbabilityPath):
    r"""The Brownian-bridge path of Schrödinger-bridge CFM and of stochastic interpolants.

    .. math::
        x_t = (1-t) x_0 + t x_1 + \sigma\sqrt{t(1-t)}\,\varepsilon, \qquad
        u_t = x_1 - x_0 + \sigma\frac{1-2t}{2\sqrt{t(1-t)}}\varepsilon
            = x_1 - x_0 + \frac{1-2t}{2t(1-t)}\bigl(x_t - \mu_t\bigr).

    With the entropic OT coupling of regularisation :math:`2\sigma^2` (Remark 8.13) this is Tong et al.'s
    SB-CFM (torchcfm ``SchrodingerBridgeConditionalFlowMatcher``); with :math:`\gamma(t) = \sigma\sqrt{t(1-t)}` it
    is the stochastic interpolant of Albergo et al. used by :class:`~pgm_ppl.flow_matching.StochasticInterpolant`.
    The target diverges like :math:`t^{-1/2}` at the ends (times are drawn in the open interval).
    """

    name = "brownian_bridge"

    def __init__(self, sigma: float = 1.0) -> None:
        self.sigma = check_positive(sigma, "sigma")

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return 1 - t, t, self.sigma * torch.sqrt(t * (1 - t))

    def derivatives(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return -torch.ones_like(t), torch.ones_like(t), self.sigma * (1 - 2 * t) / (2 * torch.sqrt(t * (1 - t)))


class VariancePreservingPath(_ConstantNoisePath):
    r"""The trigonometric variance-preserving interpolant (Albergo & Vanden-Eijnden 2023).

    .. math::
        x_t = \cos(\tfrac{\pi t}{2}) x_0 + \sin(\tfrac{\pi t}{2}) x_1 + \sigma \varepsilon,
        \qquad u_t = \tfrac{\pi}{2}\bigl(\cos(\tfrac{\pi t}{2}) x_1 - \sin(\tfrac{\pi t}{2}) x_0\bigr);

    :math:`\alpha_t^2 + \beta_t^2 = 1`, so two independent unit-variance ends give a unit-variance path
    (torchcfm's ``VariancePreservingConditionalFlowMatcher``).
    """

    name = "variance_preserving"

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return torch.cos(0.5 * math.pi * t), torch.sin(0.5 * math.pi * t), self.sigma * torch.ones_like(t)

    def derivatives(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = 0.5 * math.pi
        return -h * torch.sin(h * t), h * torch.cos(h * t), torch.zeros_like(t)


_PATHS = {"linear": LinearPath, "lipman": LipmanOTPath, "brownian_bridge": BrownianBridgePath,
          "variance_preserving": VariancePreservingPath}


def make_path(path: str | ProbabilityPath, sigma: float = 0.0) -> ProbabilityPath:
    """A path by name (``"linear"``, ``"lipman"`` (``sigma`` is :math:`\\sigma_{\\min}`), ``"brownian_bridge"``,
    ``"variance_preserving"``) or a :class:`ProbabilityPath` as it is.

    Raises
    ------
    ValueError
        An unknown name or a bad ``sigma``.
    """
    if isinstance(path, ProbabilityPath):
        return path
    if path not in _PATHS:
        raise ValueError(f"path: expected one of {', '.join(map(repr, _PATHS))} or a ProbabilityPath, got {path!r}.")
    return _PATHS[path](sigma)
