r"""Conditional flow matching as a trainable model: :class:`FlowMatchingModel` (course §8, eqs. (8.15)-(8.24)).

A vector field :math:`v_\theta(t, x)` is regressed onto the conditional target of a probability path,

.. math::
    \mathcal L_{\mathrm{CFM}}(\theta) = \mathbb E_{t \sim U(0,1),\, (x_0, x_1) \sim \pi,\, \varepsilon}
    \frac1d\bigl\|v_\theta(t, x_t) - u_t(x_0, x_1, \varepsilon)\bigr\|^2,

course eq. (8.15) divided by the dimension :math:`d` (the mean over coordinates, as torchcfm's ``torch.mean``); by
Thm 8.2 its gradient is that of the intractable FM loss (8.8). **This is a regression loss, not an ELBO**: its value
bounds no log-likelihood, and :func:`pgm_ppl.training.train` runs it as a custom loss (the module's ``loss``
method; ``Fit.objective == "regression"``).

The trained field is a continuous normalising flow (:class:`pgm_ppl.flows.ContinuousFlow`): :meth:`sample` solves
:math:`\dot x = v_\theta(t, x)` from :math:`x_0 \sim \mathcal N(0, I)` at :math:`t = 0` to :math:`t = 1`, and
:meth:`log_prob` is its **exact** log-density by the instantaneous change of variables (one solve of the augmented
ODE backwards). Choosing the path and coupling gives the methods of Tong et al.'s table:

========================  ==================================================  ==============================
method                    path                                                coupling
========================  ==================================================  ==============================
FM (Lipman et al.)        :class:`LipmanOTPath` (:math:`\sigma_{\min}`)        independent
RF (rectified flow)       :class:`LinearPath` (:math:`\sigma = 0`)             independent (reflow: pairs)
I-CFM                     :class:`LinearPath` (:math:`\sigma`)                 independent
OT-CFM                    :class:`LinearPath` (:math:`\sigma`)                 exact minibatch OT
SB-CFM                    :class:`BrownianBridgePath` (:math:`\sigma`)         Sinkhorn, reg :math:`2\sigma^2`
========================  ==================================================  ==============================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.flow_matching.couplings import Coupling, IndependentCoupling, make_coupling
from pgm_ppl.flow_matching.paths import ProbabilityPath, make_path
from pgm_ppl.flows._rows import as_rows
from pgm_ppl.flows._rows import reference_tensor as _reference
from pgm_ppl.flows.continuous import ContinuousFlow
from pgm_ppl.nn import ACTIVATIONS, MLP

__all__ = ["FlowMatchingModel", "VectorField", "cfm_model", "fm_lipman", "i_cfm", "ot_cfm", "rectified_flow",
           "sb_cfm"]

SOLVERS = ("euler", "midpoint", "rk4", "dopri5")


def _mlp(in_features: int, out_features: int, hidden_features: Sequence[int] | int, activation: str) -> MLP:
    """:class:`pgm_ppl.nn.MLP`, with SELU (Tong et al.'s activation) until ``pgm_ppl.nn.ACTIVATIONS`` names it."""
    if activation != "selu" or "selu" in ACTIVATIONS:
        return MLP(in_features, out_features, hidden_features, activation)
    net = MLP(in_features, out_features, hidden_features, "elu")
    for index, layer in enumerate(list(net)):
        if isinstance(layer, nn.ELU):
            net[index] = nn.SELU()
    net.activation = "selu"
    return net


class VectorField(nn.Module):
    r"""A time-dependent vector field :math:`v_\theta(t, x[, c]) = \mathrm{MLP}([x, t, c])` on :math:`\mathbb R^d`.

    The time enters as one raw input coordinate, as in torchcfm's ``MLP(time_varying=True)`` and the notes' demo
    network (MLP 3 -> 64 -> 64 -> 64 -> 2); a context :math:`c` (e.g. a one-hot class label, ``context_features``
    wide) is concatenated for conditional generation.

    ``forward(t, x, context=None)`` takes ``t`` a scalar (as an ODE solver passes it) or one time per row and ``x``
    of shape ``(n, d)``; it returns ``(n, d)``. This is the field signature of :class:`pgm_ppl.flows.ContinuousFlow`.
    """

    def __init__(self, features: int, hidden_features: Sequence[int] | int = (64, 64, 64),
                 activation: str = "selu", context_features: int = 0) -> None:
        super().__init__()
        self.features = check_int(features, "features")
        self.context_features = check_int(context_features, "context_features", minimum=0)
        self.net = _mlp(self.features + 1 + self.context_features, self.features, hidden_features, activation)

    def forward(self, t: torch.Tensor | float, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t.reshape(-1)
        inputs = [x, t[:, None]]
        if self.context_features:
            if context is None:
                raise ValueError(f"context: expected a tensor of shape ({x.shape[0]}, {self.context_features}) "
                                 "for this conditional field, got None.")
            inputs.append(context.to(x.dtype))
        return self.net(torch.cat(inputs, dim=-1))


class FlowMatchingModel(nn.Module):
    r"""A conditional-flow-matching model: a field, a probability path and a coupling (module docstring).

    Parameters
    ----------
    field
        The network :math:`v_\theta(t, x[, c])`, e.g. :class:`VectorField`.
    path
        A :class:`~pgm_ppl.flow_matching.ProbabilityPath` or its name (:func:`make_path`).
    coupling
        A :class:`~pgm_ppl.flow_matching.Coupling` or its name (:func:`make_coupling`).
    source
        ``"gaussian"`` (:math:`x_0 \sim \mathcal N(0, I)`, drawn per batch; batches are target rows ``x1`` or
        ``(x1, y)`` with integer labels ``y`` when ``num_classes`` is set) or ``"data"`` (batches are pairs
        ``(x0, x1)`` of equal-length source and target rows, as ``train(model, (X0, X1))`` yields them: two
        independent samples for a data-to-data problem), or ``"gaussian_pairs"`` (batches are given pairs
        ``(x0, x1)`` with :math:`x_0 \sim \mathcal N(0, I)`, e.g. the reflow pairs of :func:`reflow_pairs`).
    num_classes
        Class-conditional generation: the field receives the one-hot label as its context.
    solver, num_steps, atol, rtol
        How :meth:`sample` solves the ODE (:class:`pgm_ppl.flows.ContinuousFlow`'s solvers).
    log_prob_solver, log_prob_tol
        The solver (adaptive Dormand-Prince by default) and tolerance of :meth:`log_prob`'s exact solve.

    Notes
    -----
    ``loss(batch)`` is the CFM regression loss (not an ELBO); ``log_prob(x)`` is exact (``log_prob_kind =
    "exact"``, nats) for a Gaussian source; ``sample(n)`` draws from torch's current generator.
    """

    log_prob_kind = "exact"

    def __init__(self, field: nn.Module, *, path: str | ProbabilityPath = "linear",
                 coupling: str | Coupling = "independent", source: str = "gaussian", num_classes: int | None = None,
                 solver: str = "euler", num_steps: int = 100, atol: float = 1e-5, rtol: float = 1e-5,
                 log_prob_solver: str = "dopri5", log_prob_tol: float = 1e-5) -> None:
        super().__init__()
        self.field = field
        self.path = make_path(path)
        self.coupling = make_coupling(coupling)
        self.source = check_choice(source, "source", ("gaussian", "data", "gaussian_pairs"))
        if self.path.noise_is_source and self.source == "data":
            raise ValueError(f"source: expected 'gaussian' for {type(self.path).__name__} (its source draw is the "
                             f"path's Gaussian noise), got {source!r}.")
        self.num_classes = None if num_classes is None else check_int(num_classes, "num_classes", minimum=2)
        self.features = getattr(field, "features", None)
        self.solver = check_choice(solver, "solver", SOLVERS)
        self.num_steps = check_int(num_steps, "num_steps")
        self.atol, self.rtol = check_positive(atol, "atol"), check_positive(rtol, "rtol")
        self.log_prob_solver = check_choice(log_prob_solver, "log_prob_solver", SOLVERS)
        self.log_prob_tol = check_positive(log_prob_tol, "log_prob_tol")
        self.last_nfe = 0  # field evaluations of the last sample / log_prob solve

    # --- training -----------------------------------------------------------------------------------------------

    def _context(self, labels: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
        if self.num_classes is None:
            return None
        if labels is None:
            raise ValueError(f"labels: expected integer labels in [0, {self.num_classes}) for this conditional "
                             "model, got None.")
        labels = torch.as_tensor(labels, device=like.device).long().reshape(-1)
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels: expected integers in [0, {self.num_classes}), got values in "
                             f"[{int(labels.min())}, {int(labels.max())}].")
        return nn.functional.one_hot(labels, self.num_classes).to(like.dtype)

    def ends(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(x0, x1, labels)`` of a training batch (see ``source`` and ``num_classes``)."""
        if self.source in ("data", "gaussian_pairs"):
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError("batch: expected a pair (x0, x1) of source and target rows for source="
                                 f"{self.source!r}, got {type(batch).__name__}.")
            return batch[0], batch[1], None
        labels = None
        if self.num_classes is not None:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError("batch: expected a pair (x1, labels) for a conditional model (num_classes="
                                 f"{self.num_classes}), got {type(batch).__name__}.")
            batch, labels = batch
        elif isinstance(batch, (tuple, list)):
            batch = batch[0]
        return torch.randn_like(batch), batch, labels

    def loss(self, batch: Any) -> torch.Tensor:
        r"""The CFM loss (8.15) on one batch: couple, draw :math:`t \sim U(0,1)`, regress onto :math:`u_t`."""
        x0, x1, labels = self.ends(batch)
        if not isinstance(self.coupling, IndependentCoupling):  # independent batches are already paired
            source_index, target_index = self.coupling.pair(x0, x1)
            x0, x1 = x0[source_index], x1[target_index]
            labels = None if labels is None else labels[target_index]
        context = self._context(labels, x1)
        t = torch.rand(x1.shape[0], dtype=x1.dtype, device=x1.device)
        xt, ut, _ = self.path.sample_and_target(t, x0, x1)
        return (self.velocity(t, xt, context) - ut).pow(2).mean()

    def velocity(self, t: torch.Tensor | float, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """The learned field :math:`v_\\theta(t, x[, c])`, shape ``(n, d)``."""
        return self.field(t, x) if context is None else self.field(t, x, context)

    # --- the trained field as a continuous flow -------------------------------------------------------------------

    def flow(self, *, solver: str | None = None, num_steps: int | None = None, atol: float | None = None,
             rtol: float | None = None, labels: Any = None) -> ContinuousFlow:
        """The field as a :class:`pgm_ppl.flows.ContinuousFlow` from :math:`t = 0` (source) to :math:`t = 1` (data),
        with this model's solver settings unless given (bound to the one-hot ``labels`` for a conditional model)."""
        flow = ContinuousFlow(self.field, features=self._features(), t0=0.0, t1=1.0,
                              solver=self.solver if solver is None else check_choice(solver, "solver", SOLVERS),
                              num_steps=self.num_steps if num_steps is None else check_int(num_steps, "num_steps"),
                              atol=self.atol if atol is None else atol, rtol=self.rtol if rtol is None else rtol)
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("labels: expected None for an unconditional model (num_classes=None), got "
                                 f"{type(labels).__name__}; train on (X, y) with num_classes to condition.")
            return flow
        return flow.with_context(self._context(labels, _reference(self)))

    def _features(self) -> int:
        if self.features is None:
            raise ValueError("field: expected a module with a 'features' attribute (the dimension d).")
        return int(self.features)

    @torch.no_grad()
    def sample(self, num_samples: int, *, x0: torch.Tensor | None = None, labels: Any = None,
               solver: str | None = None, num_steps: int | None = None) -> torch.Tensor:
        """Push ``num_samples`` source draws (or the given rows ``x0``) through the learned ODE to :math:`t = 1`.

        Returns ``(num_samples, d)``. A ``source="data"`` model needs ``x0``; a conditional one draws from the class
        ``labels`` (one per row), or from uniformly drawn classes when None.
        """
        x0 = self._source_rows(num_samples, x0)
        if self.num_classes is not None and labels is None:
            labels = torch.randint(0, self.num_classes, (x0.shape[0],), device=x0.device)
        flow = self.flow(solver=solver, num_steps=num_steps, labels=labels)
        x1 = flow.transport(x0)
        self.last_nfe = flow.nfe
        return x1

    @torch.no_grad()
    def trajectory(self, times: Sequence[float] | torch.Tensor, *, num_samples: int = 300,
                   x0: torch.Tensor | None = None, labels: Any = None, solver: str | None = None,
                   num_steps: int | None = None) -> torch.Tensor:
        """Particles at the given ``times`` (Fig. 8.1), shape ``(len(times), n, d)``."""
        x0 = self._source_rows(num_samples, x0)
        times = torch.as_tensor(times, dtype=x0.dtype, device=x0.device)
        if times.numel() and (bool((times < 0).any()) or bool((times > 1).any())):
            raise ValueError("times: expected times in [0, 1] (the field is trained on t in [0, 1]), got values in "
                             f"[{float(times.min()):g}, {float(times.max()):g}].")
        return self.flow(solver=solver, num_steps=num_steps, labels=labels).trajectory(x0, times)

    def _source_rows(self, num_samples: int, x0: torch.Tensor | None) -> torch.Tensor:
        reference = _reference(self)
        if x0 is not None:
            return as_rows(x0, self._features(), reference, "x0")
        if self.source == "data":
            raise ValueError("x0: expected source rows for a model trained with source='data' (its source law is "
                             "known only through data), got None.")
        num_samples = check_int(num_samples, "num_samples")
        return torch.randn(num_samples, self._features(), dtype=reference.dtype, device=reference.device)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, *, labels: Any = None) -> torch.Tensor:
        r"""Exact :math:`\log p_1(x)` (conditional: :math:`\log p_1(x \mid y)` for ``labels`` :math:`y`, or ``x``
        given as a pair ``(x, labels)``) per row, shape ``(n,)``, nats: :math:`\log\mathcal N(x_0; 0, I) -
        \int_0^1 \nabla\!\cdot v_\theta(t, x_t)\,dt` along the ODE solved backwards from :math:`x_1 = x` (one
        adaptive solve of the augmented state with the exact divergence, :class:`pgm_ppl.flows.ContinuousFlow`)."""
        if self.source == "data":
            raise ValueError("log_prob: the model's source law is known only through data (source='data'); "
                             "a density needs source='gaussian'.")
        if isinstance(x, (tuple, list)) and len(x) == 2 and isinstance(x[0], (torch.Tensor, np.ndarray)):
            x, pair_labels = x  # (x, labels): the rows of a conditional model, as train's density passes them
            labels = pair_labels if self.num_classes is not None else None
        x = as_rows(x, self._features(), _reference(self))
        flow = self.flow(solver=self.log_prob_solver, atol=self.log_prob_tol, rtol=self.log_prob_tol,
                         labels=labels)
        x0, delta = flow.integrate(x, 1.0, 0.0)  # delta = int_1^0 div v dt = -int_0^1 div v dt
        self.last_nfe = flow.nfe
        log_base = -0.5 * x0.pow(2).sum(-1) - 0.5 * x0.shape[-1] * math.log(2 * math.pi)
        return log_base + delta


# --- factories (pgm-ppl train and the benchmark) ---------------------------------------------------------------------

def cfm_model(features: int, *, path: str | ProbabilityPath = "linear", coupling: str | Coupling = "independent",
              sigma: float = 0.1, hidden_features: Sequence[int] | int = (64, 64, 64), activation: str = "selu",
              source: str = "gaussian", num_classes: int | None = None, solver: str = "euler",
              num_steps: int = 100, seed: int = 0, reg: float | None = None) -> FlowMatchingModel:
    """A :class:`FlowMatchingModel` with a :class:`VectorField` MLP, weights drawn under ``torch_seeded(seed)``.

    ``sigma`` is the path's noise (:math:`\\sigma_{\\min}` for Lipman's path); ``reg`` the Sinkhorn coupling's
    regularisation. Defaults are Tong et al.'s 2-D settings: MLP 3 x 64 SELU, :math:`\\sigma = 0.1`, 100 Euler
    steps.
    """
    features = check_int(features, "features")
    seed = check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        field = VectorField(features, hidden_features, activation, num_classes or 0)
    return FlowMatchingModel(field, path=make_path(path, sigma), coupling=make_coupling(coupling, reg=reg),
                             source=source, num_classes=num_classes, solver=solver, num_steps=num_steps)


def _factory(name: str, doc: str, path: str, coupling: str, default_sigma: float) -> Callable[..., FlowMatchingModel]:
    def factory(features: int, *, sigma: float = default_sigma, seed: int = 0, **options: Any) -> FlowMatchingModel:
        return cfm_model(features, path=path, coupling=coupling, sigma=sigma, seed=seed, **options)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc + " Other options as :func:`cfm_model`."
    return factory


ot_cfm = _factory("ot_cfm", "OT-CFM (Tong et al. 2024): linear path with ``sigma`` (0.1), exact minibatch OT coupling.",
                  "linear", "exact_ot", 0.1)
i_cfm = _factory("i_cfm", "I-CFM (Tong et al. 2024): linear path with ``sigma`` (0.1), independent coupling.",
                 "linear", "independent", 0.1)
rectified_flow = _factory("rectified_flow", "Rectified flow (Liu et al. 2023), course eqs. (8.22)-(8.24): linear "
                          "path with ``sigma = 0``, independent coupling.", "linear", "independent", 0.0)
fm_lipman = _factory("fm_lipman", "Flow matching with Lipman et al.'s OT path, ``sigma`` = sigma_min (0.1), "
                     "course eqs. (8.20)-(8.21).", "lipman", "independent", 0.1)


def sb_cfm(features: int, *, sigma: float = 1.0, seed: int = 0, **options: Any) -> FlowMatchingModel:
    """Schrödinger-bridge CFM (Tong et al. 2024): Brownian-bridge path with ``sigma``, Sinkhorn coupling with
    ``reg = 2 sigma^2`` (the entropic OT problem whose solution the Schrödinger bridge's end points follow)."""
    sigma = check_positive(sigma, "sigma")
    return cfm_model(features, path="brownian_bridge", coupling="sinkhorn", sigma=sigma, reg=2 * sigma ** 2,
                     seed=seed, **options)
