"""Gaussian processes (course chapter 4): kernels, exact and sparse regression, BLR in feature space,
Laplace GP classification, warped GPs, the Mauna Loa CO2 kernel.

Every predictor has one shape: a fitted object (``posterior(kernel, x, y, noise_variance)``, or what ``train``,
``train_cg``, ``train_svgp``, ``train_warped``, ``laplace_classification``, ``variational_classification`` and
``blr_posterior`` return) with ``.predict(x_new, *, include_noise=False, full_cov=False, level=0.95)`` returning a
:class:`GPPredictive` (mean, variance, std, central interval; ``target`` says latent ``"f"`` or noisy ``"y"``).
"""

from pgm_ppl.gp.blr import BLRPosterior, FeatureKernel, blr_posterior, gaussian_bump_features, polynomial_features
from pgm_ppl.gp.classification import (LaplaceGPC, VariationalGPC, laplace_classification,
                                       variational_classification)
from pgm_ppl.gp.co2 import CO2Data, co2_kernel, load_co2
from pgm_ppl.gp.exact import (CGOptions, GPPosterior, GPPredictive, GPTraining, log_marginal_likelihood, posterior,
                              train, train_cg)
from pgm_ppl.gp.kernels import (PriorSamples, gram, linear, locally_periodic, matern, periodic, polynomial,
                                rational_quadratic, sample_prior, squared_exponential)
from pgm_ppl.gp.warped import WarpedGP, train_warped
from pgm_ppl.gp.sparse import SVGP, SVGPTraining, train_svgp

__all__ = [
    "BLRPosterior", "FeatureKernel", "blr_posterior", "gaussian_bump_features", "polynomial_features",
    "CGOptions", "GPPosterior", "GPPredictive", "GPTraining", "log_marginal_likelihood", "posterior", "train",
    "train_cg", "PriorSamples", "gram", "linear", "locally_periodic", "matern", "periodic", "polynomial",
    "rational_quadratic", "sample_prior", "squared_exponential", "SVGP", "SVGPTraining",
    "train_svgp", "LaplaceGPC", "laplace_classification", "VariationalGPC",
    "variational_classification",
    "CO2Data", "co2_kernel", "load_co2", "WarpedGP", "train_warped",
]
