r"""A GPT-style causal Transformer language model (course §7.6-7.15, Figs. 7.1-7.2).

Tokens are embedded, positions added (sinusoidal or learned, §7.13), passed through ``num_layers``
:class:`~pgm_ppl.nn.TransformerBlock` s with causal self-attention (§7.15: position :math:`t` attends to
positions :math:`\le t` only, so the logits of :math:`p(x_{t+1} \mid x_{1:t})` never see the future), and mapped to
next-token logits :math:`p(y_t \mid y_{<t}) = \mathrm{softmax}(W z_t)`. ``tie_weights`` uses the token embedding
as :math:`W` [Press2017]_. With the notes' post-LN blocks the output of the last block is already normalised; the
pre-LN stack ends with a final LayerNorm, as GPT-2 does.

Generation keeps a :class:`~pgm_ppl.nn.KVCache`: after the prompt, each new token is one query against the cached
keys and values of the positions before it.

References
----------
.. [Press2017] O. Press and L. Wolf, "Using the output embedding to improve language models", EACL 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.nn import KVCache, LearnedPositionalEncoding, SinusoidalPositionalEncoding, TransformerBlock
from pgm_ppl.sequence.lm import LanguageModel

__all__ = ["TransformerLM", "transformer_lm"]


class TransformerLM(LanguageModel):
    """A decoder-only (GPT-style) Transformer language model; see the module docstring.

    Parameters
    ----------
    vocab_size, context_length
        As :class:`~pgm_ppl.sequence.LanguageModel`.
    embed_dim, num_heads, num_layers, hidden_features
        Width :math:`D`, heads :math:`H`, blocks :math:`M` and the MLP's hidden width (default :math:`4D`).
    positions
        ``"sinusoidal"`` or ``"learned"``.
    norm_first
        Pre-LN blocks (default False: the notes' post-LN order).
    tie_weights
        Share the token embedding with the output layer.
    max_length
        Most positions the model can read (default ``context_length + 1``; sinusoidal positions can go beyond
        the training length, learned ones only up to it).
    dropout
        Dropout on each block's branches while training.
    """

    def __init__(self, vocab_size: int, context_length: int, *, embed_dim: int = 64, num_heads: int = 4,
                 num_layers: int = 2, hidden_features: int | None = None, positions: str = "sinusoidal",
                 norm_first: bool = False, tie_weights: bool = True, max_length: int | None = None,
                 dropout: float = 0.0):
        super().__init__(vocab_size, context_length)
        check_choice(positions, "positions", ("sinusoidal", "learned"))
        self.max_length = context_length + 1 if max_length is None else check_int(max_length, "max_length")
        self.embedding = nn.Embedding(vocab_size + 1, check_int(embed_dim, "embed_dim"))
        if positions == "sinusoidal" and embed_dim % 2:
            raise ValueError(f"embed_dim: expected an even integer for sinusoidal positions (sine and cosine pairs), "
                             f"got {embed_dim}; or build with positions='learned'.")
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.positions = (SinusoidalPositionalEncoding(embed_dim, self.max_length) if positions == "sinusoidal"
                          else LearnedPositionalEncoding(embed_dim, self.max_length))
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, hidden_features=hidden_features,
                                                     norm_first=norm_first, dropout=dropout)
                                    for _ in range(check_int(num_layers, "num_layers")))
        self.final_norm = nn.LayerNorm(embed_dim) if norm_first else nn.Identity()
        self.output = None if tie_weights else nn.Linear(embed_dim, vocab_size, bias=False)
        self.output_bias = nn.Parameter(torch.zeros(vocab_size))
        self.embed_scale = float(embed_dim) ** 0.5 if positions == "sinusoidal" else 1.0

    def _embed(self, inputs: torch.Tensor, offset: int) -> torch.Tensor:
        return self.positions(self.embedding(inputs) * self.embed_scale, offset)

    @property
    def feature_dim(self) -> int:
        """Width :math:`D` of the features :math:`z_t` the output layer reads."""
        return self.embedding.embedding_dim

    def features(self, inputs: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache | None]:
        """The last block's output :math:`z_t` (after the final LayerNorm of a pre-LN stack), ``(batch, T, D)``."""
        offset = 0 if cache is None else cache.length
        h = self._embed(inputs, offset)
        for layer, block in enumerate(self.blocks):
            h, _ = block(h, causal=True, cache=cache, layer=layer)
        return self.final_norm(h), cache

    def forward(self, inputs: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache | None]:
        """Next-token logits ``(batch, T, V)`` for input tokens ``(batch, T)`` (BOS first); with a cache, the
        inputs continue the cached positions and the cache is extended."""
        h, cache = self.features(inputs, cache)
        weight = self.embedding.weight[:self.vocab_size] if self.output is None else self.output.weight
        return F.linear(h, weight, self.output_bias), cache

    def new_cache(self) -> KVCache:
        """An empty key-value cache for :meth:`forward`."""
        return KVCache(len(self.blocks))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention weights of every layer and head for rows ``x`` (read after BOS), shape
        ``(num_layers, batch, heads, L, L)``; row ``i`` is the distribution over the positions query ``i`` reads
        (position 0 is BOS), zero above the diagonal."""
        h = self._embed(self._inputs(self._check(x)), 0)
        maps = []
        for block in self.blocks:
            h, weights = block(h, causal=True, need_weights=True)
            maps.append(weights)
        return torch.stack(maps)


def transformer_lm(vocab_size: int, *, context_length: int = 64, embed_dim: int = 64, num_heads: int = 4,
                   num_layers: int = 2, hidden_features: int | None = None, positions: str = "sinusoidal",
                   norm_first: bool = False, tie_weights: bool = True, max_length: int | None = None,
                   dropout: float = 0.0, seed: int = 0) -> TransformerLM:
    """Build a :class:`TransformerLM` with initial weights drawn under ``torch_seeded(seed)``.

    Examples
    --------
    >>> import torch
    >>> lm = transformer_lm(5, context_length=8, embed_dim=16, num_heads=2)
    >>> lm.log_prob(torch.zeros(3, 9, dtype=torch.long)).shape
    torch.Size([3])
    """
    check_int(seed, "seed", minimum=0)
    check_positive(dropout, "dropout", allow_zero=True)
    with torch_seeded(seed):
        return TransformerLM(vocab_size, context_length, embed_dim=embed_dim, num_heads=num_heads,
                             num_layers=num_layers, hidden_features=hidden_features, positions=positions,
                             norm_first=norm_first, tie_weights=tie_weights, max_length=max_length, dropout=dropout)
