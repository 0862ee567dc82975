"""Baskets: what each visit buys, week by week.

Every visit gets a channel (from the customer's online propensity) and a number of distinct
articles.  Each article slot is filled by one of four mechanisms:

- taste: a segment is drawn from the customer's favourite segments (or, with chance ``explore``,
  the whole catalogue), then a few candidates are drawn by this week's popularity within it and
  the one matching the customer's favourite product type / colour best is kept;
- repurchase: an article from the customer's recent purchases, the most recent ones more often;
- follow-up: a colour variant or the partner product of a recent purchase;
- link (not for the first slot): a colour variant or the partner product of the basket's first
  article ("bought together").

A slot may be bought in several units (duplicate rows).  Prices are the article's base price,
or its markdown price once it is old, with occasional extra discounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmspark.synth.catalogue import ArticleModel, on_sale, weekly_popularity
from hmspark.synth.customers import CustomerModel
from hmspark.synth.params import SynthParams
from hmspark.synth.visits import day_of_year

HISTORY = 12  # recent articles remembered per customer
CANDIDATES = 3  # popularity draws a taste pick chooses from
WEEKLY_NOISE = 0.35  # lognormal spread of an article's week-to-week popularity


@dataclass
class TransactionArrays:
    """One row per unit bought, sorted by day then customer_id.

    day: window day (0 = first date); customer: row of customers.csv; article: row of the
    article model (sorted catalogue); price: in 1/100 price points (price * 59000);
    channel: 1 store, 2 online."""

    day: np.ndarray
    customer: np.ndarray
    article: np.ndarray
    price: np.ndarray
    channel: np.ndarray

    def __len__(self) -> int:
        return len(self.day)


class _History:
    """The last ``HISTORY`` articles each customer bought (a ring buffer per customer)."""

    def __init__(self, n_customers: int):
        self.items = np.full((n_customers, HISTORY), -1, dtype=np.int32)
        self.count = np.zeros(n_customers, dtype=np.int64)

    def pick(self, customer: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One remembered article per customer (-1 if none), recent ones more likely."""
        length = np.minimum(self.count[customer], HISTORY)
        back = np.floor(length * u * u).astype(np.int64)
        return self.items[customer, (self.count[customer] - 1 - back) % HISTORY]

    def push(self, customer: np.ndarray, article: np.ndarray) -> None:
        """Remember purchases (given in chronological order)."""
        order = np.argsort(customer, kind="stable")
        cust, art = customer[order], article[order]
        first = np.concatenate([[True], cust[1:] != cust[:-1]])
        starts = np.flatnonzero(first)
        sizes = np.diff(np.append(starts, len(cust)))
        k = np.arange(len(cust)) - np.repeat(starts, sizes)
        keep = k >= np.repeat(sizes, sizes) - HISTORY
        pos = (self.count[cust] + k) % HISTORY
        self.items[cust[keep], pos[keep]] = art[keep]
        self.count[cust[starts]] += sizes


def _linked(source: np.ndarray, articles: ArticleModel, sibling_share: float,
            rng: np.random.Generator) -> np.ndarray:
    """An article bought together with each source article: another colour variant of its
    product, or a variant of its partner product (-1 when it has neither)."""
    product = articles.product[source]
    n_var = articles.n_variants[product]
    k = np.floor(rng.random(len(source)) * np.maximum(n_var - 1, 1)).astype(np.int64)
    sibling = articles.product_start[product] + k + (k >= articles.variant[source])
    partner = articles.partner[product]
    safe = np.maximum(partner, 0)
    partner_article = articles.product_start[safe] + np.floor(
        rng.random(len(source)) * articles.n_variants[safe]).astype(np.int64)
    want_sibling = (rng.random(len(source)) < sibling_share) & (n_var > 1)
    return np.where(want_sibling, sibling,
                    np.where(partner >= 0, partner_article, np.where(n_var > 1, sibling, -1)))


def _taste_pick(customer: np.ndarray, popularity: np.ndarray, articles: ArticleModel,
                customers: CustomerModel, params: SynthParams,
                rng: np.random.Generator) -> np.ndarray:
    """One article per slot from the customer's favourite segments by current popularity,
    tilted towards their favourite product type and colour."""
    n = len(customer)
    cumulative = np.concatenate([[0.0], np.cumsum(popularity[articles.seg_order])])
    seg_lo = cumulative[articles.seg_bounds[:-1]]
    seg_hi = cumulative[articles.seg_bounds[1:]]
    weights = customers.taste_cumulative[customer]
    slot = np.minimum((rng.random(n)[:, None] > weights).sum(axis=1), weights.shape[1] - 1)
    segment = customers.tastes[customer, slot]
    lo, hi = seg_lo[segment], seg_hi[segment]
    explore = (rng.random(n) < params.explore) | (hi <= lo)
    lo = np.where(explore, 0.0, lo)
    hi = np.where(explore, cumulative[-1], hi)
    target = lo[:, None] + rng.random((n, CANDIDATES)) * (hi - lo)[:, None]
    pos = np.clip(np.searchsorted(cumulative, target, side="right") - 1, 0, articles.n - 1)
    candidates = articles.seg_order[pos]
    likes_type = articles.type_no[candidates] == customers.fav_type[customer][:, None]
    likes_colour = articles.colour[candidates] == customers.fav_colour[customer][:, None]
    score = (params.taste_type * likes_type + params.taste_colour * likes_colour
             + rng.gumbel(size=candidates.shape))
    return candidates[np.arange(n), np.argmax(score, axis=1)]


