"""The ``pgm-ppl`` command: list the zoo, fit a model to data, diagnose a saved run.

Every user error (bad data, unknown names or out-of-range model options, an existing or unwritable output
directory, results too large for memory, a diverging optimiser, a model with no valid starting point) prints
one line naming the culprit and exits with status 2. Everything that can be checked before the fit is checked
before it: options, the data file, the output directory and the memory the results will take. Outputs are
written to a temporary directory that is renamed into place only when complete; Ctrl-C exits with status
130 and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pgm_ppl.cli_text import add_text_commands
from pgm_ppl.cli_train import add_commands, list_trainable
from pgm_ppl.data import DATASETS, DataError, DataWarning, load_data
from pgm_ppl.inference import GUIDES, METHODS
from pgm_ppl.inference.errors import NonFiniteLossError
from pgm_ppl.models import ZOO, get_model

DEFAULT_MODEL = "linear_regression"
POINTWISE_VALUES = 50_000_000  # values kept per data-sized group by --pointwise auto (200 MB in float32)
PRIOR_DRAWS = 500


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
    except OSError as error:  # a file-system failure not foreseen by the up-front checks
        where = f"{error.filename}: " if error.filename else ""
        print(f"pgm-ppl: error: {where}{error.strerror or error}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\npgm-ppl: interrupted; no output was written.", file=sys.stderr)
        return 130


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
                         help="model option, e.g. --set num_components=4 (repeatable)")
    fitting.add_argument("--pointwise", default="auto", choices=["auto", "full", "none"],
                         help="what to keep of the groups that grow with the data (pointwise log-likelihood, "
                         "predictives): auto (default) keeps every draw up to 50 million values per group, else "
                         "every k-th draw, in float32; full keeps every draw in float64; none keeps neither "
                         "log-likelihood nor predictive draws")
    fitting.add_argument("--out", help="output directory, which must not exist "
                         "(default: pgm_ppl_runs/<model>-<method>-<time>)")
    fitting.set_defaults(run=_run_fit)

    diagnosing = commands.add_parser("diagnose", help="summary, warnings and plots of a saved run")
    diagnosing.add_argument("file", help="a NetCDF file written by 'pgm-ppl fit'")
    diagnosing.add_argument("--out", help="directory for the plots (default: <file>-diagnosis beside it)")
    diagnosing.set_defaults(run=_run_diagnose)
    add_commands(commands, _positive)  # train, sample, compare
    add_text_commands(commands)  # text models: train on FILE.txt, sample --prompt
    return parser


def _fit_defaults() -> dict:
    return {"model": DEFAULT_MODEL, "data": None, "method": "nuts", "backend": None, "guide": "auto_normal",
            "chains": 4, "samples": 1000, "warmup": 1000, "steps": 5000, "seed": 0, "set": [], "out": None,
            "pointwise": "auto"}


def _run_list(options) -> int:
    print("Models:")
    for name, entry in ZOO.items():
        print(f"  {name:20s} {entry.summary} [default data: {entry.default_data}]")
    print("Methods:")
    for name, text in METHODS.items():
        print(f"  {name:20s} {text}")
    print("SVI guides: " + ", ".join(GUIDES))
    print("Trainable models (pgm-ppl train):")
    print("\n".join(list_trainable()))
    print("Embedded datasets:")
    for name, text in DATASETS.items():
        print(f"  {name:20s} {text}")
    return 0


def _run_fit(options) -> int:
    started = time.perf_counter()
    entry = get_model(options.model)
    model_options = {**entry.options, **entry.check_options(_parse_settings(options.set), "--set ")}
    out = Path(options.out) if options.out else _default_out(entry.name, options.method)
    _check_out(out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        table = load_data(options.data or entry.default_data, seed=options.seed)
    for warning in caught:
        if issubclass(warning.category, DataWarning):
            print(f"pgm-ppl: note: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    inputs = entry.prepare(table)
    chains = 1 if options.method == "svi" else options.chains
    _use_compilation_cache()  # before the first JAX program (the model's trace in _result_sizes)
    sizes = _result_sizes(entry, inputs, model_options)
    policy = _Pointwise.choose(options.pointwise, chains, options.samples, sizes)
    needed = policy.bytes(sizes, chains, options.samples)
    _check_memory(needed, chains, options.samples)
    work = (f"{options.steps:,} steps, {options.samples:,} draws" if options.method == "svi" else
            f"{chains} chains x ({options.warmup:,} warm-up + {options.samples:,} draws)")
    print(f"Fitting {entry.name} to {table.name} ({table.num_rows} rows) by {options.method}: {work}, "
          f"about {_size(needed)} of results...", flush=True)
    # ArviZ, matplotlib and the writers load on a second thread while the sampler runs (its compiled loop leaves
    # the interpreter free); the main thread imports them after the fit, waiting only for what is left
    threading.Thread(target=_import_quietly, args=(_DIAGNOSTICS,), name="pgm-ppl-imports", daemon=True).start()
    from pgm_ppl.inference.fitting import fit  # JAX (or PyTorch) loads only for real work

    times = {"start-up": time.perf_counter() - started}
    try:
        result = fit(entry.model, inputs, method=options.method, backend=options.backend, guide=options.guide,
                     num_samples=options.samples, num_warmup=options.warmup, num_chains=options.chains,
                     num_steps=options.steps, seed=options.seed, model_kwargs=model_options,
                     num_prior_samples=policy.prior_draws, predictive=policy.mode != "none",
                     log_likelihood=policy.mode != "none", pointwise_thin=policy.thin)
    except RuntimeError as error:
        if "Cannot find valid initial parameters" not in str(error):
            raise
        settings = ", ".join(f"{name}={value}" for name, value in model_options.items()) or "none"
        raise UsageError(
            f"{entry.name} on {table.name}: {options.method} found no starting point where the model's "
            f"log-density is finite (NumPyro: 'Cannot find valid initial parameters'). Check the model options "
            f"(now: {settings}; a scale too small makes every point impossible), that the data fit the model's "
            "support, and that no column is constant or duplicated.") from error
    times["fit"], mark = time.perf_counter() - started - times["start-up"], time.perf_counter()
    from pgm_ppl.diagnostics import diagnose, save_plots
    from pgm_ppl.diagnostics.convert import write_netcdf

    idata = result.to_inference_data()
    scale = _label_scale(idata, entry, table)
    policy.apply(idata, options.samples)
    diagnosis = diagnose(idata)
    print(f"{scale}\n{policy.describe(chains, options.samples)}\n")
    print(diagnosis)
    times["diagnosis"], mark = time.perf_counter() - mark, time.perf_counter()
    with _atomic_directory(out) as staging:
        write_netcdf(idata, staging / "inference_data.nc")
        diagnosis.summary.to_csv(staging / "summary.csv")
        times["NetCDF"], mark = time.perf_counter() - mark, time.perf_counter()
        plots = save_plots(idata, staging)
        times["plots"] = time.perf_counter() - mark
    names = ", ".join(["inference_data.nc", "summary.csv", *(path.name for path in plots)])
    split = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in times.items())
    print(f"\nWrote {out}/: {names} ({result.backend} {result.method}, {result.seconds:.1f} s)\n"
          f"Times: {split}; total {time.perf_counter() - started:.1f} s "
          f"(sampling {result.seconds:.1f} s of the fit, compilation included)")
    return 0


def _run_diagnose(options) -> int:
    import arviz as az

    from pgm_ppl.diagnostics import diagnose, save_plots

    path = Path(options.file)
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; give the inference_data.nc file inside it.")
    if not path.is_file():
        raise UsageError(f"{path}: no such file.")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{path}: permission denied; make the file readable (chmod u+r) or copy it.")
    out = Path(options.out) if options.out else path.with_name(f"{path.stem}-diagnosis")
    _check_out(out)
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
    """Create ``target`` by filling a hidden sibling directory and renaming it when the block succeeds.

    The staging directory is removed whatever happens (an error, Ctrl-C, or another run that created
    ``target`` first, which is reported as a :class:`UsageError`)."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self) -> Path:
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=self.target.parent))
        except OSError as error:
            raise UsageError(f"--out {self.target}: cannot write there ({error.strerror or error}); choose a "
                             "writable location.") from error
        return self.staging

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        if self.target.exists():  # rename(2) would silently replace an empty directory
            self._lost()
        try:
            os.rename(self.staging, self.target)
        except OSError as failure:
            if self.target.exists():
                self._lost(failure)
            shutil.rmtree(self.staging, ignore_errors=True)
            raise UsageError(f"--out {self.target}: cannot move the results into place "
                             f"({failure.strerror or failure}); nothing was written.") from failure

    def _lost(self, cause: Exception | None = None) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        raise UsageError(f"output directory {self.target} was created by another run while this one was working; "
                         "this run's results were discarded. Use a different --out for each run.") from cause


