"""Trace and posterior plots of a run, saved as PNG files."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt


def save_plots(idata: az.InferenceData, directory: str | Path, *, max_size: int = 64) -> list[Path]:
    """Write ``trace.png`` (trace plot) and ``posterior.png`` (marginal posteriors) into ``directory``.

    Variables with more than ``max_size`` elements are left out to keep the figures readable.
    Returns the paths written.
    """
    directory = Path(directory)
    names = [name for name, var in idata.posterior.data_vars.items()
             if var.size // (var.sizes["chain"] * var.sizes["draw"]) <= max_size]
    if not names:
        return []
    written = []
    for filename, plot in (("trace.png", az.plot_trace), ("posterior.png", az.plot_posterior)):
        axes = plot(idata, var_names=names)
        figure = axes.ravel()[0].figure if hasattr(axes, "ravel") else axes.figure
        figure.savefig(directory / filename, dpi=80)
        plt.close(figure)
        written.append(directory / filename)
    return written
