"""Gaussian processes: exact GP training per iteration against scikit-learn, and SVGP throughput.

1. Exact GP, SE kernel + noise, 1-D inputs, n = 2,000 and 5,000. One training iteration is one evaluation of
   the log marginal likelihood (4.22) and its gradient: for scikit-learn,
   ``GaussianProcessRegressor.log_marginal_likelihood(theta, eval_gradient=True)``, which its L-BFGS-B calls
   once per iteration; for us, one Adam step of :func:`pgm_ppl.gp.exact.train` (Cholesky in torch float64,
   analytic gradient 1/2 tr((aa^T - C^-1) dC) through the kernel's autograd), measured as a 4-step run
   divided by 4 (set-up included, so the ratio is conservative). Goal: faster than scikit-learn at n = 5,000.
   The same per-iteration time for :func:`pgm_ppl.gp.exact.train_cg` (GPyTorch's preconditioned CG and
   stochastic Lanczos log-determinant, default :class:`~pgm_ppl.gp.exact.CGOptions`: rank-15 preconditioner,
   10 probes, CG tolerance 0.01), measured the same way, set against both.
2. CG only at larger n (default 20,000), where Cholesky's and scikit-learn's several dense N x N float64
   copies (C, L, C^-1 and the gradient tensor: 3.2 GB each at n = 20,000) do not fit beside other work on a
   24 GiB machine; CG keeps one N x N kernel matrix and its autograd buffers.
3. SVGP (:func:`pgm_ppl.gp.sparse.train_svgp`) on n = 1,000,000 points, M = 64 inducing points, batches of
   1,024, float32: training throughput in points per second.

Run: .venv/bin/python benchmarks/bench_gp.py [--sizes N ...] [--cg-sizes N ...] [--no-svgp]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as sk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, report, time_call  # noqa: E402

from pgm_ppl.gp.kernels import squared_exponential  # noqa: E402
from pgm_ppl.gp.exact import train, train_cg  # noqa: E402
from pgm_ppl.gp.sparse import train_svgp  # noqa: E402


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, size=n)
    return x, np.sin(x) + 0.3 * rng.normal(size=n)


def exact_per_iteration(n: int) -> float:
    x, y = make_data(n)
    gpr = GaussianProcessRegressor(1.0 * sk.RBF(1.0) + sk.WhiteKernel(0.1), optimizer=None).fit(x[:, None], y)
    theta = gpr.kernel_.theta
    reference = time_call(f"sklearn lml+grad n={n}",
                          lambda: gpr.log_marginal_likelihood(theta, eval_gradient=True), warmup=1, repeat=3)

    steps = 4
    total = time_call("pgm_ppl", lambda: train(squared_exponential(), x, y, noise_variance=0.1, optimizer="adam",
                                               max_iter=steps), warmup=1, repeat=3)
    ours = Timing(f"pgm_ppl exact GP step n={n}", total.best / steps, total.median / steps)
    ratio = report(ours, reference, goal="> 1x at n = 5,000")
    cg = cg_per_iteration(x, y, repeat=3)
    report(cg, reference)
    report(cg, ours)
    return ratio


def cg_per_iteration(x: np.ndarray, y: np.ndarray, *, repeat: int) -> Timing:
    """One Adam step of :func:`train_cg` (CG solve, stochastic log-determinant, backward), from a 4-step run
    divided by 4 (set-up and the final LML estimate included, so conservative)."""
    steps = 4
    total = time_call("pgm_ppl CG", lambda: train_cg(squared_exponential(), x, y, noise_variance=0.1, num_steps=steps),
                      warmup=1, repeat=repeat)
    return Timing(f"pgm_ppl CG GP step n={x.size}", total.best / steps, total.median / steps)


def svgp_throughput(n: int = 1_000_000) -> float:
    x, y = make_data(n, seed=1)
    result = train_svgp(squared_exponential(), x, y, num_inducing=64, batch_size=1024, num_epochs=0.25,
                        learning_rate=0.02, seed=0)
    print(f"SVGP n={n:,}: {result.steps} steps in {result.seconds:.3g} s, "
          f"{result.points_per_second:,.0f} points/s (one epoch ~ {n / result.points_per_second:.3g} s)")
    return result.points_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000], help="n for CG vs Cholesky vs sklearn")
    parser.add_argument("--cg-sizes", type=int, nargs="*", default=[20000], help="n for CG alone")
    parser.add_argument("--no-svgp", action="store_true", help="skip the SVGP throughput run")
    args = parser.parse_args()
    for n in args.sizes:
        exact_per_iteration(n)
    for n in args.cg_sizes:
        timing = cg_per_iteration(*make_data(n), repeat=1)
        print(f"{timing.name}: {timing.median:.4g} s")
    if not args.no_svgp:
        svgp_throughput()


if __name__ == "__main__":
    main()
