"""NUTS through ``pgm_ppl.fit`` vs raw NumPyro (overhead; goal <= 1.1) and vs raw Pyro NUTS (goal >= 10x).

The same Bayesian linear regression on scikit-learn's diabetes data (442 x 10, standardised), the same
numbers of chains, warm-up iterations and draws. ``fit`` is timed without its extras (prior and
posterior predictive, pointwise log-likelihood) so that both sides do the same work; its full default
run, with every ArviZ group, is timed as well.
"""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as nd
import pyro
import pyro.distributions as pd
import torch
from harness import report, time_call
from numpyro.infer import MCMC, NUTS

from pgm_ppl import fit, load_data
from pgm_ppl.models import linear_regression
from pgm_ppl.models.registry import ZOO

INPUTS = ZOO["linear_regression"].prepare(load_data("diabetes"))
X, Y = INPUTS["X"], INPUTS["y"]
CHAINS, WARMUP, DRAWS = 4, 500, 500


def numpyro_model(X, y):
    w = numpyro.sample("w", nd.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = numpyro.sample("b", nd.Normal(0.0, 1.0))
    sigma = numpyro.sample("sigma", nd.HalfNormal(1.0))
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample("y", nd.Normal(X @ w + b, sigma), obs=y)


def pyro_model(X, y):
    w = pyro.sample("w", pd.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = pyro.sample("b", pd.Normal(0.0, 1.0))
    sigma = pyro.sample("sigma", pd.HalfNormal(1.0))
    with pyro.plate("data", X.shape[0]):
        pyro.sample("y", pd.Normal(X @ w + b, sigma), obs=y)


def ours(chains=CHAINS, extras=False):
    return fit(linear_regression, INPUTS, num_chains=chains, num_warmup=WARMUP, num_samples=DRAWS,
               progress_bar=False, predictive=extras, log_likelihood=extras,
               num_prior_samples=500 if extras else 0)


def raw_numpyro():
    with jax.enable_x64(True):
        mcmc = MCMC(NUTS(numpyro_model), num_warmup=WARMUP, num_samples=DRAWS, num_chains=CHAINS,
                    chain_method="vectorized", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), jnp.asarray(X), jnp.asarray(Y))
        return mcmc.get_samples()


def raw_pyro():
    mcmc = pyro.infer.MCMC(pyro.infer.NUTS(pyro_model), num_samples=DRAWS, warmup_steps=WARMUP,
                           disable_progbar=True)
    mcmc.run(torch.as_tensor(X), torch.as_tensor(Y))
    return mcmc.get_samples()


if __name__ == "__main__":
    print(f"Bayesian linear regression, diabetes (442 x 10), NUTS, {WARMUP} warm-up + {DRAWS} draws per chain")
    print(f"-- {CHAINS} chains: pgm_ppl.fit (NumPyro, no extras) vs raw NumPyro (vectorised chains)")
    report(time_call("pgm_ppl.fit", ours, repeat=3), time_call("raw NumPyro", raw_numpyro, repeat=3),
           goal="ratio >= 1/1.1, i.e. overhead <= 1.1")
    full = time_call("pgm_ppl.fit with every ArviZ group", lambda: ours(extras=True), repeat=3)
    print(f"{full.name}: {full.median:.4g} s")
    print("-- 1 chain: pgm_ppl.fit by default routing (NumPyro) vs raw Pyro NUTS")
    torch.set_default_dtype(torch.float64)
    report(time_call("pgm_ppl.fit", lambda: ours(chains=1), repeat=3),
           time_call("raw Pyro", raw_pyro, warmup=0, repeat=1), goal=">= 10x")
