"""Visits: which customer buys on which day.

A visit is one customer buying on one date (a basket).  Each customer is active from the window
start (or from the day they join, when they are new) until they churn, and visits at their own
rate, modulated by the calendar (`daily_intensity`); a visit sometimes triggers a return visit a
few days later.  customers.csv lists people who bought, so a customer whose draw gives no visit
in the window is drawn again (except a small share of registered never-buyers).
"""

from __future__ import annotations

import numpy as np

from hmspark.synth.customers import CustomerModel
from hmspark.synth.params import SynthParams

# Monday .. Sunday
DAY_OF_WEEK = np.array([0.97, 0.95, 0.96, 1.0, 1.05, 1.1, 0.97])
MAX_REDRAWS = 60


def window_dates(params: SynthParams) -> np.ndarray:
    """The dates of the window (datetime64[D]), ``params.days`` days ending on ``end_date``."""
    end = np.datetime64(params.end_date, "D")
    return end - np.arange(params.days - 1, -1, -1)


def day_of_year(dates: np.ndarray) -> np.ndarray:
    return (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1


def daily_intensity(dates: np.ndarray, trend_per_year: float = 0.0) -> np.ndarray:
    """Relative shopping activity of each date (mean 1): day of week x a yearly cycle peaking in
    early summer x Black Friday, the Christmas dip and the January sales x a trend."""
    doy = day_of_year(dates)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month_day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    yearly = 1 + 0.22 * np.cos(2 * np.pi * (doy - 175) / 365.25)
    black_friday = (month == 11) & (weekday == 4) & (month_day >= 23) & (month_day <= 29)
    special = np.ones(len(dates))
    special[black_friday] = 2.2
    after = np.flatnonzero(black_friday) + 1
    special[after[after < len(dates)]] = 1.3
    special[(month == 12) & (month_day == 25)] = 0.3
    special[(month == 12) & (month_day == 24)] = 0.7
    special[(month == 12) & (month_day >= 26)] = 1.25
    special[(month == 1) & (month_day == 1)] = 0.5
    trend = np.exp(trend_per_year * np.arange(len(dates)) / 365.25)
    intensity = DAY_OF_WEEK[weekday] * yearly * special * trend
    return intensity / intensity.mean()


def _visit_days(start: np.ndarray, end: np.ndarray, counts: np.ndarray, cumulative: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Draw ``counts[i]`` days in [start[i], end[i]) following the intensity (``cumulative`` is
    its cumulative sum with a leading 0)."""
    lo = np.repeat(cumulative[start], counts)
    hi = np.repeat(cumulative[end], counts)
    u = lo + rng.random(len(lo)) * (hi - lo)
    days = np.searchsorted(cumulative, u, side="right") - 1
    return np.clip(days, np.repeat(start, counts), np.repeat(end, counts) - 1)


def _activity(customers: CustomerModel, params: SynthParams, intensity: np.ndarray,
              rng: np.random.Generator):
    """Active period and number of visits of each customer (before return visits).

    Returns the join day (-1 for customers who existed before the window), the active period
    [start, end), the number of visits besides the joining one, and the cumulative intensity."""
    n, days = customers.n, params.days
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    weeks = days / 7
    join_share = min(0.9, params.join_per_week * weeks)
    joiner = rng.random(n) < join_share
    join_day = np.where(joiner, _visit_days(np.zeros(n, np.int64), np.full(n, days, np.int64),
                                            np.ones(n, np.int64), cumulative, rng), -1)
    never = rng.random(n) < params.never_buyer_share
    start = np.maximum(join_day, 0)
    rate = customers.rate.copy()
    end = np.zeros(n, np.int64)
    visits = np.zeros(n, np.int64)
    todo = ~never
    for _ in range(MAX_REDRAWS):
        idx = np.flatnonzero(todo)
        if len(idx) == 0:
            break
        life = rng.exponential(params.churn_weeks * 7, len(idx))
        end[idx] = np.minimum(start[idx] + 1 + life.astype(np.int64), days)
        exposure = (cumulative[end[idx]] - cumulative[start[idx]]) / 7
        visits[idx] = rng.poisson(rate[idx] * exposure)
        todo[idx] = (visits[idx] == 0) & ~joiner[idx]
        # those drawn again are re-drawn from the population's rates (conditioning on buying)
        rate[idx[todo[idx]]] = rng.choice(customers.rate, size=int(todo[idx].sum()))
    visits[todo] = 1
    visits[never] = 0
    join_day[never] = -1
    return join_day, start, end, visits, cumulative


def _return_visits(who: np.ndarray, day: np.ndarray, params: SynthParams,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return visits: each visit (including return visits) is followed, with chance
    ``burst_prob``, by another one about ``burst_gap_days`` later (a self-exciting process)."""
    out_who, out_day = [who[:0]], [day[:0]]
    while len(day):
        back = rng.random(len(day)) < params.burst_prob
        later = day[back] + rng.geometric(1 / params.burst_gap_days, size=int(back.sum()))
        keep = later < params.days
        who, day = who[back][keep], later[keep]
        out_who.append(who)
        out_day.append(day)
    return np.concatenate(out_who), np.concatenate(out_day)


def simulate_visits(customers: CustomerModel, params: SynthParams, intensity: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All visits as (day, customer) arrays, one row per customer and date, sorted by day and
    then customer_id."""
    join_day, start, end, visits, cumulative = _activity(customers, params, intensity, rng)
    who = np.repeat(np.arange(customers.n), visits)
    day = _visit_days(start, end, visits, cumulative, rng)
    joined = np.flatnonzero(join_day >= 0)
    who = np.concatenate([who, joined])
    day = np.concatenate([day, join_day[joined]])

    back_who, back_day = _return_visits(who, day, params, rng)
    who = np.concatenate([who, back_who])
    day = np.concatenate([day, back_day])

    key = np.sort(day.astype(np.int64) * customers.n + customers.rank[who])
    key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # one visit per customer and date
    day, rank = np.divmod(key, customers.n)
    by_rank = np.argsort(customers.rank)
    return day.astype(np.int32), by_rank[rank].astype(np.int32)
