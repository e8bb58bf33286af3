"""Dirichlet processes (course chapter 4): empirical and mixing measures, random measures and DP-mixture
inference (CAVI, collapsed Gibbs, the enumerated stick-breaking model for ``fit``)."""

from pgm_ppl.dp import cavi, gibbs
from pgm_ppl.dp.measures import discrete_measure, empirical_measure, mixture_density
from pgm_ppl.dp.mixtures import (assignment_probabilities, co_clustering_probabilities, dp_mixture,
                                 dp_mixture_guide, stick_weights)
from pgm_ppl.dp.random_measures import (DPDraw, PolyaUrn, StickBreaking, crp_sample, dp_draw,
                                        expected_num_clusters, expected_stick_weights, polya_urn,
                                        stick_breaking, truncation_error_bound, truncation_level)

__all__ = [
    "cavi", "gibbs", "discrete_measure", "empirical_measure", "mixture_density", "assignment_probabilities",
    "co_clustering_probabilities", "dp_mixture", "dp_mixture_guide", "stick_weights",
    "DPDraw", "PolyaUrn", "StickBreaking",
    "crp_sample", "dp_draw", "expected_num_clusters", "expected_stick_weights",
    "polya_urn", "stick_breaking", "truncation_error_bound", "truncation_level",
]
