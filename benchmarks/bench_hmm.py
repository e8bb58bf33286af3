"""HMM forward-backward: ``pgm_ppl.graphical.forward_backward`` against the implementation it replaced.

``forward_backward`` runs on ``pgm_ppl.backend.hidden_markov`` (the forward recursion that
``dist.HiddenMarkovModel`` also runs, then the scaled backward pass). The reference below is the classical HMM's
own forward-backward as it stood before the recursion moved to the backend (``git show
1bc0aec^:pgm_ppl/graphical/hmm.py``, a (T, K, N) layout with a fused backward pass), kept here verbatim as the
speed bar: issue 17 asks for one recursion in one place, at least as fast as before. hmmlearn, the library a
user would otherwise pick, is not installed; its ``_hmmc`` forward-backward loops over one sequence at a time.

Problem: 10,000 sequences of length 100 with 10 states (categorical emissions), as in
``bench_graphical.py``. Both run in one process on the same arrays, in interleaved pairs (ours, then the
reference), and the ratio is the median over pairs of reference/ours (> 1: we are faster). The script runs
itself twice, with ``OMP_NUM_THREADS=1`` (and the BLAS pools at one thread) and with the default threading.

Run: ``.venv/bin/python benchmarks/bench_hmm.py [--pairs 9]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def reference_forward_backward(log_initial: np.ndarray, log_transition: np.ndarray,
                               log_emission: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pre-dedup scaled forward-backward (graphical/hmm.py before 1bc0aec), one BLAS thread as it ran."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        n, t_len, k = log_emission.shape
        a = np.exp(log_transition)
        a_t = np.ascontiguousarray(a.T)
        work = np.ascontiguousarray(log_emission.transpose(1, 2, 0))
        shift = work.max(axis=1, keepdims=True)
        shift[~np.isfinite(shift)] = 0.0
        alpha = np.empty((t_len, k, n))
        scale = np.empty((t_len, 1, n))
        for t in range(t_len):
            np.subtract(work[t], shift[t], out=work[t])
            np.exp(work[t], out=work[t])
            np.multiply(a_t @ alpha[t - 1] if t else np.exp(log_initial)[:, None], work[t], out=alpha[t])
            np.sum(alpha[t], axis=0, keepdims=True, out=scale[t])
            alpha[t] /= np.where(scale[t] > 0, scale[t], 1.0)
        safe = np.where(scale > 0, scale, 1.0)
        beta = np.ones((k, n))
        counts = np.zeros((k, k))
        for t in range(t_len - 1, 0, -1):
            work[t] *= beta
            work[t] /= safe[t]
            counts += alpha[t - 1] @ work[t].T
            beta = a @ work[t]
            alpha[t - 1] *= beta
        counts *= a
        with np.errstate(divide="ignore"):
            log_lik = (np.log(scale[:, 0]) + shift[:, 0]).sum(axis=0)
        return alpha.transpose(2, 0, 1), counts, log_lik


def run(pairs: int, num_sequences: int = 10_000, length: int = 100, num_states: int = 10) -> float:
    from pgm_ppl.graphical import CategoricalHMM, forward_backward

    rng = np.random.default_rng(0)
    k = num_states
    hmm = CategoricalHMM(np.full(k, 1.0 / k), rng.dirichlet(np.ones(k), k), rng.dirichlet(np.ones(k), k))
    _, x = hmm.sample(num_sequences, length, seed=1)
    args = (np.log(hmm.initial), np.log(hmm.transition), hmm.log_emission(x))

    ours, ref = forward_backward(*args), reference_forward_backward(*args)
    err = max(np.abs(ours.posterior - ref[0]).max(), np.abs(ours.log_likelihood - ref[2]).max(),
              np.abs(ours.expected_transitions - ref[1]).max() / num_sequences)
    ours_s, ref_s, ratios = [], [], []
    for _ in range(pairs):
        start = time.perf_counter()
        forward_backward(*args)
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference_forward_backward(*args)
        ref_s.append(time.perf_counter() - start)
        ratios.append(ref_s[-1] / ours_s[-1])
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"forward-backward {num_sequences} x {length} x {k}, OMP_NUM_THREADS={threads}, {pairs} interleaved "
          f"pairs; max |ours - reference| = {err:.1e}")
    print(f"  ours (backend/hidden_markov): median {statistics.median(ours_s):.3f} s")
    print(f"  reference (pre-dedup graphical): median {statistics.median(ref_s):.3f} s")
    print(f"  speed-up reference / ours: median {median:.2f}x (quartiles {q1:.2f}-{q3:.2f})   [goal: >= 1x]")
    return median


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run(options.pairs)
    else:
        for threads in ("1", None):
            env = dict(os.environ)
            env.pop("OMP_NUM_THREADS", None)
            if threads:
                env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
            subprocess.run([sys.executable, __file__, "--child", "--pairs", str(options.pairs)], env=env,
                           check=True)