def _prices(article: np.ndarray, day: np.ndarray, articles: ArticleModel,
            rng: np.random.Generator) -> np.ndarray:
    """Price of each purchase: base price, markdown price once the article is old, sometimes
    an extra discount (odd amounts), very rarely a near-free voucher price."""
    age = day - articles.release[article]
    price = np.where(age > articles.markdown_age[article], articles.markdown_price[article],
                     articles.price[article])
    n = len(article)
    discount = rng.random(n) < 0.04
    price = np.where(discount, np.round(price * rng.uniform(0.8, 0.95, n)), price)
    voucher = rng.random(n) < 0.0004
    price = np.where(voucher, rng.integers(1, 300, n), price)
    return np.maximum(price, 1).astype(np.int32)


def _fill_slots(customer: np.ndarray, day: np.ndarray, first_slot: np.ndarray,
                slot_rank: np.ndarray, popularity: np.ndarray, history: _History,
                articles: ArticleModel, customers: CustomerModel, params: SynthParams,
                rng: np.random.Generator) -> np.ndarray:
    """The article of every slot of a week's visits (see the module docstring)."""
    n = len(customer)
    article = _taste_pick(customer, popularity, articles, customers, params, rng)
    has_history = history.count[customer] > 0
    u = rng.random(n)
    t_link = np.where(slot_rank > 0, params.link, 0.0)
    t_repurchase = t_link + np.where(has_history, customers.repurchase[customer], 0.0)
    t_follow = t_repurchase + np.where(has_history, params.follow_up, 0.0)
    repurchase = (u >= t_link) & (u < t_repurchase)
    follow = (u >= t_repurchase) & (u < t_follow)
    remembered = history.pick(customer, rng.random(n))
    rebuy = np.flatnonzero(repurchase & (remembered >= 0))
    rebuy = rebuy[on_sale(articles, remembered[rebuy], day[rebuy])]
    article[rebuy] = remembered[rebuy]
    _assign_linked(article, follow, remembered, day, articles, params, rng)
    link = u < t_link
    _assign_linked(article, link, article[first_slot], day, articles, params, rng)
    return article


def _assign_linked(article: np.ndarray, mask: np.ndarray, source: np.ndarray, day: np.ndarray,
                   articles: ArticleModel, params: SynthParams, rng: np.random.Generator) -> None:
    """Replace ``article[mask]`` by an article linked to ``source[mask]``, where one exists and
    is on sale that day."""
    rows = np.flatnonzero(mask & (source >= 0))
    linked = _linked(source[rows], articles, params.sibling_share, rng)
    ok = linked >= 0
    ok[ok] = on_sale(articles, linked[ok], day[rows[ok]])
    article[rows[ok]] = linked[ok]


def _week_rows(visits: np.ndarray, sizes: np.ndarray, visit_day: np.ndarray,
               visit_customer: np.ndarray, online: np.ndarray, popularity: np.ndarray,
               history: _History, articles: ArticleModel, customers: CustomerModel,
               params: SynthParams, rng: np.random.Generator) -> list[np.ndarray]:
    """Rows (day, customer, article, price, channel) bought in one week's visits, in visit
    order, one row per unit; remembers the week's purchases in ``history``."""
    visit = np.repeat(visits, sizes)
    first_slot = np.repeat(np.cumsum(sizes) - sizes, sizes)
    slot_rank = np.arange(len(visit)) - first_slot
    customer, day = visit_customer[visit], visit_day[visit]
    article = _fill_slots(customer, day, first_slot, slot_rank, popularity, history, articles,
                          customers, params, rng)
    history.push(customer, article)
    units = 1 + np.where(rng.random(len(article)) < articles.multi_unit[article],
                         rng.geometric(0.6, len(article)), 0)
    price = _prices(article, day, articles, rng)
    channel = np.where(online[visit], 2, 1).astype(np.int8)
    columns = (day, customer, article.astype(np.int32), price, channel)
    return [np.repeat(column, units) for column in columns]


def simulate_baskets(visit_day: np.ndarray, visit_customer: np.ndarray, articles: ArticleModel,
                     customers: CustomerModel, params: SynthParams, dates: np.ndarray,
                     rng: np.random.Generator) -> TransactionArrays:
    """Fill every visit (sorted by day and customer) with articles, one week at a time so that
    popularity follows the calendar and repurchases see earlier weeks."""
    online = rng.random(len(visit_day)) < customers.online[visit_customer]
    extra_mean = params.basket_extra_mean * np.where(online, 1.15, 0.75)  # online: bigger
    size = 1 + rng.negative_binomial(1.0, 1.0 / (1.0 + extra_mean))
    offset = (-params.days) % 7  # weeks end on the last date
    n_weeks = (params.days + offset) // 7
    bounds = np.searchsorted((visit_day + offset) // 7, np.arange(n_weeks + 1))
    doy = day_of_year(dates)
    history = _History(customers.n)
    parts = []
    for w in range(n_weeks):
        mid = min(max(7 * w - offset + 3, 0), params.days - 1)
        popularity = weekly_popularity(articles, mid, doy[mid], params.tail_floor,
                                       params.leftover)
        popularity *= rng.lognormal(0, WEEKLY_NOISE, articles.n)
        v0, v1 = bounds[w], bounds[w + 1]
        if v1 > v0:
            parts.append(_week_rows(np.arange(v0, v1), size[v0:v1], visit_day, visit_customer,
                                    online, popularity, history, articles, customers, params,
                                    rng))
    day, customer, article, price, channel = (np.concatenate([p[i] for p in parts])
                                              for i in range(5))
    return TransactionArrays(day=day, customer=customer, article=article, price=price,
                             channel=channel)
