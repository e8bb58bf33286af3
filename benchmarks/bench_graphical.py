"""Graphical models: junction tree vs pgmpy variable elimination; batched forward-backward vs a Python loop.

1. All single-node posterior marginals of the alarm network (37 nodes) given evidence on three nodes:
   ``JunctionTree.calibrate(evidence).marginals()`` (tree compiled once, as pgmpy's ``VariableElimination``
   object is built once) against one ``VariableElimination.query`` per node. Goal: >= 10x.
2. Forward-backward on 10,000 sequences of length 100 with 10 states: our batched recursion against the same
   scaled recursion written as a Python loop over sequences (what one writes without batching). Goal: >= 50x.
3. The gradient NUTS needs from an HMM model: log p(x) of 100 Gaussian-emission sequences (T = 100, K = 5, 20)
   with the states summed out, and its gradient in (pi, A, mu, sigma). Our ``dist.HiddenMarkovModel`` on
   NumPyro (jit-compiled) and on Pyro, against Pyro's ``DiscreteHMM`` (the library's own HMM likelihood).

Run: ``.venv/bin/python benchmarks/bench_graphical.py``
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import report, time_call  # noqa: E402

from pgm_ppl.graphical import CategoricalHMM, JunctionTree, forward_backward, read_bif  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pgmpy
    from pgmpy.inference import VariableElimination
    from pgmpy.utils import get_example_model


def bench_alarm() -> float:
    path = os.path.join(os.path.dirname(pgmpy.__file__), "utils", "example_models", "alarm.bif.gz")
    bn = read_bif(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = get_example_model("alarm")
    for cpd in theirs.get_cpds():
        cpd.normalize()
    evidence = {"HISTORY": "TRUE", "CVP": "HIGH", "HRBP": "LOW"}
    queries = [v for v in bn.variables if v not in evidence]
    tree = JunctionTree(bn.to_factor_graph())
    ve = VariableElimination(theirs)

    def ours():
        return tree.calibrate(evidence).marginals()

    def pgmpy_ve():
        return {v: ve.query([v], evidence=evidence, show_progress=False) for v in queries}

    a, b = ours(), pgmpy_ve()
    err = max(np.abs(a[v] - b[v].values[[b[v].state_names[v].index(s) for s in bn.state_names[v]]]).max()
              for v in queries)
    print(f"alarm: {len(queries)} marginals, max |ours - pgmpy| = {err:.2e}")
    ratio = report(time_call("junction tree (compiled once)", ours, repeat=20),
                   time_call("pgmpy VariableElimination", pgmpy_ve, repeat=3), goal=">= 10x")
    report(time_call("junction tree (compile + calibrate)",
                     lambda: JunctionTree(bn.to_factor_graph()).calibrate(evidence).marginals(), repeat=10),
           time_call("pgmpy VariableElimination", pgmpy_ve, repeat=3))
    return ratio


def _loop_forward_backward(log_pi: np.ndarray, log_a: np.ndarray, log_b: np.ndarray) -> tuple[np.ndarray, float]:
    """The scaled recursion for one sequence, step by step (the unbatched reference)."""
    a = np.exp(log_a)
    t_len, k = log_b.shape
    shift = log_b.max(1, keepdims=True)
    b = np.exp(log_b - shift)
    alpha, scale = np.empty((t_len, k)), np.empty(t_len)
    for t in range(t_len):
        alpha[t] = (alpha[t - 1] @ a if t else np.exp(log_pi)) * b[t]
        scale[t] = alpha[t].sum()
        alpha[t] /= scale[t]
    beta = np.ones(k)
    for t in range(t_len - 1, 0, -1):
        beta = a @ (b[t] * beta) / scale[t]
        alpha[t - 1] *= beta
    return alpha, float(np.log(scale).sum() + shift.sum())


def bench_forward_backward() -> float:
    rng = np.random.default_rng(0)
    k, n, t_len = 10, 10_000, 100
    hmm = CategoricalHMM(np.full(k, 1.0 / k), rng.dirichlet(np.ones(k), k), rng.dirichlet(np.ones(k), k))
    _, x = hmm.sample(n, t_len, seed=1)
    log_pi, log_a, log_b = np.log(hmm.initial), np.log(hmm.transition), hmm.log_emission(x)

    def batched():
        return forward_backward(log_pi, log_a, log_b)

    def loop():
        return [_loop_forward_backward(log_pi, log_a, log_b[i]) for i in range(n)]

    res, ref = batched(), loop()
    err = max(np.abs(res.posterior[i] - ref[i][0]).max() for i in range(0, n, 97))
    print(f"forward-backward {n} x {t_len} x {k}: max |batched - loop| posterior = {err:.2e}")
    return report(time_call("batched forward_backward", batched, repeat=3),
                  time_call("Python loop over sequences", loop, warmup=0, repeat=1), goal=">= 50x")


def bench_hmm_gradient(k: int = 5) -> tuple[float, float]:
    import jax
    import jax.numpy as jnp
    import pyro.distributions as pyro_dist
    import torch

    from pgm_ppl.backend import dist, use_backend

    rng = np.random.default_rng(0)
    n, t_len = 100, 100
    x = rng.normal(size=(n, t_len))
    params = [np.log(rng.dirichlet(np.ones(k))), np.log(rng.dirichlet(np.ones(k), k)), rng.normal(size=k),
              rng.uniform(0.5, 1.5, k)]

    def ours_jax(initial, transition, mu, sigma):
        return dist.HiddenMarkovModel(initial, transition, dist.Normal(mu, sigma), t_len).log_prob(x).sum()

    def torch_grad(log_prob):
        tensors = [torch.tensor(p, requires_grad=True) for p in params]
        value = log_prob(*tensors)
        value.backward()
        return float(value), [t.grad.numpy() for t in tensors]

    def ours_torch(initial, transition, mu, sigma):
        return dist.HiddenMarkovModel(initial, transition, dist.Normal(mu, sigma), t_len).log_prob(xt).sum()

    def pyro_discrete_hmm(initial, transition, mu, sigma):
        # DiscreteHMM starts one transition before x_1: a first transition with every row pi makes it ours
        first = torch.log_softmax(initial, -1).expand(1, k, k)
        steps = torch.cat([first, torch.log_softmax(transition, -1).expand(t_len - 1, k, k)])
        return pyro_dist.DiscreteHMM(torch.zeros(k), steps, pyro_dist.Normal(mu, sigma).expand([t_len, k])
                                     ).log_prob(xt).sum()

    xt = torch.as_tensor(x)
    with use_backend("numpyro"):
        grad_jax = jax.jit(jax.value_and_grad(ours_jax, argnums=(0, 1, 2, 3)))
        jax_params = [jnp.asarray(p) for p in params]
        value, _ = grad_jax(*jax_params)
        numpyro_timing = time_call("dist.HiddenMarkovModel (NumPyro, jit)",
                                   lambda: jax.block_until_ready(grad_jax(*jax_params)), repeat=20)
    with use_backend("pyro"):
        ours_value, ours_grads = torch_grad(ours_torch)
        pyro_timing = time_call("dist.HiddenMarkovModel (Pyro)", lambda: torch_grad(ours_torch), repeat=20)
        ref_value, ref_grads = torch_grad(pyro_discrete_hmm)
        reference = time_call("pyro DiscreteHMM", lambda: torch_grad(pyro_discrete_hmm), repeat=20)
    error = max(np.abs(a - b).max() for a, b in zip(ours_grads, ref_grads))
    print(f"HMM log p(x) + gradient, {n} x {t_len} x {k}: log p = {float(value):.6f} (NumPyro), {ours_value:.6f} "
          f"(Pyro), {ref_value:.6f} (DiscreteHMM); max |gradient difference| = {error:.1e}")
    return report(numpyro_timing, reference), report(pyro_timing, reference)


if __name__ == "__main__":
    bench_alarm()
    print()
    bench_forward_backward()
    print()
    for states in (5, 20):
        bench_hmm_gradient(states)
