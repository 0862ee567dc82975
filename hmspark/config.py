"""Typed settings for every job, loaded from a TOML file (``conf/local.toml``, ``conf/cluster.toml``).

One ``Settings`` object holds the Spark settings, the paths and the pipeline parameters.  Values come
from, in increasing priority: the defaults below, the TOML file, and ``--set section.key=value``
overrides from the command line (plus the dedicated flags a job offers, such as ``--master``).
Unknown sections or keys are an error that names them, so a typo in a conf file never passes silently.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


class ConfigError(ValueError):
    """A conf file or an override that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SparkSettings:
    """How the SparkSession is built (see ``hmspark.session``)."""

    master: str = "local[*]"
    app_name: str = "hmspark"
    log_level: str = "WARN"
    # A folder of jars (Delta and its dependencies) for offline clusters; when empty the Delta
    # package is resolved from Maven Central by coordinates derived from the installed versions.
    jars_dir: str = ""
    # Any other Spark setting, passed as is (spark.sql.shuffle.partitions, spark.driver.memory, ...).
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PathSettings:
    """Where data is read from and written to; relative paths are taken from the working directory."""

    input: str = "data/demo"
    warehouse: str = "warehouse"
    output: str = "output"


@dataclass(frozen=True)
class IngestSettings:
    """Ingest of the Kaggle CSV files into Delta tables."""

    # Sales channels that exist (H&M: 1 = store, 2 = online); other values are quarantined.
    sales_channels: tuple[int, ...] = (1, 2)
    # Ages outside this closed range are quarantined (the real file has 16..99).
    min_age: int = 10
    max_age: int = 110
    # Target size of the transactions table's files (rows per file); it is written sorted by date
    # so that cutoff filters skip whole files.
    rows_per_file: int = 2_000_000


@dataclass(frozen=True)
class RecallSettings:
    """Candidate generation as of a cutoff (``hmspark.recall``, ``jobs/candidates.py``,
    ``docs/recall.md``).  "The last N days" are the N days ending on the cutoff, cutoff included."""

    # Co-purchase pairs: counted over the last pair_window_days; a pair (A, B) is kept when at least
    # pair_min_buyers distinct customers bought both A and B in that window; pair_top_k partners per
    # article (higher count first, then smaller article_id).
    pair_window_days: int = 7
    pair_min_buyers: int = 2
    pair_top_k: int = 5
    # A customer's items that propose partners (and define the pair features): their distinct
    # articles of the last pair_customer_window_days.
    pair_customer_window_days: int = 28
    # Skew guard: per customer, only the pair_basket_cap most recent distinct articles take part in
    # pair counting (in the pair window) and in proposing partners (in the customer window).
    pair_basket_cap: int = 50
    # Repurchase: the customer's own articles of the last repurchase_window_days.
    repurchase_window_days: int = 28
    # Popular: the popular_top_n articles by units of the last popular_window_days, for everyone.
    popular_top_n: int = 12
    popular_window_days: int = 7
    # Same week last year: the last_year_top_n bestsellers of the target week 364 days earlier,
    # among articles that also sold in the last last_year_recent_days; for everyone.
    last_year_top_n: int = 12
    last_year_recent_days: int = 28
    # Category affinity: the customer's category_top_categories most bought product types of the
    # last category_window_days, and the category_top_n bestsellers of the last
    # popular_window_days within each.
    category_top_n: int = 6
    category_top_categories: int = 2
    category_window_days: int = 84
    # Cap of the deduplicated candidates per customer, and the round-robin order of the sources
    # that decides which candidates are kept (comma-separated source names).
    max_candidates_per_customer: int = 100
    source_priority: str = "repurchase,pair,category,popular,last_year"
    # Recall report: recall of the union cut at these sizes (by priority).
    report_cuts: tuple[int, ...] = (12, 50, 100)


