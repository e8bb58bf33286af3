"""The contract every engine shares: the result type, input validation, seeding streams, convergence warnings.

This layer sits just above :mod:`pgm_ppl.backend` and :mod:`pgm_ppl.data`; every engine imports it, it
imports no engine.
"""

from pgm_ppl.core.convergence import (TOL_RULES, ConvergenceWarning, check_tol_rule, has_converged,
                                      warn_not_converged)
from pgm_ppl.core.result import DENSITY_KINDS, Density, Fit
from pgm_ppl.core.seeding import spawn_seeds, stream
from pgm_ppl.core.validation import (as_numpy, check_choice, check_data, check_int, check_positive,
                                     check_probability)

__all__ = ["DENSITY_KINDS", "TOL_RULES", "ConvergenceWarning", "Density", "Fit", "as_numpy", "check_choice",
           "check_data", "check_int", "check_positive", "check_probability", "check_tol_rule", "has_converged",
           "spawn_seeds", "stream", "warn_not_converged"]
