"""Customer insights as of a cutoff: segments, their category preferences, lifetime value, report.

Library functions take and return DataFrames (``profile``, ``segments``, ``preferences``, ``cltv``);
``build`` reads the ingest tables and writes the insight tables; ``report`` renders the HTML page.
See docs/insights.md.
"""

from hmspark.insights.build import (CLTV_HOLDOUT_TABLE, CLTV_MODELS_TABLE, CLTV_SEGMENTS_TABLE,
                                    CLTV_TABLE, CLUSTERS_TABLE, K_SCORES_TABLE, PREFERENCES_TABLE,
                                    SEGMENTS_TABLE, build_cltv, build_segments, run_insights)

__all__ = [
    "CLTV_HOLDOUT_TABLE", "CLTV_MODELS_TABLE", "CLTV_SEGMENTS_TABLE", "CLTV_TABLE",
    "CLUSTERS_TABLE", "K_SCORES_TABLE", "PREFERENCES_TABLE", "SEGMENTS_TABLE", "build_cltv",
    "build_segments", "run_insights",
]