@dataclass(frozen=True)
class FeatureSettings:
    """Feature tables computed as of a cutoff (``hmspark.features``, ``jobs/features.py``,
    ``docs/features.md``)."""

    # Half-life in days of the time-decayed counts: a unit bought days_before days before the
    # cutoff counts exp(-ln 2 * days_before / decay_half_life_days) (1 on the cutoff day).
    decay_half_life_days: float = 14.0


@dataclass(frozen=True)
class TrainSettings:
    """Ranker training (hmspark.ranker)."""

    # Labelled weeks before the prediction cutoff: the newest is held out for validation.
    train_weeks: int = 4
    # Build a training week's candidates and features only for the customers who bought in it
    # (the others' query groups have no positive and are dropped anyway): same sample, ~5% of
    # the work at full scale.
    only_target_buyers: bool = True
    # Negatives kept per training week at most, and the highest share of negatives kept.  At full
    # scale a week has ~1M negatives in groups with a positive; keeping 300K of them gave the same
    # MAP@12 within the seed spread and a 2x faster fit (docs/scale.md).  Smaller data keep all.
    negatives_per_week: int = 300_000
    negative_rate: float = 1.0
    seed: int = 42
    num_boost_round: int = 300
    early_stopping_rounds: int = 30
    refit_on_all: bool = True
    learning_rate: float = 0.05
    num_leaves: int = 63
    min_child_samples: int = 20
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    # LightGBM threads (0: OpenMP default). OpenMP spins when cores are oversubscribed, so keep
    # this at most the cores left free by Spark.
    threads: int = 2


@dataclass(frozen=True)
class SegmentSettings:
    """Customer segments and their category preferences as of a cutoff (``hmspark.insights``,
    ``jobs/segments.py``, ``docs/insights.md``).  "The last N days" end on the cutoff, cutoff
    included, as everywhere (``hmspark.cutoff``)."""

    # Frequency (purchase days), value (spend), units, active weeks, online share, favourite groups
    # and the category preferences are measured over the last window_days; recency and the first
    # purchase over the whole history up to the cutoff.
    window_days: int = 364
    # RFM tiers.  Recency: last purchase within active_days = "active" (R3), within lapsed_days =
    # "cooling" (R2), older = "lapsed" (R1).  Frequency (purchase days in the window): 1 = one-off
    # (F1), 2 .. frequent_min_days - 1 = repeat (F2), frequent_min_days or more = frequent (F3).
    # Value: spend in the window against its 1/3 and 2/3 quantiles among the window's buyers (M1..M3).
    active_days: int = 30
    lapsed_days: int = 182
    frequent_min_days: int = 5
    # "new": first purchase within the last new_days (whatever the other tiers).
    new_days: int = 56
    # Age bands: the lower bound of every band after the first ("<25", "25-34", ..., "65+").
    age_bands: tuple[int, ...] = (25, 35, 45, 55, 65)
    # Clustering (MLlib k-means on the standardised behaviour vectors of the window's buyers): k
    # from k_min to k_max, the one with the highest silhouette on a sample of at most k_sample
    # buyers (ties: the smaller k); the chosen model then labels every buyer.
    k_min: int = 3
    k_max: int = 8
    k_sample: int = 100_000
    kmeans_max_iter: int = 40
    seed: int = 42
    # Printed top preferences: the top_preferences values with the highest lift per segment,
    # among those with at least min_preference_share of the segment's units.
    top_preferences: int = 3
    min_preference_share: float = 0.03


@dataclass(frozen=True)
class CltvSettings:
    """Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend (``lifetimes``), as of
    a cutoff (``hmspark.insights.cltv``, ``jobs/cltv.py``, ``docs/insights.md``).  A purchase is a
    purchase day; time is measured in weeks."""

    # Expected purchase days and value over the horizon_weeks after the cutoff.
    horizon_weeks: int = 52
    # Holdout check: fit on the history up to cutoff - holdout_weeks weeks, predict the purchase
    # days of the holdout_weeks that follow, compare with what happened.
    holdout_weeks: int = 12
    # L2 penalty of both fitters (lifetimes' penalizer_coef); raise it (0.001, 0.01) when a fit
    # does not converge.
    penalizer_coef: float = 0.0
    # No model (the job says why) with fewer customers than this who have a repeat purchase day.
    min_repeat_customers: int = 20


