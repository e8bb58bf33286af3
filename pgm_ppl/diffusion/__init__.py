"""Chapter 9: score-based and diffusion models.

Scores and Langevin samplers, score matching (explicit, implicit, sliced, denoising), NCSN with annealed Langevin
dynamics, DDPM as a Pyro model–guide pair whose ELBO is the DDPM bound, its samplers (ancestral, DDIM, reverse
SDE, predictor–corrector, probability-flow ODE with exact likelihood), parameterisation converters and
classifier-free guidance.
"""

from pgm_ppl.diffusion.ddpm import DDPM, bits_per_dim, ddpm
from pgm_ppl.diffusion.decoders import DiscretisedGaussian, to_grid_scale
from pgm_ppl.diffusion.gaussian import GaussianEpsilon, gaussian_ddpm, gaussian_noised_score
from pgm_ppl.diffusion.networks import LabelConditionedMLP
from pgm_ppl.diffusion.parameterisations import PREDICTIONS, convert_prediction
from pgm_ppl.diffusion.probability_flow import probability_flow, probability_flow_log_prob, probability_flow_sample
from pgm_ppl.diffusion.samplers import SPACINGS, ancestral_sample, ddim_sample, ddim_timesteps
from pgm_ppl.diffusion.schedules import NoiseSchedule, cosine_schedule, linear_schedule
from pgm_ppl.diffusion.sde import VESDE, VPSDE, DiscreteVPSDE, reverse_sde_sample

__all__ = ["DDPM", "PREDICTIONS", "SPACINGS", "VESDE", "VPSDE", "DiscreteVPSDE", "DiscretisedGaussian",
           "GaussianEpsilon", "LabelConditionedMLP", "NoiseSchedule", "ancestral_sample", "bits_per_dim",
           "convert_prediction", "cosine_schedule", "ddim_sample", "ddim_timesteps", "ddpm", "gaussian_ddpm",
           "gaussian_noised_score", "linear_schedule", "probability_flow", "probability_flow_log_prob",
           "probability_flow_sample", "reverse_sde_sample", "to_grid_scale"]
