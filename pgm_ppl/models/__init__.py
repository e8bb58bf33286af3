"""The model zoo: each model written once in the neutral namespace, with the reference it is tested on."""

from pgm_ppl.models.factor_analysis import factor_analysis
from pgm_ppl.models.gmm import gaussian_mixture
from pgm_ppl.models.hmm import categorical_hmm, gaussian_hmm
from pgm_ppl.models.linear_regression import exact_posterior, linear_regression
from pgm_ppl.models.registry import ZOO, ZooModel, get_model, standardise

__all__ = ["ZOO", "ZooModel", "categorical_hmm", "exact_posterior", "factor_analysis", "gaussian_hmm",
           "gaussian_mixture", "get_model", "linear_regression", "standardise"]
