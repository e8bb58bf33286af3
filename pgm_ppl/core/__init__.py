"""The contract every engine shares: the result type, input validation, seeding streams, convergence warnings.

This layer sits just above :mod:`pgm_ppl.backend` and :mod:`pgm_ppl.data`; every engine imports it, it
imports no engine.
"""

from pgm_ppl.core.convergence import ConvergenceWarning, has_converged, warn_not_converged
from pgm_ppl.core.result import DENSITY_KINDS, Density, Fit
from pgm_ppl.core.seeding import spawn_seeds, stream
from pgm_ppl.core.validation import (as_numpy, check_choice, check_data, check_int, check_positive,
                                     check_probability)

__all__ = ["DENSITY_KINDS", "ConvergenceWarning", "Density", "Fit", "as_numpy", "check_choice", "check_data",
           "check_int", "check_positive", "check_probability", "has_converged", "spawn_seeds", "stream",
           "warn_not_converged"]
