"""The training step over explicit state: :func:`init` builds a :class:`TrainState`, :func:`step` advances it.

Why torch optimisers over Pyro's :class:`~pyro.infer.elbo.ELBOModule` rather than ``SVI.step``: the loss *is*
Pyro's ELBO (``elbo.differentiable_loss(model, guide, batch)``, Pyro's own route for Lightning and DDP in
``examples/svi_lightning.py``), but the parameters are the module's ``torch.nn.Parameter`` s and the optimiser
is a plain :mod:`torch.optim` optimiser. ``SVI.step`` instead traces every ``param`` site into the global
parameter store on each step and hands them to a ``PyroOptim`` that builds one optimiser per parameter lazily.
The module route (1) composes with :class:`~torch.nn.parallel.DistributedDataParallel`, which needs one module
whose forward is the loss; (2) checkpoints with ``state_dict`` (module, optimiser, scheduler) and resumes bit for
bit, with no global store to snapshot; (3) uses torch's schedulers, gradient clipping and EMA unchanged; and
(4) skips the per-step param-store trace, so a step costs what the model's own forward and backward cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pyro.poutine as poutine
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pgm_ppl.core.errors import NonFiniteLossError
from pgm_ppl.training.batches import ArrayBatches, StreamBatches, num_rows, shard
from pgm_ppl.training.distributed import World, global_loss, wrap
from pgm_ppl.training.objectives import LossModule, TwoPlayer

__all__ = ["StepInfo", "TrainState", "init", "step"]

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


@dataclass(frozen=True)
class TrainState:
    """Everything a run carries from one step to the next (torch objects are updated in place)."""

    module: torch.nn.Module
    objective: torch.nn.Module | TwoPlayer  # a LossModule (inside DDP when distributed), or a TwoPlayer game
    optimizers: tuple[torch.optim.Optimizer, ...]
    schedulers: tuple[Any, ...]
    ema: AveragedModel | None
    batches: ArrayBatches | StreamBatches
    world: World
    clip_norm: float | None
    step: int = 0  # steps done
    draws: int = 0  # batches drawn (a two-player step draws critic_steps of them)


@dataclass(frozen=True)
class StepInfo:
    """What one step reports: the loss of the global batch (the generator's for a two-player game), the last
    critic update's loss of a two-player game, and the rows of the global batch the loss was computed on."""

    loss: float
    critic_loss: float | None = None
    rows: int = 0


def init(module: torch.nn.Module, objective: LossModule | TwoPlayer, batches: ArrayBatches | StreamBatches, *,
         optimizer: str, learning_rate: float, weight_decay: float, lr_schedule: Any, num_steps: int,
         clip_norm: float | None, ema_decay: float | None, world: World, device: torch.device) -> TrainState:
    """Build the optimisers, schedulers, EMA and (when distributed) the DDP wrapper of a fresh run."""
    make = OPTIMIZERS[optimizer]
    if isinstance(objective, TwoPlayer):
        if world.size > 1:
            raise ValueError("loss: two-player objectives are not supported under torch.distributed yet; "
                             "train GANs in one process.")
        groups = [(objective.critic_learning_rate, objective.parameters_of(module, "critic")),
                  (objective.generator_learning_rate, objective.parameters_of(module, "generator"))]
        optimizers = tuple(make(params, lr=lr or learning_rate, betas=objective.betas, weight_decay=weight_decay)
                           for lr, params in groups)
        wrapped = objective
    else:
        optimizers = (make(module.parameters(), lr=learning_rate, weight_decay=weight_decay),)
        wrapped = wrap(objective, world, device)
    schedulers = tuple(_scheduler(lr_schedule, opt, num_steps) for opt in optimizers)
    ema = None
    if ema_decay is not None:
        ema = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
    return TrainState(module, wrapped, optimizers, tuple(s for s in schedulers if s is not None), ema, batches,
                      world, clip_norm)


def step(state: TrainState) -> tuple[TrainState, StepInfo]:
    """One optimisation step (two-player: ``critic_steps`` critic updates, then one generator update).

    Raises
    ------
    NonFiniteLossError
        If the loss is NaN or infinite; names the step and the parameter or Pyro site responsible.
    """
    number = state.step + 1
    if isinstance(state.objective, TwoPlayer):
        game = state.objective
        critic_opt, generator_opt = state.optimizers
        for _ in range(game.critic_steps):
            batch = state.batches.get(state.draws)
            state = replace(state, draws=state.draws + 1)
            critic = _update(state, critic_opt, lambda b: game.critic_loss(state.module, b), batch, number, None)
        loss = _update(state, generator_opt, lambda b: game.generator_loss(state.module, b), batch, number, None)
        info = StepInfo(loss, critic, num_rows(batch))
    else:
        batch = state.batches.get(state.draws)
        state = replace(state, draws=state.draws + 1)
        info = StepInfo(_update(state, state.optimizers[0], state.objective, batch, number, _objective(state)),
                        rows=num_rows(batch))
    for scheduler in state.schedulers:
        scheduler.step()
    if state.ema is not None:
        state.ema.update_parameters(state.module)
    return replace(state, step=number), info


def _update(state: TrainState, optimizer: torch.optim.Optimizer, loss_fn: Callable, batch: torch.Tensor,
            number: int, objective: LossModule | None) -> float:
    """zero_grad, loss, backward, finiteness check, clipping, optimiser step; returns the global loss."""
    world = state.world
    optimizer.zero_grad(set_to_none=True)
    local = shard(batch, world.rank, world.size)
    loss = loss_fn(local)
    if world.size > 1:
        weight = world.weight(objective.reduction, num_rows(local), num_rows(batch))
        (loss * (weight * world.size)).backward()  # DDP averages over ranks: undo it
        value = global_loss(loss.detach() * weight, world).item()
    else:
        loss.backward()
        value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLossError(_non_finite_message(state, objective, local, value, number))
    if state.clip_norm is not None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, state.clip_norm)
    optimizer.step()
    return value


