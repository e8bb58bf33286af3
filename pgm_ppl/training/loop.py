"""``train``: the one training loop for every neural model of chapters 6-9.

See :mod:`pgm_ppl.training.engine` for why the loop optimises Pyro's ELBO as a module with torch optimisers.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core import (Fit, check_choice, check_data, check_int, check_positive, check_probability, stream)
from pgm_ppl.core.interrupt import DeferredInterrupt
from pgm_ppl.training import checkpoint
from pgm_ppl.training.batches import ArrayBatches, DataExhausted, make_batches, num_rows, row_shape, split_rows
from pgm_ppl.training.density import (ModuleDensity, _has_model_and_guide, _shape_of, convert_rows,
                                      scoped_param_store, to_tensor)
from pgm_ppl.training.distributed import current_world
from pgm_ppl.training.engine import OPTIMIZERS, TrainState, init, step
from pgm_ppl.training.objectives import LossModule, TwoPlayer, make_objective

__all__ = ["train"]

MAX_OBSERVED_ROWS = 1000
VALIDATION_CHUNK = 1024  # held-out rows per evaluation of the objective


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
        seeded generator; a list of equal-length 1-D arrays is read as its rows, as ``np.asarray`` reads a list
        of lists), a tuple of arrays with the same rows (``(x, y)``: data with labels or context; each batch is
        then a tuple of tensors, passed to the model as its one ``batch`` argument, and ``validation_data`` and
        ``log_prob`` take tuples too), or an iterable of batches (streaming; a one-shot iterator ends the run
        when empty).
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
        Held-out rows (of the training rows' shape): their loss every ``validate_every`` steps, their pointwise
        ``log_prob`` in the result, and early stopping after ``patience`` evaluations without a new best. The
        validation loss is the objective's mean per held-out row, times the rows of that step's training batch
        when the objective sums over its batch (Pyro's ELBOs), so it is on the scale of the training loss beside it
        for arrays and streams alike; early stopping compares the per-row values.
    device, dtype
        Where (``"cpu"``, ``"cuda"`` on a GPU; checked to be available) and in which floating dtype to train
        (float32, float64; bfloat16 weights are returned as float32 numpy).
    seed
        An integer >= 0. All randomness (batches, the model's and guide's draws, generated samples) derives from
        it; the caller's torch generator and Pyro parameter store are left as they were. The module's initial
        weights are the module factory's business (e.g. :func:`pgm_ppl.flows.realnvp`'s own ``seed``).
    checkpoint_dir, checkpoint_every, resume
        Write a checkpoint every ``checkpoint_every`` steps and on Ctrl-C; ``resume=True`` continues from it,
        giving the same result bit for bit as an uninterrupted run (CPU, array data). While the loop runs in the
        main thread, Ctrl-C (SIGINT) is deferred until the current step completes, so the checkpoint holds a
        completed step; a second Ctrl-C stops at once. Resuming refuses a checkpoint written with another seed,
        optimizer, learning_rate, weight_decay, lr_schedule, clip_norm, ema_decay or batch_size, or more steps
        than ``num_steps``.
    progress_bar
        Show a tqdm bar with the loss (default: when stderr is a terminal).
    num_generated
        Samples drawn from the trained model into ``posterior_predictive`` (0: none).

    Returns
    -------
    Fit
        ``method="train"``: ``losses`` and ``validation_losses`` per step, ``params`` (the state_dict as numpy;
        EMA weights under ``"ema.<name>"``), ``objective`` (``"negative_elbo"`` when the loss is minus a Pyro ELBO,
        ``"regression"`` for a custom loss, ``"two_player"`` for a game; only an ELBO's trace is labelled ``elbo``
        in InferenceData),
        ``step_stats["critic_loss"]`` (a two-player game: the last critic update's loss per step, shape
        ``(1, steps)``), ``density`` (held-out ``log_prob``, ``sample``; a module with ``model`` and ``guide`` but
        no ``log_prob`` gets the per-row ELBO, ``kind="lower_bound"``),
        ``log_likelihood["x"]`` (pointwise held-out log-density, shape ``(1, 1, n)``), ``posterior_predictive["x"]``
        (generated samples), ``observed_data["x"]`` (at most 1000 training rows).

    Raises
    ------
    ValueError, TypeError
        Bad arguments or data (non-finite values, a shape the model rejects), a missing or foreign checkpoint.
    NonFiniteLossError
        The loss became NaN or infinite: the message names the step and the parameter or site.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}.")
    seed = check_int(seed, "seed", minimum=0)
    options = _check_options(optimizer, num_steps, batch_size, learning_rate, weight_decay, lr_schedule, clip_norm,
                             ema_decay, validate_every, patience, checkpoint_every, num_generated, resume,
                             checkpoint_dir, loss)
    device = _check_device(device)
    _check_dtype(dtype)
    world = current_world()
    convert = _converter(dtype, device)
    validation = None if validation_data is None else convert(validation_data, "validation_data")
    module.to(device=device, dtype=dtype)
    with torch_seeded(stream(seed, "inference")), scoped_param_store():
        batches = make_batches(data, options["batch_size"], seed, convert)
        objective = loss if isinstance(loss, TwoPlayer) else make_objective(module, loss)
        event_shape = _first_run(module, objective, batches, seed)
        if validation is not None and row_shape(validation) != event_shape:
            raise ValueError(f"validation_data: expected an array of rows of shape {event_shape} (the training "
                             f"data's rows), got shape {_shape_of(validation)}.")
        state = init(module, objective, batches, optimizer=optimizer, learning_rate=options["learning_rate"],
                     weight_decay=options["weight_decay"], lr_schedule=lr_schedule, num_steps=num_steps,
                     clip_norm=options["clip_norm"], ema_decay=options["ema_decay"], world=world, device=device)
        settings = {"seed": seed, "optimizer": optimizer, "learning_rate": options["learning_rate"],
                    "weight_decay": options["weight_decay"], "lr_schedule": _schedule_name(lr_schedule),
                    "clip_norm": options["clip_norm"], "ema_decay": options["ema_decay"],
                    "batch_size": options["batch_size"]}
        run = _Run(state, num_steps, validation, validate_every, patience, seed, checkpoint_dir, checkpoint_every,
                   settings)
        if resume:
            payload = checkpoint.load(checkpoint.checkpoint_path(checkpoint_dir), module, settings)
            if payload["step"] > num_steps:
                raise ValueError(f"num_steps: expected at least the {payload['step']} steps already done by the "
                                 f"checkpointed run, got {num_steps}; pass num_steps >= {payload['step']} to "
                                 "resume it, or resume=False to start again.")
            run.restore(payload)
        start = time.perf_counter()
        run.loop(progress_bar)
        seconds = time.perf_counter() - start
    return _result(run, data, validation, num_generated, seed, seconds, dtype, device, event_shape)


class _Run:
    """The loop around :func:`~pgm_ppl.training.engine.step`: validation, early stopping, checkpoints."""

    def __init__(self, state: TrainState, num_steps: int, validation: torch.Tensor | None, validate_every: int,
                 patience: int | None, seed: int, checkpoint_dir: Any, checkpoint_every: int | None,
                 settings: dict[str, Any]):
        self.state, self.num_steps, self.validation = state, num_steps, validation
        self.validate_every, self.patience, self.seed = validate_every, patience, seed
        self.path = None if checkpoint_dir is None else checkpoint.checkpoint_path(checkpoint_dir)
        self.checkpoint_every = checkpoint_every
        self.settings = settings
        self.losses: list[float] = []
        self.critic_losses: list[float] = []
        self.validation_losses: list[float] = []
        self.best, self.bad = math.inf, 0  # early stopping on the per-row validation loss
        self.stop_reason = "num_steps"

    def loop(self, progress_bar: bool | None) -> None:
        """Run the remaining steps; on Ctrl-C, checkpoint the last completed step and re-raise.

        A Ctrl-C (SIGINT) is deferred to the end of the current step (main thread only). A KeyboardInterrupt
        raised some other way (a second Ctrl-C, a hook, another thread) is saved as the state before the step
        when it came before any optimiser update of that step; after one, the weights already hold part of a step
        that the saved step count would not, so the checkpoint file is left as it was (with a warning).
        """
        show = self.state.world.is_main and (sys.stderr.isatty() if progress_bar is None else progress_bar)
        bar = _bar(self.num_steps, self.state.step) if show else None
        every = max(1, self.num_steps // 200)
        updating = [False]  # an optimiser has started updating the weights in this (not yet recorded) step

        def started(*_: Any) -> None:
            updating[0] = True

        hooks = [optimizer.register_step_pre_hook(started) for optimizer in self.state.optimizers]
        rng: torch.Tensor | None = None  # the generator state before the running step; None between steps
        deferred = DeferredInterrupt()
        try:
            with deferred:
                while self.state.step < self.num_steps:
                    rng, updating[0] = torch.get_rng_state(), False
                    try:
                        new_state, info = step(self.state)
                    except DataExhausted:
                        self.stop_reason = "data_exhausted"
                        break
                    self._record(new_state, info)
                    rng, updating[0] = None, False  # the step is complete and recorded
                    if bar is not None:
                        bar.update(1)
                        if self.state.step % every == 0:
                            bar.set_postfix_str(f"loss={info.loss:.4g}", refresh=False)
                    if self.checkpoint_every and self.state.step % self.checkpoint_every == 0:
                        self.save()
                    deferred.deliver(self.save)
                    if self.stop_reason == "early_stopping":
                        break
                rng = None
                deferred.deliver(self.save)
        except KeyboardInterrupt:
            if deferred.saved:
                raise
            if updating[0]:
                if self.path is not None and self.state.world.is_main:
                    warnings.warn(f"train: interrupted while the optimiser was updating the weights of step "
                                  f"{self.state.step + 1}; {self.path} was left as it was (the last periodic "
                                  "checkpoint, if any), since the weights now hold part of a step.", stacklevel=2)
            else:
                self.save(rng)
            raise
        finally:
            for hook in hooks:
                hook.remove()
            if bar is not None:
                bar.close()

    def _record(self, state: TrainState, info: Any) -> None:
        self.state = state
        self.losses.append(info.loss)
        if info.critic_loss is not None:
            self.critic_losses.append(info.critic_loss)
        self.validation_losses.append(self._validate(info.rows))

    def _validate(self, rows: int) -> float:
        if self.validation is None or self.state.step % self.validate_every:
            return math.nan
        per_row = validation_loss(self.state, self.validation, self.seed)
        if self.patience is not None:
            self.best, self.bad = (per_row, 0) if per_row < self.best else (self.best, self.bad + 1)
            if self.bad >= self.patience:
                self.stop_reason = "early_stopping"
        return per_row * rows if _reduction(self.state) == "sum" else per_row

    def save(self, rng: torch.Tensor | None = None) -> None:
        """Checkpoint the state after the last completed step (``rng``: the generator state at its end)."""
        if self.path is None or not self.state.world.is_main:
            return
        s = self.state
        checkpoint.save(self.path, {
            "header": checkpoint.header(s.module, self.settings), "module": s.module.state_dict(),
            "optimizers": [o.state_dict() for o in s.optimizers],
            "schedulers": [sc.state_dict() for sc in s.schedulers],
            "ema": None if s.ema is None else s.ema.state_dict(), "step": s.step, "draws": s.draws,
            "losses": torch.tensor(self.losses, dtype=torch.float64),
            "critic_losses": torch.tensor(self.critic_losses, dtype=torch.float64),
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
        self.critic_losses = payload["critic_losses"].tolist()
        self.validation_losses = payload["validation_losses"].tolist()
        stopping = payload["early_stopping"]
        self.best, self.bad, self.stop_reason = stopping["best"], stopping["bad"], stopping["stop_reason"]
        if self.stop_reason == "early_stopping":
            self.num_steps = payload["step"]
        self.state = replace(s, step=payload["step"], draws=payload["draws"])


def validation_loss(state: TrainState, validation: torch.Tensor, seed: int) -> float:
    """The objective's mean per held-out row (a summed objective divided by the rows), without touching training
    RNG; the same at every step whatever the training batches, so early stopping compares like with like."""
    objective = state.objective
    if isinstance(objective, torch.nn.parallel.DistributedDataParallel):
        objective = objective.module
    fn = (lambda b: objective.generator_loss(state.module, b)) if isinstance(objective, TwoPlayer) else objective
    state.module.eval()
    try:
        with torch_seeded(stream(seed, "validation")), torch.no_grad():
            parts = [(fn(chunk).item(), num_rows(chunk)) for chunk in split_rows(validation, VALIDATION_CHUNK)]
    finally:
        state.module.train()
    n = num_rows(validation)
    if _reduction(state) == "sum":
        return sum(value for value, _ in parts) / n
    return sum(value * rows for value, rows in parts) / n


def _reduction(state: TrainState) -> str:
    objective = state.objective
    if isinstance(objective, torch.nn.parallel.DistributedDataParallel):
        objective = objective.module
    return "mean" if isinstance(objective, TwoPlayer) else objective.reduction


def _objective_name(objective: Any) -> str:
    """What the loss trace is, in :attr:`pgm_ppl.core.Fit.objective`'s words."""
    if isinstance(objective, torch.nn.parallel.DistributedDataParallel):
        objective = objective.module
    if isinstance(objective, TwoPlayer):
        return "two_player"
    return "negative_elbo" if objective.kind == "elbo" else "regression"


