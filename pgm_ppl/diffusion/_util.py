"""Small helpers shared by the diffusion samplers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_int


@contextmanager
def maybe_seeded(seed: int | None) -> Iterator[None]:
    """Run the block under ``torch_seeded(seed)``, or on torch's current generator when ``seed`` is None."""
    with (torch_seeded(check_int(seed, "seed", minimum=0)) if seed is not None else nullcontext()):
        yield
