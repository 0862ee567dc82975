"""Feature tables as of a cutoff, and their assembly onto the candidates (``docs/features.md``).

- :mod:`hmspark.features.compute`: the tables as pure functions over DataFrames
- :mod:`hmspark.features.build`: :func:`build_features` writes them (partitioned by cutoff)
- :mod:`hmspark.features.assemble`: :func:`assemble` joins them onto ``candidates``;
  ``FEATURE_COLUMNS`` is the ordered list of model features
"""

from hmspark.features.assemble import FEATURE_COLUMNS, KEY_COLUMNS, NEVER_DAYS, assemble
from hmspark.features.build import TABLES, build_features, read_features

__all__ = ["FEATURE_COLUMNS", "KEY_COLUMNS", "NEVER_DAYS", "TABLES", "assemble", "build_features",
           "read_features"]
