"""Normalising flows (chapter 8) side by side with zuko, in one process.

(a) A maximum-likelihood training step of a neural spline flow and of a MAF (2-D, batches of 256 from two moons):
``train(nsf(2), X)`` — the Pyro model with the flow observed, Trace_ELBO with an empty guide, our engine — vs the same
zuko flow trained by zuko's plain loop (``loss = -flow().log_prob(x).mean()``; Adam; ``.item()`` per step). Goal: at
most 1.1x the plain loop's time per step. Per-step time is the difference between a long and a short run divided by
the difference in steps, so set-up cancels.

(b) A continuous normalising flow's log-density of 10,000 points, adaptive Dormand-Prince at atol = rtol = 1e-5:
the exact trace for d = 2 and Hutchinson's estimator for d = 64 (a tanh MLP field, 64 hidden units), with the number
of field evaluations (NFE), vs zuko's ``FreeFormJacobianTransform`` (its own adaptive solver) on the same field.

Run: .venv/bin/python benchmarks/bench_flows.py   (about a minute on one core)
"""

import sys
from pathlib import Path

import numpy as np
import torch
import zuko

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, plain_batches, report, time_call  # noqa: E402

from pgm_ppl.flows import ContinuousFlowModel, maf, nsf  # noqa: E402
from pgm_ppl.training import train  # noqa: E402

torch.set_num_threads(1)
LONG, SHORT = 120, 20
BATCH = 256


def moons(n: int, seed: int = 0) -> np.ndarray:
    from sklearn.datasets import make_moons

    X, _ = make_moons(n, noise=0.05, random_state=seed)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32)


def per_step(name: str, run, repeat: int = 3) -> Timing:
    long = time_call(name, lambda: run(LONG), repeat=repeat, warmup=0)
    short = time_call(name, lambda: run(SHORT), repeat=repeat, warmup=0)
    return Timing(name, (long.best - short.best) / (LONG - SHORT), (long.median - short.median) / (LONG - SHORT))


def zuko_loop(flow: zuko.lazy.Flow, data: torch.Tensor, num_steps: int, seed: int = 0) -> list[float]:
    """zuko's README loop, with seeded mini-batches drawn without replacement per epoch."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    losses, batches = [], plain_batches(data, BATCH, seed)
    for _ in range(num_steps):
        x = next(batches)
        loss = -flow().log_prob(x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def training_step(name: str, ours_factory, zuko_factory, X: np.ndarray) -> float:
    print(f"\n(a) {name}: one training step, batch {BATCH}")
    data = torch.as_tensor(X)
    ours = per_step(f"pgm_ppl train({name})", lambda n: train(ours_factory(), X, num_steps=n, batch_size=BATCH,
                                                              seed=0, num_generated=0, progress_bar=False))
    reference = per_step(f"zuko loop ({name})", lambda n: zuko_loop(zuko_factory(), data, n))
    return report(ours, reference, goal=">= 0.91x (ours at most 1.1x the plain loop)")


class TanhField(torch.nn.Module):
    def __init__(self, d: int, hidden: int = 64) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(d + 1, hidden), torch.nn.Tanh(),
                                           torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
                                           torch.nn.Linear(hidden, d))

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, t.expand(x.shape[0], 1)], -1))


class Counted(torch.nn.Module):
    """A field that counts its evaluations (zuko's solver does not report them)."""

    def __init__(self, field: torch.nn.Module) -> None:
        super().__init__()
        self.field, self.calls = field, 0

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(t, x)


def cnf_log_prob(d: int, trace: str, n: int = 10_000) -> float:
    print(f"\n(b) CNF log-density of {n} points, d = {d}, trace = {trace}, dopri5 at tol 1e-5")
    field = TanhField(d)
    model = ContinuousFlowModel(field, features=d, atol=1e-5, rtol=1e-5, trace=trace)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(0))
    base = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(d), torch.ones(d)), 1)
    counted = Counted(field)
    reference_flow = zuko.transforms.FreeFormJacobianTransform(counted, 0.0, 1.0, phi=tuple(field.parameters()),
                                                               atol=1e-5, rtol=1e-5, exact=trace == "exact")

    def ours():
        with torch.no_grad():
            return model.log_prob(x)

    def theirs():
        with torch.no_grad():
            u, ladj = reference_flow.inv.call_and_ladj(x)
            return base.log_prob(u) + ladj

    with torch.random.fork_rng():
        torch.manual_seed(1)
        value = ours()
        nfe = model.flow.nfe
        counted.calls = 0
        difference = (value - theirs()).abs()
    print(f"NFE ours {nfe}, zuko {counted.calls}; mean log p {value.mean():.4f}; |ours - zuko| mean "
          f"{difference.mean():.2e}" + (" (two Hutchinson estimates)" if trace == "hutchinson" else ""))
    if trace == "exact":  # the error of each against a solve at tol 1e-9
        tight = ContinuousFlowModel(field, features=d, atol=1e-9, rtol=1e-9)
        with torch.no_grad():
            truth = tight.log_prob(x)
            print(f"error vs tol 1e-9: ours {(value - truth).abs().max():.2e}, "
                  f"zuko {(theirs() - truth).abs().max():.2e} (max over points)")
    return report(time_call("pgm_ppl ContinuousFlowModel.log_prob", ours, repeat=3),
                  time_call("zuko FreeFormJacobianTransform", theirs, repeat=3))


def _seeded(build):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build()


if __name__ == "__main__":
    X = moons(4096)
    training_step("nsf", lambda: nsf(2, transforms=3, hidden_features=64),
                  lambda: _seeded(lambda: zuko.flows.NSF(2, transforms=3, hidden_features=(64, 64))), X)
    training_step("maf", lambda: maf(2, transforms=5, hidden_features=64),
                  lambda: _seeded(lambda: zuko.flows.MAF(2, transforms=5, hidden_features=(64, 64))), X)
    cnf_log_prob(2, "exact")
    cnf_log_prob(64, "hutchinson")
