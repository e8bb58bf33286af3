"""The VAE written once, run on Pyro and NumPyro: the same ELBO for the same weights (within MC error)."""

import math

import numpy as np
import pytest
import torch

from pgm_ppl.data.images import load_binarized_digits
from pgm_ppl.deep_latent import numpyro_elbo, numpyro_vae, vae

torch.set_num_threads(1)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_numpyro_and_pyro_vae_share_the_elbo(likelihood):
    X = load_binarized_digits()[0][:20]
    module = vae(64, latent_features=4, hidden_features=(32,), likelihood=likelihood, seed=3)
    P = 400
    with torch.no_grad():
        torch.manual_seed(0)
        xt = torch.as_tensor(X, dtype=torch.float32)
        singles = torch.stack([module.log_weights(xt, 1)[0].sum() for _ in range(200)]).numpy()
        torch_elbo = module.elbo(xt, num_particles=P).sum().item()  # analytic KL (6.15), P reconstruction draws
    se = singles.std(ddof=1) / math.sqrt(P)  # the MC-KL single-draw sd bounds the analytic-KL one
    for analytic in (True, False):
        value = numpyro_elbo(module, X, num_particles=P, analytic_kl=analytic, seed=1)
        assert abs(value - torch_elbo) < 5 * math.sqrt(2) * se, (analytic, value, torch_elbo, se)
    assert se < (0.8 if likelihood == "bernoulli" else 3.0)  # resolves a nat or two on a 20-row ELBO of ~ -400


def test_numpyro_vae_refuses_conv_and_conditional():
    with pytest.raises(ValueError, match="MLP"):
        numpyro_vae(vae(64, architecture="conv"))
    with pytest.raises(ValueError, match="MLP"):
        numpyro_vae(vae(64, num_classes=10))
    np.testing.assert_equal(len(numpyro_vae(vae(64)).params), 2)
