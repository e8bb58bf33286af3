"""The inference methods ``fit`` offers, and the backend each runs on by default."""

METHODS: dict[str, str] = {
    "nuts": "No-U-Turn sampler (adaptive HMC); default backend NumPyro",
    "hmc": "Hamiltonian Monte Carlo with fixed trajectory length; default backend NumPyro",
    "svi": "stochastic variational inference with an autoguide or your guide; default backend Pyro",
}

DEFAULT_BACKEND: dict[str, str] = {"nuts": "numpyro", "hmc": "numpyro", "svi": "pyro"}
"""NUTS/HMC default to NumPyro (10-100x faster than Pyro's on small models on CPU); SVI to Pyro."""
