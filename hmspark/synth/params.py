"""Simulator parameters: the size of the world (presets) and the behavioural knobs.

Sizes (customers, articles, days) change with the preset; the behavioural knobs are the same at
every scale, so that shares and ratios (online share, duplicates, recency of buyers, ...) stay in
the same neighbourhood whatever the preset.  All rates are per customer or per article, never per
data set, which is what makes the presets comparable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

REAL_END_DATE = "2020-09-22"


@dataclass(frozen=True)
class SynthParams:
    """Everything `generate` needs besides the seed.

    Size
    ----
    n_customers, n_articles: size of the generated customer base and catalogue (ignored for a
        file given with ``customers_path`` / ``articles_path``).
    days: length of the transaction window, ending on ``end_date`` (inclusive).

    Customers (visits = one customer buying on one date)
    ---------
    rate_median, rate_sigma: lognormal visit rate per customer, in visits per week.
    churn_weeks: mean of the exponential time a customer stays active.
    join_per_week: share of the customer base that first arrives in each week of the window
        (customers not arriving in the window already existed before it).
    burst_prob, burst_gap_days: each visit is followed, with this probability, by a return
        visit ``burst_gap_days`` later on average, which may be followed by another, ...
        (people come back soon after a purchase).
    never_buyer_share: customers in customers.csv with no transaction in the window.
    online_customer_share: share of customers who mostly buy online (the rest mostly in stores).
    trend_per_year: relative change of shopping activity per year (the real data sells less in
        its second year than in its first).

    Baskets
    -------
    basket_extra_mean: mean number of distinct articles beyond the first in a visit.
    explore: chance that an article is drawn from the whole catalogue rather than the customer's
        favourite segments.
    repurchase: mean chance, per article slot, of buying again one of the customer's recent
        articles (each customer has their own chance, exponentially distributed).
    follow_up: chance, per slot, of buying a partner / colour variant of a recent purchase.
    link: chance, per slot after the first, of buying a partner / colour variant of the basket's
        first article.
    sibling_share: in a linked purchase, share that is a colour variant (rest: partner product).
    multi_unit, multi_unit_basic: chance that a slot is bought in several units (plain / basics).
    taste_type, taste_colour: log-weight bonus of the customer's favourite product type / colour.

    Articles
    --------
    popularity_sigma: lognormal spread of article base popularity (heavy tail).
    evergreen_share: share of articles with a flat lifecycle (basics that always sell; three
        times more likely for basic product types).
    active_weeks: median time a seasonal article is on sale after its release.
    tail_floor: popularity a seasonal article keeps late in its life, relative to its peak.
    leftover: popularity of an article after its active life (leftover stock that sells now and
        then; it can no longer be repurchased or bought as a variant / partner).
    preexisting_share: share of the catalogue released before the window starts.
    markdown_after: a seasonal article is marked down after this share of its active life.
    """

    n_customers: int
    n_articles: int
    days: int
    end_date: str = REAL_END_DATE

    rate_median: float = 0.046
    rate_sigma: float = 0.9
    churn_weeks: float = 350.0
    join_per_week: float = 0.0042
    burst_prob: float = 0.18
    burst_gap_days: float = 10.0
    never_buyer_share: float = 0.007
    online_customer_share: float = 0.62
    trend_per_year: float = -0.3

    basket_extra_mean: float = 1.9
    explore: float = 0.4
    repurchase: float = 0.04
    follow_up: float = 0.09
    link: float = 0.22
    sibling_share: float = 0.5
    multi_unit: float = 0.03
    multi_unit_basic: float = 0.08
    taste_type: float = 1.2
    taste_colour: float = 1.0

    popularity_sigma: float = 1.0
    evergreen_share: float = 0.04
    active_weeks: float = 17.0
    tail_floor: float = 0.05
    leftover: float = 0.0003
    preexisting_share: float = 0.15
    markdown_after: float = 0.55

    def replace(self, **changes) -> "SynthParams":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, SynthParams] = {
    # unit tests: a few seconds
    "tiny": SynthParams(n_customers=4_000, n_articles=1_500, days=140),
    # about a year, a few hundred thousand rows
    "small": SynthParams(n_customers=20_000, n_articles=5_000, days=364),
    # two years, a few million rows
    "medium": SynthParams(n_customers=100_000, n_articles=20_000, days=728),
    # the real competition's size: 2018-09-20 .. 2020-09-22
    "full": SynthParams(n_customers=1_371_980, n_articles=105_542, days=734),
}


def resolve(preset_or_params: str | SynthParams, **overrides) -> SynthParams:
    """A preset name or a SynthParams, with some fields overridden (None values are ignored)."""
    if isinstance(preset_or_params, SynthParams):
        params = preset_or_params
    elif preset_or_params in PRESETS:
        params = PRESETS[preset_or_params]
    else:
        raise ValueError(f"unknown preset {preset_or_params!r}; choose from {sorted(PRESETS)}")
    changes = {key: value for key, value in overrides.items() if value is not None}
    return params.replace(**changes) if changes else params
