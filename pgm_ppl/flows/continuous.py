r"""Continuous normalising flows (course chapter 8, §8.3, eqs. (8.9)-(8.13)): one ODE solve is the transform.

A time-dependent vector field :math:`v_t(x)` defines the flow :math:`\dot x_t = v_t(x_t)`. Mapping a point from
:math:`t_0` to :math:`t_1` is invertible (integrate backwards), and the log-determinant of its Jacobian obeys the
instantaneous change of variables (Chen et al. 2018, "Neural ordinary differential equations", Thm 1):

.. math::
    \frac{d}{dt} \log \big|\det \tfrac{\partial x_t}{\partial x_{t_0}}\big| = \nabla\!\cdot v_t(x_t)
    = \operatorname{tr} \frac{\partial v_t}{\partial x}(x_t),

so :math:`\log p_{t_1}(x_{t_1}) = \log p_{t_0}(x_{t_0}) - \int_{t_0}^{t_1} \nabla\!\cdot v_t(x_t)\,dt`. The state and
the divergence integral are solved together as one augmented ODE. The trace is exact (``d`` vector-Jacobian
products) or Hutchinson's unbiased estimate :math:`\mathbb E[\varepsilon^\top (\partial v/\partial x)\, \varepsilon]`
with Rademacher or Gaussian probes held fixed over a solve (Grathwohl et al. 2019, FFJORD).

The solvers are torchdiffeq's (Chen): ``"euler"``, ``"midpoint"``, ``"rk4"`` on ``num_steps`` equal steps, and the
adaptive Dormand-Prince ``"dopri5"`` with ``atol``/``rtol``; ``adjoint=True`` back-propagates by the adjoint ODE
(memory constant in the number of steps). The number of field evaluations of the last solve is ``nfe``.

:class:`ContinuousFlow` is a :class:`pyro.distributions.torch_transform.TransformModule`, so it sits inside
:class:`pyro.distributions.TransformedDistribution` like any flow; the vector field is any callable
``field(t, x)`` (or ``field(t, x, context)``), so flow matching's learned field and a diffusion model's probability-
flow ODE are continuous flows with exact likelihoods. :class:`ContinuousFlowModel` is the trainable model (FFJORD-
style maximum likelihood through :func:`pgm_ppl.training.train`).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable
from typing import Any

import pyro
import pyro.distributions as dist
import torch
import torchdiffeq
from pyro.distributions.torch_transform import TransformModule
from torch import nn
from torch.distributions import constraints

from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.flows._rows import as_rows, reference_tensor

__all__ = ["ContinuousFlow", "ContinuousFlowModel", "SOLVERS", "divergence"]

SOLVERS = ("euler", "midpoint", "rk4", "dopri5")
FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4")
TRACES = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")


def divergence(output: torch.Tensor, x: torch.Tensor, probe: torch.Tensor | None = None, *,
               create_graph: bool = False) -> torch.Tensor:
    r"""The divergence :math:`\nabla\!\cdot v = \operatorname{tr}(\partial v / \partial x)` of ``output = v(x)``, per row.

    Exact with ``probe=None`` (one vector-Jacobian product per dimension); otherwise Hutchinson's estimate
    :math:`\varepsilon^\top (\partial v/\partial x)\,\varepsilon` with the given ``probe`` :math:`\varepsilon`
    (same shape as ``x``; unbiased when :math:`\mathbb E[\varepsilon\varepsilon^\top] = I`).

    Parameters
    ----------
    output, x
        ``output`` (n, d) computed from ``x`` (n, d) row by row (row i of ``output`` depends only on row i of ``x``).
    create_graph
        Keep the graph of the derivative (needed to train through the divergence).

    Returns
    -------
    torch.Tensor
        Shape (n,).
    """
    if probe is not None:
        (vjp,) = torch.autograd.grad(output, x, probe, create_graph=create_graph)
        return (vjp * probe).sum(-1)
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(x.shape[-1]):
        (row,) = torch.autograd.grad(output[:, i].sum(), x, create_graph=create_graph, retain_graph=True)
        total = total + row[:, i]
    return total


class _Dynamics(nn.Module):
    """The right-hand side :math:`v_t(x)` of the ODE (bound to a context, if any); counts its evaluations."""

    def __init__(self, field: Callable) -> None:
        super().__init__()
        self.field = field  # registered as a submodule when it is an nn.Module
        self.context: torch.Tensor | None = None
        self.nfe = 0

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        if self.context is None:
            return self.field(t, x)
        return self.field(t, x, self.context)


class _Augmented(nn.Module):
    r"""The augmented right-hand side :math:`(v_t(x), \nabla\cdot v_t(x))` of one solve, with its probe fixed."""

    def __init__(self, dynamics: _Dynamics, probe: torch.Tensor | None, create_graph: bool) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.probe = probe
        self.create_graph = create_graph

    def forward(self, t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = state[0]
        with torch.enable_grad():
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            v = self.dynamics(t, x)
            div = divergence(v, x, self.probe, create_graph=self.create_graph)
        if not self.create_graph:
            v, div = v.detach(), div.detach()
        return v, div


class ContinuousFlow(TransformModule):
    r"""The flow map of :math:`\dot x_t = v_t(x_t)` from time ``t0`` to time ``t1`` as a Pyro transform (eq. (8.9)).

    ``flow(u)`` solves from ``t0`` to ``t1`` and ``flow.inv(x)`` from ``t1`` back to ``t0``; each solve carries the
    divergence integral along (the augmented state), and :meth:`log_abs_det_jacobian` reuses the result of the
    solve that produced its arguments, so ``TransformedDistribution.log_prob`` solves once.

    Parameters
    ----------
    field
        The vector field ``field(t, x) -> dx/dt``, with ``t`` a 0-dim tensor and ``x`` of shape (n, features), or
        ``field(t, x, context)`` once bound to a context by :meth:`with_context`. Row ``i`` of the output must
        depend on row ``i`` of ``x`` only. An :class:`torch.nn.Module` field's parameters are registered.
    features
        The dimension ``d`` of ``x``.
    t0, t1
        Start (base) and end (data) times; ``t1 < t0`` is allowed (a diffusion's probability-flow ODE runs
        from ``T`` down to 0).
    solver
        ``"euler"``, ``"midpoint"``, ``"rk4"`` (``num_steps`` equal steps) or ``"dopri5"`` (adaptive, ``atol``,
        ``rtol``); all from torchdiffeq.
    trace
        ``"exact"`` or ``"hutchinson"`` (an unbiased estimate; ``probe`` ``"rademacher"`` or ``"gaussian"``,
        drawn from torch's current generator once per solve).
    adjoint
        Back-propagate through the solve with the adjoint method (``torchdiffeq.odeint_adjoint``).

    Raises
    ------
    ValueError, TypeError
        For an unknown ``solver``/``trace``/``probe``, ``features`` < 1, ``num_steps`` < 1, non-positive
        tolerances, a time that is not a finite number, ``t0 == t1``, or a field that is not callable.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True
    sign = +1

    def __init__(self, field: Callable, *, features: int, t0: float = 0.0, t1: float = 1.0, solver: str = "dopri5",
                 num_steps: int = 100, atol: float = 1e-5, rtol: float = 1e-5, trace: str = "exact",
                 probe: str = "rademacher", adjoint: bool = False) -> None:
        super().__init__(cache_size=0)  # no identity cache: a tensor scored after a weight update is re-solved
        if not callable(field):
            raise TypeError(f"field: expected a callable field(t, x), got {type(field).__name__}.")
        self.features = check_int(features, "features", minimum=1)
        self.solver = check_choice(solver, "solver", SOLVERS)
        self.num_steps = check_int(num_steps, "num_steps", minimum=1)
        self.atol = check_positive(atol, "atol")
        self.rtol = check_positive(rtol, "rtol")
        self.trace = check_choice(trace, "trace", TRACES)
        self.probe = check_choice(probe, "probe", PROBES)
        self.t0, self.t1 = _time(t0, "t0"), _time(t1, "t1")
        if self.t0 == self.t1:
            raise ValueError(f"t1: expected a time different from t0 = {self.t0}, got {self.t1}.")
        self.adjoint = bool(adjoint)
        self.dynamics = _Dynamics(field)
        self._log_det_cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    # --- what the flow is -------------------------------------------------------------------------------------------

    @property
    def field(self) -> Callable:
        """The vector field."""
        return self.dynamics.field

    @property
    def nfe(self) -> int:
        """Field evaluations in the last solve (including those of the divergence)."""
        return self.dynamics.nfe

    def with_context(self, context: torch.Tensor) -> ContinuousFlow:
        """This flow with its field bound to ``context`` (shape (n, c), one row per point): ``field(t, x, context)``.

        The returned flow shares the field (and its parameters) with this one.
        """
        bound = copy.copy(self)
        bound._modules = dict(self._modules)  # a shallow copy would share (and overwrite) the submodule table
        bound._inv = None
        bound.dynamics = copy.copy(self.dynamics)
        bound.dynamics.context = context
        bound._log_det_cache = None
        return bound

    condition = with_context  # Pyro's name for binding a conditional transform's context

    # --- solves ---------------------------------------------------------------------------------------------------

    def _odeint(self, func: nn.Module, state: Any, t: torch.Tensor) -> Any:
        """Solve ``func`` from ``state`` at ``t[0]``, returning the states at every time of ``t``."""
        options: dict[str, Any] = {}
        if self.solver in FIXED_STEP_SOLVERS:
            # num_steps equal steps over the span, with the observation times on the grid (torchdiffeq
            # interpolates between grid points). The grid runs in the direction of the times it is given (a
            # backward span, or the adjoint pass's own spans, run from high to low).
            steps = self.num_steps

            def grid(func: Any, y0: Any, t_seen: torch.Tensor) -> torch.Tensor:
                span = torch.linspace(float(t_seen[0]), float(t_seen[-1]), steps + 1, dtype=t_seen.dtype,
                                      device=t_seen.device)
                points = torch.unique(torch.cat([span, t_seen]))  # ascending
                return points if float(t_seen[-1]) > float(t_seen[0]) else points.flip(0)

            options["grid_constructor"] = grid
        kwargs = dict(method=self.solver, options=options, atol=self.atol, rtol=self.rtol)
        self.dynamics.nfe = 0
        if self.adjoint:
            params = tuple(p for p in func.parameters() if p.requires_grad)
            return torchdiffeq.odeint_adjoint(func, state, t, adjoint_params=params, **kwargs)
        return torchdiffeq.odeint(func, state, t, **kwargs)

    def integrate(self, x: torch.Tensor, t_start: float, t_end: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Solve from ``t_start`` to ``t_end`` with the divergence integral: one augmented solve.

        Returns
        -------
        (y, delta)
            ``y`` (n, d), the state at ``t_end``; ``delta`` (n,) :math:`= \int_{t_\text{start}}^{t_\text{end}}
            \nabla\!\cdot v_t(x_t)\,dt`, the log-determinant of the map ``x -> y`` (an unbiased estimate when
            ``trace="hutchinson"``). Then :math:`\log p_{t_\text{end}}(y) = \log p_{t_\text{start}}(x) - \delta`.
        """
        x = self._check_points(x)
        probe = None
        if self.trace == "hutchinson":
            probe = torch.randn_like(x) if self.probe == "gaussian" else torch.randint_like(x, 0, 2) * 2 - 1
        # The adjoint pass differentiates the augmented field itself, so it always keeps the divergence's graph.
        augmented = _Augmented(self.dynamics, probe, create_graph=self.adjoint or torch.is_grad_enabled())
        initial = (x, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
        xs, deltas = self._odeint(augmented, initial, _span(x, t_start, t_end))
        return xs[-1], deltas[-1]

    def transport(self, x: torch.Tensor, t_start: float | None = None, t_end: float | None = None) -> torch.Tensor:
        """Solve the ODE from ``t_start`` (default ``t0``) to ``t_end`` (default ``t1``) without the log-determinant:
        the cheap way to sample. Shape (n, d)."""
        x = self._check_points(x)
        t_start = self.t0 if t_start is None else float(t_start)
        t_end = self.t1 if t_end is None else float(t_end)
        return self._odeint(self.dynamics, x, _span(x, t_start, t_end))[-1]

    def trajectory(self, x: torch.Tensor, times: torch.Tensor | list[float]) -> torch.Tensor:
        """The states at each of ``times`` (monotone, starting where ``x`` is), shape (len(times), n, d).

        Fixed-step solvers step on ``num_steps`` equal steps over the span plus the requested times.
        """
        x = self._check_points(x)
        times = torch.as_tensor(times, dtype=x.dtype, device=x.device)
        if times.ndim != 1 or len(times) < 2:
            raise ValueError(f"times: expected a 1-D sequence of at least 2 times, got shape {tuple(times.shape)}.")
        steps = times.diff()
        if not (bool((steps > 0).all()) or bool((steps < 0).all())):
            raise ValueError("times: expected strictly monotone times, got a sequence that is not.")
        return self._odeint(self.dynamics, x, times)

    # --- the Transform interface ---------------------------------------------------------------------------------

    def _call(self, u: torch.Tensor) -> torch.Tensor:
        x, delta = self.integrate(u, self.t0, self.t1)
        self._log_det_cache = (u, x, delta)
        return x

    def _inverse(self, x: torch.Tensor) -> torch.Tensor:
        u, delta = self.integrate(x, self.t1, self.t0)
        self._log_det_cache = (u, x, -delta)
        return u

    def log_abs_det_jacobian(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log|\det \partial x / \partial u|` for ``x = flow(u)``, shape (n,), from the solve that produced
        ``u`` or ``x`` (a new forward solve if neither came from this flow)."""
        cached = self._log_det_cache
        if cached is not None and cached[0] is u and cached[1] is x:
            return cached[2]
        _, delta = self.integrate(u, self.t0, self.t1)
        return delta

    def _check_points(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: expected a torch.Tensor of shape (n, {self.features}), got {type(x).__name__}.")
        if x.ndim != 2 or x.shape[-1] != self.features:
            raise ValueError(f"x: expected shape (n, {self.features}), got {tuple(x.shape)}.")
        return x


def _time(value: Any, name: str) -> float:
    """``value`` as a finite float time, or a ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number (a time), got {value!r} ({type(value).__name__}).")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite time, got {value}.")
    return float(value)


def _span(x: torch.Tensor, t_start: float, t_end: float) -> torch.Tensor:
    """The times ``(t_start, t_end)`` as a tensor of ``x``'s dtype and device."""
    return torch.tensor([t_start, t_end], dtype=x.dtype, device=x.device)


class ContinuousFlowModel(nn.Module):
    r"""A continuous normalising flow as a trainable Pyro model: :math:`x = \phi_{t_0 \to t_1}(u)`, :math:`u \sim p_0`.

    ``model(x)`` observes each row of ``x`` under ``TransformedDistribution(base, [flow])`` inside a ``"data"``
    plate; with no guide the ELBO is exactly :math:`-\sum_n \log p(x_n)`, so :func:`pgm_ppl.training.train` fits it
    by maximum likelihood (FFJORD, Grathwohl et al. 2019). ``log_prob`` is exact with ``trace="exact"`` and an
    unbiased estimate of it with ``trace="hutchinson"`` (``log_prob_kind`` says which).

    Parameters
    ----------
    field
        The vector field (usually an :class:`torch.nn.Module`, e.g. :class:`pgm_ppl.nn.TimeConditionedMLP`).
    features
        Data dimension ``d``.
    base
        The distribution at ``t0`` over vectors of size ``d``: a callable ``(dtype, device) -> distribution`` or
        None for :math:`\mathcal N(0, I)`.
    **flow_options
        Passed to :class:`ContinuousFlow` (``t0``, ``t1``, ``solver``, ``num_steps``, ``atol``, ``rtol``,
        ``trace``, ``probe``, ``adjoint``).
    """

    def __init__(self, field: Callable, *, features: int,
                 base: Callable[[torch.dtype, torch.device], dist.Distribution] | None = None,
                 **flow_options: Any) -> None:
        super().__init__()
        self.flow = ContinuousFlow(field, features=features, **flow_options)
        self._base = base
        self.log_prob_kind = "exact" if self.flow.trace == "exact" else "estimate"

    def base(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> dist.Distribution:
        """The base distribution at ``t0``."""
        if self._base is not None:
            return self._base(dtype, device)
        zeros = torch.zeros(self.flow.features, dtype=dtype, device=device)
        return dist.Normal(zeros, torch.ones_like(zeros)).to_event(1)

    def distribution(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
                     ) -> dist.TransformedDistribution:
        """The model's distribution of ``x`` as a Pyro distribution (event shape ``(features,)``)."""
        return dist.TransformedDistribution(self.base(dtype, device), [self.flow])

    def model(self, x: torch.Tensor) -> None:
        """Pyro model: :math:`x_n \\sim p_{t_1}` independently for each row."""
        if x.ndim != 2 or x.shape[-1] != self.flow.features:
            raise ValueError(f"x: expected shape (n, {self.flow.features}), got {tuple(x.shape)}.")
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", self.distribution(x.dtype, x.device), obs=x)

    def transform(self) -> ContinuousFlow:
        """The map :math:`u \\mapsto x` as a Pyro transform (``flow``; its ``inv`` solves backwards), as
        :meth:`pgm_ppl.flows.FlowModel.transform` gives it."""
        return self.flow

    def log_prob(self, x: Any) -> torch.Tensor:
        r""":math:`\log p(x_n) = \log p_0(u_n) + \int_{t_1}^{t_0} \nabla\!\cdot v\,dt` per row, shape (n,), nats.

        ``x`` is a tensor or array of shape ``(n, features)``, cast to the field's dtype and device."""
        x = as_rows(x, self.flow.features, reference_tensor(self))
        u, delta = self.flow.integrate(x, self.flow.t1, self.flow.t0)
        return self.base(x.dtype, x.device).log_prob(u) + delta

    def sample(self, num_samples: int) -> torch.Tensor:
        """``num_samples`` draws (solve without the log-determinant), shape (num_samples, features)."""
        check_int(num_samples, "num_samples", minimum=1)
        parameter = next(self.parameters(), None)
        dtype = parameter.dtype if parameter is not None else torch.get_default_dtype()
        device = parameter.device if parameter is not None else "cpu"
        u = self.base(dtype, device).sample((num_samples,))
        return self.flow.transport(u)