def _check_out(out: Path) -> None:
    """Refuse, before any work, an ``out`` that exists or could not be created (exit status 2)."""
    if out.exists():
        raise UsageError(f"output directory {out} already exists; choose another --out or remove it.")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is a file, not a directory; choose another --out.")
    try:  # the real test (permissions, read-only file systems, quotas), not a guess from the mode bits
        os.rmdir(tempfile.mkdtemp(prefix=".pgm-ppl-probe-", dir=parent))
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create a directory in {parent} ({error.strerror or error}); "
                         "choose a writable location.") from error


def _result_sizes(entry, inputs: dict, model_options: dict) -> tuple[int, int, int]:
    """Values a fit keeps per draw: (per posterior draw: latents, deterministics and eight sample statistics;
    per pointwise draw: each observed site's log-likelihood and posterior-predictive values; per prior draw)."""
    from pgm_ppl.backend import to_backend, use_backend
    from pgm_ppl.inference import numpyro_engine

    with use_backend("numpyro"):
        structure = numpyro_engine.model_structure(entry.model, (), to_backend({**inputs, **model_options},
                                                                               "numpyro"), 0)
    per_draw, per_pointwise_draw, per_prior_draw = 8, 0, 0  # eight sample statistics (diverging, lp, ...)
    for site in structure.sites.values():
        size = int(np.prod(site.shape, dtype=np.int64))
        per_prior_draw += size
        if site.kind in ("latent", "deterministic"):
            per_draw += size
        elif site.kind == "observed":
            per_pointwise_draw += size + int(np.prod(site.batch_shape, dtype=np.int64))
    return per_draw, per_pointwise_draw, per_prior_draw


