"""Point a warning at the user's line: the first caller outside pgm_ppl (NumPyro's ``find_stack_level``)."""

from __future__ import annotations

import sys


def user_stacklevel() -> int:
    """The ``stacklevel`` for :func:`pgm_ppl.core.convergence.warn_not_converged` called from the calling
    function, so that the warning names the first frame outside pgm_ppl however deep the engine sits.

    Level 1 is ``warn_not_converged`` itself and level 2 the function that calls it (and this helper); each
    further pgm_ppl frame adds one.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("pgm_ppl."):
        frame, level = frame.f_back, level + 1
    return level - 1 if frame is None else level
