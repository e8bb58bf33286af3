"""The same network as a Pyro model: TraceEnum_ELBO marginals and infer_discrete MAP equal ours."""

import os
import warnings

import numpy as np
import pytest

from pgm_ppl.graphical import JunctionTree, read_bif, to_pyro_model

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pgmpy
from pyro.infer import TraceEnum_ELBO, infer_discrete  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(pgmpy.__file__), "utils", "example_models")


@pytest.mark.parametrize("name,evidence", [("asia", {"xray": "yes", "dysp": "yes"}),
                                           ("sachs", {"Erk": "HIGH"})])
def test_trace_enum_marginals_equal_junction_tree(name, evidence):
    bn = read_bif(os.path.join(EXAMPLES, f"{name}.bif.gz"))
    model = to_pyro_model(bn, evidence)
    marginals = TraceEnum_ELBO(max_plate_nesting=0).compute_marginals(model, lambda: None)
    cal = JunctionTree(bn.to_factor_graph()).calibrate(evidence)
    assert set(marginals) == set(bn.variables) - set(evidence)
    for v, d in marginals.items():
        np.testing.assert_allclose(d.probs.numpy(), cal.marginal(v), atol=1e-10)


def test_infer_discrete_map_equals_max_product():
    bn = read_bif(os.path.join(EXAMPLES, "asia.bif.gz"))
    evidence = {"xray": "yes", "smoke": "no"}
    model = to_pyro_model(bn, evidence)
    decoded = infer_discrete(model, first_available_dim=-1, temperature=0)()
    ours = JunctionTree(bn.to_factor_graph()).calibrate(evidence, kind="max").map_assignment()
    assert {v: int(s) for v, s in decoded.items()} == ours
