"""Diagnostics: the one converter to ArviZ InferenceData (any engine's result), summaries with warnings, plots,
held-out comparison across model families, and sample-quality metrics.

Names are imported on first use, so that the ``pgm-ppl fit`` path does not load PyTorch and POT for metrics it does
not compute.
"""

import importlib

_EXPORTS = {
    "as_fit": "adapters", "supported_result_types": "adapters",
    "to_inference_data": "convert",
    "save_plots": "plots",
    "Diagnosis": "report", "diagnose": "report",
    "DensityKindWarning": "compare", "compare_heldout": "compare", "plot_compare_heldout": "compare",
    "Metric": "metrics", "median_bandwidth": "metrics", "sample_metrics": "metrics",
    "DigitsFeatureExtractor": "digits_features", "digits_fd": "digits_features",
    "digits_feature_extractor": "digits_features",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"pgm_ppl.diagnostics.{_EXPORTS[name]}"), name)
        globals()[name] = value  # cache: later look-ups skip this function
        return value
    raise AttributeError(f"module 'pgm_ppl.diagnostics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
