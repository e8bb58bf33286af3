"""pgm_ppl.ot against raw POT, side by side in one process.

1. Sinkhorn on 2,000 x 2,000 point clouds (cost matrix + plan + cost): overhead ratio, goal <= 1.05 at
   equal threads. Both settings are measured, each in its own process (thread pools are fixed at import):
   ``OMP_NUM_THREADS=MKL_NUM_THREADS=OPENBLAS_NUM_THREADS=1`` on both sides, then the default threading.
   Calls alternate (ours, POT, POT, ours, ...) and the ratio is the median of the per-pair ratios, with
   its quartiles and range as the spread (a shared machine makes single pairs vary by +-30%).
2. Log-domain Sinkhorn at reg = 1e-3 of the cost scale (max cost), 200 x 200, marginal tolerance 1e-6:
   converges (plain Sinkhorn does not there).
3. Exact minibatch OT couplings for flow matching at 256 and 512 points: couplings per second, against the
   torchcfm recipe (``ot.emd`` on the minibatch, then pairs drawn from the plan).

Run: .venv/bin/python benchmarks/bench_ot.py [sinkhorn]   (``sinkhorn``: part 1 only)
"""

import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import ot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, report  # noqa: E402

from pgm_ppl.ot import cost_matrix, minibatch_ot_coupling, sinkhorn, sinkhorn_log  # noqa: E402


def _interleaved(name_a, fa, name_b, fb, repeat: int = 5) -> tuple[Timing, Timing]:
    """Time two calls alternately (a b, b a, ...) after one warm-up each, so drifting machine load hits both.

    Also prints the ratio of CPU times (all threads), which a shared, loaded machine disturbs far less than
    wall-clock times."""
    fa(), fb()
    wall, cpu = {name_a: [], name_b: []}, {name_a: [], name_b: []}
    for k in range(2 * repeat):
        for name, fn in ((name_a, fa), (name_b, fb)) if k % 2 == 0 else ((name_b, fb), (name_a, fa)):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    print(f"CPU-time ratio {name_a} / {name_b} = "
          f"{statistics.median(cpu[name_a]) / statistics.median(cpu[name_b]):.3f} (median of {repeat * 2})")
    return tuple(Timing(name, min(r), statistics.median(r)) for name, r in wall.items())


def bench_sinkhorn(n: int = 2000, repeat: int = 15) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1.0
    a = b = ot.unif(n)
    reg = 0.01 * float(ot.dist(x, y).max())

    def ours():
        return sinkhorn(a, b, cost_matrix(x, y), reg).cost

    def pot():
        M = ot.dist(x, y)
        return np.sum(ot.sinkhorn(a, b, M, reg, stopThr=1e-9) * M)

    assert abs(float(ours()) - pot()) < 1e-10
    print(f"--- Sinkhorn, {n} x {n} point clouds, reg = 1% of max cost "
          f"({sinkhorn(a, b, cost_matrix(x, y), reg).num_iterations} iterations), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    wall, cpu = {"ours": [], "pot": []}, {"ours": [], "pot": []}
    for k in range(repeat):
        for name, fn in (("ours", ours), ("pot", pot)) if k % 2 == 0 else (("pot", pot), ("ours", ours)):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    report(Timing("pgm_ppl.ot.sinkhorn", min(wall["ours"]), statistics.median(wall["ours"])),
           Timing("ot.sinkhorn", min(wall["pot"]), statistics.median(wall["pot"])))
    pairs = sorted(o / p for o, p in zip(wall["ours"], wall["pot"]))
    q1, med, q3 = statistics.quantiles(pairs, n=4)
    cpu_pairs = sorted(o / p for o, p in zip(cpu["ours"], cpu["pot"]))
    print(f"time ratio pgm_ppl/POT = {med:.3f} (median of {repeat} pairs; quartiles {q1:.3f}-{q3:.3f}, "
          f"range {pairs[0]:.3f}-{pairs[-1]:.3f})   [goal: <= 1.05]")
    print(f"CPU-time ratio pgm_ppl/POT = {statistics.median(cpu_pairs):.3f} "
          f"(range {cpu_pairs[0]:.3f}-{cpu_pairs[-1]:.3f})")


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def bench_sinkhorn_both_settings() -> None:
    """:func:`bench_sinkhorn` in a fresh process per threading setting, single-threaded first."""
    for threads in ("1", None):
        env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
        env.update({k: threads for k in _THREAD_VARIABLES} if threads else {})
        env["BENCH_OT_CHILD"] = "1"
        subprocess.run([sys.executable, __file__, "sinkhorn"], env=env, check=True)


def bench_log_domain(n: int = 200) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1.0
    a = b = ot.unif(n)
    C = cost_matrix(x, y)
    reg = 1e-3 * float(C.max())
    res = sinkhorn_log(a, b, C, reg, max_iter=20000, tol=1e-6)
    exact = float(ot.emd2(a, b, C))
    print(f"--- log-domain Sinkhorn, {n} x {n}, reg = 1e-3 x max cost = {reg:.2e}")
    print(f"converged={res.converged} after {res.num_iterations} iterations, final marginal error {res.trace[-1]:.2e}, "
          f"cost {float(res.cost):.6f} vs exact {exact:.6f} (gap {float(res.cost) - exact:.2e})")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        plain = sinkhorn(a, b, C, reg, max_iter=1000)
    print(f"plain Sinkhorn at the same reg: converged={plain.converged}, finite plan={bool(np.isfinite(plain.plan).all())}")
    report(*_interleaved("pgm_ppl.ot.sinkhorn_log", lambda: sinkhorn_log(a, b, C, reg, max_iter=20000, tol=1e-6),
                         "ot.sinkhorn(method='sinkhorn_log')",
                         lambda: ot.sinkhorn(a, b, C, reg, method="sinkhorn_log", numItermax=20000, stopThr=1e-6),
                         repeat=1),
           goal="same solver: ~1x")


def bench_minibatch(n: int) -> None:
    rng = np.random.default_rng(n)
    x0, x1 = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 2.0
    draw = np.random.default_rng(0)

    def torchcfm_recipe():  # torchcfm OTPlanSampler: exact plan by ot.emd, then pairs sampled from it
        P = ot.emd(ot.unif(n), ot.unif(n), ot.dist(x0, x1))
        k = draw.choice(n * n, size=n, p=P.ravel() / P.sum())
        return np.divmod(k, n)

    print(f"--- exact minibatch OT couplings, batch {n}")
    ours, ref = _interleaved("pgm_ppl.ot.minibatch_ot_coupling", lambda: minibatch_ot_coupling(x0, x1),
                             "ot.emd + plan sampling (torchcfm)", torchcfm_recipe, repeat=15)
    report(ours, ref, goal="at least as fast")
    print(f"couplings/sec: pgm_ppl {1 / ours.median:.1f}, torchcfm recipe {1 / ref.median:.1f}")


if __name__ == "__main__":
    if "BENCH_OT_CHILD" in os.environ:
        bench_sinkhorn()
        sys.exit()
    bench_sinkhorn_both_settings()
    if sys.argv[1:] == ["sinkhorn"]:
        sys.exit()
    bench_log_domain()
    for size in (256, 512):
        bench_minibatch(size)
