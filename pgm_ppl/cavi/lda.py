"""Latent Dirichlet allocation: the generative model (course Fig. 3.11) and mean-field CAVI (eqs. (3.15)-(3.17)).

Model: :math:`\\beta_k \\sim \\mathrm{Dir}(\\eta)`, :math:`\\theta_d \\sim \\mathrm{Dir}(\\alpha)`,
:math:`z_{dn} \\sim \\mathrm{Cat}(\\theta_d)`, :math:`w_{dn} \\sim \\mathrm{Cat}(\\beta_{z_{dn}})`.
Mean field :math:`q(\\beta_k) = \\mathrm{Dir}(\\lambda_k)`, :math:`q(\\theta_d) = \\mathrm{Dir}(\\gamma_d)`,
:math:`q(z_{dn}) = \\mathrm{Cat}(\\phi_{dn})`. Words enter as a document-by-vocabulary count matrix
:math:`n_{dv}`; all documents are updated at once as matrix products and :math:`\\phi` is never stored
(it is :math:`\\exp(\\mathbb E\\log\\theta_{dk} + \\mathbb E\\log\\beta_{kv})` normalised over k).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from pgm_ppl.core.convergence import check_tol_rule, has_converged, warn_not_converged


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


class LDAResult(NamedTuple):
    """Topic factors ``lam`` :math:`\\lambda` (K, V), document factors ``gamma`` :math:`\\gamma` (D, K), the
    ELBO after every iteration (non-decreasing) and the priors used. ``pgm_ppl.diagnostics.to_inference_data(
    result, counts)`` gives draws of ``beta`` and ``theta`` from the factors; ``stop_reason``
    (``"tol"`` or ``"max_iter"``) and ``rule`` (the ``tol_rule`` checked) say what stopped it."""

    lam: np.ndarray
    gamma: np.ndarray
    elbo: np.ndarray
    alpha: float
    eta: float
    converged: bool
    stop_reason: str = "max_iter"
    rule: str = "relative"

    @property
    def topics(self) -> np.ndarray:
        """Posterior mean topics :math:`\\lambda_k / \\sum_v \\lambda_{kv}`."""
        return self.lam / self.lam.sum(1, keepdims=True)

    def perplexity(self, counts: np.ndarray) -> float:
        """:math:`\\exp(-\\mathcal L / \\sum_{dv} n_{dv})` on the training counts (scikit-learn's definition)."""
        return float(np.exp(-self.elbo[-1] / np.asarray(counts).sum()))


def local_step(counts: np.ndarray, gamma: np.ndarray, exp_e_log_beta: np.ndarray, alpha: float, *,
               max_iter: int = 100, tol: float = 1e-3) -> np.ndarray:
    """Iterate the document updates, all documents at once, until the mean change of :math:`\\gamma` is
    below ``tol``:

    .. math::
        \\phi_{dvk} \\propto \\exp(\\mathbb E[\\log\\theta_{dk}] + \\mathbb E[\\log\\beta_{kv}]), \\qquad
        \\gamma_{dk} = \\alpha + \\sum_v n_{dv}\\phi_{dvk}.
    """
    for _ in range(max_iter):
        exp_theta = np.exp(dirichlet_expectation(gamma))
        norm = exp_theta @ exp_e_log_beta + 1e-100
        new = alpha + exp_theta * ((counts / norm) @ exp_e_log_beta.T)
        change = np.abs(new - gamma).mean()
        gamma = new
        if change < tol:
            break
    return gamma


def global_step(counts: np.ndarray, gamma: np.ndarray, exp_e_log_beta: np.ndarray, eta: float) -> np.ndarray:
    """:math:`\\lambda_{kv} = \\eta + \\sum_d n_{dv}\\phi_{dvk}` with :math:`\\phi` from the current factors."""
    exp_theta = np.exp(dirichlet_expectation(gamma))
    norm = exp_theta @ exp_e_log_beta + 1e-100
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
            local_tol: float = 1e-3, seed: int = 0) -> LDAResult:
    """Batch mean-field CAVI for LDA (course §3.4.3, eqs. (3.15)-(3.17)).

    Each iteration runs the document (local) updates to convergence, then the topic (global) update;
    the ELBO is recorded after every iteration, and the loop stops when its change is below ``tol`` times
    its magnitude (``tol_rule="relative"``, the default) or below ``tol`` (``"absolute"``).
    Initialisation as scikit-learn's batch LDA: :math:`\\lambda \\sim \\mathrm{Gamma}(100, 1/100)`,
    :math:`\\gamma` likewise.

    Parameters
    ----------
    counts
        Word counts :math:`n_{dv}`, shape (D, V), non-negative.
    num_topics
        K.
    alpha, eta
        Symmetric Dirichlet priors of the document proportions and the topics; default 1/K each
        (scikit-learn's default).
    seed
        Seed of the initialisation.
    """
    rule = check_tol_rule(tol_rule)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError(f"counts must be a non-negative finite (D, V) matrix, got shape {counts.shape}.")
    if not isinstance(num_topics, (int, np.integer)) or num_topics < 1:
        raise ValueError(f"num_topics must be a positive integer, got {num_topics!r}.")
    alpha = 1.0 / num_topics if alpha is None else alpha
    eta = 1.0 / num_topics if eta is None else eta
    rng = np.random.default_rng(seed)
    lam = rng.gamma(100.0, 0.01, size=(num_topics, counts.shape[1]))
    gamma = rng.gamma(100.0, 0.01, size=(counts.shape[0], num_topics))
    trace, converged = [], False
    for _ in range(max_iter):
        exp_beta = np.exp(dirichlet_expectation(lam))
        warm = local_step(counts, gamma, exp_beta, alpha, max_iter=local_max_iter, tol=local_tol)
        fresh = local_step(counts, rng.gamma(100.0, 0.01, size=gamma.shape), exp_beta, alpha,
                           max_iter=local_max_iter, tol=local_tol)
        e_log_beta = np.log(exp_beta)
        better = _document_terms(counts, fresh, e_log_beta, alpha) > _document_terms(counts, warm, e_log_beta, alpha)
        gamma = np.where(better[:, None], fresh, warm)
        lam = global_step(counts, gamma, exp_beta, eta)
        trace.append(lda_elbo(counts, gamma, lam, alpha, eta))
        if len(trace) > 1 and has_converged(trace[-2], trace[-1], tol, rule):
            converged = True
            break
    if not converged and tol > 0:
        warn_not_converged("fit_lda (CAVI)", max_iter, hint="raise max_iter or loosen tol, and check the ELBO trace.")
    return LDAResult(lam, gamma, np.array(trace), alpha, eta, converged, "tol" if converged else "max_iter", rule)
