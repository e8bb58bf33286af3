r"""DDPM's discretised Gaussian decoder :math:`p_\theta(x_0 \mid x_1)` for data on a grid (course-map row 9.16).

Ho et al. (2020, §3.3) scale data in :math:`\{0, \dots, K-1\}` linearly to :math:`[-1, 1]`, so level :math:`k`
sits at :math:`c_k = -1 + 2k/(K-1)` with bins of half-width :math:`h = 1/(K-1)`, and give each coordinate the
Gaussian probability of its bin,

.. math::
    p_\theta(x_0 \mid x_1) = \prod_{i=1}^D \int_{\delta_-(x_0^i)}^{\delta_+(x_0^i)}
        \mathcal N\bigl(x; \mu_\theta^i(x_1, 1), \sigma_1^2\bigr)\,dx, \qquad
    \delta_\pm(x) = \begin{cases} \pm\infty & x = \pm 1 \\ x \pm h & \text{otherwise,} \end{cases}

a probability mass, so the DDPM bound becomes a bound on a discrete log-likelihood, reported in bits per
dimension (:math:`-\mathrm{ELBO} / (D \log 2)`), a metric the notes do not report.
"""

from __future__ import annotations

import torch
from pyro.distributions import TorchDistribution
from torch.distributions import constraints

from pgm_ppl.core.validation import check_int

__all__ = ["DiscretisedGaussian", "to_grid_scale"]


def to_grid_scale(values: torch.Tensor, num_levels: int) -> torch.Tensor:
    r"""Integer levels :math:`k \in \{0, \dots, K-1\}` to :math:`c_k = -1 + 2k/(K-1) \in [-1, 1]`."""
    num_levels = check_int(num_levels, "num_levels", minimum=2)
    return 2.0 * values / (num_levels - 1) - 1.0


class DiscretisedGaussian(TorchDistribution):
    r"""Independent Gaussians over the bins of a :math:`K`-level grid on :math:`[-1, 1]` (module docstring).

    Parameters
    ----------
    loc, scale
        :math:`\mu` and :math:`\sigma > 0`, broadcastable; the last ``event_dims`` axes form the event.
    num_levels
        :math:`K \ge 2`.
    event_dims
        How many trailing axes make one observation (1 for vectors).

    Notes
    -----
    ``log_prob(x)`` rounds ``x`` to the nearest level and returns the log of the bin masses summed over the
    event (nats), computed stably: the edge bins by :math:`\log\Phi`, interior ones by the log of a difference of
    CDFs floored at :math:`10^{-12}` (as Ho et al.'s code does). ``sample`` draws the Gaussian and rounds it to
    the grid.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.interval(-1.0, 1.0)
    has_rsample = False

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, num_levels: int, event_dims: int = 1,
                 validate_args: bool | None = None) -> None:
        self.loc, self.scale = torch.broadcast_tensors(torch.as_tensor(loc), torch.as_tensor(scale, dtype=loc.dtype))
        self.num_levels = check_int(num_levels, "num_levels", minimum=2)
        shape = self.loc.shape
        split = len(shape) - event_dims
        super().__init__(shape[:split], shape[split:], validate_args=False)

    def expand(self, batch_shape: torch.Size, _instance: object = None) -> DiscretisedGaussian:
        shape = torch.Size(batch_shape) + self.event_shape
        return DiscretisedGaussian(self.loc.expand(shape), self.scale.expand(shape), self.num_levels,
                                   len(self.event_shape))

    def _level(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.round((x + 1.0) * (self.num_levels - 1) / 2.0).clamp(0, self.num_levels - 1)
        return -1.0 + 2.0 * k / (self.num_levels - 1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        x = self._level(value)
        half = 1.0 / (self.num_levels - 1)
        upper = (x + half - self.loc) / self.scale
        lower = (x - half - self.loc) / self.scale
        log_cdf_upper = torch.special.log_ndtr(upper)          # the bin [x - h, +inf) at x = 1 uses Phi(-lower)
        log_sf_lower = torch.special.log_ndtr(-lower)
        mass = (torch.special.ndtr(upper) - torch.special.ndtr(lower)).clamp(min=1e-12)
        log_p = torch.where(x <= -1.0 + 1e-6, log_cdf_upper,
                            torch.where(x >= 1.0 - 1e-6, log_sf_lower, torch.log(mass)))
        return log_p.sum(tuple(range(-len(self.event_shape), 0))) if self.event_shape else log_p

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        shape = self._extended_shape(sample_shape)
        with torch.no_grad():
            draw = self.loc.expand(shape) + self.scale.expand(shape) * torch.randn(shape, dtype=self.loc.dtype,
                                                                                   device=self.loc.device)
            return self._level(draw.clamp(-1.0, 1.0))

    @property
    def mean(self) -> torch.Tensor:  # pragma: no cover - informative only
        return self.loc

    def entropy(self) -> torch.Tensor:  # pragma: no cover - not needed by the ELBOs here
        raise NotImplementedError("DiscretisedGaussian has no closed-form entropy.")