def _objective(state: TrainState) -> LossModule:
    objective = state.objective
    return objective.module if isinstance(objective, torch.nn.parallel.DistributedDataParallel) else objective


def _scheduler(schedule: Any, optimizer: torch.optim.Optimizer, num_steps: int) -> Any:
    if schedule is None:
        return None
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    if schedule == "linear_warmup":
        warmup = max(1, num_steps // 10)
        return torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, total_iters=warmup)
    return schedule(optimizer)  # a factory optimizer -> LRScheduler (checked by train)


def _non_finite_message(state: TrainState, objective: LossModule | None, batch: torch.Tensor, value: float,
                        number: int) -> str:
    """Name the non-finite parameter, else the Pyro site whose log-density is non-finite."""
    if objective is not None and objective.elbo is not None:
        where = ("every parameter and every model and guide site's log-density is finite there, yet the loss is "
                 "not (an overflow or 0/0 inside the ELBO)")
    else:
        where = ("every parameter is finite there, yet the loss function returned a non-finite value (look for "
                 "0/0, log(0), sqrt of a negative number or an overflow in it)")
    bad = [name for name, p in state.module.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        where = f"parameter {bad[0]!r} is not finite" + (f" (nor {len(bad) - 1} other(s))" if len(bad) > 1 else "")
    elif objective is not None and objective.elbo is not None:
        site = _non_finite_site(objective.elbo, batch)
        if site is not None:
            where = f"the log-density of site {site!r} is not finite there"
    advice = ("a model that keeps that site away from the edge of its support" if where.startswith("the log-density")
              else "a loss that stays finite")
    return (f"training loss became {value} at step {number}: {where}. Try a smaller learning_rate, clip_norm, "
            f"better-scaled data, or {advice}.")


def _non_finite_site(elbo_module: Any, batch: torch.Tensor) -> str | None:
    """The first sample or factor site of guide then model whose log-density is not finite on ``batch``."""
    try:
        with torch.no_grad(), poutine.block():
            guide_trace = poutine.trace(elbo_module.guide).get_trace(batch)
            model_trace = poutine.trace(poutine.replay(elbo_module.model, trace=guide_trace)).get_trace(batch)
            for trace in (guide_trace, model_trace):
                trace.compute_log_prob()
                for name, site in trace.nodes.items():
                    if site["type"] == "sample" and not torch.isfinite(site["log_prob_sum"]).all():
                        return name
    except Exception:  # the diagnosis must never hide the NonFiniteLossError
        return None
    return None
