"""The article catalogue: generating ``articles.csv`` and deriving the simulator's article model.

``articles.csv`` has one row per article (a product in one colour / pattern).  Articles of one
product share its ``product_code`` (the first 7 digits of ``article_id``), name, type, index,
section, department, garment group and description; they differ in colour and sometimes pattern.

`ArticleModel` holds what the simulator needs per article, derived from any catalogue (generated
or a real ``articles.csv``): product grouping, taste segment, release day, lifecycle, popularity,
price and the partner product that is bought with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hmspark.synth import taxonomy as tx
from hmspark.synth.params import SynthParams

ARTICLE_COLUMNS = [
    "article_id", "product_code", "prod_name", "product_type_no", "product_type_name",
    "product_group_name", "graphical_appearance_no", "graphical_appearance_name",
    "colour_group_code", "colour_group_name", "perceived_colour_value_id",
    "perceived_colour_value_name", "perceived_colour_master_id", "perceived_colour_master_name",
    "department_no", "department_name", "index_code", "index_name", "index_group_no",
    "index_group_name", "section_no", "section_name", "garment_group_no", "garment_group_name",
    "detail_desc",
]
MEAN_VARIANTS = 2.235  # articles per product code in the real catalogue
DECAYS_PER_LIFE = 2.5  # a seasonal article's popularity decays e-fold this often in its active life
EVERGREEN_LEVEL = 0.35  # popularity of an evergreen article relative to a seasonal one's peak


def _pick(rng: np.random.Generator, keys, weights, size: int) -> np.ndarray:
    """Draw ``size`` keys with probability proportional to ``weights``."""
    p = np.asarray(weights, dtype=float)
    return np.asarray(keys)[rng.choice(len(p), size=size, p=p / p.sum())]


# ---------------------------------------------------------------------------------------------
# Generating articles.csv
# ---------------------------------------------------------------------------------------------

def _variant_counts(n_articles: int, rng: np.random.Generator) -> np.ndarray:
    """Number of colour variants per product, heavy-tailed, summing exactly to ``n_articles``."""
    extra_mean = MEAN_VARIANTS - 1.0
    shape = 0.45
    counts = 1 + rng.negative_binomial(shape, shape / (shape + extra_mean), size=n_articles)
    counts = np.minimum(counts, 60)
    cumulative = np.cumsum(counts)
    n_products = int(np.searchsorted(cumulative, n_articles)) + 1
    counts = counts[:n_products].copy()
    counts[-1] -= int(cumulative[n_products - 1] - n_articles)
    return counts


def _product_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Made-up product names such as 'Lunabo', 'MIRA cardigan' or 'Kavi L/S'."""
    syllables = np.asarray(tx.NAME_SYLLABLES)
    n_syll = rng.integers(2, 4, size=n)
    picks = syllables[rng.integers(0, len(syllables), size=(n, 3))]
    stems = np.where(n_syll == 2, np.char.add(picks[:, 0], picks[:, 1]),
                     np.char.add(np.char.add(picks[:, 0], picks[:, 1]), picks[:, 2]))
    style = rng.random(n)
    stems = np.where(style < 0.15, np.char.upper(stems), np.char.capitalize(stems))
    suffix = np.asarray(tx.NAME_SUFFIXES)[rng.integers(0, len(tx.NAME_SUFFIXES), size=n)]
    return np.char.add(stems, suffix)


