"""Chapter 8: normalising flows as Pyro objects (on zuko's transforms)."""

from pgm_ppl.flows.base import FlowModel, realnvp

__all__ = ["FlowModel", "realnvp"]
