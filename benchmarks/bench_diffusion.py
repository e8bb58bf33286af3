"""DDPM (pgm_ppl.diffusion) against a plain PyTorch loop, and its samplers side by side, in one process.

(a) Training step: ``train(ddpm(2), X)`` with the simple loss (random t, noise regression, Adam, batches of 256 of
the 2-D swiss roll) vs a hand-written loop computing the same loss with the same network class and schedule.
Per-step time is the difference between a long and a short run over the difference in steps (set-up cancels).
Goal: at most 1.05x the plain loop's time per step.

(b) Sampling 10,000 2-D points from one trained DDPM (T = 1000) by ancestral DDPM-1000, DDIM-50 (eta = 0) and the
probability-flow ODE (dopri5, tolerance 1e-4): time, network evaluations (NFE) and W2 to held-out swiss-roll rows
beside the W2 floor of two independent data samples (``pgm_ppl.diagnostics.sample_metrics``), the flow-matching
table's protocol. The swiss roll is scikit-learn's (noise 0.05) projected on its (x, z) plane and divided by 5.

Run: .venv/bin/python benchmarks/bench_diffusion.py [--train-steps 6000] [--quick]
(``--quick``: a few seconds of configuration, 300 training steps and 2,000 points, for a smoke run.)
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, plain_batches, report, time_call  # noqa: E402

from pgm_ppl.data import load_data  # noqa: E402
from pgm_ppl.diagnostics import sample_metrics  # noqa: E402
from pgm_ppl.diffusion import ancestral_sample, ddim_sample, ddpm, probability_flow  # noqa: E402
from pgm_ppl.training import train  # noqa: E402

torch.set_num_threads(1)
LONG, SHORT = 220, 20


def swiss_roll(num_samples: int, seed: int) -> np.ndarray:
    return load_data("swiss_roll", num_samples=num_samples, seed=seed).values[:, [0, 2]] / 5.0


def per_step(name: str, run, repeat: int = 3) -> Timing:
    long = time_call(name, lambda: run(LONG), repeat=repeat)
    short = time_call(name, lambda: run(SHORT), repeat=repeat)
    return Timing(name, (long.best - short.best) / (LONG - SHORT), (long.median - short.median) / (LONG - SHORT))


def plain_loop(num_steps: int, data: torch.Tensor, batch_size: int = 256, seed: int = 0) -> list[float]:
    """The reference: a DDPM training loop as a tutorial writes it, same network and schedule."""
    model = ddpm(2, num_time_steps=1000, hidden_features=128, seed=0)
    net, alpha_bars = model.network, model.schedule.alpha_bars.float()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses, batches = [], plain_batches(data, batch_size, seed)
    for _ in range(num_steps):
        x0 = next(batches)
        t = torch.randint(1, 1001, (batch_size,))
        noise = torch.randn_like(x0)
        a = alpha_bars[t][:, None]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        optimizer.zero_grad(set_to_none=True)
        loss = ((net(x_t, t.float()) - noise) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def bench_training_step() -> float:
    X = swiss_roll(4096, 0).astype(np.float32)
    tensor = torch.as_tensor(X)
    ours = per_step("pgm_ppl.training.train(ddpm(2))", lambda n: train(
        ddpm(2, num_time_steps=1000, hidden_features=128, seed=0), X, num_steps=n, batch_size=256,
        num_generated=0, progress_bar=False))
    plain = per_step("plain PyTorch DDPM loop", lambda n: plain_loop(n, tensor))
    print("--- (a) DDPM training step, 2-D swiss roll, 128x3 time-conditioned MLP, batch 256, Adam")
    ratio = report(ours, plain, goal="ours/plain <= 1.05, i.e. speed-up >= 0.95")
    print(f"ours/plain time per step = {1 / ratio:.3f}")
    return ratio


def bench_sampling(train_steps: int, num_points: int) -> None:
    X = swiss_roll(10_000, 0)
    reference = swiss_roll(2 * num_points, 1)
    model = ddpm(2, num_time_steps=1000, hidden_features=128, seed=0)
    start = time.perf_counter()
    train(model, X, num_steps=train_steps, batch_size=256, learning_rate=2e-3, lr_schedule="cosine",
          num_generated=0, progress_bar=False, seed=0)
    print(f"--- (b) sampling {num_points} points from a DDPM (T=1000) trained {train_steps} steps "
          f"({time.perf_counter() - start:.1f} s)")
    model.eval()
    flow = probability_flow(model, atol=1e-4, rtol=1e-4)
    samplers = {
        "DDPM-1000 (ancestral)": (lambda: ancestral_sample(model, num_points, seed=1), lambda: 1000),
        "DDIM-50 (eta=0)": (lambda: ddim_sample(model, num_points, num_time_steps=50, seed=1), lambda: 50),
        "PF-ODE (dopri5, tol 1e-4)": (lambda: flow.sample(num_points).detach(), lambda: flow.flow.nfe),
    }
    for name, (draw, nfe) in samplers.items():
        start = time.perf_counter()
        with torch.no_grad():
            x = draw().numpy()
        seconds = time.perf_counter() - start
        w2 = sample_metrics(x, reference, metrics=["w2"], seed=0)["w2"]
        print(f"{name:28s} {seconds:7.2f} s   NFE {nfe():5d}   W2 {w2.value:.3f} (floor {w2.floor:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-steps", type=int, default=6000)
    parser.add_argument("--num-points", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        global LONG, SHORT
        LONG, SHORT = 60, 10
        args.train_steps, args.num_points = 300, 2000
    bench_training_step()
    bench_sampling(args.train_steps, args.num_points)


if __name__ == "__main__":
    main()
