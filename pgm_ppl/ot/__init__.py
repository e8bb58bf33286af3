r"""Optimal transport on POT (course chapter 5): exact, entropic, closed forms, maps, geodesics,
barycenters, dynamic OT, and the sample metrics and minibatch couplings used by the rest of pgm_ppl.

Convention: the entropic solvers take ``reg`` :math:`=\varepsilon=1/\lambda`, where :math:`\lambda` is the
notes' inverse temperature in :math:`K=e^{-\lambda C}` (course eq. (5.11)).
Names state what is returned: a ``*cost*`` is the transport cost :math:`W_p^p` (``ot_cost_1d``,
``quantile_ot_cost``, ``TransportResult.cost``), a ``*distance*`` is :math:`W_p` itself
(``wasserstein_distance_empirical``, ``sliced_wasserstein_distance``), ``_sq`` marks a square (``gaussian_w2_sq``,
``mmd_sq``) and ``w2_samples`` is :math:`W_2`.
This subpackage imports only numpy, scipy, torch and POT.
"""

from .barycenters import (
    barycenter_1d,
    convolutional_barycenter,
    entropic_barycenter,
    exact_barycenter,
    free_support_barycenter,
    gaussian_barycenter,
)
from .batched import BatchedTransportResult, batched_cost_matrix, sinkhorn_batched
from .closed_form import (gaussian_w2_sq, ot_cost_1d, quantile_ot_cost, sliced_wasserstein_distance,
                          wasserstein_distance_empirical)
from .couplings import MongeResult, independent_coupling, is_coupling, monge_brute_force, pushforward
from .discrete import (
    OTConvergenceWarning,
    TransportResult,
    cost_matrix,
    exact_ot,
    sinkhorn,
    sinkhorn_log,
    unbalanced_sinkhorn,
)
from .dynamic import DynamicOTResult, benamou_brenier
from .geodesics import (
    DiscreteMeasure,
    displacement_interpolation_1d,
    gaussian_geodesic,
    mccann_interpolation,
    mixture_interpolation,
)
from .maps import AffineMap, MonotoneMap1D, barycentric_projection, gaussian_ot_map, monotone_map_1d
from .metrics import MinibatchCoupling, energy_distance, minibatch_ot_coupling, mmd_sq, w2_samples

__all__ = [
    "AffineMap",
    "BatchedTransportResult",
    "DiscreteMeasure",
    "DynamicOTResult",
    "MinibatchCoupling",
    "MongeResult",
    "MonotoneMap1D",
    "OTConvergenceWarning",
    "TransportResult",
    "barycenter_1d",
    "barycentric_projection",
    "batched_cost_matrix",
    "benamou_brenier",
    "convolutional_barycenter",
    "cost_matrix",
    "displacement_interpolation_1d",
    "energy_distance",
    "entropic_barycenter",
    "exact_barycenter",
    "exact_ot",
    "free_support_barycenter",
    "gaussian_barycenter",
    "gaussian_geodesic",
    "gaussian_ot_map",
    "gaussian_w2_sq",
    "independent_coupling",
    "is_coupling",
    "mccann_interpolation",
    "minibatch_ot_coupling",
    "mixture_interpolation",
    "mmd_sq",
    "monge_brute_force",
    "monotone_map_1d",
    "ot_cost_1d",
    "pushforward",
    "quantile_ot_cost",
    "sinkhorn",
    "sinkhorn_batched",
    "sinkhorn_log",
    "sliced_wasserstein_distance",
    "unbalanced_sinkhorn",
    "w2_samples",
    "wasserstein_distance_empirical",
]