def _first_run(module: torch.nn.Module, objective: LossModule | TwoPlayer, batches: Any,
               seed: int) -> tuple[int, ...]:
    """Run the objective once on the first batch, with gradients on but no step (creates lazy parameters; checks
    the data against the model and that the loss is a scalar that depends on a parameter); returns a row's shape.

    Gradients stay enabled because some losses differentiate inside (a WGAN's gradient penalty, sliced score
    matching call ``torch.autograd.grad``).
    """
    try:
        batch = batches.get(0)
    except DataExhausted:
        raise ValueError("data: expected at least one batch, got an empty iterator.") from None
    losses = ([("TwoPlayer.critic_loss", objective.critic_loss), ("TwoPlayer.generator_loss", objective.generator_loss)]
              if isinstance(objective, TwoPlayer) else [("loss", lambda m, b: objective(b))])
    module.eval()
    try:
        with torch_seeded(stream(seed, "initialisation")), torch.enable_grad():
            for name, fn in losses:
                try:
                    value = fn(module, batch)
                except Exception as error:
                    raise _first_batch_error(module, batch, error) from error
                _check_loss_value(value, name)
    finally:
        module.train()
    return row_shape(batch)


def _check_loss_value(value: Any, name: str) -> None:
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError(f"{name}: expected a scalar tensor, got {type(value).__name__} "
                        f"of shape {tuple(getattr(value, 'shape', ()))}.")
    if not value.requires_grad:
        raise ValueError(f"{name}: expected a loss that depends on the module's parameters, got a tensor that "
                         "does not depend on any parameter (no grad_fn); compute it from the module (not under "
                         "torch.no_grad() or from detached values).")


