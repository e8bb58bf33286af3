"""``train``: the one training loop for every neural model of chapters 6-9.

See :mod:`pgm_ppl.training.engine` for why the loop optimises Pyro's ELBO as a module with torch optimisers.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core import (Fit, check_choice, check_data, check_int, check_positive, check_probability, stream)
from pgm_ppl.training import checkpoint
from pgm_ppl.training.batches import ArrayBatches, DataExhausted, make_batches
from pgm_ppl.training.density import ModuleDensity, scoped_param_store, to_tensor
from pgm_ppl.training.distributed import current_world
from pgm_ppl.training.engine import OPTIMIZERS, TrainState, init, step
from pgm_ppl.training.objectives import LossModule, TwoPlayer, make_objective

__all__ = ["train"]

MAX_OBSERVED_ROWS = 1000


def train(module: torch.nn.Module, data: Any, *, loss: Any = None, num_steps: int = 1000, batch_size: int = 128,
          optimizer: str = "adam", learning_rate: float = 1e-3, weight_decay: float = 0.0,
          lr_schedule: str | Callable | None = None, clip_norm: float | None = None, ema_decay: float | None = None,
          validation_data: Any = None, validate_every: int = 100, patience: int | None = None,
          device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0,
          checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int | None = None,
          resume: bool = False, progress_bar: bool | None = None, num_generated: int = 500) -> Fit:
    r"""Train a neural generative model by minimising its objective with a torch optimiser.

    The objective is any Pyro ELBO (minimising :math:`-\mathrm{ELBO}(\theta, \phi)`; with no guide, exactly
    :math:`-\log p_\theta(x)`), a custom loss ``loss(module, batch)`` (flow matching and score matching are
    regression losses, not ELBOs), or a :class:`~pgm_ppl.training.TwoPlayer` game (GANs, WGANs).

    Parameters
    ----------
    module
        A :class:`torch.nn.Module` following :class:`~pgm_ppl.training.Trainable`; moved to ``device`` and
        ``dtype`` and trained in place.
    data
        An array or tensor (rows are data points; mini-batches drawn without replacement per epoch from a
        seeded generator), or an iterable of batches (streaming; a one-shot iterator ends the run when empty).
    loss
        None (the module's ``loss`` method if it has one, else ``Trace_ELBO()``), a Pyro ELBO instance, a
        callable ``loss(module, batch) -> scalar`` (taken as a batch mean), or a ``TwoPlayer``.
    num_steps, batch_size
        Optimiser steps and rows per (global) batch.
    optimizer, learning_rate, weight_decay
        ``"adam"`` or ``"adamw"`` (:mod:`torch.optim`) and their settings.
    lr_schedule
        None, ``"cosine"`` (to zero at ``num_steps``), ``"linear_warmup"`` (over the first tenth of the steps),
        or a factory ``optimizer -> torch.optim.lr_scheduler.LRScheduler``.
    clip_norm
        Clip the gradient's global norm to this (``torch.nn.utils.clip_grad_norm_``).
    ema_decay
        Keep an exponential moving average of the weights (``torch.optim.swa_utils.AveragedModel``); the
        returned density then uses the averaged weights.
    validation_data, validate_every, patience
        Held-out rows: their loss every ``validate_every`` steps (on the scale of one training batch), their
        pointwise ``log_prob`` in the result, and early stopping after ``patience`` evaluations without a
        new best.
    device, dtype
        Where and in which floating dtype to train (``"cuda"`` on a GPU).
    seed
        All randomness (batches, the model's and guide's draws, generated samples) derives from it; the caller's
        torch generator and Pyro parameter store are left as they were.
    checkpoint_dir, checkpoint_every, resume
        Write a checkpoint every ``checkpoint_every`` steps and on Ctrl-C; ``resume=True`` continues from it,
        giving the same result bit for bit as an uninterrupted run (CPU, array data).
    progress_bar
        Show a tqdm bar with the loss (default: when stderr is a terminal).
    num_generated
        Samples drawn from the trained model into ``posterior_predictive`` (0: none).

    Returns
    -------
    Fit
        ``method="train"``: ``losses`` and ``validation_losses`` per step, ``params`` (the state_dict as numpy;
        EMA weights under ``"ema.<name>"``), ``density`` (held-out ``log_prob``, ``sample``),
        ``log_likelihood["x"]`` (pointwise held-out log-density, shape ``(1, 1, n)``), ``posterior_predictive["x"]``
        (generated samples), ``observed_data["x"]`` (at most 1000 training rows).

    Raises
    ------
    ValueError, TypeError
        Bad arguments or data (non-finite values, a shape the model rejects), a missing or foreign checkpoint.
    NonFiniteLossError
        The loss became NaN or infinite: the message names the step and the parameter or site.
    """
    options = _check_options(optimizer, num_steps, batch_size, learning_rate, weight_decay, lr_schedule, clip_norm,
                             ema_decay, validate_every, patience, checkpoint_every, num_generated, resume,
                             checkpoint_dir, loss)
    device = torch.device(device)
    module.to(device=device, dtype=dtype)
    world = current_world()
    convert = _converter(dtype, device)
    validation = None if validation_data is None else convert(validation_data, "validation_data")
    with torch_seeded(stream(seed, "inference")), scoped_param_store():
        batches = make_batches(data, options["batch_size"], seed, convert)
        objective = loss if isinstance(loss, TwoPlayer) else make_objective(module, loss)
        _first_run(module, objective, batches, seed)
        state = init(module, objective, batches, optimizer=optimizer, learning_rate=options["learning_rate"],
                     weight_decay=options["weight_decay"], lr_schedule=lr_schedule, num_steps=num_steps,
                     clip_norm=options["clip_norm"], ema_decay=options["ema_decay"], world=world, device=device)
        run = _Run(state, num_steps, validation, validate_every, patience, seed, checkpoint_dir, checkpoint_every)
        if resume:
            run.restore(checkpoint.load(checkpoint.checkpoint_path(checkpoint_dir), module))
        start = time.perf_counter()
        run.loop(progress_bar)
        seconds = time.perf_counter() - start
    return _result(run, data, validation, num_generated, seed, seconds, dtype, device)


class _Run:
    """The loop around :func:`~pgm_ppl.training.engine.step`: validation, early stopping, checkpoints."""

    def __init__(self, state: TrainState, num_steps: int, validation: torch.Tensor | None, validate_every: int,
                 patience: int | None, seed: int, checkpoint_dir: Any, checkpoint_every: int | None):
        self.state, self.num_steps, self.validation = state, num_steps, validation
        self.validate_every, self.patience, self.seed = validate_every, patience, seed
        self.path = None if checkpoint_dir is None else checkpoint.checkpoint_path(checkpoint_dir)
        self.checkpoint_every = checkpoint_every
        self.losses: list[float] = []
        self.validation_losses: list[float] = []
        self.best, self.bad = math.inf, 0
        self.stop_reason = "num_steps"

    def loop(self, progress_bar: bool | None) -> None:
        show = self.state.world.is_main and (sys.stderr.isatty() if progress_bar is None else progress_bar)
        bar = _bar(self.num_steps, self.state.step) if show else None
        every = max(1, self.num_steps // 200)
        rng = torch.get_rng_state()
        try:
            while self.state.step < self.num_steps:
                rng = torch.get_rng_state()  # a Ctrl-C inside the next step saves the state before it
                try:
                    self.state, info = step(self.state)
                except DataExhausted:
                    self.stop_reason = "data_exhausted"
                    break
                self.losses.append(info.loss)
                self.validation_losses.append(self._validate())
                if bar is not None:
                    bar.update(1)
                    if self.state.step % every == 0:
                        bar.set_postfix_str(f"loss={info.loss:.4g}", refresh=False)
                if self.checkpoint_every and self.state.step % self.checkpoint_every == 0:
                    self.save()
                if self.stop_reason == "early_stopping":
                    break
        except KeyboardInterrupt:
            self.save(rng)
            raise
        finally:
            if bar is not None:
                bar.close()

    def _validate(self) -> float:
        if self.validation is None or self.state.step % self.validate_every:
            return math.nan
        value = validation_loss(self.state, self.validation, self.seed)
        if self.patience is not None:
            self.best, self.bad = (value, 0) if value < self.best else (self.best, self.bad + 1)
            if self.bad >= self.patience:
                self.stop_reason = "early_stopping"
        return value

    def save(self, rng: torch.Tensor | None = None) -> None:
        """Checkpoint the state after the last completed step (``rng``: the generator state at its end)."""
        if self.path is None or not self.state.world.is_main:
            return
        s = self.state
        checkpoint.save(self.path, {
            "header": checkpoint.header(s.module), "module": s.module.state_dict(),
            "optimizers": [o.state_dict() for o in s.optimizers],
            "schedulers": [sc.state_dict() for sc in s.schedulers],
            "ema": None if s.ema is None else s.ema.state_dict(), "step": s.step, "draws": s.draws,
            "losses": torch.tensor(self.losses, dtype=torch.float64),
            "validation_losses": torch.tensor(self.validation_losses, dtype=torch.float64),
            "rng": torch.get_rng_state() if rng is None else rng, "early_stopping": {"best": self.best, "bad": self.bad,
                                                              "stop_reason": self.stop_reason}})

    def restore(self, payload: dict) -> None:
        s = self.state
        s.module.load_state_dict(payload["module"])
        for optimizer, saved in zip(s.optimizers, payload["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(s.schedulers, payload["schedulers"], strict=True):
            scheduler.load_state_dict(saved)
        if s.ema is not None and payload["ema"] is not None:
            s.ema.load_state_dict(payload["ema"])
        torch.set_rng_state(payload["rng"])
        self.losses = payload["losses"].tolist()
        self.validation_losses = payload["validation_losses"].tolist()
        stopping = payload["early_stopping"]
        self.best, self.bad, self.stop_reason = stopping["best"], stopping["bad"], stopping["stop_reason"]
        if self.stop_reason == "early_stopping":
            self.num_steps = payload["step"]
        self.state = replace(s, step=payload["step"], draws=payload["draws"])


def validation_loss(state: TrainState, validation: torch.Tensor, seed: int) -> float:
    """The objective on the held-out rows, on the scale of one training batch, without touching training RNG."""
    objective = state.objective
    if isinstance(objective, torch.nn.parallel.DistributedDataParallel):
        objective = objective.module
    fn = (lambda b: objective.generator_loss(state.module, b)) if isinstance(objective, TwoPlayer) else objective
    reduction = "mean" if isinstance(objective, TwoPlayer) else objective.reduction
    size = getattr(state.batches, "batch_size", 1024)
    state.module.eval()
    try:
        with torch_seeded(stream(seed, "validation")), torch.no_grad():
            parts = [(fn(chunk).item(), chunk.shape[0]) for chunk in torch.split(validation, size)]
    finally:
        state.module.train()
    n = validation.shape[0]
    if reduction == "sum":
        return sum(value for value, _ in parts) / n * size
    return sum(value * rows for value, rows in parts) / n


def _first_run(module: torch.nn.Module, objective: LossModule | TwoPlayer, batches: Any, seed: int) -> None:
    """Run the objective once on the first batch (creates lazy parameters; checks the data's shape)."""
    batch = batches.get(0)
    losses = ([objective.critic_loss, objective.generator_loss] if isinstance(objective, TwoPlayer)
              else [lambda m, b: objective(b)])
    module.eval()
    try:
        with torch_seeded(stream(seed, "initialisation")), torch.no_grad():
            for fn in losses:
                value = fn(module, batch)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(f"data: {type(module).__name__} failed on a batch of shape {tuple(batch.shape)} "
                         f"({type(error).__name__}: {first}); check that the data's shape fits the model.") from error
    finally:
        module.train()
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError(f"loss: expected a scalar tensor, got {type(value).__name__} "
                        f"of shape {tuple(getattr(value, 'shape', ()))}.")


def _converter(dtype: torch.dtype, device: torch.device) -> Callable[[Any, str], torch.Tensor]:
    def convert(value: Any, name: str) -> torch.Tensor:
        return to_tensor(check_data(value, name, ndim=None, dtype=None), dtype, device)
    return convert


def _bar(total: int, initial: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", file=sys.stderr, dynamic_ncols=True)


def _check_options(optimizer, num_steps, batch_size, learning_rate, weight_decay, lr_schedule, clip_norm,
                   ema_decay, validate_every, patience, checkpoint_every, num_generated, resume, checkpoint_dir,
                   loss) -> dict[str, Any]:
    check_choice(optimizer, "optimizer", tuple(OPTIMIZERS))
    check_int(num_steps, "num_steps")
    check_int(validate_every, "validate_every")
    check_int(num_generated, "num_generated", minimum=0)
    if patience is not None:
        check_int(patience, "patience")
    if checkpoint_every is not None:
        check_int(checkpoint_every, "checkpoint_every")
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every: expected a checkpoint_dir to write to, got checkpoint_dir=None.")
    if resume and checkpoint_dir is None:
        raise ValueError("resume: expected a checkpoint_dir to resume from, got checkpoint_dir=None.")
    if lr_schedule is not None and not callable(lr_schedule):
        check_choice(lr_schedule, "lr_schedule", ("cosine", "linear_warmup"))
    if isinstance(loss, TwoPlayer):
        check_int(loss.critic_steps, "TwoPlayer.critic_steps")
    return {"batch_size": check_int(batch_size, "batch_size"),
            "learning_rate": check_positive(learning_rate, "learning_rate"),
            "weight_decay": check_positive(weight_decay, "weight_decay", allow_zero=True),
            "clip_norm": None if clip_norm is None else check_positive(clip_norm, "clip_norm"),
            "ema_decay": None if ema_decay is None else check_probability(ema_decay, "ema_decay", open_interval=True)}


def _result(run: _Run, data: Any, validation: torch.Tensor | None, num_generated: int, seed: int, seconds: float,
            dtype: torch.dtype, device: torch.device) -> Fit:
    state = run.state
    module = state.module
    trained = module if state.ema is None else state.ema.module
    params = {name: value.detach().cpu().numpy() for name, value in module.state_dict().items()}
    if state.ema is not None:
        params.update({f"ema.{name}": value.detach().cpu().numpy()
                       for name, value in state.ema.module.state_dict().items()})
    density = ModuleDensity(trained, dtype=dtype, device=device)
    observed, log_likelihood, generated = {}, {}, {}
    if isinstance(state.batches, ArrayBatches):
        rows = state.batches.data
        observed["x"] = rows[:: math.ceil(rows.shape[0] / MAX_OBSERVED_ROWS)].detach().cpu().numpy()
    if validation is not None and callable(getattr(trained, "log_prob", None)):
        log_likelihood["x"] = density.log_prob(validation.detach().cpu().numpy())[None, None, :]
    if num_generated and callable(getattr(trained, "sample", None)):
        generated["x"] = density.sample(num_generated, seed=stream(seed, "sample"))[None]
    early = run.stop_reason == "early_stopping"
    return Fit(method="train", backend="pyro", model=module, args=(), kwargs={}, posterior={},
               observed_data=observed, log_likelihood=log_likelihood, posterior_predictive=generated,
               losses=np.asarray(run.losses, dtype=np.float64),
               validation_losses=None if validation is None else np.asarray(run.validation_losses, np.float64),
               point_estimate=True, params=params, seconds=seconds, converged=True if early else None,
               stop_reason=run.stop_reason, density=density if _has_density(trained) else None)


def _has_density(module: torch.nn.Module) -> bool:
    return callable(getattr(module, "log_prob", None)) or callable(getattr(module, "sample", None))
