"""Parameter learning for discrete Bayesian networks: maximum likelihood from complete data, EM otherwise.

With complete data the log-likelihood splits over families and each CPT row is a normalised count,

.. math::

    \\hat\\theta_{v\\mid u}(k) = \\frac{N(x_v=k, x_{\\mathrm{pa}(v)}=u) + \\alpha}{\\sum_{k'} N(x_v=k', x_{\\mathrm{pa}(v)}=u) + K_v\\alpha},

(:math:`\\alpha=0` is maximum likelihood; :math:`\\alpha>0` is the MAP estimate under a Dirichlet(:math:`\\alpha+1`)
prior). With missing entries, EM (course Ch. 2, eqs (2.17)-(2.21)) replaces the counts by their posterior
expectations :math:`\\sum_n p(x_v=k, x_{\\mathrm{pa}(v)}=u\\mid x^{(n)}_{\\mathrm{obs}})`, computed by the
junction tree once per distinct pattern of observed values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pgm_ppl.core.em import EStep, run_em
from pgm_ppl.core.validation import check_positive

from .bayesnet import BayesianNetwork
from .junction_tree import JunctionTree

__all__ = ["maximum_likelihood", "BayesNetEMResult", "expectation_maximization"]


def _data_matrix(network_vars: tuple[str, ...], cards: Mapping[str, int], data: Mapping[str, np.ndarray],
                 allow_missing: bool) -> np.ndarray:
    missing = [v for v in network_vars if v not in data]
    if missing:
        raise ValueError(f"data has no column for variables {missing}.")
    columns = [np.asarray(data[v]) for v in network_vars]
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise ValueError(f"data columns have different lengths {sorted(lengths)}.")
    rows = np.stack(columns, axis=1)
    if not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"data must hold integer state indices, got dtype {rows.dtype}.")
    low = -1 if allow_missing else 0
    for j, v in enumerate(network_vars):
        bad = np.flatnonzero((rows[:, j] < low) | (rows[:, j] >= cards[v]))
        if bad.size:
            expected = f"[{low}, {cards[v] - 1}]" + (" (-1 = missing)" if allow_missing else "")
            raise ValueError(f"data column {v!r}, row {bad[0]}: state {rows[bad[0], j]} outside {expected}.")
    return rows


def _normalise(counts: np.ndarray, pseudo_count: float) -> np.ndarray:
    counts = counts + pseudo_count
    total = counts.sum(-1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[-1])
    return np.where(total > 0, counts / np.where(total > 0, total, 1.0), uniform)


def maximum_likelihood(structure: BayesianNetwork, data: Mapping[str, np.ndarray], *,
                       pseudo_count: float = 0.0) -> BayesianNetwork:
    """CPTs by (smoothed) counting from complete data.

    Parameters
    ----------
    structure
        A network giving the parents, cardinalities and state names (its CPT values are ignored).
    data
        ``{variable: integer states}``, one array of length ``N`` per variable (a pandas DataFrame works).
    pseudo_count
        :math:`\\alpha\\ge0`; rows never seen in the data become uniform when :math:`\\alpha=0`.
    """
    pseudo_count = check_positive(pseudo_count, "pseudo_count", allow_zero=True)
    variables, cards = structure.variables, structure.cardinalities
    rows = _data_matrix(variables, cards, data, allow_missing=False)
    column = {v: j for j, v in enumerate(variables)}
    cpts = {}
    for v in variables:
        family = structure.parents[v] + (v,)
        shape = tuple(cards[u] for u in family)
        flat = np.ravel_multi_index(tuple(rows[:, column[u]] for u in family), shape)
        cpts[v] = _normalise(np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(float),
                             pseudo_count)
    return BayesianNetwork(structure.parents, cpts, structure.state_names)


@dataclass(frozen=True, slots=True)
class BayesNetEMResult:
    """Result of :func:`expectation_maximization`.

    Attributes
    ----------
    network
        The fitted network.
    log_likelihood
        Observed-data :math:`\\log p(x_{\\mathrm{obs}})` at the start and after each M-step, length
        ``num_iterations + 1``; the last entry is the fitted network's.
    converged, num_iterations, stop_reason, rule
        How the EM loop stopped: the fields of :class:`pgm_ppl.core.em.EMResult` (the loop this runs on).
    """

    network: BayesianNetwork
    log_likelihood: np.ndarray
    converged: bool
    num_iterations: int
    stop_reason: str = "max_iter"
    rule: str = "relative"


def expectation_maximization(network: BayesianNetwork, data: Mapping[str, np.ndarray], *,
                             max_iter: int = 100, tol: float = 1e-8, tol_rule: str = "relative",
                             pseudo_count: float = 0.0) -> BayesNetEMResult:
    """EM for the CPTs of a Bayesian network from data with missing entries (state ``-1``).

    Parameters
    ----------
    network
        Initial CPTs (they must give every observed pattern positive probability).
    data
        ``{variable: integer states}``, ``-1`` marking a missing value.
    max_iter, tol, tol_rule
        Stop when the observed-data log-likelihood changes by less than ``tol`` times its previous magnitude
        (``tol_rule="relative"``, the default) or by less than ``tol`` (``"absolute"``): the rules of
        :func:`pgm_ppl.core.em.run_em`, the one EM loop this runs on.
    pseudo_count
        Dirichlet smoothing of the expected counts; with 0 the log-likelihood never decreases.

    Raises
    ------
    ValueError
        If a data column is missing, has another length or holds a state outside ``[-1, K - 1]``, if
        ``pseudo_count`` is negative, or if a row's observed values have probability zero under the network EM
        starts from (its log-likelihood would be -inf); the message names ``data`` and the row.
    """
    pseudo_count = check_positive(pseudo_count, "pseudo_count", allow_zero=True)
    variables, cards = network.variables, network.cardinalities
    rows = _data_matrix(variables, cards, data, allow_missing=True)
    patterns, first_row, weights = np.unique(rows, axis=0, return_index=True, return_counts=True)

    def e_step(current: BayesianNetwork) -> EStep:
        """Expected family counts by the junction tree, once per distinct pattern of observed values."""
        tree = JunctionTree(current.to_factor_graph())
        counts = {v: np.zeros(current.cpts[v].shape) for v in variables}
        log_lik = 0.0
        for pattern, row, weight in zip(patterns, first_row, weights):
            evidence = {v: int(s) for v, s in zip(variables, pattern) if s >= 0}
            try:
                cal = tree.calibrate(evidence)
            except ValueError:
                raise ValueError(f"data: expected observed values of positive probability under the network, got "
                                 f"row {row} {evidence} of probability zero (log-likelihood -inf); start EM from "
                                 "CPTs that give every observed pattern positive probability (smooth their zeros)."
                                 ) from None
            log_lik += weight * cal.log_value
            for v in variables:
                counts[v] += weight * cal.clique_marginal(current.parents[v] + (v,))
        return EStep(counts, float(log_lik))

    def m_step(counts: dict, current: BayesianNetwork) -> BayesianNetwork:
        # a parent configuration with zero expected count keeps its CPT row (no 0/0), as the HMM's rows do
        cpts = {v: np.where(c.sum(-1, keepdims=True) + pseudo_count > 0, _normalise(c, pseudo_count), current.cpts[v])
                for v, c in counts.items()}
        return BayesianNetwork(current.parents, cpts, current.state_names)

    result = run_em(network, e_step, m_step, max_iter=int(max_iter), tol=tol, tol_rule=tol_rule,
                    name="expectation_maximization")
    return BayesNetEMResult(result.params, result.log_likelihood_trace, result.converged, result.num_iterations,
                            result.stop_reason, result.rule)
