"""pgm_ppl: probabilistic generative modelling on Pyro, NumPyro, ArviZ, GPyTorch and POT."""

__version__ = "0.1.0"
