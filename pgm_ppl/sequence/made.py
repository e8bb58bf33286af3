r"""NADE and MADE: autoregressive models of binary vectors with exact likelihoods (course §7.1 on images).

Both factorise a binary vector :math:`x \in \{0,1\}^D` along an ordering :math:`o` of its coordinates,

.. math::
    p(x) = \prod_{i=1}^{D} p(x_{o_i} \mid x_{o_{<i}}), \qquad
    p(x_{o_i} = 1 \mid x_{o_{<i}}) = \sigma\big(s_i(x_{o_{<i}})\big),

so :math:`\log p(x)` is exact and a sample takes :math:`D` network passes.

- **NADE** [Larochelle2011]_ shares one hidden layer across the conditionals:
  :math:`h_i = \sigma(c + W_{:, o_{<i}} x_{o_{<i}})`, :math:`s_i = b_{o_i} + V_{o_i} \cdot h_i`; the pre-activations
  are a running sum, so all :math:`D` conditionals cost :math:`O(DH)`.
- **MADE** [Germain2015]_ masks the weights of an MLP so that output :math:`i` depends on inputs earlier in the
  ordering only: each hidden unit gets a degree :math:`m(k) \in \{1..D-1\}`; a weight from a unit of degree
  :math:`m'` to a hidden unit of degree :math:`m` is kept iff :math:`m \ge m'`, and to output :math:`d` iff
  :math:`o^{-1}(d) > m'`. All :math:`D` conditionals come from one pass.

**Order-agnostic ensembles.** With ``num_masks`` (MADE: orderings and hidden degrees) or ``num_orderings`` (NADE)
greater than one, each training batch uses one mask drawn at random (connectivity-agnostic training,
[Germain2015]_ §3.3 and [Uria2014]_), and the density is the equal-weight mixture of the :math:`S` autoregressive
models, :math:`\log p(x) = \log \tfrac1S \sum_s p_s(x)` (a log-mean-exp of joint likelihoods, never of
conditionals), still exact and normalised. The training loss is then :math:`-\log p_s(x)` for a random :math:`s`,
whose expectation bounds :math:`-\log p(x)` from above (Jensen).

References
----------
.. [Larochelle2011] H. Larochelle and I. Murray, "The neural autoregressive distribution estimator", AISTATS 2011.
.. [Germain2015] M. Germain, K. Gregor, I. Murray and H. Larochelle, "MADE: masked autoencoder for distribution
   estimation", ICML 2015.
.. [Uria2014] B. Uria, I. Murray and H. Larochelle, "A deep and tractable density estimator", ICML 2014.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int

__all__ = ["MADE", "NADE", "made", "nade"]


class _BinaryAutoregressive(nn.Module):
    """Shared Pyro model, ensemble ``log_prob`` and sequential ``sample`` of NADE and MADE."""

    log_prob_kind = "exact"

    def __init__(self, features: int, num_masks: int):
        super().__init__()
        self.features = check_int(features, "features", minimum=2)
        self.num_masks = check_int(num_masks, "num_masks")

    def logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:  # pragma: no cover - abstract
        """Logits of :math:`p(x_d = 1 \\mid x_{o_{<o^{-1}(d)}})` for every coordinate ``d``, shape ``(n, D)``."""
        raise NotImplementedError

    def ordering(self, mask: int = 0) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, x: Any) -> torch.Tensor:
        """``x`` (tensor, array or nested list) as a tensor of the module's dtype, after checking it is 0/1 rows."""
        weight = next(self.parameters())
        x = torch.as_tensor(x if isinstance(x, torch.Tensor) else np.asarray(x), device=weight.device)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"x: expected binary rows of shape (n, {self.features}), got shape {tuple(x.shape)}.")
        if not torch.jit.is_tracing() and bool(torch.any((x != 0) & (x != 1))):
            raise ValueError(f"x: expected pixels equal to 0 or 1, got values in [{x.min().item()}, "
                             f"{x.max().item()}]; binarise the data (pgm_ppl.data.images.load_binarized_digits, "
                             "or --data binarized_digits on the command line).")
        return x.to(weight.dtype)

    def model(self, x: torch.Tensor) -> None:
        """Pyro model: :math:`x_n \\sim \\prod_i \\mathrm{Bernoulli}(\\sigma(s_i))` under one mask drawn at random."""
        pyro.module("autoregressive", self)
        mask = int(torch.randint(self.num_masks, ())) if self.num_masks > 1 else 0
        x = self._check(x)
        logits = self.logits(x, mask)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Bernoulli(logits=logits).to_event(1), obs=x.to(logits.dtype))

    def log_prob_mask(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        """:math:`\\log p_s(x)` under one mask, shape ``(n,)``, nats."""
        x = self._check(x)
        return -F.binary_cross_entropy_with_logits(self.logits(x, mask), x, reduction="none").sum(-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log \\tfrac1S\\sum_s p_s(x)` per row, shape ``(n,)``, nats."""
        per_mask = torch.stack([self.log_prob_mask(x, s) for s in range(self.num_masks)])
        return torch.logsumexp(per_mask, 0) - math.log(self.num_masks)

    @torch.no_grad()
    def sample(self, num_samples: int, *, mask: int | None = None) -> torch.Tensor:
        """``num_samples`` binary rows, ``(num_samples, D)``: a mixture component per row (or ``mask``), then the
        coordinates in its ordering, one network pass per coordinate (torch's current generator)."""
        num_samples = check_int(num_samples, "num_samples")
        dtype = next(self.parameters()).dtype
        device = next(self.parameters()).device
        x = torch.zeros(num_samples, self.features, dtype=dtype, device=device)
        components = (torch.randint(self.num_masks, (num_samples,), device=device) if mask is None
                      else torch.full((num_samples,), check_int(mask, "mask", minimum=0), device=device))
        for s in components.unique().tolist():
            rows = components == s
            part = x[rows]
            for d in self.ordering(s).tolist():
                probs = torch.sigmoid(self.logits(part, s)[:, d])
                part[:, d] = torch.bernoulli(probs)
            x[rows] = part
        return x


class MADE(_BinaryAutoregressive):
    """Masked autoencoder for distribution estimation [Germain2015]_ (see the module docstring).

    Parameters
    ----------
    features
        :math:`D`, the number of binary coordinates.
    hidden_features
        Widths of the masked hidden layers (ReLU).
    num_masks
        :math:`S` orderings and degree assignments (1: the natural ordering 0..D-1 and one fixed mask).
    seed
        Seed of the random orderings and hidden degrees (the weights are drawn by the factory :func:`made`).
    """

    def __init__(self, features: int, hidden_features: tuple[int, ...] = (256, 256), num_masks: int = 1,
                 seed: int = 0):
        super().__init__(features, num_masks)
        widths = [features, *(check_int(h, "hidden_features") for h in hidden_features), features]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        rng = np.random.default_rng(seed)
        masks: list[list[np.ndarray]] = [[] for _ in self.layers]
        orderings = []
        for s in range(num_masks):
            order = np.arange(features) if s == 0 else rng.permutation(features)
            degrees = [np.empty(features, dtype=int)]
            degrees[0][order] = np.arange(1, features + 1)  # m(input d) = its position in the ordering
            for h in widths[1:-1]:
                low = min(int(degrees[-1].min()), features - 1)
                degrees.append(rng.integers(low, features, size=h))  # in [low, D-1]
            degrees.append(degrees[0])
            for i in range(len(self.layers)):
                last = i == len(self.layers) - 1
                keep = degrees[i + 1][:, None] > degrees[i][None, :] if last else \
                    degrees[i + 1][:, None] >= degrees[i][None, :]
                masks[i].append(keep)
            orderings.append(order)
        for i, stack in enumerate(masks):
            self.register_buffer(f"mask_{i}", torch.as_tensor(np.stack(stack), dtype=torch.get_default_dtype()))
        self.register_buffer("orderings", torch.as_tensor(np.stack(orderings)))

    def ordering(self, mask: int = 0) -> torch.Tensor:
        return self.orderings[mask]

    def logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        h = x
        for i, layer in enumerate(self.layers):
            h = F.linear(h, layer.weight * getattr(self, f"mask_{i}")[mask].to(layer.weight.dtype), layer.bias)
            if i < len(self.layers) - 1:
                h = F.relu(h)
        return h


class NADE(_BinaryAutoregressive):
    """Neural autoregressive distribution estimator [Larochelle2011]_ with ``num_orderings`` orderings sharing
    its weights (1: the natural ordering); see the module docstring."""

    def __init__(self, features: int, hidden_features: int = 128, num_orderings: int = 1, seed: int = 0):
        super().__init__(features, num_orderings)
        H = check_int(hidden_features, "hidden_features")
        self.W = nn.Parameter(torch.randn(H, features) / math.sqrt(features))
        self.c = nn.Parameter(torch.zeros(H))
        self.V = nn.Parameter(torch.randn(features, H) / math.sqrt(H))
        self.b = nn.Parameter(torch.zeros(features))
        rng = np.random.default_rng(seed)
        orders = [np.arange(features)] + [rng.permutation(features) for _ in range(num_orderings - 1)]
        self.register_buffer("orderings", torch.as_tensor(np.stack(orders)))

    def ordering(self, mask: int = 0) -> torch.Tensor:
        return self.orderings[mask]

    def logits(self, x: torch.Tensor, mask: int = 0) -> torch.Tensor:
        order = self.orderings[mask]
        xo = x[:, order]                                            # coordinates in the ordering
        contributions = xo[:, :, None] * self.W[:, order].T[None]   # (n, D, H): W_{:, o_j} x_{o_j}
        a = self.c + torch.cumsum(contributions, dim=1) - contributions  # the running sum over j < i
        s = (torch.sigmoid(a) * self.V[order][None]).sum(-1) + self.b[order]
        out = torch.empty_like(s)
        out[:, order] = s
        return out


def made(features: int, *, hidden_features: int | tuple[int, ...] = (256, 256), num_masks: int = 1,
         seed: int = 0) -> MADE:
    """Build a :class:`MADE` (an integer ``hidden_features`` h means ``(h, h)``) under ``torch_seeded(seed)``.

    Examples
    --------
    >>> import torch
    >>> model = made(3, hidden_features=8)
    >>> everything = torch.tensor([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=torch.float32)
    >>> round(model.log_prob(everything).exp().sum().item(), 5)
    1.0
    """
    check_int(seed, "seed", minimum=0)
    if isinstance(hidden_features, (int, np.integer)):
        hidden_features = (check_int(hidden_features, "hidden_features"),) * 2
    with torch_seeded(seed):
        return MADE(features, tuple(hidden_features), num_masks, seed)


def nade(features: int, *, hidden_features: int = 128, num_orderings: int = 1, seed: int = 0) -> NADE:
    """Build a :class:`NADE` under ``torch_seeded(seed)``."""
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        return NADE(features, hidden_features, num_orderings, seed)
