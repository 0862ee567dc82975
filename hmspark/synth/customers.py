"""The customer base: generating ``customers.csv`` and deriving the simulator's customer model.

``customers.csv`` has one row per customer (sorted by ``customer_id``, a 64-hex-character hash):
club and newsletter flags, age and a hashed postal code.  `CustomerModel` holds what drives each
customer's behaviour: how often they buy, online or in store, and their tastes (favourite
segments, product type and colour), which depend on their age.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hmspark.synth import taxonomy as tx
from hmspark.synth.catalogue import ArticleModel
from hmspark.synth.params import SynthParams

CUSTOMER_COLUMNS = ["customer_id", "FN", "Active", "club_member_status",
                    "fashion_news_frequency", "age", "postal_code"]
N_TASTES = 4  # favourite segments per customer
TASTE_CONCENTRATION = 1.5  # Dirichlet parameter of the weights of the favourite segments
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint8).reshape(256, 2)


def _fixed_strings(raw: np.ndarray) -> pa.StringArray:
    """An arrow string array from an (n, width) uint8 array of ASCII bytes."""
    n, width = raw.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets),
                                       pa.py_buffer(np.ascontiguousarray(raw).tobytes()))


def hex_ids(n: int, rng: np.random.Generator, sort: bool = True) -> pa.StringArray:
    """``n`` distinct random 64-character lowercase hex strings (like SHA-256 digests)."""
    raw = np.frombuffer(rng.bytes(32 * n), dtype=np.uint8).reshape(n, 32)
    if sort:
        words = raw.view(">u8")
        raw = raw[np.lexsort(words.T[::-1])]
        if n > 1 and np.all(raw[1:] == raw[:-1], axis=1).any():
            raise RuntimeError("hex id collision")  # odds about n**2 / 2**257
    return _fixed_strings(_HEX[raw].reshape(n, 64))


def _ages(n: int, rng: np.random.Generator) -> np.ndarray:
    """Bimodal ages as floats: a young group peaking near 22 (members are 16 or older), a group
    around 50 and a spread-out middle; NaN for the ~1% unknown."""
    component = rng.choice(3, size=n, p=[0.44, 0.36, 0.20])
    young = 16 + rng.gamma(5.0, 1.5, size=n)
    other = rng.normal(np.where(component == 1, 50.0, 34.0), np.where(component == 1, 8.5, 9.0))
    other = 16 + np.abs(other - 16)  # reflected at the minimum age rather than piled up on it
    age = np.minimum(np.round(np.where(component == 0, young, other)), 99)
    age[rng.random(n) < 0.0116] = np.nan
    return age


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(object), type=pa.string())


def generate_customers(n: int, rng: np.random.Generator) -> pa.Table:
    """A synthetic ``customers.csv`` as an arrow table of text columns, sorted by customer_id."""
    ids = hex_ids(n, rng)
    fn = rng.random(n) < 0.345
    active = np.where(fn, rng.random(n) < 0.965, rng.random(n) < 0.003)
    news = np.where(fn, np.where(rng.random(n) < 0.998, "Regularly", "Monthly"),
                    rng.choice(["NONE", "", "None"], size=n, p=[0.982, 0.017995, 0.000005]))
    club = rng.choice(["ACTIVE", "PRE-CREATE", "LEFT CLUB", ""], size=n,
                      p=[0.9276, 0.0676, 0.0004, 0.0044])
    ages = _ages(n, rng)
    age_text = np.where(np.isnan(ages), "", np.char.add(np.nan_to_num(ages).astype(int).astype(str),
                                                        ".0"))
    pool = hex_ids(max(1, n // 4), rng, sort=False)
    slot = np.minimum(rng.zipf(1.6, size=n) - 1, len(pool) - 1)
    slot = np.where(rng.random(n) < 0.6, rng.integers(0, len(pool), n), slot)
    slot[rng.random(n) < 0.085] = 0  # one postal code shared by many (as in the real data)
    return pa.table({
        "customer_id": ids,
        "FN": _text(np.where(fn, "1.0", "")),
        "Active": _text(np.where(active, "1.0", "")),
        "club_member_status": _text(club),
        "fashion_news_frequency": _text(news),
        "age": _text(age_text),
        "postal_code": pool.take(pa.array(slot)),
    })


@dataclass
class CustomerModel:
    """Per-customer arrays (index = row of customers.csv).

    rank: position of the customer_id in sorted order (rows of a date are grouped by it).
    rate: visits per week while active.
    online: chance a visit is online.
    repurchase: chance per slot of re-buying an earlier article.
    tastes / taste_cumulative: favourite segments and the cumulative chance of choosing each.
    fav_type, fav_colour: favourite product type number and perceived colour master id.
    """

    rank: np.ndarray
    rate: np.ndarray
    online: np.ndarray
    repurchase: np.ndarray
    tastes: np.ndarray
    taste_cumulative: np.ndarray
    fav_type: np.ndarray
    fav_colour: np.ndarray

    @property
    def n(self) -> int:
        return len(self.rank)


def _column_equals(table: pa.Table, name: str, value: str) -> np.ndarray:
    return pc.fill_null(pc.equal(table[name], value), False).to_numpy(zero_copy_only=False)


def _parse_ages(table: pa.Table) -> np.ndarray:
    ages = pc.cast(pc.if_else(pc.equal(table["age"], ""), None, table["age"]), pa.float64())
    return pc.fill_null(ages, np.nan).to_numpy(zero_copy_only=False)


def _age_profile(groups: np.ndarray) -> np.ndarray:
    """Affinity of each integer age 0..99 (row 0 = unknown age) for each index group name."""
    grid = np.arange(100, dtype=float)
    grid[0] = 36.0
    rows = []
    for g in groups:
        anchors = tx.AGE_AFFINITY.get(g)
        rows.append(np.interp(grid, tx.AGE_ANCHORS, anchors) if anchors else np.full(100, 0.1))
    return np.stack(rows, axis=1)


def _draw_by_row(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws where each draw uses its own row of ``cdf`` (rows normalised to 1)."""
    n_rows, width = cdf.shape
    flat = (cdf + np.arange(n_rows)[:, None]).ravel()
    return np.searchsorted(flat, rows + u * (1 - 1e-12)) - rows * width


