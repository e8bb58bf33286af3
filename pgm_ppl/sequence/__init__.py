r"""Chapter 7: autoregressive models and Transformers.

k-gram models from counts (:func:`fit_kgram`), neural language models as Pyro programs (:class:`NPLM`,
:class:`RNNLM`, :class:`TransformerLM`, trained by :func:`pgm_ppl.training.train`), a Bayesian output layer fitted by SVI (:class:`BayesianOutputLM`), decoding rules
(:func:`generate`, :func:`beam_search`, :func:`filter_logits`), evaluation against the entropy rate of a known
source (:func:`score`, :func:`markov_entropy_rate`, :func:`hmm_entropy_rate`), and NADE/MADE for binary vectors.
The corpora and the character tokenizer live in :mod:`pgm_ppl.data.text`.
"""

from pgm_ppl.sequence.bayesian import BayesianOutputLM, bayesian_output_lm
from pgm_ppl.sequence.decoding import BeamSearchResult, beam_search, filter_logits, generate, next_token_probabilities
from pgm_ppl.sequence.evaluation import LMScore, empirical_entropy, score, token_log_probs
from pgm_ppl.sequence.kgram import KGram, fit_kgram
from pgm_ppl.sequence.lm import NPLM, RNNLM, LanguageModel, nplm, rnn_lm
from pgm_ppl.sequence.made import MADE, NADE, made, nade
from pgm_ppl.sequence.sources import (EntropyRate, context_law, hmm_entropy_rate, markov_cross_entropy,
                                      markov_entropy_rate)
from pgm_ppl.sequence.transformer import TransformerLM, transformer_lm

__all__ = [
    "BayesianOutputLM",
    "BeamSearchResult",
    "EntropyRate",
    "KGram",
    "LMScore",
    "LanguageModel",
    "MADE",
    "NADE",
    "NPLM",
    "RNNLM",
    "TransformerLM",
    "bayesian_output_lm",
    "beam_search",
    "context_law",
    "empirical_entropy",
    "filter_logits",
    "fit_kgram",
    "generate",
    "made",
    "nade",
    "hmm_entropy_rate",
    "markov_cross_entropy",
    "markov_entropy_rate",
    "next_token_probabilities",
    "nplm",
    "rnn_lm",
    "score",
    "token_log_probs",
    "transformer_lm",
]