_SHAPE_WORDS = re.compile(r"shape|size|dimension|broadcast", re.IGNORECASE)
_DTYPE_WORDS = re.compile(r"cast|dtype|scalar type|Long|Bool|Float|Int|Half|Double", re.IGNORECASE)


def _first_batch_error(module: torch.nn.Module, batch: torch.Tensor, error: Exception) -> Exception:
    """The error to raise when the objective fails on the first batch: a data error for a dtype or shape mismatch
    (with the full message, Pyro's shape table included), else the original error with a note."""
    text = str(error).strip()
    first = batch[0] if isinstance(batch, tuple) else batch
    name, shape, dtype = type(module).__name__, tuple(first.shape), first.dtype
    if not batch.is_floating_point() and _DTYPE_WORDS.search(text):
        return ValueError(f"data: {name} failed on a batch of dtype {dtype} ({type(error).__name__}: {text}); "
                          "cast the data to float (e.g. X.astype(np.float32)) if the model expects real values.")
    if _SHAPE_WORDS.search(text):
        return ValueError(f"data: {name} failed on a batch of shape {shape} ({type(error).__name__}: {text})\n"
                          "Check that the data's shape fits the model.")
    error.add_note(f"pgm_ppl.training.train: raised while evaluating the loss of {name} on the first batch "
                   f"(shape {shape}, dtype {dtype}).")
    return error


