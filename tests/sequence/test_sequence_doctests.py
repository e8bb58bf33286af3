"""The docstring examples of pgm_ppl.sequence and pgm_ppl.data.text run and give what they show."""

import doctest
import importlib

import pytest

MODULES = ["pgm_ppl.sequence.kgram", "pgm_ppl.sequence.sources", "pgm_ppl.sequence.transformer",
           "pgm_ppl.sequence.made", "pgm_ppl.data.text"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
