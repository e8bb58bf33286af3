"""The training engine (pgm_ppl.training.train) against a plain PyTorch loop doing the same work, in one process.

(a) An MLP regression (8 -> 64 -> 64 -> 1, tanh, mean squared error, Adam, batches of 256 from 4,096 rows drawn
without replacement per epoch): the engine with a custom loss vs a hand-written ``zero_grad / loss / backward /
step`` loop that also records each loss with ``.item()``. Goal: at most 1.05x the plain loop's time per step.

(b) A VAE on scikit-learn's digits (64 binarised pixels, 8-D latent, 128-unit encoder and decoder, batches of 128):
the engine with Pyro's Trace_ELBO and JitTrace_ELBO vs a plain PyTorch step computing the same single-sample
ELBO, log p(x|z) + log p(z) - log q(z|x), with torch.distributions. Goal: at most 1.2x. The difference is
Pyro's per-step overhead (building the guide and model traces through the effect-handler stack, checking
and summing the sites), which JitTrace_ELBO removes by compiling the traced loss.

Per-step time is the difference between a long and a short run divided by the difference in steps, so set-up
(validation, the first run, result building) cancels. Run: .venv/bin/python benchmarks/bench_training.py
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, plain_batches, report, time_call  # noqa: E402

from pgm_ppl.training import train  # noqa: E402

torch.set_num_threads(1)
LONG, SHORT = 220, 20


def per_step(name: str, run, repeat: int = 3) -> Timing:
    long = time_call(name, lambda: run(LONG), repeat=repeat)
    short = time_call(name, lambda: run(SHORT), repeat=repeat)
    return Timing(name, (long.best - short.best) / (LONG - SHORT), (long.median - short.median) / (LONG - SHORT))


def plain_loop(module, data, loss_fn, num_steps, batch_size, seed=0):
    """The reference: the loop every chapter would otherwise write."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    losses, batches = [], plain_batches(data, batch_size, seed)
    for _ in range(num_steps):
        batch = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(module, batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


class Regression(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64),
                                       torch.nn.Tanh(), torch.nn.Linear(64, 1))


def mse(module, batch):
    return (module.net(batch[:, :8]).squeeze(-1) - batch[:, 8]).pow(2).mean()


def bench_mlp() -> float:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4096, 8))
    data = np.column_stack([X, np.sin(X).sum(1)]).astype(np.float32)
    tensor = torch.as_tensor(data)
    ours = per_step("pgm_ppl.training.train (MLP regression)", lambda n: train(
        Regression(), data, loss=mse, num_steps=n, batch_size=256, num_generated=0, progress_bar=False))
    plain = per_step("plain PyTorch loop (MLP regression)", lambda n: plain_loop(Regression(), tensor, mse, n, 256))
    print("--- (a) MLP regression, 4096 x 8, batch 256, Adam")
    ratio = report(ours, plain, goal="time ratio engine / plain <= 1.05")
    print(f"time ratio engine / plain = {1 / ratio:.3g}\n")
    return 1 / ratio


class VAE(PyroModule):
    def __init__(self, latent: int = 8, hidden: int = 128):
        super().__init__()
        self.latent = latent
        self.encoder = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.Softplus(),
                                           torch.nn.Linear(hidden, 2 * latent))
        self.decoder = torch.nn.Sequential(torch.nn.Linear(latent, hidden), torch.nn.Softplus(),
                                           torch.nn.Linear(hidden, 64))

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent), 1.0).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

    def guide(self, x):
        loc, raw = self.encoder(x).chunk(2, -1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(loc, torch.nn.functional.softplus(raw)).to_event(1))


def plain_elbo(vae, x):
    """The same single-sample ELBO estimate as Trace_ELBO, written with torch.distributions."""
    D = torch.distributions
    loc, raw = vae.encoder(x).chunk(2, -1)
    q = D.Independent(D.Normal(loc, torch.nn.functional.softplus(raw)), 1)
    z = q.rsample()
    p_z = D.Independent(D.Normal(torch.zeros_like(z), 1.0), 1)
    p_x = D.Independent(D.Bernoulli(logits=vae.decoder(z)), 1)
    return -(p_x.log_prob(x) + p_z.log_prob(z) - q.log_prob(z)).sum()


def bench_vae() -> dict:
    data = (load_digits().data > 8).astype(np.float32)
    tensor = torch.as_tensor(data)
    plain = per_step("plain PyTorch VAE step", lambda n: plain_loop(VAE(), tensor, plain_elbo, n, 128))
    print("--- (b) VAE on digits (1797 x 64 binarised), latent 8, hidden 128, batch 128, Adam")
    ratios = {}
    for elbo in (pyro.infer.Trace_ELBO(), pyro.infer.JitTrace_ELBO()):
        name = type(elbo).__name__

        def run(n, elbo=elbo):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the JIT's tracer warnings
                return train(VAE(), data, loss=elbo, num_steps=n, batch_size=128, num_generated=0,
                             progress_bar=False)

        try:
            ours = per_step(f"pgm_ppl.training.train ({name})", run)
        except ValueError as error:  # JitTrace_ELBO traces module weights as constants: Pyro's JIT needs params
            print(f"{name}: does not run on this module ({str(error)[:160]}...)\n")
            continue
        ratios[name] = 1 / report(ours, plain, goal="time ratio engine / plain <= 1.2")
        print(f"time ratio engine ({name}) / plain = {ratios[name]:.3g}; Pyro's overhead per step "
              f"= {1e3 * (ours.median - plain.median):.3g} ms\n")
    return ratios


if __name__ == "__main__":
    bench_mlp()
    bench_vae()
