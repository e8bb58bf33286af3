"""Chapter 3 side by side, in one process.

1. CAVI Bayesian Gaussian mixture (pgm_ppl.cavi.fit_bayesian_gmm) against scikit-learn's
   BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_distribution"): n = 100,000, d = 5,
   K = 10, the same priors, initial responsibilities and iterations (tol = 0). Per-iteration time is the
   difference between an 11- and a 1-iteration fit divided by 10. Goal: at most 1x scikit-learn's time.
2. Random-walk Metropolis with 64 chains vectorised (pgm_ppl.inference.mh.random_walk_metropolis) against
   the same sampler run chain by chain in a Python loop (64 one-chain runs). Goal: at least 20x.

Run: .venv/bin/python benchmarks/bench_ch3.py [n]
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.mixture import BayesianGaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, report, time_call  # noqa: E402

from pgm_ppl.cavi import fit_bayesian_gmm  # noqa: E402
from pgm_ppl.inference.mh import random_walk_metropolis  # noqa: E402
from pgm_ppl.inference.targets import mixture_log_density  # noqa: E402


class _FixedInit(BayesianGaussianMixture):
    """scikit-learn's estimator started from given responsibilities."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp0)


def per_iteration(name: str, run, iters: int = 10, repeat: int = 2) -> Timing:
    long = time_call(name, lambda: run(iters + 1), repeat=repeat)
    short = time_call(name, lambda: run(1), repeat=repeat)
    return Timing(name, (long.best - short.best) / iters, (long.median - short.median) / iters)


def bench_bgmm(n: int) -> float:
    rng = np.random.default_rng(0)
    d, K = 5, 10
    X = 4.0 * rng.normal(size=(K, d))[rng.integers(K, size=n)] + rng.normal(size=(n, d))
    resp0 = np.eye(K)[rng.integers(K, size=n)]

    def sklearn_run(iters):
        model = _FixedInit(n_components=K, weight_concentration_prior_type="dirichlet_distribution",
                           max_iter=iters, tol=0.0, n_init=1)
        model.resp0 = resp0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)

    ours = per_iteration("pgm_ppl CAVI BGMM / iteration", lambda it: fit_bayesian_gmm(X, K, init_resp=resp0,
                                                                                       max_iter=it, tol=0.0))
    reference = per_iteration("sklearn BayesianGaussianMixture / iteration", sklearn_run)
    return report(ours, reference, goal=">= 1x (at most sklearn's time)")


def bench_rwm(num_chains: int = 64, num_samples: int = 2000) -> float:
    target = mixture_log_density()
    options = dict(step_size=0.9, num_samples=num_samples, num_warmup=500)
    ours = time_call(f"RWM {num_chains} chains vectorised",
                     lambda: random_walk_metropolis(target, np.zeros(2), num_chains=num_chains, seed=0, **options),
                     repeat=3)
    loop = time_call(f"RWM {num_chains} chains, one at a time",
                     lambda: [random_walk_metropolis(target, np.zeros(2), num_chains=1, seed=c, **options)
                              for c in range(num_chains)], repeat=1)
    return report(ours, loop, goal=">= 20x")


if __name__ == "__main__":
    bench_bgmm(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    bench_rwm()
