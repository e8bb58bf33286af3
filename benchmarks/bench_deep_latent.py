"""Chapter 6 (issue 12): a Pyro VAE training step against a plain PyTorch VAE step, and IWAE-5000 evaluation.

(a) The VAE of pgm_ppl.deep_latent.vae (64 binarised pixels -> 256 -> 8-D latent, batches of 128, Adam) trained
through pgm_ppl.training.train with Pyro's Trace_ELBO, TraceMeanField_ELBO and JitTrace_ELBO (the latter with
vae(..., register_with_pyro=True), which calls pyro.module in model and guide: JitTrace_ELBO fails on plain
nn.Parameters, "Cannot insert a Tensor that requires grad as a constant", since it passes only param sites to
the compiled function),
and with the module's own ELBO as a custom loss (no Pyro on the training path), against a plain PyTorch loop
computing the same single-sample ELBO. Goal: <= 1.2x the plain step.

Per-step time is the difference between a long and a short run divided by the difference in steps, so set-up
cancels (as benchmarks/bench_training.py). Pyro's overhead per step is the cost of running model and guide
through the effect-handler stack (poutine.trace of each, replay, site bookkeeping, log_prob_sum of every site);
the tensors' work is the same.

(b) IWAE with K = 5000 importance samples on the 360 held-out digits: time and peak resident memory for several
particle chunk sizes (memory grows with the chunk, not with K).

Run: .venv/bin/python benchmarks/bench_deep_latent.py        (PGM_PPL_FAST=1: fewer steps)
"""

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import psutil
import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, plain_batches, report, time_call  # noqa: E402

from pgm_ppl.data.images import load_binarized_digits  # noqa: E402
from pgm_ppl.deep_latent import vae, with_importance_samples  # noqa: E402
from pgm_ppl.training import train  # noqa: E402

torch.set_num_threads(1)
FAST = os.environ.get("PGM_PPL_FAST") == "1"
LONG, SHORT = (120, 20) if FAST else (320, 20)


def per_step(name, run, repeat=3):
    long = time_call(name, lambda: run(LONG), repeat=repeat)
    short = time_call(name, lambda: run(SHORT), repeat=repeat)
    return Timing(name, (long.best - short.best) / (LONG - SHORT), (long.median - short.median) / (LONG - SHORT))


def build(register=False):
    return vae(64, latent_features=8, hidden_features=(256,), register_with_pyro=register, seed=0)


def plain_loop(module, data, num_steps, batch_size=128, seed=0):
    """The reference: a hand-written loop on the same network, the ELBO with torch.distributions."""
    D = torch.distributions
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    batches = plain_batches(data, batch_size, seed)
    for _ in range(num_steps):
        x = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loc, raw = module.encoder(x).chunk(2, -1)
        q = D.Independent(D.Normal(loc, torch.nn.functional.softplus(raw) + 1e-4), 1)
        z = q.rsample()
        p_x = D.Independent(D.Bernoulli(logits=module.decoder(z), validate_args=False), 1)
        loss = -(p_x.log_prob(x) + D.Independent(D.Normal(torch.zeros_like(z), 1.0), 1).log_prob(z)
                 - q.log_prob(z)).sum()
        loss.backward()
        optimizer.step()
        loss.item()


def own_elbo(module, batch):
    """The module's ELBO (analytic KL (6.15)) as a custom loss, per row (the engine's mean convention)."""
    return -module.elbo(batch).mean()


def bench_step():
    X = load_binarized_digits()[0].astype(np.float32)
    tensor = torch.as_tensor(X)
    print("--- (a) VAE on binarised digits (1437 x 64), latent 8, hidden 256, batch 128, Adam")
    print("(each variant is timed right after the plain loop, so the pair sees the same machine load)\n")
    variants = [("Trace_ELBO", False, pyro.infer.Trace_ELBO()),
                ("TraceMeanField_ELBO", False, pyro.infer.TraceMeanField_ELBO()),
                ("Trace_ELBO + pyro.module", True, pyro.infer.Trace_ELBO()),
                ("JitTrace_ELBO + pyro.module", True, pyro.infer.JitTrace_ELBO()),
                ("JitTraceMeanField_ELBO + pyro.module", True, pyro.infer.JitTraceMeanField_ELBO()),
                ("JitTrace_ELBO without pyro.module", False, pyro.infer.JitTrace_ELBO()),
                ("module.elbo as a custom loss (no Pyro)", False, own_elbo)]
    ratios = {}
    for name, register, loss in variants:
        def run(n, register=register, loss=loss):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the JIT's tracer warnings
                train(build(register), X, loss=loss, num_steps=n, batch_size=128, num_generated=0, progress_bar=False)

        plain = per_step("plain PyTorch VAE step", lambda n: plain_loop(build(), tensor, n))
        try:
            ours = per_step(f"train ({name})", run)
        except Exception as error:  # a variant that does not run is reported, not hidden
            print(f"{name}: does not run ({type(error).__name__}: {str(error)[:200]})\n")
            continue
        ratios[name] = 1 / report(ours, plain, goal="time ratio <= 1.2")
        print(f"time ratio train ({name}) / plain = {ratios[name]:.3g}; overhead per step "
              f"{1e3 * (ours.median - plain.median):.3g} ms\n")
    print("summary (time ratio train / plain): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    return ratios


def _peak_rss_during(fn):
    """Peak resident memory (MiB) above the starting level while ``fn`` runs (Linux: reset the high-water mark)."""
    process = psutil.Process()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM
    except OSError:
        pass
    start = process.memory_info().rss
    fn()
    peak = max(process.memory_info().rss, _vm_hwm())
    return (peak - start) / 2 ** 20


def _vm_hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def bench_iwae():
    X_train, X_test, _, _ = load_binarized_digits()
    module = vae(64, latent_features=8, hidden_features=(256,), seed=0)
    train(module, X_train, loss=pyro.infer.TraceMeanField_ELBO(), num_steps=200 if FAST else 1500, batch_size=128,
          num_generated=0)
    x = torch.as_tensor(X_test, dtype=torch.float32)
    K = 1000 if FAST else 5000
    print(f"--- (b) IWAE-{K} on the {len(x)} held-out digits (nats per image; time; peak extra memory)")
    for chunk in (50, 200, 1000):
        out = {}
        start = time.perf_counter()
        mib = _peak_rss_during(lambda chunk=chunk: out.setdefault("v", module.iwae(x, K, chunk_size=chunk)))
        seconds = time.perf_counter() - start
        v = out["v"]
        print(f"chunk {chunk:5d}: IWAE NLL {-v.mean():.3f} nats ({-v.mean() / (64 * np.log(2)):.4f} bits/dim), "
              f"finite {bool(torch.isfinite(v).all())}, {seconds:.2f} s, peak +{mib:.0f} MiB")
    elbo = with_importance_samples(module, None).log_prob(x).mean().item()
    print(f"(ELBO for comparison: NLL <= {-elbo:.3f} nats)")


if __name__ == "__main__":
    bench_step()
    bench_iwae()
