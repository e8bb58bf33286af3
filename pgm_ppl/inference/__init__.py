"""Inference: the ``fit`` entry point and the engines behind it."""

from pgm_ppl.inference.errors import ModelRunError, NonFiniteLossError
from pgm_ppl.inference.fit import METHODS, fit
from pgm_ppl.inference.guides import GUIDES
from pgm_ppl.inference.relabel import align_components
from pgm_ppl.inference.result import Fit

__all__ = ["GUIDES", "METHODS", "Fit", "ModelRunError", "NonFiniteLossError", "align_components", "fit"]
