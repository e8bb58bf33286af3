"""Time to first posterior: ``pgm-ppl fit`` on the embedded default vs raw NumPyro + ``az.from_numpyro``.

Both sides run as fresh processes, from process start to files written, on the same model (Bayesian linear
regression, diabetes 442 x 10 standardised), the same 4 chains x (1,000 warm-up + 1,000 draws), float64, and
vectorised chains. The raw side writes its InferenceData (posterior, sample stats, pointwise log-likelihood,
observed data) to NetCDF; ``pgm-ppl fit`` also writes prior, both predictives, the summary and two plots.
``pgm-ppl fit`` runs twice: with an empty JAX compilation cache (first run ever) and with the cache it filled
(every later run); its own printed split (start-up, fit, diagnosis, NetCDF, plots) is shown. Goal: cold and
warm ``pgm-ppl fit`` <= 1.3x raw (issue 17). Each repeat runs the three in turn (interleaved, so a busy machine
slows all three alike); the ratio is reported as the median over repeats of each repeat's own ratio, with its
range. Run with ``OMP_NUM_THREADS=1`` as well to compare at equal threads.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
COMMAND = str(Path(PYTHON).with_name("pgm-ppl"))
RAW = r"""
import sys
import jax, jax.numpy as jnp, numpyro, numpyro.distributions as nd, arviz as az
from numpyro.infer import MCMC, NUTS
from pgm_ppl.data import load_data
from pgm_ppl.models.registry import ZOO
numpyro.enable_x64()
inputs = ZOO["linear_regression"].prepare(load_data("diabetes"))
def model(X, y):
    w = numpyro.sample("w", nd.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = numpyro.sample("b", nd.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", nd.HalfNormal(1.0))
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("y", nd.Normal(X @ w + b, sigma), obs=y)
mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, num_chains=4, chain_method="vectorized",
            progress_bar=False)
mcmc.run(jax.random.PRNGKey(0), jnp.asarray(inputs["X"]), jnp.asarray(inputs["y"]))
az.from_numpyro(mcmc).to_netcdf(sys.argv[1])
"""


def timed(args, env) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, result.stdout


def main(repeat: int = 3) -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(folder) / "cache"), "MPLBACKEND": "Agg"}
        runs = {"raw NumPyro + az.from_numpyro": [], "pgm-ppl fit, cold cache": [], "pgm-ppl fit, warm cache": []}
        for i in range(repeat):
            env["XDG_CACHE_HOME"] = str(Path(folder) / f"cache{i}")  # empty: the first run ever
            for name in ("pgm-ppl fit, cold cache", "pgm-ppl fit, warm cache"):
                seconds, out = timed([COMMAND, "fit", "--out", str(Path(folder) / f"{name[-10:-6]}{i}")], env)
                runs[name].append(seconds)
                print(f"{name}: {seconds:.1f} s   [{out.strip().splitlines()[-1]}]", flush=True)
            seconds, _ = timed([PYTHON, "-c", RAW, str(Path(folder) / f"raw{i}.nc")], env)
            runs["raw NumPyro + az.from_numpyro"].append(seconds)
            print(f"raw NumPyro + az.from_numpyro: {seconds:.1f} s", flush=True)
    raw = runs.pop("raw NumPyro + az.from_numpyro")
    print(f"\nmedian of {repeat}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}: "
          f"raw {statistics.median(raw):.1f} s")
    for name, times in runs.items():
        ratios = [ours / theirs for ours, theirs in zip(times, raw)]
        print(f"{name}: {statistics.median(times):.1f} s; per repeat {statistics.median(ratios):.2f}x raw "
              f"(range {min(ratios):.2f}-{max(ratios):.2f})   [goal: <= 1.3x]")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
