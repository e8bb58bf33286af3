r"""Noise-conditional score networks (NCSN) and annealed Langevin dynamics (course rows 9.7-9.9, Algs. 7-8).

The source is Song & Ermon (2019), "Generative modeling by estimating gradients of the data distribution"
(NeurIPS 2019); the notes cite Song et al. (2021) for it. With geometric noise levels
:math:`\sigma_1 > \dots > \sigma_L` (9.7), one network :math:`s_\theta(x, \sigma)` is trained on every level by

.. math::
    \mathcal L_{\text{NCSN}}(\theta) = \frac1L\sum_{i=1}^L \lambda(\sigma_i)\,
      \tfrac12\mathbb E\Bigl\|s_\theta(\tilde x, \sigma_i) + \frac{\tilde x - x}{\sigma_i^2}\Bigr\|^2,
    \qquad \lambda(\sigma) = \sigma^2                                                        \quad (9.8)-(9.9)

with one level drawn uniformly per row and the noise drawn on the fly (Alg. 7, Remark 9.6; :math:`\lambda =
\sigma^2` makes every level's term of order one, Exercise 9.6). Sampling is annealed Langevin dynamics (Alg. 8):
:math:`x \sim \mathcal N(0, \sigma_1^2 I)`, then :math:`T` ULA steps with step :math:`\alpha_i = \epsilon\,
\sigma_i^2/\sigma_L^2` (Song & Ermon's choice) at each level in turn.

:class:`NCSN` parameterises :math:`s_\theta(x, \sigma) = f_\theta(x, c(\sigma))/\sigma` with the noise embedded as
:math:`c(\sigma) = 1000\,\log(\sigma/\sigma_L)/\log(\sigma_1/\sigma_L)` (so the time network sees the range
DDPM's steps span), the output scaling of Song & Ermon (2020, "Improved techniques", technique 3). Its
continuous limit is the VE SDE (:class:`~pgm_ppl.diffusion.VESDE`), on which :meth:`NCSN.sde_score` runs the
reverse-SDE and predictor–corrector samplers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.diffusion._util import maybe_seeded
from pgm_ppl.core.validation import check_int, check_positive
from pgm_ppl.diffusion.sde import VESDE
from pgm_ppl.nn import TimeConditionedMLP

__all__ = ["NCSN", "annealed_langevin", "geometric_sigmas", "ncsn", "ncsn_loss"]


def geometric_sigmas(sigma_max: float, sigma_min: float, num_levels: int) -> torch.Tensor:
    r"""The geometric sequence :math:`\sigma_1 = \sigma_{\max} > \dots > \sigma_L = \sigma_{\min}` (9.7), float64 (L,).

    Raises
    ------
    ValueError, TypeError
        Unless :math:`\sigma_{\max} > \sigma_{\min} > 0` and :math:`L \ge 2`.

    Examples
    --------
    >>> [round(s, 12) for s in geometric_sigmas(1.0, 0.01, 3).tolist()]
    [1.0, 0.1, 0.01]
    """
    sigma_max = check_positive(sigma_max, "sigma_max")
    sigma_min = check_positive(sigma_min, "sigma_min")
    num_levels = check_int(num_levels, "num_levels", minimum=2)
    if sigma_max <= sigma_min:
        raise ValueError(f"sigma_max: expected a value above sigma_min = {sigma_min}, got {sigma_max}.")
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), num_levels, dtype=torch.float64))


def ncsn_loss(score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
              sigmas: torch.Tensor) -> torch.Tensor:
    r"""The NCSN loss (9.8)-(9.9) with :math:`\lambda(\sigma) = \sigma^2`, one uniform level per row (Alg. 7).

    Parameters
    ----------
    score
        :math:`s_\theta(\tilde x, \sigma)` with ``sigma`` of shape (n, 1).
    x
        Clean rows (n, d).
    sigmas
        The levels (L,).

    Returns
    -------
    torch.Tensor
        The batch mean of :math:`\lambda(\sigma_{i_b})\tfrac12\|s_\theta(\tilde x_b, \sigma_{i_b}) - t_b\|^2`.
    """
    levels = torch.randint(0, sigmas.numel(), (x.shape[0],), device=x.device)
    sigma = sigmas.to(x.dtype)[levels][:, None]
    z = torch.randn_like(x)
    x_tilde = x + sigma * z
    target = -z / sigma  # t_b = -(x_tilde - x) / sigma^2
    return (sigma[:, 0] ** 2 * 0.5 * ((score(x_tilde, sigma) - target) ** 2).sum(-1)).mean()


@torch.no_grad()
def annealed_langevin(score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], sigmas: torch.Tensor,
                      num_samples: int, features: int, *, step_size: float = 2e-5, steps_per_level: int = 100,
                      denoise: bool = False, x_start: torch.Tensor | None = None, dtype: torch.dtype = torch.float32,
                      return_trajectory: bool = False, seed: int | None = None
                      ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Annealed Langevin dynamics (Alg. 8) with :math:`\alpha_i = \epsilon\,\sigma_i^2/\sigma_L^2`.

    Parameters
    ----------
    score
        :math:`s_\theta(x, \sigma)`, ``sigma`` of shape (n, 1).
    sigmas
        :math:`\sigma_1 > \dots > \sigma_L` (L,).
    num_samples, features
        Output shape.
    step_size
        :math:`\epsilon` (the step at the last level).
    steps_per_level
        :math:`T_i = T` for every level.
    denoise
        Finish with one Tweedie step :math:`x + \sigma_L^2 s_\theta(x, \sigma_L)` (Song & Ermon 2020); not in
        Alg. 8.
    x_start, dtype, return_trajectory, seed
        Starting points (default :math:`\mathcal N(0, \sigma_1^2 I)`), dtype, return the state after each level
        ((L + 1, n, d)), seed (None: torch's current generator).

    Returns
    -------
    torch.Tensor
        Shape (n, d) (and the trajectory).
    """
    num_samples = check_int(num_samples, "num_samples")
    features = check_int(features, "features")
    eps = check_positive(step_size, "step_size")
    steps = check_int(steps_per_level, "steps_per_level")
    with maybe_seeded(seed):
        sig = sigmas.to(dtype)
        x = sig[0] * torch.randn(num_samples, features, dtype=dtype) if x_start is None else x_start
        path = [x] if return_trajectory else None
        for sigma in sig:
            alpha = eps * sigma ** 2 / sig[-1] ** 2
            level = sigma.expand(num_samples, 1)
            for _ in range(steps):
                x = x + 0.5 * alpha * score(x, level) + alpha.sqrt() * torch.randn_like(x)
            if path is not None:
                path.append(x)
        if denoise:
            x = x + sig[-1] ** 2 * score(x, sig[-1].expand(num_samples, 1))
    return (x, torch.stack(path)) if path is not None else x