class _Pointwise:
    """What a fit keeps of the groups that grow with the data (``--pointwise``): the pointwise log-likelihood
    and posterior predictive from every ``thin``-th draw of each chain, ``prior_draws`` prior(-predictive)
    draws, stored in float32 (``auto``) or float64 (``full``); ``none`` keeps no log-likelihood and no
    predictive draws."""

    def __init__(self, mode: str, thin: int = 1, prior_draws: int = PRIOR_DRAWS):
        self.mode, self.thin, self.prior_draws = mode, thin, prior_draws

    @classmethod
    def choose(cls, mode: str, chains: int, draws: int, sizes: tuple[int, int, int]) -> _Pointwise:
        if mode == "full":
            return cls(mode)
        values = max(sizes[1], 1)  # values per draw of the data-sized groups
        thin = max(1, -(-chains * draws * values // POINTWISE_VALUES)) if mode == "auto" else 1
        return cls(mode, thin, int(min(PRIOR_DRAWS, max(1, POINTWISE_VALUES // max(sizes[2], 1)))))

    def bytes(self, sizes: tuple[int, int, int], chains: int, draws: int) -> int:
        """A lower bound of the fit's peak memory: its results in float64, as computed."""
        pointwise = 0 if self.mode == "none" else chains * -(-draws // self.thin) * sizes[1]
        return 8 * (chains * draws * sizes[0] + pointwise + self.prior_draws * sizes[2])

    def describe(self, chains: int, draws: int) -> str:
        kept = -(-draws // self.thin)
        if self.mode == "none":
            return (f"Pointwise groups (--pointwise none): no log-likelihood, no predictive draws; prior from "
                    f"{self.prior_draws} draws.")
        which = ("every draw" if self.thin == 1 else
                 f"{chains * kept:,} of {chains * draws:,} draws (one in {self.thin} of each chain)")
        kind = "float64" if self.mode == "full" else "float32"
        return (f"Pointwise groups (--pointwise {self.mode}): log-likelihood and posterior predictive from {which}, "
                f"prior predictive from {self.prior_draws} draws, {kind}, compressed NetCDF"
                + ("; --pointwise full keeps every draw in float64." if self.mode == "auto" else "."))

    def apply(self, idata, draws: int) -> None:
        """Align the thinned groups' draw axis with the posterior's, cast to float32 (auto), record the policy."""
        for group in ("log_likelihood", "posterior_predictive", "prior_predictive"):
            if group not in idata.groups():
                continue
            data = idata[group]
            if group != "prior_predictive" and self.thin > 1:
                data = data.assign_coords(draw=np.arange(0, draws, self.thin))
            if self.mode == "auto":
                data = data.astype({name: np.float32 for name, var in data.data_vars.items()
                                    if var.dtype == np.float64})
            setattr(idata, group, data)
        if self.mode == "none" and "prior_predictive" in idata.groups():
            del idata.prior_predictive
        for group in idata.groups():
            idata[group].attrs.update(pointwise=self.mode, pointwise_thin=self.thin,
                                      pointwise_prior_draws=self.prior_draws)


def _label_scale(idata, entry, table) -> str:
    """Name the axes after the data's columns, map the draws back to the data's units where the model has such a
    map (else label them standardised), record the standardisation in the attributes; return a note."""
    if entry.standardisation is None:
        return "Results on the scale of the data as given."
    scaling = entry.standardisation(table)
    columns = list(scaling.columns)
    for group in ("posterior", "prior"):
        if group not in idata.groups():
            continue
        data = idata[group]
        if entry.to_data_scale is not None:
            mapped = entry.to_data_scale({name: data[name].values for name in data.data_vars}, scaling)
            data = data.assign({name: (data[name].dims, value) for name, value in mapped.items()})
        for name, axis in entry.feature_axes.items():  # each variable on its own: mu_dim_1 and sigma_dim_1 merge
            if name in data and (old := data[name].dims[2 + axis]) != "feature":
                data = data.assign({name: data[name].rename({old: "feature"}).drop_vars(old, errors="ignore")})
        unused = [dim for dim in data.coords if dim not in {d for var in data.data_vars.values() for d in var.dims}]
        setattr(idata, group, data.drop_vars(unused).assign_coords(feature=columns))
    if entry.to_data_scale is not None:
        _response_to_data_scale(idata, scaling)
    on_data = entry.to_data_scale is not None
    attrs = {"scale": "data" if on_data else "standardised", **scaling.attrs()}
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    if on_data:
        return (f"Posterior in the data's own units: response {scaling.response!r}, inputs "
                f"{', '.join(columns)} (fitted standardised; the constants are in the NetCDF attributes).")
    return (f"Posterior on the standardised scale: each column ({', '.join(columns)}) centred and divided by its "
            "standard deviation (the constants are in the NetCDF attributes).")


def _response_to_data_scale(idata, scaling) -> None:
    """Observed and predicted responses in the data's units; the log-likelihood as a density in those units."""
    import xarray as xr

    mean, scale = scaling.response_mean, scaling.response_scale
    with xr.set_options(keep_attrs=True):
        for group in ("observed_data", "posterior_predictive", "prior_predictive"):
            if group in idata.groups():
                setattr(idata, group, idata[group] * scale + mean)
        if "log_likelihood" in idata.groups():
            setattr(idata, "log_likelihood", idata.log_likelihood - np.log(scale))
    if "constant_data" in idata.groups() and "X" in idata.constant_data:
        data = idata.constant_data
        inputs = data["X"].values * scaling.scale + scaling.mean
        setattr(idata, "constant_data", data.assign(X=(data["X"].dims, inputs)))


#: What ``pgm-ppl fit`` needs after the fit (ArviZ, matplotlib's pyplot, the NetCDF writer).
_DIAGNOSTICS = ("pgm_ppl.diagnostics.report", "pgm_ppl.diagnostics.plots", "pgm_ppl.diagnostics.convert")


def _import_quietly(modules: Sequence[str]) -> None:
    """Import ``modules`` ahead of use; an error is left for the main thread's own import to raise."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 -- the main thread imports it again and reports the error
            return


def _use_compilation_cache() -> None:
    """Keep JAX's compiled programs between runs in the user's cache folder ($XDG_CACHE_HOME or ~/.cache, then
    pgm_ppl/jax), unless the user has chosen a cache folder of their own."""
    import jax

    if jax.config.jax_compilation_cache_dir:
        return
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    jax.config.update("jax_compilation_cache_dir", os.path.join(root, "pgm_ppl", "jax"))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(needed: int, chains: int, draws: int) -> None:
    available = _available_memory()
    if available is not None and needed > available:
        fitting = max(1, int(draws * available / needed))
        raise UsageError(f"--samples {draws}: the results would take about {_size(needed)} "
                         f"({chains} chain(s) x {draws:,} draws), more than the {_size(available)} of memory "
                         f"available; use at most about --samples {fitting:,} (a few thousand draws per chain "
                         "are usually plenty).")


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000


def _default_out(model: str, method: str) -> Path:
    return Path("pgm_ppl_runs") / f"{model}-{method}-{time.strftime('%Y%m%d-%H%M%S')}"


def _parse_settings(settings: list[str]) -> dict:
    parsed = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--set {setting!r}: expected NAME=VALUE, e.g. --set num_components=4.")
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
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
