r"""Neural language models as Pyro programs (course §7.1, §7.3-7.5).

Every model here factorises a sequence autoregressively (course §7.1),

.. math::
    p_\theta(x_{1:L}) = \prod_{t=1}^{L} p_\theta(x_t \mid x_{1:t-1}), \qquad
    p_\theta(x_t \mid x_{1:t-1}) = \mathrm{softmax}\big(s_\theta(x_{1:t-1})\big)_{x_t},

and is a Pyro model whose tokens are observed ``Categorical`` sites inside a ``pyro.plate`` over sequences and whose
network is a ``pyro.module``. With no latent variable the guide is empty and the ELBO is exactly
:math:`\log p_\theta(x)`, so :func:`pgm_ppl.training.train` with its default ``Trace_ELBO`` is maximum likelihood
(the loss is the summed negative log-likelihood of the batch, in nats). Each row of a batch is one sequence of
integer token ids (``pgm_ppl.data.text.sliding_windows``); the first token is predicted from a beginning-of-sequence
symbol (id ``vocab_size``, never emitted), so :meth:`LanguageModel.log_prob` is the exact joint of the row.

Subclasses give ``forward(inputs, cache=None) -> (logits, cache)``: ``inputs`` ``(batch, T)`` the tokens *read*
(BOS first), logits ``(batch, T, V)`` of the token after each, and a state that lets generation continue from
where it stopped (a KV cache, an RNN's hidden state, the last window).

References
----------
.. [Bengio2003] Y. Bengio, R. Ducharme, P. Vincent and C. Jauvin, "A neural probabilistic language model", JMLR 3
   (2003) 1137-1155.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int
from pgm_ppl.nn import MLP

__all__ = ["LanguageModel", "NPLM", "RNNLM", "nplm", "rnn_lm"]


class LanguageModel(nn.Module):
    """Base class: the Pyro model, exact ``log_prob``, ancestral ``sample`` of an autoregressive token model.

    Parameters
    ----------
    vocab_size
        :math:`|V|`; token ids are ``0..V-1`` and id ``V`` is the beginning-of-sequence input symbol.
    context_length
        Tokens per training row minus one (rows are ``context_length + 1`` tokens); :meth:`sample` draws rows of
        that length.
    """

    log_prob_kind = "exact"

    def __init__(self, vocab_size: int, context_length: int):
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=2)
        self.context_length = check_int(context_length, "context_length")
        self.bos = self.vocab_size

    # --- the network ------------------------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:  # pragma: no cover
        raise NotImplementedError

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The tokens read to predict ``x``: BOS then ``x`` without its last token."""
        bos = torch.full((x.shape[0], 1), self.bos, dtype=torch.long, device=x.device)
        return torch.cat([bos, x[:, :-1].long()], dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        r"""Logits of :math:`p(x_t \mid x_{<t})` for every position, shape ``(batch, L, V)``."""
        return self(self._inputs(self._check(x)))[0]

    def _check(self, x: Any) -> torch.Tensor:
        """Token ids as int64 in ``[0, vocab_size)``; whole-number floats are accepted (callers such as
        :func:`pgm_ppl.diagnostics.compare_heldout` cast data to float), and so are arrays and nested lists."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x), device=next(self.parameters()).device)
        if x.ndim != 2 or (x.dtype.is_floating_point and not torch.equal(x, x.round())):
            raise ValueError(f"x: expected a (batch, length) tensor of integer token ids, got shape "
                             f"{tuple(x.shape)} and dtype {x.dtype}.")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
            raise ValueError(f"x: expected token ids in [0, {self.vocab_size - 1}] (vocab_size={self.vocab_size}), "
                             f"got values in [{int(x.min())}, {int(x.max())}]; encode text with the tokenizer the "
                             "model was built for (its unknown symbol takes characters it has not seen).")
        return x.long()

    # --- the Trainable protocol -------------------------------------------------------------------------------
    def model(self, x: torch.Tensor) -> None:
        r"""Pyro model: for each row, :math:`x_t \sim \mathrm{Categorical}(\mathrm{softmax}(s_\theta(x_{<t})))`."""
        pyro.module("language_model", self)
        x = self._check(x)
        logits = self.logits(x)
        with pyro.plate("sequences", x.shape[0]):
            pyro.sample("x", dist.Categorical(logits=logits).to_event(1), obs=x.long())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p_\\theta(x)` per row, shape ``(batch,)``, nats."""
        return self.token_log_probs(x).sum(-1)

    def token_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p_\\theta(x_t \\mid x_{<t})`, shape ``(batch, L)``, nats."""
        x = self._check(x)
        log_p = F.log_softmax(self.logits(x), dim=-1)
        return log_p.gather(-1, x.unsqueeze(-1)).squeeze(-1)

    def sample(self, num_samples: int) -> torch.Tensor:
        """``num_samples`` rows of ``context_length + 1`` tokens drawn ancestrally (torch's current generator)."""
        from pgm_ppl.sequence.decoding import generate

        return generate(self, None, self.context_length + 1, num_samples=num_samples, seed=None)


class NPLM(LanguageModel):
    r"""Bengio's neural probabilistic language model [Bengio2003]_ (course §7.3-7.4).

    The previous ``window`` tokens (BOS-padded at the start) are embedded by a shared learned map
    :math:`e: V \to \mathbb R^d` (§7.4), concatenated and passed through an MLP with ``tanh`` hidden units to the
    next-token logits: :math:`p(x_t \mid x_{t-k:t-1}) = \mathrm{softmax}(\mathrm{MLP}([e(x_{t-k}), \dots,
    e(x_{t-1})]))`. It is an order-``window`` Markov model with :math:`O(k d + d h + h|V|)` parameters instead of
    the k-gram's :math:`|V|^{k+1}`.
    """

    def __init__(self, vocab_size: int, context_length: int, *, window: int = 4, embed_dim: int = 32,
                 hidden_features: int = 128):
        super().__init__(vocab_size, context_length)
        self.window = check_int(window, "window")
        self.embedding = nn.Embedding(vocab_size + 1, check_int(embed_dim, "embed_dim"))
        self.mlp = MLP(window * embed_dim, vocab_size, (check_int(hidden_features, "hidden_features"),),
                       activation="tanh")

    def forward(self, inputs: torch.Tensor, cache: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        history = (torch.full((inputs.shape[0], self.window - 1), self.bos, dtype=torch.long, device=inputs.device)
                   if cache is None else cache)
        padded = torch.cat([history, inputs], dim=1)
        windows = padded.unfold(1, self.window, 1)  # (batch, T, window)
        logits = self.mlp(self.embedding(windows).flatten(-2))
        return logits, padded[:, padded.shape[1] - (self.window - 1):]


class RNNLM(LanguageModel):
    r"""A recurrent language model (course §7.5): :math:`h_t = f_\theta(h_{t-1}, e(x_t))`,
    :math:`p(x_{t+1} \mid x_{1:t}) = \mathrm{softmax}(W h_t + b)`, with ``cell`` one of ``"rnn"`` (tanh),
    ``"lstm"``, ``"gru"`` (:mod:`torch.nn`'s). ``tie_weights`` shares the embedding with :math:`W` (needs
    ``hidden_features == embed_dim``). The whole prefix is summarised by one state (Remark 7.4's bottleneck)."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, vocab_size: int, context_length: int, *, cell: str = "lstm", embed_dim: int = 64,
                 hidden_features: int = 128, num_layers: int = 1, tie_weights: bool = False):
        super().__init__(vocab_size, context_length)
        check_choice(cell, "cell", tuple(self.CELLS))
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size + 1, check_int(embed_dim, "embed_dim"))
        self.rnn = self.CELLS[cell](embed_dim, check_int(hidden_features, "hidden_features"),
                                    num_layers=check_int(num_layers, "num_layers"), batch_first=True)
        if tie_weights and hidden_features != embed_dim:
            raise ValueError(f"tie_weights: expected hidden_features == embed_dim, got {hidden_features} and "
                             f"{embed_dim}.")
        self.output = None if tie_weights else nn.Linear(hidden_features, vocab_size, bias=False)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))

    @property
    def feature_dim(self) -> int:
        """Width of the hidden state :math:`h_t` the output layer reads."""
        return self.rnn.hidden_size

    def features(self, inputs: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        """The top layer's hidden states :math:`h_t`, ``(batch, T, hidden_features)``, and the recurrent state."""
        return self.rnn(self.embedding(inputs), cache)

    def forward(self, inputs: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        output, state = self.features(inputs, cache)
        weight = self.embedding.weight[:self.vocab_size] if self.output is None else self.output.weight
        return F.linear(output, weight, self.output_bias), state


def nplm(vocab_size: int, *, context_length: int = 32, window: int = 4, embed_dim: int = 32,
         hidden_features: int = 128, seed: int = 0) -> NPLM:
    """Build an :class:`NPLM` with initial weights drawn under ``torch_seeded(seed)``."""
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        return NPLM(vocab_size, context_length, window=window, embed_dim=embed_dim, hidden_features=hidden_features)


def rnn_lm(vocab_size: int, *, context_length: int = 32, cell: str = "lstm", embed_dim: int = 64,
           hidden_features: int = 128, num_layers: int = 1, tie_weights: bool = False, seed: int = 0) -> RNNLM:
    """Build an :class:`RNNLM` (``cell`` = ``"rnn"``, ``"lstm"`` or ``"gru"``) under ``torch_seeded(seed)``."""
    check_int(seed, "seed", minimum=0)
    with torch_seeded(seed):
        return RNNLM(vocab_size, context_length, cell=cell, embed_dim=embed_dim, hidden_features=hidden_features,
                     num_layers=num_layers, tie_weights=tie_weights)
