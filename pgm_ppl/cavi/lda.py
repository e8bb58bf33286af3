"""Latent Dirichlet allocation: the generative model (course Fig. 3.11) and mean-field CAVI (eqs. (3.15)-(3.17)).

Model: :math:`\\beta_k \\sim \\mathrm{Dir}(\\eta)`, :math:`\\theta_d \\sim \\mathrm{Dir}(\\alpha)`,
:math:`z_{dn} \\sim \\mathrm{Cat}(\\theta_d)`, :math:`w_{dn} \\sim \\mathrm{Cat}(\\beta_{z_{dn}})`.
Mean field :math:`q(\\beta_k) = \\mathrm{Dir}(\\lambda_k)`, :math:`q(\\theta_d) = \\mathrm{Dir}(\\gamma_d)`,
:math:`q(z_{dn}) = \\mathrm{Cat}(\\phi_{dn})`. Words enter as a document-by-vocabulary count matrix
:math:`n_{dv}`; all documents are updated at once as matrix products and :math:`\\phi` is never stored
(it is :math:`\\exp(\\mathbb E\\log\\theta_{dk} + \\mathbb E\\log\\beta_{kv})` normalised over k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from pgm_ppl.core.convergence import TOL_RULES, check_tol_rule, has_converged, warn_not_converged
from pgm_ppl.core.validation import check_choice, check_data, check_int, check_positive

# guards 0/0 in phi's normaliser sum_k exp(E log theta_dk + E log beta_kv) when it underflows. The normaliser is
# dimensionless and at most 1 (a sum of sub-normalised probabilities), so an absolute guard does not depend on the
# data's scale; 1e-100 keeps count / normaliser finite for any count below 1e208 (the smallest normal float would
# overflow it to inf, and inf * 0 = NaN).
_TINY = 1e-100


class LDACorpus(NamedTuple):
    """A corpus drawn from LDA: ``counts`` (D, V), the true ``topics`` :math:`\\beta` (K, V), document
    proportions ``theta`` (D, K)."""

    counts: np.ndarray
    topics: np.ndarray
    theta: np.ndarray


def sample_lda_corpus(num_docs: int, vocab_size: int, num_topics: int, *, doc_length: int = 100,
                      alpha: float = 0.1, eta: float = 0.05, seed: int = 0) -> LDACorpus:
    """Ancestral sample of the LDA generative story (course Fig. 3.11), returned as bag-of-words counts."""
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(vocab_size, eta), size=num_topics)
    theta = rng.dirichlet(np.full(num_topics, alpha), size=num_docs)
    word_probs = theta @ topics                     # sum_k theta_dk beta_kv: z_dn marginalised per word
    counts = np.stack([rng.multinomial(doc_length, p / p.sum()) for p in word_probs]).astype(np.float64)
    return LDACorpus(counts, topics, theta)


def dirichlet_expectation(concentration: np.ndarray) -> np.ndarray:
    """:math:`\\mathbb E[\\log \\theta_k] = \\psi(\\gamma_k) - \\psi(\\sum_j \\gamma_j)` for
    :math:`\\theta \\sim \\mathrm{Dir}(\\gamma)`, along the last axis."""
    return digamma(concentration) - digamma(concentration.sum(-1, keepdims=True))


@dataclass(frozen=True, slots=True)
class LDAResult:
    """Topic factors ``lam`` :math:`\\lambda` (K, V), document factors ``gamma`` :math:`\\gamma` (D, K), the
    ELBO after every iteration (non-decreasing) and the priors used. ``pgm_ppl.diagnostics.to_inference_data(
    result, counts)`` gives draws of ``beta`` and ``theta`` from the factors; ``stop_reason``
    (``"tol"`` or ``"max_iter"``) and ``rule`` (the ``tol_rule`` checked) say what stopped it, and
    ``local_converged`` / ``local_rule`` whether the document updates of the last iteration met ``local_tol``
    under ``local_tol_rule`` (rather than stopping at ``local_max_iter``)."""

    lam: np.ndarray
    gamma: np.ndarray
    elbo: np.ndarray
    alpha: float
    eta: float
    converged: bool
    stop_reason: str = "max_iter"
    rule: str = "relative"
    local_converged: bool = True
    local_rule: str = "absolute"

    @property
    def topics(self) -> np.ndarray:
        """Posterior mean topics :math:`\\lambda_k / \\sum_v \\lambda_{kv}`."""
        return self.lam / self.lam.sum(1, keepdims=True)

    def perplexity(self, counts: np.ndarray) -> float:
        """:math:`\\exp(-\\mathcal L / \\sum_{dv} n_{dv})` on the training counts (scikit-learn's definition)."""
        return float(np.exp(-self.elbo[-1] / np.asarray(counts).sum()))


def local_step(counts: np.ndarray, gamma: np.ndarray, exp_e_log_beta: np.ndarray, alpha: float, *,
               max_iter: int = 100, tol: float = 1e-3, tol_rule: str = "absolute") -> tuple[np.ndarray, bool]:
    """Iterate the document updates, all documents at once,

    .. math::
        \\phi_{dvk} \\propto \\exp(\\mathbb E[\\log\\theta_{dk}] + \\mathbb E[\\log\\beta_{kv}]), \\qquad
        \\gamma_{dk} = \\alpha + \\sum_v n_{dv}\\phi_{dvk},

    until the mean absolute change of :math:`\\gamma` is below ``tol`` (``tol_rule="absolute"``, scikit-learn's
    ``mean_change_tol``) or below ``tol`` times the mean of :math:`\\gamma` (``"relative"``). Returns the new
    :math:`\\gamma` (D, K) and whether the rule fired within ``max_iter`` sweeps.
    """
    for _ in range(max_iter):
        exp_theta = np.exp(dirichlet_expectation(gamma))
        norm = exp_theta @ exp_e_log_beta + _TINY
        new = alpha + exp_theta * ((counts / norm) @ exp_e_log_beta.T)
        change = np.abs(new - gamma).mean()
        scale = 1.0 if tol_rule == "absolute" else np.abs(gamma).mean()
        gamma = new
        if change < tol * scale:
            return gamma, True
    return gamma, False


def global_step(counts: np.ndarray, gamma: np.ndarray, exp_e_log_beta: np.ndarray, eta: float) -> np.ndarray:
    """:math:`\\lambda_{kv} = \\eta + \\sum_d n_{dv}\\phi_{dvk}` with :math:`\\phi` from the current factors."""
    exp_theta = np.exp(dirichlet_expectation(gamma))
    norm = exp_theta @ exp_e_log_beta + _TINY
    return eta + exp_e_log_beta * (exp_theta.T @ (counts / norm))


def _document_terms(counts: np.ndarray, gamma: np.ndarray, e_log_beta: np.ndarray, alpha: float) -> np.ndarray:
    r"""Each document's share of the ELBO given the topics: its expected log-likelihood with optimal
    :math:`\phi` minus :math:`\mathrm{KL}(\mathrm{Dir}(\gamma_d)\|\mathrm{Dir}(\alpha))`, shape (D,)."""
    e_log_theta = dirichlet_expectation(gamma)
    shift_t, shift_b = e_log_theta.max(1, keepdims=True), e_log_beta.max(0, keepdims=True)
    log_norm = np.log(np.exp(e_log_theta - shift_t) @ np.exp(e_log_beta - shift_b)) + shift_t + shift_b
    return (counts * log_norm).sum(1) - _dirichlet_kl(gamma, alpha, e_log_theta)


def lda_elbo(counts: np.ndarray, gamma: np.ndarray, lam: np.ndarray, alpha: float, eta: float) -> float:
    """ELBO (course eq. (3.8)) with :math:`\\phi` optimal for :math:`(\\gamma, \\lambda)`:

    .. math::
        \\mathcal L = \\sum_{dv} n_{dv} \\log\\sum_k e^{\\mathbb E\\log\\theta_{dk} + \\mathbb E\\log\\beta_{kv}}
        - \\sum_d \\mathrm{KL}(\\mathrm{Dir}(\\gamma_d)\\,\\|\\,\\mathrm{Dir}(\\alpha))
        - \\sum_k \\mathrm{KL}(\\mathrm{Dir}(\\lambda_k)\\,\\|\\,\\mathrm{Dir}(\\eta)).
    """
    e_log_beta = dirichlet_expectation(lam)
    return float(_document_terms(counts, gamma, e_log_beta, alpha).sum() - _dirichlet_kl(lam, eta, e_log_beta).sum())


def _dirichlet_kl(conc: np.ndarray, prior: float, e_log: np.ndarray) -> np.ndarray:
    """KL(Dir(conc) || Dir(prior 1)) per row."""
    size = conc.shape[1]
    return (gammaln(conc.sum(1)) - gammaln(conc).sum(1) - gammaln(size * prior) + size * gammaln(prior)
            + ((conc - prior) * e_log).sum(1))


def fit_lda(counts: np.ndarray, num_topics: int, *, alpha: float | None = None, eta: float | None = None,
            max_iter: int = 100, tol: float = 1e-6, tol_rule: str = "relative", local_max_iter: int = 100,
            local_tol: float = 1e-3, local_tol_rule: str = "absolute", seed: int = 0) -> LDAResult:
    """Batch mean-field CAVI for LDA (course §3.4.3, eqs. (3.15)-(3.17)).

    Each iteration runs the document (local) updates to convergence, then the topic (global) update;
    the ELBO is recorded after every iteration, and the loop stops when its change is below ``tol`` times
    its magnitude (``tol_rule="relative"``, the default) or below ``tol`` (``"absolute"``).
    Initialisation as scikit-learn's batch LDA: :math:`\\lambda \\sim \\mathrm{Gamma}(100, 1/100)`,
    :math:`\\gamma` likewise.

    Parameters
    ----------
    counts
        Word counts :math:`n_{dv}`, shape (D, V), non-negative and finite (empty documents are allowed).
    num_topics
        K.
    alpha, eta
        Symmetric Dirichlet priors of the document proportions and the topics; default 1/K each
        (scikit-learn's default).
    max_iter, tol, tol_rule
        Cap and stopping rule of the outer loop on the ELBO.
    local_max_iter, local_tol, local_tol_rule
        Cap and stopping rule of the document updates: the mean change of :math:`\\gamma` below ``local_tol``
        (``"absolute"``, scikit-learn's ``mean_change_tol``) or below ``local_tol`` times the mean of
        :math:`\\gamma` (``"relative"``).
    seed
        Seed of the initialisation.

    Returns
    -------
    LDAResult
        With ``rule`` and ``local_rule`` the rules checked; a
        :class:`~pgm_ppl.core.convergence.ConvergenceWarning` says when ``max_iter`` ran out first, or when the
        last iteration's document updates stopped at ``local_max_iter`` (its topics then rest on unconverged
        :math:`\\gamma`).

    Raises
    ------
    ValueError
        For counts that are not a non-negative finite (D, V) matrix, a non-positive ``num_topics``, ``alpha``,
        ``eta``, cap or tolerance, or an unknown rule (each message names the argument).
    """
    rule, local_rule = check_tol_rule(tol_rule), check_choice(local_tol_rule, "local_tol_rule", TOL_RULES)
    counts = check_data(counts, "counts")
    if np.any(counts < 0):
        row, column = (int(i) for i in np.argwhere(counts < 0)[0])
        raise ValueError(f"counts: expected non-negative word counts, got {counts[row, column]} at row {row}, "
                         f"column {column}.")
    num_topics = check_int(num_topics, "num_topics")
    alpha = 1.0 / num_topics if alpha is None else check_positive(alpha, "alpha")
    eta = 1.0 / num_topics if eta is None else check_positive(eta, "eta")
    max_iter, local_max_iter = check_int(max_iter, "max_iter"), check_int(local_max_iter, "local_max_iter")
    tol = check_positive(tol, "tol", allow_zero=True)
    local_tol = check_positive(local_tol, "local_tol", allow_zero=True)
    rng = np.random.default_rng(seed)
    lam = rng.gamma(100.0, 0.01, size=(num_topics, counts.shape[1]))
    gamma = rng.gamma(100.0, 0.01, size=(counts.shape[0], num_topics))
    trace, converged, local_converged = [], False, True
    for _ in range(max_iter):
        exp_beta = np.exp(dirichlet_expectation(lam))
        warm, warm_ok = local_step(counts, gamma, exp_beta, alpha, max_iter=local_max_iter, tol=local_tol,
                                   tol_rule=local_rule)
        fresh, fresh_ok = local_step(counts, rng.gamma(100.0, 0.01, size=gamma.shape), exp_beta, alpha,
                                     max_iter=local_max_iter, tol=local_tol, tol_rule=local_rule)
        e_log_beta = np.log(exp_beta)
        better = _document_terms(counts, fresh, e_log_beta, alpha) > _document_terms(counts, warm, e_log_beta, alpha)
        gamma = np.where(better[:, None], fresh, warm)
        local_converged = bool(fresh_ok if better.all() else warm_ok if not better.any() else warm_ok and fresh_ok)
        lam = global_step(counts, gamma, exp_beta, eta)
        trace.append(lda_elbo(counts, gamma, lam, alpha, eta))
        if len(trace) > 1 and has_converged(trace[-2], trace[-1], tol, rule):
            converged = True
            break
    if not converged and tol > 0:
        warn_not_converged("fit_lda (CAVI)", max_iter, hint="raise max_iter or loosen tol, and check the ELBO trace.")
    if not local_converged and local_tol > 0:
        warn_not_converged("fit_lda's document updates (last iteration)", local_max_iter,
                           hint="raise local_max_iter or loosen local_tol.")
    return LDAResult(lam, gamma, np.array(trace), alpha, eta, converged, "tol" if converged else "max_iter", rule,
                     local_converged, local_rule)
