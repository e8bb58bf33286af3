"""Expectation-maximisation and the latent-variable models of course chapter 2 and the syllabus.

One generic engine (:mod:`pgm_ppl.core.em`) runs every fitter: k-means aside, each model supplies an
E-step and an M-step and gets a recorded, non-decreasing log-likelihood trace.
"""

from pgm_ppl.em.alignment import Alignment, align_labels, match_components
from pgm_ppl.em.bernoulli_mixture import (BernoulliMixtureParams, BernoulliMixtureResult,
                                          bernoulli_mixture_log_joint, fit_bernoulli_mixture)
from pgm_ppl.em.degeneracy import CollapseCurve, collapse_log_likelihood
from pgm_ppl.core.em import (ELBODecomposition, EMInfo, EMResult, EMState, EStep, elbo_decomposition, em_init,
                               em_step, run_em)
from pgm_ppl.em.factor_analysis import (FactorAnalysisParams, FactorAnalysisResult,
                                        factor_analysis_log_likelihood, fit_factor_analysis, ppca_closed_form)
from pgm_ppl.em.gmm import (DirichletPrior, GMMParams, GMMResult, InverseWishartPrior, fit_gmm, gmm_log_likelihood,
                            gmm_log_prob, gmm_responsibilities, sample_gmm)
from pgm_ppl.clustering import KMeansResult, kmeans, kmeans_plusplus
from pgm_ppl.em.mfa import MFAParams, MFAResult, fit_mfa, mfa_log_prob
from pgm_ppl.em.student_t import (StudentTMixtureParams, StudentTMixtureResult, fit_student_t_mixture,
                                  student_t_mixture_log_prob)

__all__ = [
    "Alignment", "match_components", "align_labels",
    "BernoulliMixtureParams", "BernoulliMixtureResult", "bernoulli_mixture_log_joint", "fit_bernoulli_mixture",
    "CollapseCurve", "collapse_log_likelihood",
    "ELBODecomposition", "EMInfo", "EMResult", "EMState", "EStep", "elbo_decomposition", "em_init", "em_step",
    "run_em",
    "FactorAnalysisParams", "FactorAnalysisResult", "factor_analysis_log_likelihood", "fit_factor_analysis",
    "ppca_closed_form",
    "DirichletPrior", "GMMParams", "GMMResult", "InverseWishartPrior", "fit_gmm", "gmm_log_likelihood",
    "gmm_log_prob", "gmm_responsibilities", "sample_gmm",
    "KMeansResult", "kmeans", "kmeans_plusplus",
    "MFAParams", "MFAResult", "fit_mfa", "mfa_log_prob",
    "StudentTMixtureParams", "StudentTMixtureResult", "fit_student_t_mixture", "student_t_mixture_log_prob",
]
