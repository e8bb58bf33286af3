"""Chapter 9: score-based and diffusion models.

Scores and Langevin samplers, score matching (explicit, implicit, sliced, denoising), NCSN with annealed Langevin
dynamics, DDPM as a Pyro model–guide pair whose ELBO is the DDPM bound, its samplers (ancestral, DDIM, reverse
SDE, predictor–corrector, probability-flow ODE with exact likelihood), parameterisation converters and
classifier-free guidance.
"""

from pgm_ppl.diffusion.ddpm import DDPM, bits_per_dim, ddpm
from pgm_ppl.diffusion.decoders import DiscretisedGaussian, to_grid_scale
from pgm_ppl.diffusion.gaussian import GaussianEpsilon, gaussian_ddpm, gaussian_noised_score
from pgm_ppl.diffusion.langevin import LangevinResult, mala, score_of, ula, ula_stationary_variance
from pgm_ppl.diffusion.ncsn import NCSN, annealed_langevin, geometric_sigmas, ncsn, ncsn_loss
from pgm_ppl.diffusion.networks import LabelConditionedMLP
from pgm_ppl.diffusion.parameterisations import PREDICTIONS, convert_prediction
from pgm_ppl.diffusion.probability_flow import probability_flow, probability_flow_log_prob, probability_flow_sample
from pgm_ppl.diffusion.samplers import SPACINGS, ancestral_sample, ddim_sample, ddim_timesteps
from pgm_ppl.diffusion.score_matching import (denoising_score_matching, explicit_score_matching,
                                              implicit_score_matching, sliced_score_matching)
from pgm_ppl.diffusion.schedules import NoiseSchedule, cosine_schedule, linear_schedule
from pgm_ppl.diffusion.sde import VESDE, VPSDE, DiscreteVPSDE, reverse_sde_sample

__all__ = ["DDPM", "NCSN", "PREDICTIONS", "SPACINGS", "VESDE", "VPSDE", "DiscreteVPSDE", "DiscretisedGaussian",
           "GaussianEpsilon", "LabelConditionedMLP", "LangevinResult", "NoiseSchedule", "ancestral_sample",
           "annealed_langevin", "bits_per_dim", "convert_prediction", "cosine_schedule", "ddim_sample",
           "ddim_timesteps", "ddpm", "denoising_score_matching", "explicit_score_matching", "gaussian_ddpm",
           "gaussian_noised_score", "geometric_sigmas", "implicit_score_matching", "linear_schedule", "mala",
           "ncsn", "ncsn_loss", "probability_flow", "probability_flow_log_prob", "probability_flow_sample",
           "reverse_sde_sample", "score_of", "sliced_score_matching", "to_grid_scale", "ula",
           "ula_stationary_variance"]
