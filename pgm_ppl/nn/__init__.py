r"""Network blocks of the deep half (course chapter 6, Fig. 6.1) on ``torch.nn``, and the MLP for NumPyro.

MLPs with the notes' activations by name, a small CNN encoder/decoder for 8x8 and 28x28 images, sinusoidal
time embeddings and the time-conditioned networks :math:`v_\theta(x, t)` of flow matching and diffusion,
residual blocks, attention and Transformer blocks (chapter 7), and the stax twin of the MLP for ``numpyro.module``. Importing this package does not load JAX.
"""

from pgm_ppl.nn.attention import (KVCache, LearnedPositionalEncoding, MultiHeadAttention, SinusoidalPositionalEncoding,
                                  TransformerBlock, attention_weights, scaled_dot_product_attention)
from pgm_ppl.nn.cnn import ConvDecoder, ConvEncoder
from pgm_ppl.nn.embeddings import SinusoidalEmbedding, TimeConditionedMLP
from pgm_ppl.nn.mlp import ACTIVATIONS, MLP, make_activation, mlp_num_parameters
from pgm_ppl.nn.residual import ResidualBlock, ResidualMLP
from pgm_ppl.nn.stax import stax_mlp, stax_to_torch_params, torch_to_stax_params

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "ConvDecoder",
    "ConvEncoder",
    "KVCache",
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "ResidualBlock",
    "ResidualMLP",
    "SinusoidalEmbedding",
    "SinusoidalPositionalEncoding",
    "TimeConditionedMLP",
    "TransformerBlock",
    "attention_weights",
    "make_activation",
    "mlp_num_parameters",
    "scaled_dot_product_attention",
    "stax_mlp",
    "stax_to_torch_params",
    "torch_to_stax_params",
]
