"""Chapter 7 speed: Transformer training through the engine vs a plain PyTorch loop, KV-cache generation, MADE.

(a) Training tokens per second of the GPT-style Transformer (2 layers, d = 128, 4 heads, context 64, batches of
32 rows of 65 characters of the standard-library corpus): ``pgm_ppl.training.train`` with Pyro's Trace_ELBO (the
model's tokens are observed Categorical sites, the network a pyro.module) vs a plain PyTorch loop of the same model
computing the summed cross-entropy with ``torch.nn.functional.cross_entropy``. Goal: at most 1.1x the plain loop's
time per step. Per-step time is the difference between a long and a short run divided by the difference in steps.

(b) Generating 256 tokens (batch of 8) with the KV cache vs re-reading the whole prefix at every step (both give
the same tokens, tests/sequence/test_sequence_lm.py). Goal: at least 5x.

(c) MADE (64 binary pixels, two hidden layers of 256) sampling time per image (64 sequential passes).

Run: .venv/bin/python benchmarks/bench_sequence.py  (``--quick`` for a smoke run of a few seconds)
"""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, plain_batches, report, time_call  # noqa: E402

from pgm_ppl.data.text import sliding_windows, stdlib_corpus  # noqa: E402
from pgm_ppl.sequence import generate, made, transformer_lm  # noqa: E402
from pgm_ppl.training import train  # noqa: E402

torch.set_num_threads(1)
QUICK = "--quick" in sys.argv
CONTEXT, BATCH = 64, 32
LONG, SHORT = (12, 4) if QUICK else (60, 10)


def per_step(name: str, run, repeat: int) -> Timing:
    long = time_call(name, lambda: run(LONG), repeat=repeat)
    short = time_call(name, lambda: run(SHORT), repeat=repeat)
    return Timing(name, (long.best - short.best) / (LONG - SHORT), (long.median - short.median) / (LONG - SHORT))


def plain_loop(module, rows, num_steps, seed=0):
    """The reference: the loop a user would write for the same model and loss (summed NLL, Adam)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    losses, batches = [], plain_batches(rows, BATCH, seed)
    for _ in range(num_steps):
        x = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(module.logits(x).flatten(0, 1), x.flatten(), reduction="sum")
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main() -> None:
    corpus = stdlib_corpus(max_chars=200_000)
    rows = torch.as_tensor(sliding_windows(corpus.train, CONTEXT + 1, stride=CONTEXT // 2))

    def build():
        return transformer_lm(corpus.vocab_size, context_length=CONTEXT, embed_dim=128, num_heads=4, num_layers=2,
                              seed=0)

    print(f"(a) Transformer training, 2 layers, d=128, context {CONTEXT}, batch {BATCH}, {len(rows)} rows")
    ours = per_step("pgm_ppl.training.train (Trace_ELBO)", lambda n: train(
        build(), rows, num_steps=n, batch_size=BATCH, num_generated=0, seed=0), repeat=1 if QUICK else 3)
    plain = per_step("plain PyTorch loop", lambda n: plain_loop(build(), rows, n), repeat=1 if QUICK else 3)
    ratio = report(ours, plain, goal="engine time per step <= 1.1x the plain loop (speed-up >= 0.91)")
    tokens = BATCH * (CONTEXT + 1)
    print(f"tokens/s: engine {tokens / ours.median:,.0f}, plain {tokens / plain.median:,.0f}; "
          f"time ratio {1 / ratio:.3f}x\n")

    length = 64 if QUICK else 256
    lm = transformer_lm(corpus.vocab_size, context_length=CONTEXT, embed_dim=128, num_heads=4, num_layers=2,
                        max_length=length + 1, seed=0)  # sinusoidal positions extend beyond the training context
    print(f"(b) generation of {length} tokens, batch 8")
    cached = time_call("KV cache", lambda: generate(lm, None, length, num_samples=8, use_cache=True),
                       repeat=1 if QUICK else 3)
    uncached = time_call("no cache", lambda: generate(lm, None, length, num_samples=8, use_cache=False),
                         repeat=1 if QUICK else 2)
    report(cached, uncached, goal=">= 5x")
    print()

    model = made(64, hidden_features=256, seed=0)
    count = 100
    print(f"(c) MADE sampling, 64 pixels, {count} images")
    timing = time_call("MADE.sample", lambda: model.sample(count), repeat=3)
    print(f"MADE: {timing.median / count * 1e3:.3f} ms per image ({timing.median:.3f} s for {count})")


if __name__ == "__main__":
    main()