def _tastes(ages: np.ndarray, model: ArticleModel, rng: np.random.Generator):
    """Favourite segments (drawn by age affinity x segment size), their cumulative weights and
    the favourite product type (within the first segment) and colour of each customer."""
    n = len(ages)
    affinity = _age_profile(model.segment_group)
    seg_weight = affinity * model.segment_articles[None, :]
    cdf = np.cumsum(seg_weight, axis=1)
    cdf /= cdf[:, -1:]
    age_row = np.where(np.isnan(ages), 0, np.clip(np.nan_to_num(ages), 1, 99)).astype(np.int64)
    tastes = np.stack([_draw_by_row(cdf, age_row, rng.random(n)) for _ in range(N_TASTES)], 1)
    cumulative = np.cumsum(rng.dirichlet(np.full(N_TASTES, TASTE_CONCENTRATION), size=n), axis=1)

    first = tastes[:, 0]
    pick = model.seg_bounds[first] + (rng.random(n) * model.segment_articles[first]).astype(int)
    fav_type = model.type_no[model.seg_order[pick]]
    fav_colour = model.colour[rng.integers(0, model.n, size=n)]
    return tastes.astype(np.int32), cumulative.astype(np.float32), fav_type, fav_colour


def customer_model(customers: pa.Table, articles: ArticleModel, params: SynthParams,
                   rng: np.random.Generator) -> CustomerModel:
    """Derive behaviour for every customer of a customers table (text columns as in the CSV)."""
    n = customers.num_rows
    order = pc.sort_indices(customers["customer_id"]).to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    ages = _parse_ages(customers)
    fn = _column_equals(customers, "FN", "1.0")
    rate_factor = (np.where(fn, 1.25, 1.0)
                   * np.where(_column_equals(customers, "club_member_status", "PRE-CREATE"), 0.6, 1)
                   * np.where(_column_equals(customers, "club_member_status", "LEFT CLUB"), 0.3, 1))
    rate = params.rate_median * rng.lognormal(0, params.rate_sigma, n) * rate_factor

    age_shift = np.select([ages < 30, ages > 55], [0.08, -0.1], 0.0)
    online_type = rng.random(n) < params.online_customer_share + age_shift
    online = np.where(online_type, rng.beta(6.0, 1.3, n), rng.beta(1.6, 3.2, n))
    repurchase = np.minimum(params.repurchase * rng.exponential(1.0, n), 0.5)
    tastes, taste_cumulative, fav_type, fav_colour = _tastes(ages, articles, rng)
    return CustomerModel(rank=rank, rate=rate, online=online.astype(np.float32),
                         repurchase=repurchase.astype(np.float32), tastes=tastes,
                         taste_cumulative=taste_cumulative, fav_type=fav_type,
                         fav_colour=fav_colour)
