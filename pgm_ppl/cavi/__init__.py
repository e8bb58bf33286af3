"""Coordinate-ascent variational inference (CAVI) with closed-form updates, course §3.4 (eqs. (3.11)-(3.13)).

Each model supplies its local and global updates and records an ELBO trace that never decreases:
the Bayesian Gaussian mixture (Bishop §10.2, matching scikit-learn's ``BayesianGaussianMixture``),
LDA (matching scikit-learn's batch ``LatentDirichletAllocation``), Bayesian linear regression, 1-D
mixtures (Example 3.7) and the mean-field Gaussian of Example 3.6.
"""

from pgm_ppl.cavi.bayesian_gmm import (BGMMResult, BGMMState, NormalWishartPrior, fit_bayesian_gmm,
                                       sklearn_lower_bound_offset)
from pgm_ppl.cavi.lda import LDACorpus, LDAResult, dirichlet_expectation, fit_lda, lda_elbo, sample_lda_corpus
from pgm_ppl.cavi.linear_regression import BLRResult, fit_linear_regression
from pgm_ppl.cavi.mean_field_gaussian import MeanFieldGaussian, gaussian_kl, mean_field_gaussian
from pgm_ppl.cavi.two_component import MixtureMeansResult, fit_mixture_means, mixture_responsibilities

__all__ = [
    "BGMMResult", "BGMMState", "NormalWishartPrior", "fit_bayesian_gmm", "sklearn_lower_bound_offset",
    "LDACorpus", "LDAResult", "dirichlet_expectation", "fit_lda", "lda_elbo", "sample_lda_corpus",
    "BLRResult", "fit_linear_regression",
    "MeanFieldGaussian", "gaussian_kl", "mean_field_gaussian",
    "MixtureMeansResult", "fit_mixture_means", "mixture_responsibilities",
]