@dataclass(frozen=True)
class Settings:
    """Everything a job needs besides its command-line arguments."""

    spark: SparkSettings = field(default_factory=SparkSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    recall: RecallSettings = field(default_factory=RecallSettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    segments: SegmentSettings = field(default_factory=SegmentSettings)
    cltv: CltvSettings = field(default_factory=CltvSettings)
    source: str = "<defaults>"


_SECTIONS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "source"}


def _coerce(value: Any, target: type | str, where: str) -> Any:
    """Convert a TOML or command-line value to the type a settings field declares."""
    kind = str(target)
    try:
        if kind.startswith("Mapping"):
            if not isinstance(value, Mapping):
                raise TypeError("expected a table")
            return {str(k): str(v) for k, v in value.items()}
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(int(x) for x in items)
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() not in {"true", "false", "1", "0"}:
                    raise ValueError(value)
                return value.lower() in {"true", "1"}
            return bool(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot use {value!r} as {kind} ({exc})") from None


def _section(name: str, values: Mapping[str, Any], base: Any, where: str) -> Any:
    cls = type(base)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    changes = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: unknown key '{name}.{key}' (known: {', '.join(sorted(fields))})"
            )
        changes[key] = _coerce(value, fields[key].type, f"{where}: {name}.{key}")
    return dataclasses.replace(base, **changes)


def settings_from_mapping(data: Mapping[str, Any], source: str = "<mapping>",
                          base: Settings | None = None) -> Settings:
    """Build settings from a parsed TOML document (sections as tables)."""
    settings = base or Settings()
    changes: dict[str, Any] = {}
    for name, values in data.items():
        if name not in _SECTIONS:
            raise ConfigError(
                f"{source}: unknown section [{name}] (known: {', '.join(sorted(_SECTIONS))})"
            )
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: [{name}] must be a table")
        changes[name] = _section(name, values, getattr(settings, name), source)
    return dataclasses.replace(settings, source=source, **changes)


def load_settings(path: str | Path | None = None, overrides: list[str] | None = None) -> Settings:
    """Read a TOML conf file (or the defaults when ``path`` is None) and apply ``key=value`` overrides.

    An override names ``section.key`` (``recall.pair_top_k=10``) or a Spark setting
    (``spark.conf.spark.sql.shuffle.partitions=4``).
    """
    settings = Settings()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"conf file not found: {path}")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        settings = settings_from_mapping(data, source=str(path))
    for item in overrides or []:
        settings = apply_override(settings, item)
    return settings


def apply_override(settings: Settings, item: str) -> Settings:
    """Apply one ``section.key=value`` override."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' is not of the form section.key=value")
    dotted, value = item.split("=", 1)
    parts = dotted.strip().split(".")
    if len(parts) < 2:
        raise ConfigError(f"override '{item}': name a section and a key, e.g. recall.pair_top_k=10")
    if parts[0] == "spark" and parts[1] == "conf":
        key = ".".join(parts[2:])
        if not key:
            raise ConfigError(f"override '{item}': spark.conf needs a Spark setting name")
        conf = dict(settings.spark.conf)
        conf[key] = value
        return dataclasses.replace(settings, spark=dataclasses.replace(settings.spark, conf=conf))
    if len(parts) != 2:
        raise ConfigError(f"override '{item}': expected section.key=value")
    data = {parts[0]: {parts[1]: value}}
    return settings_from_mapping(data, source=f"override {item}", base=settings)


def with_overrides(settings: Settings, **sections: Mapping[str, Any]) -> Settings:
    """Return settings with some keys of some sections replaced (used by tests and the pipeline)."""
    return settings_from_mapping(sections, source=settings.source, base=settings)
