"""One chain (a single NUTS chain, SVI's guide draws): the diagnosis logs nothing ("Shape validation failed")
and shows no R-hat column, which needs two chains."""

import logging

import arviz as az
import numpy as np

from pgm_ppl.diagnostics import diagnose


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_single_chain_logs_nothing_and_has_no_rhat():
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"theta": rng.normal(size=(1, 200))},
                         log_likelihood={"y": rng.normal(size=(1, 200, 5))})
    collect, logger = _Collect(), az._log  # ArviZ 0.x's own Logger instance
    logger.addHandler(collect)
    try:
        diagnosis = diagnose(idata)
        idata.posterior.attrs["method"] = "svi"
        svi = diagnose(idata)
    finally:
        logger.removeHandler(collect)
    assert not [m for m in collect.messages if "Shape validation failed" in m]
    assert "r_hat" not in diagnosis.summary and "ess_bulk" in diagnosis.summary
    assert list(svi.summary.columns) == ["mean", "sd", "hdi_3%", "hdi_97%"]  # independent draws: no chain stats


def test_a_thinned_log_likelihood_is_not_put_through_psis():
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"theta": rng.normal(size=(2, 500))},
                         log_likelihood={"y": rng.normal(size=(2, 13, 50))})
    assert diagnose(idata).warnings == (
        "PSIS-LOO not checked: the log-likelihood holds 26 draws, fewer than 100 (it was thinned to bound the "
        "output size; rerun with --pointwise full, or on fewer rows, to check it).",)
