"""Chapter 8: normalising flows as Pyro objects (on zuko's transforms)."""

from pgm_ppl.flows.base import FlowModel, realnvp
from pgm_ppl.flows.continuous import ContinuousFlow, ContinuousFlowModel, divergence

__all__ = ["ContinuousFlow", "ContinuousFlowModel", "FlowModel", "divergence", "realnvp"]