def _converter(dtype: torch.dtype, device: torch.device) -> Callable[[Any, str], Any]:
    def convert(value: Any, name: str) -> Any:
        if isinstance(value, tuple):  # (x, y, ...): arrays with the same rows, batched together
            return convert_rows(value, name, dtype, device)
        return to_tensor(check_data(value, name, ndim=None, dtype=None), dtype, device)
    return convert


def _bar(total: int, initial: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", file=sys.stderr, dynamic_ncols=True)


def _check_device(device: Any) -> torch.device:
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:<index>' (or a torch.device), "
                         f"got {device!r}.") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device: expected an available device, got {str(device)!r}; this machine or torch "
                             "build has no CUDA device (torch.cuda.is_available() is False), only 'cpu'.")
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device: expected one of cuda:0 to cuda:{count - 1}, got {str(device)!r}.")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device: expected an available device, got {str(device)!r}; MPS is not available "
                             "here, only 'cpu'.")
    elif parsed.type != "cpu":
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'mps', got {str(device)!r}.")
    return parsed


def _check_dtype(dtype: Any) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating torch dtype (torch.float32 or torch.float64), got {dtype!r}.")


def _schedule_name(schedule: Any) -> str | None:
    if schedule is None or isinstance(schedule, str):
        return schedule
    return f"callable {getattr(schedule, '__qualname__', type(schedule).__qualname__)}"


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
    if checkpoint_dir is not None and os.path.exists(checkpoint_dir) and not os.path.isdir(checkpoint_dir):
        raise ValueError(f"checkpoint_dir: expected a folder (existing or not), got the file {checkpoint_dir}.")
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
            dtype: torch.dtype, device: torch.device, event_shape: tuple[int, ...]) -> Fit:
    state = run.state
    module = state.module
    trained = module if state.ema is None else state.ema.module
    params = {name: _numpy(value) for name, value in module.state_dict().items()}
    if state.ema is not None:
        params.update({f"ema.{name}": _numpy(value) for name, value in state.ema.module.state_dict().items()})
    objective = state.objective.module if isinstance(state.objective, torch.nn.parallel.DistributedDataParallel) \
        else state.objective
    density = ModuleDensity(trained, dtype=dtype, device=device, event_shape=event_shape,
                            num_particles=getattr(objective, "num_particles", 1))
    observed, log_likelihood, generated = {}, {}, {}
    if isinstance(state.batches, ArrayBatches):
        data_rows = state.batches.data
        rows = data_rows[0] if isinstance(data_rows, tuple) else data_rows
        observed["x"] = _numpy(rows[:: math.ceil(rows.shape[0] / MAX_OBSERVED_ROWS)])
    if validation is not None and density.has_log_prob:
        held_out = tuple(map(_numpy, validation)) if isinstance(validation, tuple) else _numpy(validation)
        log_likelihood["x"] = density.log_prob(held_out)[None, None, :]
    if num_generated and callable(getattr(trained, "sample", None)):
        generated["x"] = density.sample(num_generated, seed=stream(seed, "sample"))[None]
    step_stats = {}
    if isinstance(objective, TwoPlayer):
        step_stats["critic_loss"] = np.asarray(run.critic_losses, dtype=np.float64)
    early = run.stop_reason == "early_stopping"
    return Fit(method="train", backend="pyro", model=module, args=(), kwargs={}, posterior={},
               step_stats=step_stats, observed_data=observed, log_likelihood=log_likelihood,
               posterior_predictive=generated, losses=np.asarray(run.losses, dtype=np.float64),
               objective=_objective_name(state.objective),
               validation_losses=None if validation is None else np.asarray(run.validation_losses, np.float64),
               point_estimate=True, params=params, seconds=seconds, converged=True if early else None,
               stop_reason=run.stop_reason, density=density if _has_density(trained) else None)


def _numpy(value: torch.Tensor) -> np.ndarray:
    """A tensor as numpy on the CPU (bfloat16, which numpy lacks, as float32)."""
    value = value.detach().cpu()
    return (value.float() if value.dtype == torch.bfloat16 else value).numpy()


def _has_density(module: torch.nn.Module) -> bool:
    return (callable(getattr(module, "log_prob", None)) or callable(getattr(module, "sample", None))
            or _has_model_and_guide(module))
