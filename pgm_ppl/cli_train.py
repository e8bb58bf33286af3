"""The deep half of the ``pgm-ppl`` command: ``train``, ``sample`` and ``compare``, and the trainable models.

``pgm-ppl train MODEL --data NAME_OR_FILE --out DIR`` fits a model on 80% of the rows (a seeded split) and writes,
each file atomically: ``run.json`` (what to rebuild the model from), ``checkpoint.pt`` (neural models: every
tenth of the run and on Ctrl-C; ``--resume`` continues from it), ``model.pt`` or ``params.npz`` (the fitted
weights, read back with ``torch.load(weights_only=True)`` / ``np.load(allow_pickle=False)``), ``loss.png``,
``samples.png``, ``metrics.json`` (held-out negative log-likelihood and sample metrics with their floors) and
``inference_data.nc``. ``pgm-ppl sample DIR`` draws from a saved run; ``pgm-ppl compare DIR...`` ranks saved runs
by held-out elpd in ArviZ's compare table.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TRAINABLE", "Trainable", "add_commands", "run_compare", "run_sample", "run_train"]

RUN_FORMAT = 1
TEST_FRACTION = 0.2


class UsageError(ValueError):
    """A command-line mistake: reported in one line by :func:`pgm_ppl.cli.main`, exit status 2."""


@dataclass(frozen=True)
class Trainable:
    """A model ``pgm-ppl train`` knows: what it is, how it is fitted, its ``--set`` options, how to build it.

    ``build`` names a module factory as ``"package.module:function"`` (imported only when the model is trained,
    so ``pgm-ppl list`` stays fast); it is called as ``function(features, seed=seed, **model_options)``, where
    ``model_options`` are the run's settings less the training options (:data:`TRAINING_OPTIONS`).
    """

    summary: str
    engine: str  # "train" (the neural training engine) or "em"
    options: dict[str, Any] = field(default_factory=dict)
    build: str = ""


# Neural models that accept 1-column data (realnvp's coupling layers need two halves).
ONE_COLUMN_MODELS = ("maf", "nsf", "cnf", "ddpm", "ot_cfm", "i_cfm", "gmm")

# Settings that are data levels (vae's binarisation threshold: 8 for digits 0-16, 127 for MNIST 0-255): any
# finite number >= 0, where other float settings lie in (0, 10).
LEVEL_OPTIONS = ("threshold",)

# Settings read by the training engine rather than by the model's factory.
TRAINING_OPTIONS = ("learning_rate",)

TRAINABLE: dict[str, Trainable] = {
    "realnvp": Trainable("affine-coupling normalising flow (RealNVP on zuko), maximum likelihood", "train",
                         {"transforms": 4, "hidden_features": 64, "learning_rate": 1e-3}, "pgm_ppl.flows:realnvp"),
    "maf": Trainable("masked autoregressive flow (MAF on zuko), maximum likelihood", "train",
                     {"transforms": 5, "hidden_features": 64, "learning_rate": 1e-3}, "pgm_ppl.flows:maf"),
    "nsf": Trainable("neural spline flow (autoregressive rational-quadratic splines on zuko), maximum likelihood",
                     "train", {"transforms": 3, "bins": 8, "hidden_features": 64, "learning_rate": 1e-3},
                     "pgm_ppl.flows:nsf"),
    "cnf": Trainable("continuous normalising flow (FFJORD: neural ODE, exact trace), maximum likelihood", "train",
                     {"hidden_features": 64, "solver": "dopri5", "trace": "exact", "learning_rate": 1e-3},
                     "pgm_ppl.flows:cnf"),
    "ddpm": Trainable("denoising diffusion (DDPM, simple loss; ancestral samples, exact likelihood by the "
                      "probability-flow ODE)", "train", {"num_time_steps": 1000, "hidden_features": 128,
                                                        "learning_rate": 1e-3}, "pgm_ppl.diffusion:ddpm"),
    "ot_cfm": Trainable("OT conditional flow matching (exact minibatch OT coupling; regression loss, exact "
                        "likelihood by the ODE)", "train", {"sigma": 0.1, "learning_rate": 1e-3},
                        "pgm_ppl.flow_matching:ot_cfm"),
    "i_cfm": Trainable("independent-coupling conditional flow matching (regression loss, exact likelihood by the "
                       "ODE)", "train", {"sigma": 0.1, "learning_rate": 1e-3}, "pgm_ppl.flow_matching:i_cfm"),
    "gmm": Trainable("Gaussian mixture by EM (full covariances)", "em", {"num_components": 8}),
    "vae": Trainable("variational autoencoder of binary images (Bernoulli decoder; digits binarised at 8), "
                     "Pyro ELBO", "train", {"latent_features": 8, "hidden_features": 256, "threshold": 8.0,
                                            "learning_rate": 1e-3}, "pgm_ppl.deep_latent:vae"),
    "made": Trainable("MADE: masked autoregressive model of binary vectors (exact likelihood)", "train",
                      {"hidden_features": 256, "num_masks": 1, "learning_rate": 1e-3}, "pgm_ppl.sequence:made"),
    "transformer": Trainable("GPT-style causal Transformer language model of a text file (--data FILE.txt)", "text",
                             {"context_length": 64, "embed_dim": 128, "num_heads": 4, "num_layers": 2,
                              "learning_rate": 1e-3}, "pgm_ppl.sequence:transformer_lm"),
    "nplm": Trainable("Bengio's neural probabilistic language model (an MLP on the last `window` characters' "
                      "embeddings) of a text file (--data FILE.txt)", "text",
                      {"context_length": 64, "window": 4, "embed_dim": 32, "hidden_features": 128,
                       "learning_rate": 1e-3}, "pgm_ppl.sequence:nplm"),
    "lstm": Trainable("LSTM language model of a text file (--data FILE.txt)", "text",
                      {"context_length": 64, "embed_dim": 64, "hidden_features": 128, "num_layers": 1,
                       "learning_rate": 1e-3}, "pgm_ppl.sequence:rnn_lm"),
}


def add_commands(commands: Any, positive: Callable[[str], int]) -> None:
    """Add the ``train``, ``sample`` and ``compare`` sub-commands to the ``pgm-ppl`` parser."""
    training = commands.add_parser("train", help="train a generative model; write checkpoint, plots, metrics, NetCDF")
    training.add_argument("model", help=f"one of {', '.join(TRAINABLE)}")
    training.add_argument("--data", required=True, help="embedded dataset name or a CSV/NPY/NPZ/NetCDF file")
    training.add_argument("--out", required=True, help="output directory (must not exist, unless --resume)")
    training.add_argument("--steps", type=positive, default=2000, help="optimiser steps (default 2000)")
    training.add_argument("--batch-size", type=positive, default=256, help="rows per batch (default 256)")
    training.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    training.add_argument("--seed", type=_seed, default=0)
    training.add_argument("--num-data", type=positive, default=2000,
                          help="rows drawn from a generated dataset such as moons (default 2000)")
    training.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                          help="model option, e.g. --set transforms=6 or --set num_components=4")
    training.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    training.set_defaults(run=run_train)

    sampling = commands.add_parser("sample", help="draw samples from a trained run into a .npy file")
    sampling.add_argument("run_dir", help="a directory written by 'pgm-ppl train'")
    sampling.add_argument("--num", type=positive, default=1000, help="number of samples (default 1000)")
    sampling.add_argument("--out", required=True, help="the .npy file to write (must not exist)")
    sampling.add_argument("--seed", type=_seed, default=0)
    sampling.set_defaults(run=run_sample)

    comparing = commands.add_parser("compare", help="rank trained runs by held-out log predictive density")
    comparing.add_argument("run_dirs", nargs="+", help="directories written by 'pgm-ppl train'")
    comparing.add_argument("--data", help="held-out rows: a file, or a generated dataset with a --seed no run used "
                           "(default: the runs' shared held-out 20%%)")
    comparing.add_argument("--seed", type=_seed, default=1, help="seed of a generated --data (default 1)")
    comparing.add_argument("--num-data", type=positive, default=2000)
    comparing.add_argument("--out", help="where to write the comparison plot (PNG; default: compare-<time>.png)")
    comparing.set_defaults(run=run_compare)


def _seed(text: str) -> int:
    """A seed: an integer >= 0 (numpy's SeedSequence takes no negative entropy)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def list_trainable() -> list[str]:
    """Lines for ``pgm-ppl list``."""
    return [f"  {name:20s} {entry.summary} [options: "
            + ", ".join(f"{k}={v}" for k, v in entry.options.items()) + "]" for name, entry in TRAINABLE.items()]


# --- train -----------------------------------------------------------------------------------------------------------

def run_train(options: Any) -> int:
    """``pgm-ppl train``: check everything, fit, then write every artefact of the run atomically.

    The fitted weights (``model.pt`` / ``params.npz``) are written last, so their presence marks a finished run.
    A fresh run that fails before its first checkpoint leaves no directory behind; an interrupted neural run keeps
    its ``run.json`` and ``checkpoint.pt`` for ``--resume``.
    """
    entry, settings, out = _prepare_run(options)
    X_train, X_test, name = _split(options.data, options.seed, options.num_data)
    # A coupling flow splits x into two halves; the other flows, flow matching and DDPM model 1-D data too.
    if entry.engine == "train" and X_train.shape[1] < 2 and options.model not in ONE_COLUMN_MODELS:
        raise UsageError(f"--data {options.data}: {options.model} needs at least 2 columns, got {X_train.shape[1]}"
                         f" (for 1-column data use one of {', '.join(ONE_COLUMN_MODELS)}).")
    spec = {"format": RUN_FORMAT, "model": options.model, "features": int(X_train.shape[1]), "settings": settings,
            "data": name, "source": str(options.data), "num_data": options.num_data, "seed": options.seed,
            "steps": options.steps, "batch_size": options.batch_size}
    if options.resume:
        _check_resumable(out, spec)
    else:
        _make_run_dir(out)
        _write_json(out / "run.json", spec)
    try:
        print(f"Training {options.model} on {name} ({len(X_train)} rows, {len(X_test)} held out)...", flush=True)
        if entry.engine == "em":
            fit, save_weights = _train_em(spec, X_train, out)
        else:
            fit, save_weights = _train_neural(spec, X_train, X_test, out, options)
        # a model that binarises its input (vae's threshold) samples 0/1 rows: set them against binarised rows
        threshold = settings.get("threshold")
        _write_outputs(out, fit, X_test, options.seed,
                       metric_rows=None if threshold is None else (X_test > float(threshold)).astype(X_test.dtype))
        save_weights()
    except BaseException:
        if not options.resume and not (out / "checkpoint.pt").exists():
            shutil.rmtree(out, ignore_errors=True)  # nothing to resume: leave no half-written run
        raise
    print(f"\nWrote {out}/: run.json, {'params.npz' if entry.engine == 'em' else 'checkpoint.pt, model.pt'}, "
          f"loss.png, samples.png, metrics.json, inference_data.nc ({fit.seconds:.1f} s)")
    return 0


def _prepare_run(options: Any) -> tuple[Trainable, dict, Path]:
    """The checks of every ``pgm-ppl train`` before any data is read (model, ``--set`` options, device, output
    directory): the registry entry, the run's settings and the output directory."""
    from pgm_ppl.cli import _parse_settings

    entry = _trainable(options.model)
    settings = {**entry.options, **_parse_settings(options.set)}
    _check_settings(options.model, entry, settings)
    _check_device(options.device)
    out = Path(options.out)
    _check_out(out, options.resume)
    return entry, settings, out


def _train_neural(spec: dict, X_train: np.ndarray, X_test: np.ndarray, out: Path, options: Any):
    import torch

    from pgm_ppl.training import train

    module = _build_module(spec)
    settings = spec["settings"]
    fit = train(module, X_train, num_steps=spec["steps"], batch_size=min(spec["batch_size"], len(X_train)),
                learning_rate=float(settings["learning_rate"]), validation_data=X_test,
                validate_every=max(spec["steps"] // 20, 1), device=options.device, seed=spec["seed"],
                checkpoint_dir=out, checkpoint_every=max(spec["steps"] // 10, 1), resume=options.resume)
    return fit, lambda: _atomic_write(out / "model.pt", lambda path: torch.save(module.state_dict(), path))


def _train_em(spec: dict, X_train: np.ndarray, out: Path):
    from pgm_ppl.diagnostics import as_fit
    from pgm_ppl.em import fit_gmm

    num_components = int(spec["settings"]["num_components"])
    if num_components > len(X_train):
        raise UsageError(f"--set num_components={num_components}: expected at most the {len(X_train)} training rows.")
    result = fit_gmm(X_train, num_components, seed=spec["seed"])
    params = result.params

    def save_weights() -> None:
        _atomic_write(out / "params.npz", lambda path: np.savez(path, weights=params.weights, means=params.means,
                                                               covariances=params.covariances), suffix=".npz")

    return as_fit(result, X_train), save_weights


def _write_outputs(out: Path, fit: Any, X_test: np.ndarray, seed: int, metric_rows: np.ndarray | None = None) -> None:
    """metrics.json (held-out NLL of ``X_test``; sample metrics against ``metric_rows``, default ``X_test``),
    loss.png, samples.png and inference_data.nc."""
    from pgm_ppl.diagnostics import sample_metrics, to_inference_data

    samples = fit.sample(min(len(X_test), 1000), seed=seed)
    held_out = fit.log_prob(X_test)
    rows = X_test if metric_rows is None else metric_rows
    metrics = sample_metrics(samples, rows, seed=seed, reference_sampler=None,
                             floor_reference=None) if len(rows) >= 2 * len(samples) else \
        sample_metrics(samples[: len(rows) // 2], rows, seed=seed)
    report = {"heldout_nll_nats_per_row": float(-held_out.mean()),
              "heldout_nll_bits_per_dim": float(-held_out.mean() / (X_test.shape[1] * np.log(2.0))),
              "density_kind": fit.density.kind, "num_heldout_rows": int(len(X_test)),
              "seconds": fit.seconds, "stop_reason": fit.stop_reason,
              "sample_metrics_against": "held-out rows" if metric_rows is None else "held-out rows binarised at the "
                                        "model's threshold",
              "sample_metrics": {name: {"value": float(m.value), "floor": float(m.floor)}
                                 for name, m in metrics.items()}}
    _write_json(out / "metrics.json", report)
    _atomic_write(out / "loss.png", lambda path: _plot_losses(fit, path))
    _atomic_write(out / "samples.png", lambda path: _plot_samples(samples, rows, path))
    idata = to_inference_data(fit)
    _atomic_write(out / "inference_data.nc", lambda path: idata.to_netcdf(str(path)), suffix=".nc")
    print(f"held-out NLL {report['heldout_nll_nats_per_row']:.4f} nats/row ({fit.density.kind}); "
          + ", ".join(f"{k} {v['value']:.4g} (floor {v['floor']:.4g})" for k, v in report["sample_metrics"].items()))


# --- sample and compare ----------------------------------------------------------------------------------------------

def run_sample(options: Any) -> int:
    """``pgm-ppl sample``: draws from a saved run, written atomically to a new .npy file."""
    density = load_density(Path(options.run_dir))
    out = Path(options.out)
    if out.suffix != ".npy":
        raise UsageError(f"--out {out}: expected a file name ending in .npy, got {out.suffix or 'no suffix'!r}.")
    if out.exists():
        raise UsageError(f"--out {out} already exists; choose another name or remove it.")
    if not out.resolve().parent.is_dir():
        raise UsageError(f"--out {out}: the folder {out.resolve().parent} does not exist.")
    draws = density.sample(options.num, seed=options.seed)
    _atomic_write(out, lambda path: np.save(path, draws), suffix=".npy")
    print(f"Wrote {out}: {draws.shape[0]} samples of shape {draws.shape[1:]}")
    return 0


def run_compare(options: Any) -> int:
    """``pgm-ppl compare``: ArviZ's compare table of held-out elpd for several runs, printed and plotted.

    Without ``--data``, the runs must share their training data (source, seed, size), and they are compared on its
    held-out 20% (the rows none of them trained on). With ``--data``, rows that any run trained on are refused:
    a generated dataset needs a ``--seed`` that no run used, a file must not be a run's training file.
    """
    from pgm_ppl.diagnostics import compare_heldout, plot_compare_heldout

    runs = {}
    for run_dir in options.run_dirs:
        path = Path(run_dir)
        if path.name in runs:
            raise UsageError(f"two runs are named {path.name!r}; give directories with different names.")
        runs[path.name] = (_read_spec(path), load_density(path))
    X, description = _comparison_rows(options, {name: spec for name, (spec, _) in runs.items()})
    for name, (spec, _) in runs.items():
        if spec["features"] != X.shape[1]:
            raise UsageError(f"run {name!r} was trained on rows of {spec['features']} columns; the comparison rows "
                             f"({description}) have {X.shape[1]}.")
    table = compare_heldout({name: density for name, (_, density) in runs.items()}, X)
    print(f"Held-out rows: {description}\n")
    print(table.to_string())
    if len(runs) < 2:
        print("\n(one run: nothing to plot against)")
        return 0
    out = Path(options.out) if options.out else Path(f"compare-{time.strftime('%Y%m%d-%H%M%S')}.png")
    if out.exists():
        raise UsageError(f"--out {out} already exists; choose another name or remove it.")

    def save(path: Path) -> None:
        import matplotlib.pyplot as plt

        axes = plot_compare_heldout(table)
        axes.figure.savefig(path, dpi=120, bbox_inches="tight", format="png")
        plt.close(axes.figure)

    _atomic_write(out, save, suffix=".png")
    print(f"\nWrote {out}")
    return 0


def _comparison_rows(options: Any, specs: dict[str, dict]) -> tuple[np.ndarray, str]:
    """The rows to compare on, never rows a run trained on (see :func:`run_compare`)."""
    from pgm_ppl.data import DATASETS, REAL_DATASETS, load_data

    if options.data is None:
        sources = {(spec.get("source"), spec["seed"], spec.get("num_data")) for spec in specs.values()}
        if len(sources) != 1 or None in next(iter(sources)):
            raise UsageError("--data: the runs were trained on different data (or by an older version); give the "
                             "held-out rows with --data (a file, or a generated dataset with a fresh --seed).")
        source, seed, num_data = next(iter(sources))
        _, X_test, name = _split(source, seed, num_data)
        return X_test, f"the held-out 20% of {name} (seed {seed}), {len(X_test)} rows"
    generated = options.data in DATASETS and options.data not in REAL_DATASETS
    for name, spec in specs.items():
        same_source = spec.get("source") == str(options.data)
        if same_source and (not generated or spec["seed"] == options.seed):
            hint = (f"pass a --seed that no run used (run {name!r} used {spec['seed']})" if generated
                    else "omit --data to compare on the runs' shared held-out rows, or give a separate test file")
            raise UsageError(f"--data {options.data}: run {name!r} trained on these rows, so they would reward "
                             f"overfitting; {hint}.")
    table = load_data(options.data, seed=options.seed, num_samples=options.num_data)
    from pgm_ppl.core import check_data

    X = check_data(table.values, f"--data {options.data}", ndim=2, min_rows=2)
    return X, f"{table.name}{f' (seed {options.seed})' if generated else ''}, {len(X)} rows"


def _read_spec(run_dir: Path) -> dict:
    spec_path = run_dir / "run.json"
    if not spec_path.is_file():
        raise UsageError(f"{run_dir}: expected a directory written by 'pgm-ppl train' (with run.json), got "
                         f"{'a directory without one' if run_dir.is_dir() else 'no such directory'}.")
    try:
        spec = json.loads(spec_path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"{spec_path}: expected the JSON written by 'pgm-ppl train', got unreadable text "
                         f"({error}).") from error
    if not isinstance(spec, dict) or spec.get("format") != RUN_FORMAT or spec.get("model") not in TRAINABLE:
        raise UsageError(f"{spec_path}: expected run format {RUN_FORMAT} of a known model, got format "
                         f"{spec.get('format') if isinstance(spec, dict) else None!r}.")
    return spec


def load_density(run_dir: Path) -> Any:
    """Rebuild the fitted model of a ``pgm-ppl train`` run as a :class:`~pgm_ppl.core.Density`.

    Raises
    ------
    UsageError
        If ``run_dir`` is not a finished run (no ``run.json`` or no fitted weights) or was written by another
        format version.
    """
    spec = _read_spec(run_dir)
    if TRAINABLE[spec["model"]].engine == "em":
        from pgm_ppl.em import GMMParams
        from pgm_ppl.em.density import GaussianMixtureDensity

        params_path = _finished(run_dir / "params.npz")
        with np.load(params_path, allow_pickle=False) as saved:
            return GaussianMixtureDensity(GMMParams(saved["weights"], saved["means"], saved["covariances"]))
    import torch

    from pgm_ppl.training import ModuleDensity

    module = _build_module(spec)
    state = torch.load(_finished(run_dir / "model.pt"), map_location="cpu", weights_only=True)
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise UsageError(f"{run_dir / 'model.pt'}: expected the weights of {spec['model']} with "
                         f"{spec['features']} features, got others ({str(error).splitlines()[0]}).") from error
    return ModuleDensity(module, dtype=torch.float32, device=torch.device("cpu"))


# --- helpers ---------------------------------------------------------------------------------------------------------

def _trainable(name: str) -> Trainable:
    if name not in TRAINABLE:
        raise UsageError(f"model: expected one of {', '.join(map(repr, TRAINABLE))}, got {name!r}.")
    return TRAINABLE[name]


def _check_device(device: str) -> None:
    """Refuse a device this machine does not have before anything is written."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"--device: expected cpu or cuda (optionally cuda:N), got {device!r}.") from error
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: this PyTorch has no usable CUDA device "
                         f"(built with CUDA: {torch.backends.cuda.is_built()}); use --device cpu.")
    if kind not in ("cpu", "cuda"):
        raise UsageError(f"--device: expected cpu or cuda, got {device!r}.")


def _check_settings(model: str, entry: Trainable, settings: dict) -> None:
    unknown = sorted(set(settings) - set(entry.options))
    if unknown:
        raise UsageError(f"--set {unknown[0]}: {model} has no such option; expected one of "
                         f"{', '.join(entry.options)}.")
    for name, default in entry.options.items():
        value = settings[name]
        if isinstance(default, int) and (not isinstance(value, int) or value < 1):
            raise UsageError(f"--set {name}={value}: expected a positive integer.")
        if name in LEVEL_OPTIONS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise UsageError(f"--set {name}={value}: expected a finite number >= 0.")
        elif isinstance(default, float) and (not isinstance(value, (int, float)) or not 0 < value < 10):
            raise UsageError(f"--set {name}={value}: expected a number in (0, 10).")


def _build_module(spec: dict) -> Any:
    """The run's network, its initial weights drawn from the run's own "initialisation" seed stream."""
    import importlib

    from pgm_ppl.core import stream

    entry = _trainable(spec["model"])
    module_name, _, function_name = entry.build.partition(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    model_options = {k: v for k, v in spec["settings"].items() if k not in TRAINING_OPTIONS}
    return factory(spec["features"], seed=stream(spec["seed"], "initialisation"), **model_options)


def _split(source: str, seed: int, num_data: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Load the data and split it 80/20 by a seeded permutation (the same rows for the same seed)."""
    from pgm_ppl.core import check_data, stream
    from pgm_ppl.data import load_data

    table = load_data(source, seed=seed, num_samples=num_data)
    X = check_data(table.values, f"--data {source}", ndim=2, min_rows=5)
    order = np.random.default_rng(stream(seed, "data")).permutation(len(X))
    num_test = max(int(round(TEST_FRACTION * len(X))), 2)
    return X[order[num_test:]], X[order[:num_test]], table.name


def _check_out(out: Path, resume: bool) -> None:
    if resume:
        if not (out / "run.json").is_file():
            raise UsageError(f"--resume: expected a run to resume in {out}, got "
                             f"{'a directory without run.json' if out.is_dir() else 'no such directory'}.")
        if not (out / "checkpoint.pt").is_file():
            raise UsageError(f"--resume: {out} has no checkpoint.pt to resume from (the run was not checkpointed, "
                             "or it was an EM run, which has nothing to resume).")
    elif out.exists():
        raise UsageError(f"output directory {out} already exists; choose another --out, remove it, or pass --resume.")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create the folder {parent} ({error.strerror}).") from error
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: cannot write in {parent}.")


def _check_resumable(out: Path, spec: dict) -> None:
    saved = json.loads((out / "run.json").read_text())
    keys = ("model", "features", "settings", "data", "source", "num_data", "seed", "batch_size")
    different = [k for k in keys if saved.get(k) != spec.get(k)]
    if different:
        k = different[0]
        raise UsageError(f"--resume: {out} was trained with {k}={saved.get(k)!r}, got {k}={spec.get(k)!r}; "
                         "resume with the original options (only --steps may grow).")
    if spec["steps"] < saved["steps"]:
        raise UsageError(f"--steps {spec['steps']}: expected at least the run's {saved['steps']} steps to resume.")
    _write_json(out / "run.json", spec)


def _make_run_dir(out: Path) -> None:
    try:
        out.mkdir()  # exclusive: of two runs with the same --out, the second stops here
    except FileExistsError as error:
        raise UsageError(f"output directory {out} already exists; choose another --out.") from error
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create it ({error.strerror}).") from error


def _finished(path: Path) -> Path:
    if not path.is_file():
        raise UsageError(f"{path.parent}: the run has not finished (no {path.name}); resume it with "
                         f"'pgm-ppl train ... --out {path.parent} --resume'.")
    return path


def _atomic_write(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """Write through ``write(temporary)`` next to ``path``, then move it into place."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_json(path: Path, value: dict) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n"))


def _plot_losses(fit: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    losses = np.asarray(fit.losses if fit.losses is not None else [], dtype=float)
    axes.plot(np.arange(len(losses)), losses, lw=0.8, label="training loss")
    if fit.validation_losses is not None:
        valid = np.asarray(fit.validation_losses, dtype=float)
        steps = np.flatnonzero(np.isfinite(valid))
        axes.plot(steps, valid[steps], "o-", ms=3, label="validation loss")
    axes.set(xlabel="step", ylabel="loss per batch (nats)", title=f"{fit.method}: objective per step")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")
    plt.close(figure)


def _plot_samples(samples: np.ndarray, data: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=data.shape[1] > 1)
    for ax, points, title in ((axes[0], data, "held-out data"), (axes[1], samples, "model samples")):
        if points.shape[1] == 1:
            ax.hist(points[:, 0], bins=30, density=True, alpha=0.7)
        else:  # the first two coordinates
            ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6)
        ax.set(title=title, xlabel="x[0]")
    axes[0].set_ylabel("density" if data.shape[1] == 1 else "x[1]")
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")
    plt.close(figure)
