"""Bad input to the chapter 7 models: token ids outside the vocabulary, text where ids are expected, non-binary
pixels for MADE; each gives one message naming the argument, expected and received value (issue 13)."""

import numpy as np
import pytest
import torch

from pgm_ppl.sequence import generate, made, score, transformer_lm


def tiny_lm():
    return transformer_lm(5, context_length=8, embed_dim=8, num_heads=2, num_layers=1)


def test_token_ids_outside_the_vocabulary_are_refused():
    lm = tiny_lm()
    ids = np.zeros((2, 9), dtype=np.int64)
    assert lm.log_prob(ids).shape == (2,)  # arrays are read as tensors
    torch.testing.assert_close(lm.log_prob(ids), lm.log_prob(torch.as_tensor(ids)))
    for bad, low, high in ((ids + 5, 5, 5), (ids - 1, -1, -1)):
        with pytest.raises(ValueError, match=rf"x: expected token ids in \[0, 4\] \(vocab_size=5\), got values in "
                                             rf"\[{low}, {high}\]"):
            lm.log_prob(bad)
    with pytest.raises(ValueError, match=r"ids: expected integer token ids in \[0, 4\], got values in \[0, 9\]"):
        score(lm, [0, 1, 2, 3, 4, 0, 1, 2, 9, 1])


def test_text_prompt_must_be_encoded_first():
    with pytest.raises(TypeError, match=r"prompt: expected token ids, got the text 'ab'; encode it"):
        generate(tiny_lm(), "ab", 3)


def test_odd_embed_dim_with_sinusoidal_positions_names_embed_dim():
    with pytest.raises(ValueError, match=r"embed_dim: expected an even integer for sinusoidal positions .*got 9"):
        transformer_lm(5, embed_dim=9, num_heads=1)
    assert transformer_lm(5, embed_dim=9, num_heads=1, positions="learned").log_prob(
        torch.zeros(1, 65, dtype=torch.long)).shape == (1,)


def test_made_refuses_non_binary_pixels_and_reads_arrays():
    model = made(6, hidden_features=(8,))
    x = (np.random.default_rng(0).random((4, 6)) < 0.5).astype(float)
    torch.testing.assert_close(model.log_prob(x), model.log_prob(torch.as_tensor(x, dtype=torch.float32)))
    with pytest.raises(ValueError, match=r"x: expected pixels equal to 0 or 1, got values in \[0.0, 16.0\]; "
                                         r"binarise the data"):
        model.log_prob(x * 16)
