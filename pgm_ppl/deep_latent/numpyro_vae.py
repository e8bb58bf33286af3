r"""The same VAE on NumPyro: model and guide of :mod:`pgm_ppl.deep_latent.vae` with stax MLPs.

The generative story is the one of :class:`~pgm_ppl.deep_latent.VAE` (prior (6.13), encoder (6.14), Bernoulli
or Gaussian decoder); the networks are :func:`pgm_ppl.nn.stax_mlp` twins of the torch MLPs, and
:func:`numpyro_vae` copies a torch VAE's weights into them (:func:`pgm_ppl.nn.torch_to_stax_params`), so the two
PPLs can be checked to compute the same ELBO for the same weights. Train it with ``numpyro.infer.SVI`` and the
returned ``params`` as initial values, or evaluate it with :func:`numpyro_elbo`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from pgm_ppl.core.validation import check_data, check_int
from pgm_ppl.nn import MLP, stax_mlp, torch_to_stax_params

__all__ = ["NumPyroVAE", "numpyro_elbo", "numpyro_vae"]


class NumPyroVAE(NamedTuple):
    """``model(x)``, ``guide(x)`` and ``params`` (the ``"encoder$params"``, ``"decoder$params"`` and, for a
    learned Gaussian variance, ``"log_noise_scale"`` values of the NumPyro parameter sites)."""

    model: Callable[[Any], None]
    guide: Callable[[Any], None]
    params: dict[str, Any]


def numpyro_vae(module: Any) -> NumPyroVAE:
    """The NumPyro model and guide of an (unconditional, MLP) :class:`~pgm_ppl.deep_latent.VAE`, with its weights.

    Raises
    ------
    ValueError
        For a convolutional or conditional VAE (the stax twins exist for MLPs only).
    """
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    if not (isinstance(module.encoder, MLP) and isinstance(module.decoder, MLP)) or module.num_classes:
        raise ValueError("module: expected an unconditional VAE with MLP encoder and decoder (architecture='mlp', "
                         "num_classes=0), got another architecture.")
    D, L = module.features, module.latent_features
    enc, dec = module.encoder, module.decoder
    enc_net = stax_mlp(D, 2 * L, enc.hidden_features, enc.activation)
    dec_net = stax_mlp(L, D, dec.hidden_features, dec.activation)
    likelihood, beta = module.likelihood, module.beta
    params = {"encoder$params": torch_to_stax_params(enc), "decoder$params": torch_to_stax_params(dec)}
    if likelihood == "gaussian":
        params["log_noise_scale"] = jnp.asarray(module.log_noise_scale.detach().cpu().numpy())

    def model(x: Any) -> None:
        decoder = numpyro.module("decoder", dec_net, input_shape=(1, L))
        if likelihood == "gaussian":
            log_noise_scale = numpyro.param("log_noise_scale", params["log_noise_scale"])
        with numpyro.plate("data", x.shape[0]):
            with numpyro.handlers.scale(scale=beta):
                z = numpyro.sample("z", dist.Normal(jnp.zeros(L), 1.0).to_event(1))  # (6.13)
            out = decoder(z)
            if likelihood == "bernoulli":
                numpyro.sample("x", dist.Bernoulli(logits=out).to_event(1), obs=x)
            else:
                scale = jnp.broadcast_to(jnp.exp(log_noise_scale) + 1e-4, out.shape)
                numpyro.sample("x", dist.Normal(out, scale).to_event(1), obs=x)

    def guide(x: Any) -> None:
        encoder = numpyro.module("encoder", enc_net, input_shape=(1, D))
        loc, raw = jnp.split(encoder(x), 2, axis=-1)
        with numpyro.plate("data", x.shape[0]):
            with numpyro.handlers.scale(scale=beta):
                numpyro.sample("z", dist.Normal(loc, jax.nn.softplus(raw) + 1e-4).to_event(1))  # (6.14)

    return NumPyroVAE(model, guide, params)


def numpyro_elbo(module: Any, X: Any, *, num_particles: int = 1, analytic_kl: bool = False,
                 seed: int = 0) -> float:
    """The ELBO (nats, summed over the rows of ``X``) of a torch VAE's weights computed by NumPyro.

    ``analytic_kl=False`` uses ``numpyro.infer.Trace_ELBO`` (Monte Carlo KL), ``True`` uses
    ``TraceMeanField_ELBO`` (the analytic KL of (6.15)); ``num_particles`` draws, seeded by ``seed``.
    """
    import jax
    import jax.numpy as jnp
    from numpyro.infer import Trace_ELBO, TraceMeanField_ELBO

    X = check_data(X, "X")
    num_particles = check_int(num_particles, "num_particles")
    vae_np = numpyro_vae(module)
    elbo = (TraceMeanField_ELBO if analytic_kl else Trace_ELBO)(num_particles=num_particles)
    x = jnp.asarray(np.asarray(X, dtype=np.float32))
    loss = elbo.loss(jax.random.PRNGKey(seed), vae_np.params, vae_np.model, vae_np.guide, x)
    return -float(loss)
