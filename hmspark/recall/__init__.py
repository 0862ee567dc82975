"""Candidate generation (recall) as of a cutoff: sources, their union, pair features, recall report.

Library functions take and return DataFrames (``pairs``, ``sources``, ``union``, ``report``);
``build`` reads and writes the warehouse tables.  See docs/recall.md.
"""

from hmspark.recall.build import (CANDIDATES_TABLE, PAIR_FEATURES_TABLE, REPORT_TABLE,
                                  SOURCES_TABLE, RecallError, build_candidates, evaluate)
from hmspark.recall.common import SOURCE_COLUMNS, SOURCES
from hmspark.recall.pairs import pair_counts, pair_features, pair_source, top_pairs
from hmspark.recall.report import format_report, recall_report
from hmspark.recall.sources import (category_source, last_year_source, popular_source,
                                    repurchase_source)
from hmspark.recall.union import dedupe_candidates, union_sources

__all__ = [
    "CANDIDATES_TABLE", "PAIR_FEATURES_TABLE", "REPORT_TABLE", "SOURCES_TABLE", "SOURCES",
    "SOURCE_COLUMNS", "RecallError", "build_candidates", "category_source", "dedupe_candidates",
    "evaluate", "format_report", "last_year_source", "pair_counts", "pair_features",
    "pair_source", "popular_source", "recall_report", "repurchase_source", "top_pairs",
    "union_sources",
]
