"""k-means now lives in :mod:`pgm_ppl.clustering`, the shared layer below ``em``, ``cavi`` and ``dp``.

This module only re-exports it until ``pgm_ppl/cavi/bayesian_gmm.py`` imports :mod:`pgm_ppl.clustering`
directly; then delete it (tests/test_import_graph.py lists the pending ``cavi -> em`` edge).
"""

from pgm_ppl.clustering import KMeansResult, kmeans, kmeans_plusplus, squared_distances

__all__ = ["KMeansResult", "kmeans", "kmeans_plusplus", "squared_distances"]
