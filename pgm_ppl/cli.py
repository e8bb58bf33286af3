"""The ``pgm-ppl`` command: list the zoo, fit a model to data, diagnose a saved run.

Every user error (bad data, unknown names, an existing output directory, a diverging optimiser)
prints one line naming the culprit and exits with status 2; outputs are written to a temporary
directory that is renamed into place only when complete.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from pgm_ppl.data import DATASETS, DataError, load_data
from pgm_ppl.inference import GUIDES, METHODS
from pgm_ppl.inference.errors import NonFiniteLossError
from pgm_ppl.models import ZOO, get_model

DEFAULT_MODEL = "linear_regression"


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pgm-ppl`` console script; returns the exit status."""
    parser = _parser()
    options = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    os.environ.setdefault("MPLBACKEND", "Agg")  # the command only writes figures to files
    try:
        return options.run(options)
    except (UsageError, DataError, ValueError, TypeError, NonFiniteLossError, FileNotFoundError) as error:
        print(f"pgm-ppl: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgm-ppl", description="Probabilistic generative models: fit and "
                                     "diagnose Bayesian models on Pyro and NumPyro, with ArviZ diagnostics.")
    commands = parser.add_subparsers(dest="command")
    parser.set_defaults(run=_run_fit, **_fit_defaults())

    listing = commands.add_parser("list", help="models, methods and embedded datasets")
    listing.set_defaults(run=_run_list)

    fitting = commands.add_parser("fit", help="fit a model and write NetCDF, CSV summary and plots")
    fitting.add_argument("model", nargs="?", default=DEFAULT_MODEL, help=f"zoo model (default {DEFAULT_MODEL})")
    fitting.add_argument("--data", help="embedded dataset name or a CSV/NPY/NPZ/NetCDF file "
                         "(default: the model's own dataset)")
    fitting.add_argument("--method", default="nuts", choices=list(METHODS))
    fitting.add_argument("--backend", choices=["numpyro", "pyro"], help="default: NumPyro for NUTS/HMC, "
                         "Pyro for SVI")
    fitting.add_argument("--guide", default="auto_normal", choices=list(GUIDES), help="SVI guide")
    fitting.add_argument("--chains", type=_positive, default=4, help="MCMC chains (default 4)")
    fitting.add_argument("--samples", type=_positive, default=1000, help="draws per chain (default 1000)")
    fitting.add_argument("--warmup", type=_positive, default=1000, help="warm-up iterations (default 1000)")
    fitting.add_argument("--steps", type=_positive, default=5000, help="SVI steps (default 5000)")
    fitting.add_argument("--seed", type=int, default=0)
    fitting.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                         help="model option, e.g. --set K=4 (repeatable)")
    fitting.add_argument("--out", help="output directory, which must not exist "
                         "(default: pgm_ppl_runs/<model>-<method>-<time>)")
    fitting.set_defaults(run=_run_fit)

    diagnosing = commands.add_parser("diagnose", help="summary, warnings and plots of a saved run")
    diagnosing.add_argument("file", help="a NetCDF file written by 'pgm-ppl fit'")
    diagnosing.add_argument("--out", help="directory for the plots (default: <file>-diagnosis beside it)")
    diagnosing.set_defaults(run=_run_diagnose)
    return parser


def _fit_defaults() -> dict:
    return {"model": DEFAULT_MODEL, "data": None, "method": "nuts", "backend": None, "guide": "auto_normal",
            "chains": 4, "samples": 1000, "warmup": 1000, "steps": 5000, "seed": 0, "set": [], "out": None}


def _run_list(options) -> int:
    print("Models:")
    for name, entry in ZOO.items():
        print(f"  {name:20s} {entry.summary} [default data: {entry.default_data}]")
    print("Methods:")
    for name, text in METHODS.items():
        print(f"  {name:20s} {text}")
    print("SVI guides: " + ", ".join(GUIDES))
    print("Embedded datasets:")
    for name, text in DATASETS.items():
        print(f"  {name:20s} {text}")
    return 0


def _run_fit(options) -> int:
    entry = get_model(options.model)
    model_options = {**entry.options, **_parse_settings(options.set)}
    out = Path(options.out) if options.out else _default_out(entry.name, options.method)
    if out.exists():
        raise UsageError(f"output directory {out} already exists; choose another --out or remove it.")
    table = load_data(options.data or entry.default_data, seed=options.seed)
    inputs = entry.prepare(table)
    print(f"Fitting {entry.name} to {table.name} ({table.num_rows} rows) by {options.method}...", flush=True)
    from pgm_ppl.diagnostics import diagnose, save_plots  # JAX, PyTorch and ArviZ load only for real work
    from pgm_ppl.inference.fitting import fit

    result = fit(entry.model, inputs, method=options.method, backend=options.backend, guide=options.guide,
                 num_samples=options.samples, num_warmup=options.warmup, num_chains=options.chains,
                 num_steps=options.steps, seed=options.seed, model_kwargs=model_options)
    idata = result.to_inference_data()
    diagnosis = diagnose(idata)
    print(diagnosis)
    with _atomic_directory(out) as staging:
        idata.to_netcdf(str(staging / "inference_data.nc"))
        diagnosis.summary.to_csv(staging / "summary.csv")
        save_plots(idata, staging)
    print(f"\nWrote {out}/: inference_data.nc, summary.csv, trace.png, posterior.png "
          f"({result.backend} {result.method}, {result.seconds:.1f} s)")
    return 0


def _run_diagnose(options) -> int:
    import arviz as az

    from pgm_ppl.diagnostics import diagnose, save_plots

    path = Path(options.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file.")
    out = Path(options.out) if options.out else path.with_name(f"{path.stem}-diagnosis")
    if out.exists():
        raise UsageError(f"output directory {out} already exists; choose another --out or remove it.")
    try:
        idata = az.from_netcdf(str(path))
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"{path}: not an InferenceData NetCDF file ({error}).") from error
    if "posterior" not in idata:
        raise UsageError(f"{path}: has no posterior group; is it a file written by 'pgm-ppl fit'?")
    print(diagnose(idata))
    with _atomic_directory(out) as staging:
        save_plots(idata, staging)
    print(f"\nWrote {out}/: trace.png, posterior.png")
    return 0


class _atomic_directory:
    """Create ``target`` by filling a hidden sibling directory and renaming it when the block succeeds."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=self.target.parent))
        return self.staging

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            os.rename(self.staging, self.target)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)


def _default_out(model: str, method: str) -> Path:
    return Path("pgm_ppl_runs") / f"{model}-{method}-{time.strftime('%Y%m%d-%H%M%S')}"


def _parse_settings(settings: list[str]) -> dict:
    parsed = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--set {setting!r}: expected NAME=VALUE, e.g. --set K=4.")
        parsed[name] = _number(text)
    return parsed


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
