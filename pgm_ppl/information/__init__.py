"""Information theory, pushforwards and likelihood training of course chapter 1."""

from pgm_ppl.information.divergences import (MonteCarloEstimate, bernoulli_entropy, chi_squared_divergence,
                                             chi_squared_quadrature, cross_entropy, differential_cross_entropy,
                                             differential_entropy, entropy, js_divergence, js_divergence_quadrature,
                                             kl_divergence,
                                             kl_divergence_monte_carlo, kl_divergence_quadrature, kl_mvn, kl_normal,
                                             l1_distance, l1_distance_quadrature)
from pgm_ppl.information.kl_fitting import GradientFlow, KLFitResult, fit_gaussian_kl, kl_gradient_flow
from pgm_ppl.information.likelihood import (GaussianClassifier, MLEResult, autodiff_mle, fit_gaussian_classifier,
                                            fit_logistic_regression)
from pgm_ppl.information.pushforward import (PushforwardHistogram, pushforward_discrete, pushforward_histogram,
                                             pushforward_log_density)

__all__ = [
    "MonteCarloEstimate", "bernoulli_entropy", "chi_squared_divergence", "chi_squared_quadrature", "cross_entropy",
    "differential_cross_entropy", "differential_entropy", "entropy", "js_divergence", "js_divergence_quadrature",
    "kl_divergence", "kl_divergence_monte_carlo",
    "kl_divergence_quadrature", "kl_mvn", "kl_normal", "l1_distance", "l1_distance_quadrature",
    "GradientFlow", "KLFitResult", "fit_gaussian_kl", "kl_gradient_flow",
    "GaussianClassifier", "MLEResult", "fit_gaussian_classifier", "fit_logistic_regression", "autodiff_mle",
    "PushforwardHistogram", "pushforward_discrete", "pushforward_histogram", "pushforward_log_density",
]