def _descriptions(type_names: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Template sentences like 'Relaxed-fit top in lyocell with a V-neck, long sleeves and a
    rounded hem.' (features suited to the product group; about 0.4% left empty)."""
    n = len(type_names)
    fits = np.asarray(tx.FITS)[rng.integers(0, len(tx.FITS), n)]
    materials = np.asarray(tx.MATERIALS)[rng.integers(0, len(tx.MATERIALS), n)]
    short = rng.random(n) < 0.25
    out = np.empty(n, dtype=object)
    groups = np.asarray([tx.PRODUCT_TYPES[t][1] for t in type_names])
    for group, phrases in tx.FEATURES.items():
        rows = np.flatnonzero(groups == group)
        picks = np.argsort(rng.random((len(rows), len(phrases))), axis=1)[:, :3]
        feats = np.asarray(phrases)[picks]
        for i, row in enumerate(rows):
            features = (feats[i, 0] if short[row]
                        else f"{feats[i, 0]}, {feats[i, 1]} and {feats[i, 2]}")
            out[row] = f"{fits[row]} {type_names[row].lower()} in {materials[row]} with {features}."
    out[rng.random(n) < 0.004] = ""
    return out


def _garment_groups(index_codes: np.ndarray, type_names: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Garment group per product: the type's usual group, with denim, fancy-jersey, baby and
    girls' variations and a few special-offer / unknown ones."""
    groups = np.asarray([tx.PRODUCT_TYPES[t][2] for t in type_names])
    u = rng.random(len(groups))
    denim = np.isin(type_names, ["Trousers", "Shorts", "Skirt", "Jacket"]) & (u < 0.35)
    groups = np.where(denim, 1016, groups)
    fancy = np.isin(type_names, ["T-shirt", "Sweater", "Leggings/Tights"]) & (u > 0.6)
    groups = np.where(fancy, 1005, groups)
    garment = np.isin([tx.PRODUCT_TYPES[t][1] for t in type_names], list(tx.GARMENT_GROUPS))
    groups = np.where((index_codes == "G") & garment & (u > 0.5), 1006, groups)
    girls = np.isin(index_codes, ["H", "I"]) & np.isin(type_names, ["Dress", "Skirt"])
    groups = np.where(girls, 1014, groups)
    v = rng.random(len(groups))
    groups = np.where(v < 0.02, 1023, np.where(v > 0.99, 1001, groups))
    return groups


def _sections(index_codes: np.ndarray, product_groups: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """Section number per product, among the sections of its index that hold its product group."""
    out = np.zeros(len(index_codes), dtype=np.int64)
    for code, sections in tx.SECTIONS.items():
        for group in np.unique(product_groups[index_codes == code]):
            rows = np.flatnonzero((index_codes == code) & (product_groups == group))
            fits = [s for s in sections if (group in s[3] if s[3] is not None
                                            else group in tx.GARMENT_GROUPS)]
            fits = fits or [s for s in sections if s[3] is None] or sections
            out[rows] = _pick(rng, [s[0] for s in fits], [s[2] for s in fits], len(rows))
    return out


def _departments(index_codes: np.ndarray, garment_groups: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Department number and name per product: 1-3 departments per (index, garment group)."""
    combos = sorted(set(zip(index_codes.tolist(), garment_groups.tolist())))
    n_split = rng.integers(1, 4, size=len(combos))
    numbers = rng.choice(np.arange(1200, 9990), size=int(n_split.sum()), replace=False)
    dep_no = np.zeros(len(index_codes), dtype=np.int64)
    dep_name = np.empty(len(index_codes), dtype=object)
    start = 0
    for (code, group), k in zip(combos, n_split):
        rows = np.flatnonzero((index_codes == code) & (garment_groups == group))
        dep_no[rows] = numbers[start:start + k][rng.integers(0, k, size=len(rows))]
        dep_name[rows] = tx.DEPARTMENT_PREFIX[code] + tx.GARMENT_GROUP_NAMES[group][1]
        start += k
    return dep_no, dep_name


def generate_articles(n_articles: int, rng: np.random.Generator) -> pd.DataFrame:
    """A synthetic ``articles.csv`` (all columns as text, sorted by article_id)."""
    counts = _variant_counts(n_articles, rng)
    n_products = len(counts)
    codes = np.sort(rng.choice(959461 - 108775, size=n_products, replace=False) + 108775)

    index_codes = _pick(rng, list(tx.INDEXES), [v[3] for v in tx.INDEXES.values()], n_products)
    type_names = np.empty(n_products, dtype=object)
    for code, mix in tx.ASSORTMENT.items():
        rows = np.flatnonzero(index_codes == code)
        type_names[rows] = _pick(rng, list(mix), list(mix.values()), len(rows))
    type_names = type_names.astype(str)
    product_groups = np.asarray([tx.PRODUCT_TYPES[t][1] for t in type_names])
    garment_groups = _garment_groups(index_codes, type_names, rng)
    section_no = _sections(index_codes, product_groups, rng)
    dep_no, dep_name = _departments(index_codes, garment_groups, rng)
    names = _product_names(n_products, rng)
    descriptions = _descriptions(type_names, rng)
    appearance = _pick(rng, list(tx.APPEARANCES), [v[1] for v in tx.APPEARANCES.values()],
                       n_products)
    appearance = np.where((garment_groups == 1016) & (rng.random(n_products) < 0.9),
                          tx.DENIM_APPEARANCE[0], appearance)

    # articles: repeat product attributes, then give each variant its own colour and number
    prod = np.repeat(np.arange(n_products), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    local = np.arange(n_articles) - first
    gaps = rng.geometric(np.where(local == 0, 0.8, 0.7))  # variant numbers 001, 002, 004, ...
    variant_no = _group_cumsum(gaps, first)
    assert variant_no.max() < 1000, "too many variants for a 3-digit variant number"
    colours = _pick(rng, list(tx.COLOURS), [v[3] for v in tx.COLOURS.values()], n_articles)
    art_appearance = np.where(rng.random(n_articles) < 0.2,
                              _pick(rng, list(tx.APPEARANCES),
                                    [v[1] for v in tx.APPEARANCES.values()], n_articles),
                              appearance[prod])
    variant_label = np.where((local > 0) & (rng.random(n_articles) < 0.12),
                             np.char.add(" (", np.char.add(np.minimum(local, 9).astype(str), ")")),
                             "")

    article_code = codes[prod] * 1000 + variant_no
    sections = {s[0]: s[1] for secs in tx.SECTIONS.values() for s in secs}
    appearances = {no: v[0] for no, v in tx.APPEARANCES.items()}
    appearances[tx.DENIM_APPEARANCE[0]] = tx.DENIM_APPEARANCE[1]
    types = tx.PRODUCT_TYPES
    df = pd.DataFrame({
        "article_id": np.char.zfill(article_code.astype(str), 10),
        "product_code": np.char.zfill(codes[prod].astype(str), 7),
        "prod_name": np.char.add(names[prod], variant_label),
        "product_type_no": [str(types[t][0]) for t in type_names[prod]],
        "product_type_name": type_names[prod],
        "product_group_name": product_groups[prod],
        "graphical_appearance_no": art_appearance.astype(str),
        "graphical_appearance_name": [appearances[a] for a in art_appearance],
        "colour_group_code": colours.astype(str),
        "colour_group_name": [tx.COLOURS[c][0] for c in colours],
        "perceived_colour_value_id": [str(tx.COLOURS[c][1]) for c in colours],
        "perceived_colour_value_name": [tx.COLOUR_VALUE_NAMES[tx.COLOURS[c][1]] for c in colours],
        "perceived_colour_master_id": [str(tx.COLOURS[c][2]) for c in colours],
        "perceived_colour_master_name": [tx.COLOUR_MASTER_NAMES[tx.COLOURS[c][2]]
                                         for c in colours],
        "department_no": dep_no[prod].astype(str),
        "department_name": dep_name[prod],
        "index_code": index_codes[prod],
        "index_name": [tx.INDEXES[c][0] for c in index_codes[prod]],
        "index_group_no": [str(tx.INDEXES[c][1]) for c in index_codes[prod]],
        "index_group_name": [tx.INDEXES[c][2] for c in index_codes[prod]],
        "section_no": section_no[prod].astype(str),
        "section_name": [sections[s] for s in section_no[prod]],
        "garment_group_no": garment_groups[prod].astype(str),
        "garment_group_name": [tx.GARMENT_GROUP_NAMES[g][0] for g in garment_groups[prod]],
        "detail_desc": descriptions[prod],
    })
    return df[ARTICLE_COLUMNS]


def _group_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each group (rows of a group are contiguous and
    ``group_start`` is the row index where each row's group starts)."""
    total = np.cumsum(values)
    before = np.concatenate([[0], total])[group_start]
    return total - before


# ---------------------------------------------------------------------------------------------
# Article model
# ---------------------------------------------------------------------------------------------

@dataclass
class ArticleModel:
    """Per-article arrays (index = row of the catalogue sorted by article_id).

    article_id: the integer id written in transactions.
    product / product_start / n_variants / variant: colour-variant grouping (the articles of a
        product are contiguous).
    segment: taste segment (index x product group); segment_group: index group of each segment;
        segment_articles: articles per segment; seg_order / seg_bounds: articles sorted by
        segment and the slice of each segment.
    type_no, colour: product type and perceived colour master (customers have a favourite).
    release: release day (window day 0 = first date; negative = before the window).
    evergreen, active (days on sale), season_amp, season_peak, popularity: inputs of
        `weekly_popularity`.
    price: base price in 1/100 price points (price * 59000; 1999 = 19.99 points).
    markdown_age / markdown_price: age in days after which the price is cut, and that price.
    multi_unit: chance a purchase is of several units.
    partner: partner product of each product (-1: none).
    """

    article_id: np.ndarray
    product: np.ndarray
    product_start: np.ndarray
    n_variants: np.ndarray
    variant: np.ndarray
    segment: np.ndarray
    segment_group: np.ndarray
    segment_articles: np.ndarray
    seg_order: np.ndarray
    seg_bounds: np.ndarray
    type_no: np.ndarray
    colour: np.ndarray
    release: np.ndarray
    evergreen: np.ndarray
    active: np.ndarray
    season_amp: np.ndarray
    season_peak: np.ndarray
    popularity: np.ndarray
    price: np.ndarray
    markdown_age: np.ndarray
    markdown_price: np.ndarray
    multi_unit: np.ndarray
    partner: np.ndarray

    @property
    def n(self) -> int:
        return len(self.article_id)


def _int_column(df: pd.DataFrame, name: str, default: int = -1) -> np.ndarray:
    return pd.to_numeric(df[name], errors="coerce").fillna(default).to_numpy(np.int64)


def _price_points(df: pd.DataFrame) -> np.ndarray:
    """Typical price points of each article from its product type (else group), cheaper for
    children and Divided."""
    types = df["product_type_name"].map({k: v[3] for k, v in tx.PRODUCT_TYPES.items()})
    groups = df["product_group_name"].map(tx.GROUP_PRICE_POINTS)
    points = types.fillna(groups).fillna(tx.DEFAULT_PRICE_POINTS).to_numpy(float)
    factor = df["index_group_name"].map({"Baby/Children": 0.7, "Divided": 0.8, "Sport": 1.1})
    return points * factor.fillna(1.0).to_numpy(float)


def _basic(df: pd.DataFrame) -> np.ndarray:
    """Basics: product types that are bought over and over, or anything in a 'Basic' section."""
    basic_types = [k for k, v in tx.PRODUCT_TYPES.items() if v[5]]
    named = (df["section_name"].str.contains("Basic", regex=False)
             | df["garment_group_name"].str.contains("Basic", regex=False))
    return (df["product_type_name"].isin(basic_types) | named).to_numpy()


def _season(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Yearly seasonality amplitude and peak day-of-year from the product type."""
    season = df["product_type_name"].map({k: v[4] for k, v in tx.PRODUCT_TYPES.items()})
    season = season.fillna("").to_numpy()
    amp = np.select([season == "summer", season == "winter"], [0.8, 0.6], 0.0)
    peak = np.select([season == "summer", season == "winter"], [185.0, 340.0], 0.0)
    return amp, peak


def _partners(product_key: np.ndarray, partner_key: np.ndarray, release: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """For each product, a product with the partner key (same index, complementary group)
    released at about the same time (the same collection); -1 if there is none."""
    order = np.lexsort((release, product_key))
    keys = product_key[order]
    composite = keys * 1e5 + release[order] + 5e4
    lo = np.searchsorted(keys, partner_key, side="left")
    hi = np.searchsorted(keys, partner_key, side="right")
    pos = np.searchsorted(composite, partner_key * 1e5 + release + 5e4)
    pos = pos + rng.integers(-2, 3, size=len(pos))
    pos = np.clip(pos, lo, np.maximum(hi - 1, lo))
    partner = np.where(hi > lo, order[np.minimum(pos, len(order) - 1)], -1)
    itself = partner == np.arange(len(partner))
    alt = np.where(pos + 1 < hi, pos + 1, pos - 1)
    alt_ok = itself & (alt >= lo) & (alt < hi)
    partner = np.where(alt_ok, order[np.clip(alt, 0, len(order) - 1)], partner)
    return np.where(itself & ~alt_ok, -1, partner)


def _release_days(product_code: np.ndarray, active: np.ndarray, params: SynthParams,
                  rng: np.random.Generator) -> np.ndarray:
    """Release day per product, in product-code order (codes grow over time): the oldest
    ``preexisting_share`` were released before the window (but are still on sale when it
    starts), the rest are spread over the window."""
    n = len(product_code)
    rank = np.argsort(np.argsort(product_code, kind="stable"), kind="stable")
    q = (rank + rng.random(n)) / n
    pre = params.preexisting_share
    before = -(1 - q / pre) * 0.9 * active
    during = (q - pre) / (1 - pre) * params.days + rng.normal(0, 10, n)
    return np.minimum(np.where(q < pre, before, during), params.days - 1)


def _products(product_code: np.ndarray):
    """Product index of each article (articles sorted by id, so a product's are contiguous),
    first article and number of variants of each product, and variant number within it."""
    product = np.unique(product_code, return_inverse=True)[1]
    n_products = int(product.max()) + 1
    product_start = np.searchsorted(product, np.arange(n_products))
    variant = np.arange(len(product)) - product_start[product]
    return product, product_start, np.bincount(product, minlength=n_products), variant


def _segments(df: pd.DataFrame):
    """Taste segment (index x product group) of each article, the articles sorted by segment,
    the slice of each segment in that order and the index group of each segment."""
    group = df["product_group_name"].to_numpy(str)
    key = df["index_name"].to_numpy(str).astype(object) + "|" + group
    names, segment = np.unique(key, return_inverse=True)
    order = np.argsort(segment, kind="stable")
    bounds = np.searchsorted(segment[order], np.arange(len(names) + 1))
    segment_group = df["index_group_name"].to_numpy(str)[order[bounds[:-1]]]
    return segment, order, bounds, segment_group


def _base_prices(df: pd.DataFrame, product: np.ndarray, first: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Base price of each article in 1/100 price points, ending in .99: the product's typical
    price points with lognormal spread (a few premium products), some variants a point off."""
    n_products, n = len(first), len(product)
    premium = np.where(rng.random(n_products) < 0.01, 4.0, 1.0)  # leather, cashmere, ...
    points = _price_points(df)[first] * rng.lognormal(-0.04, 0.4, n_products) * premium
    price = np.clip(np.round(points), 1, 349)[product] * 100 - 1
    price = np.where(rng.random(n) < 0.1, price + 100 * rng.choice([-1, 1], n), price)
    return np.clip(price, 99, 34899).astype(np.int64)


def _partner_products(df: pd.DataFrame, first: np.ndarray, release: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Partner product of each product: same index, the partner product group
    (`taxonomy.PARTNER_GROUP`), released at about the same time; -1 if none."""
    group = df["product_group_name"].to_numpy(str)[first]
    index = df["index_name"].to_numpy(str)[first]
    group_ids = {g: i for i, g in enumerate(sorted(set(group) | set(tx.PARTNER_GROUP.values())))}
    index_ids = {g: i for i, g in enumerate(sorted(set(index)))}
    idx = np.asarray([index_ids[v] for v in index]) * len(group_ids)
    own = np.asarray([group_ids[g] for g in group])
    wanted = np.asarray([group_ids[tx.PARTNER_GROUP.get(g, g)] for g in group])
    return _partners(idx + own, idx + wanted, release, rng)


def article_model(articles: pd.DataFrame, params: SynthParams,
                  rng: np.random.Generator) -> ArticleModel:
    """Derive the simulator's article model from a catalogue (text columns as in the CSV)."""
    df = articles.assign(_id=_int_column(articles, "article_id"))
    df = df.sort_values("_id", kind="stable").reset_index(drop=True)
    n = len(df)
    product_code = _int_column(df, "product_code")
    product, first, n_variants, variant = _products(product_code)
    segment, seg_order, seg_bounds, segment_group = _segments(df)

    active_p = params.active_weeks * 7 * rng.lognormal(0, 0.5, len(first))
    release_p = _release_days(product_code[first], active_p, params, rng)
    late_variant = (variant > 0) & (rng.random(n) < 0.2)
    release = release_p[product] + np.where(late_variant, rng.exponential(28, n), 0)
    release = np.minimum(release, params.days - 1)

    basic = _basic(df)
    evergreen = rng.random(n) < np.where(basic, 3 * params.evergreen_share,
                                         0.5 * params.evergreen_share)
    season_amp, season_peak = _season(df)
    colour = _int_column(df, "perceived_colour_master_id")
    colour_boost = np.select([colour == 5, colour == 9], [1.5, 1.2], 1.0)  # black, white
    popularity = (rng.lognormal(0, params.popularity_sigma, len(first))[product]
                  * rng.lognormal(0, 0.5, n) * colour_boost)

    price = _base_prices(df, product, first, rng)
    markdown_age = np.where(evergreen, np.inf,
                            active_p[product] * params.markdown_after * rng.uniform(0.7, 1.3, n))
    markdown_whole = np.maximum(1, np.round((price + 1) / 100 * rng.uniform(0.45, 0.75, n)))
    children = (df["index_group_name"] == "Baby/Children").to_numpy()
    multi_unit = (np.where(basic, params.multi_unit_basic, params.multi_unit)
                  * np.where(children, 1.4, 1.0))

    return ArticleModel(
        article_id=df["_id"].to_numpy(np.int64), product=product, product_start=first,
        n_variants=n_variants, variant=variant, segment=segment, segment_group=segment_group,
        segment_articles=np.diff(seg_bounds), seg_order=seg_order, seg_bounds=seg_bounds,
        type_no=_int_column(df, "product_type_no"), colour=colour, release=release,
        evergreen=evergreen, active=active_p[product], season_amp=season_amp,
        season_peak=season_peak, popularity=popularity, price=price, markdown_age=markdown_age,
        markdown_price=(markdown_whole * 100 - 1).astype(np.int64), multi_unit=multi_unit,
        partner=_partner_products(df, first, release_p, rng),
    )


def on_sale(model: ArticleModel, article: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each article can be bought on the matching day (released and not yet off sale)."""
    age = day - model.release[article]
    return (age >= 0) & ((age < model.active[article]) | model.evergreen[article])


def weekly_popularity(model: ArticleModel, day: float, day_of_year: float, floor: float,
                      leftover: float, rise_days: float = 7.0) -> np.ndarray:
    """Unnormalised popularity of every article on ``day``: base popularity x lifecycle x
    seasonality.  A seasonal article rises over about a week after its release, then decays
    towards ``floor`` until it goes off sale after its active life, after which only leftover
    stock sells now and then (``leftover``); an evergreen one sells at a steady level; nothing
    sells before its release."""
    age = day - model.release
    age_on = np.maximum(age, 0)
    decay = model.active / DECAYS_PER_LIFE
    lifecycle = (1 - np.exp(-(age_on + 0.5) / rise_days)) * np.exp(-age_on / decay) + floor
    lifecycle = np.where(age < model.active, lifecycle, leftover)
    lifecycle = np.where(model.evergreen, EVERGREEN_LEVEL, lifecycle)
    season = 1 + model.season_amp * np.cos(2 * np.pi * (day_of_year - model.season_peak) / 365.25)
    return np.where(age >= 0, model.popularity * lifecycle * season, 0.0)
