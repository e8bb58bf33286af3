r"""Deep latent variable models (course chapter 6): VAEs as Pyro model-guide pairs, autoencoders, GANs, WGANs.

Every model is a :class:`torch.nn.Module` following :class:`pgm_ppl.training.Trainable` and is trained by
:func:`pgm_ppl.training.train` (ELBOs, custom losses, or a :class:`~pgm_ppl.training.TwoPlayer` game).
"""

from pgm_ppl.deep_latent.autoencoder import Autoencoder, Classifier, autoencoder, classifier
from pgm_ppl.deep_latent.collapse import CollapseDiagnostics, collapse_diagnostics
from pgm_ppl.deep_latent.gan import (GAN, critic_loss, dcgan, gan_objective, generator_loss, gradient_penalty,
                                     mlp_gan, value_function, wgan_critic_loss, wgan_generator_loss, wgan_objective)
from pgm_ppl.deep_latent.gan_theory import WGANGPOptimum, gan_criterion, optimal_discriminator, wgan_gp_optimum_1d
from pgm_ppl.deep_latent.gradients import GradientSamples, elbo_gradient_samples
from pgm_ppl.deep_latent.modes import ModeMetrics, grid_centres, mixture_samples, mode_metrics, ring_centres
from pgm_ppl.deep_latent.numpyro_vae import NumPyroVAE, numpyro_elbo, numpyro_vae
from pgm_ppl.deep_latent.vae import VAE, iwae_loss, vae, with_importance_samples

__all__ = [
    "GAN", "VAE", "Autoencoder", "Classifier", "autoencoder", "classifier", "CollapseDiagnostics", "NumPyroVAE", "numpyro_elbo", "numpyro_vae", "GradientSamples", "ModeMetrics", "WGANGPOptimum",
    "collapse_diagnostics", "critic_loss", "dcgan", "elbo_gradient_samples", "gan_criterion", "gan_objective",
    "generator_loss", "gradient_penalty", "grid_centres", "iwae_loss", "mixture_samples", "mlp_gan", "mode_metrics",
    "optimal_discriminator", "ring_centres", "vae", "value_function", "wgan_critic_loss", "wgan_generator_loss",
    "wgan_gp_optimum_1d", "wgan_objective", "with_importance_samples",
]
