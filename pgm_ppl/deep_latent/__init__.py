r"""Deep latent variable models (course chapter 6): VAEs as Pyro model-guide pairs, autoencoders, GANs, WGANs.

Every model is a :class:`torch.nn.Module` following :class:`pgm_ppl.training.Trainable` and is trained by
:func:`pgm_ppl.training.train` (ELBOs, custom losses, or a :class:`~pgm_ppl.training.TwoPlayer` game).
"""

from pgm_ppl.deep_latent.collapse import CollapseDiagnostics, collapse_diagnostics
from pgm_ppl.deep_latent.gradients import GradientSamples, elbo_gradient_samples
from pgm_ppl.deep_latent.vae import VAE, iwae_loss, vae, with_importance_samples

__all__ = ["VAE", "CollapseDiagnostics", "GradientSamples", "collapse_diagnostics", "elbo_gradient_samples",
           "iwae_loss", "vae", "with_importance_samples"]
