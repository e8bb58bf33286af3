"""The docstring examples of pgm_ppl.nn run and give what they show."""

import doctest
import importlib

import pytest

MODULES = ["mlp", "cnn", "embeddings", "residual", "stax"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"pgm_ppl.nn.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