class NCSN(nn.Module):
    r"""A noise-conditional score network (module docstring) as a :class:`~pgm_ppl.training.Trainable`.

    Parameters
    ----------
    network
        :math:`f_\theta(x, c)` (``TimeConditionedMLP``-like: ``network(x, c)`` with ``c`` of shape (n,)).
    sigmas
        The geometric levels (L,), decreasing.
    step_size, steps_per_level, denoise
        Settings of :meth:`sample` (annealed Langevin).

    Notes
    -----
    ``loss(x)`` is :func:`ncsn_loss` (a regression loss, no likelihood); ``sample(n)`` runs Alg. 8 from torch's
    current generator; ``score(x, sigma)``; ``sde`` and ``sde_score(x, t)`` give the VE SDE view for
    :func:`~pgm_ppl.diffusion.reverse_sde_sample`.
    """

    def __init__(self, network: nn.Module, sigmas: torch.Tensor, *, step_size: float = 2e-5,
                 steps_per_level: int = 100, denoise: bool = True) -> None:
        super().__init__()
        sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
        if sigmas.ndim != 1 or sigmas.numel() < 2 or not bool((sigmas.diff() < 0).all() and (sigmas > 0).all()):
            raise ValueError(f"sigmas: expected a decreasing 1-D sequence of positive levels, got {sigmas.tolist()}.")
        self.network = network
        self.register_buffer("sigmas", sigmas)
        self.step_size = check_positive(step_size, "step_size")
        self.steps_per_level = check_int(steps_per_level, "steps_per_level")
        self.denoise = bool(denoise)

    def noise_embedding(self, sigma: torch.Tensor) -> torch.Tensor:
        r""":math:`c(\sigma) = 1000\log(\sigma/\sigma_L)/\log(\sigma_1/\sigma_L)`."""
        lo, hi = math.log(float(self.sigmas[-1])), math.log(float(self.sigmas[0]))
        return 1000.0 * (torch.log(sigma) - lo) / (hi - lo)

    def score(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        r""":math:`s_\theta(x, \sigma) = f_\theta(x, c(\sigma))/\sigma`; ``sigma`` a number or (n, 1)."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        sigma = sigma.expand(x.shape[0], 1) if sigma.numel() == 1 else sigma.reshape(-1, 1)
        return self.network(x, self.noise_embedding(sigma[:, 0])) / sigma

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The NCSN loss (9.9) on a batch (a mean)."""
        return ncsn_loss(self.score, x, self.sigmas)

    @property
    def sde(self) -> VESDE:
        """The VE SDE from :math:`\\sigma_L` to :math:`\\sigma_1`."""
        return VESDE(float(self.sigmas[-1]), float(self.sigmas[0]))

    def sde_score(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """:math:`s_\\theta(x, \\sigma(t))` on the VE SDE's time :math:`t \\in [0, 1]`."""
        return self.score(x, self.sde.sigma(torch.as_tensor(t, dtype=x.dtype)))

    def sample(self, num_samples: int) -> torch.Tensor:
        """Annealed Langevin draws (Alg. 8), shape (num_samples, d)."""
        dtype = next(self.parameters()).dtype
        return annealed_langevin(self.score, self.sigmas, num_samples, self.network.features,
                                 step_size=self.step_size, steps_per_level=self.steps_per_level,
                                 denoise=self.denoise, dtype=dtype)


def ncsn(features: int, *, num_levels: int = 10, sigma_max: float = 10.0, sigma_min: float = 0.01,
         hidden_features: Sequence[int] | int = (128, 128, 128), time_features: int = 32, step_size: float = 2e-5,
         steps_per_level: int = 100, seed: int = 0) -> NCSN:
    """An :class:`NCSN` on ``features`` dimensions with geometric levels (9.7) and a time-conditioned MLP, built
    under ``torch_seeded(seed)``. Song & Ermon (2020) advise :math:`\\sigma_1` near the largest distance between
    data points.

    Examples
    --------
    >>> model = ncsn(2, num_levels=4, hidden_features=16, steps_per_level=5)
    >>> model.sample(3).shape
    torch.Size([3, 2])
    """
    features = check_int(features, "features")
    check_int(seed, "seed", minimum=0)
    if isinstance(hidden_features, int):
        hidden_features = (check_int(hidden_features, "hidden_features"),) * 3
    sigmas = geometric_sigmas(sigma_max, sigma_min, num_levels)
    with torch_seeded(seed):
        network = TimeConditionedMLP(features, hidden_features=hidden_features, time_features=time_features)
    return NCSN(network, sigmas, step_size=step_size, steps_per_level=steps_per_level)
