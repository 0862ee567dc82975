"""Candidate generation (hmspark.recall) on small hand-made data, checked against an independent
pure-Python computation of every rule (no Spark in the reference), plus the pair rules on a
hand-built example, leakage, partition replacement and the recall report.

One warehouse is built once for the module (``built``); tests compare its tables with the reference.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections import Counter, defaultdict

import pandas as pd
import pytest
from pyspark.sql import functions as F

from factories import articles_df, customers_df, transactions_df
from hmspark.config import RecallSettings
from hmspark.cutoff import as_date
from hmspark.recall import (build_candidates, dedupe_candidates, evaluate, format_report,
                            pair_counts, pair_features, pair_source, recall_report, top_pairs)
from hmspark.tables import read_table, table_version, write_table

CUTOFF = dt.date(2020, 9, 22)
EARLIER = CUTOFF - dt.timedelta(days=7)

# Small settings so that every cut binds on small data: basket cap 6, top 5 partners,
# 5 popular, 4 last-year, 2 categories x 3 articles, 13 candidates per customer.
CFG = RecallSettings(pair_basket_cap=6, popular_top_n=5, last_year_top_n=4, category_top_n=3,
                     category_top_categories=2, max_candidates_per_customer=13)

ARTICLES = list(range(100, 130))
PRODUCT_TYPE = {a: 10 + (a * 7) % 4 for a in ARTICLES}
CUSTOMERS = list(range(40))          # 36..39 never buy anything
GHOST = 77                           # buys, but is not in the customers table
SOURCE_NAMES = ("pair", "repurchase", "popular", "last_year", "category")


def day(days_before: int) -> dt.date:
    return CUTOFF - dt.timedelta(days=days_before)


def make_rows(seed: int = 5) -> list[tuple[dt.date, int, int]]:
    """(t_dat, customer_key, article_id), one row per unit; includes rows after the cutoff."""
    rng = random.Random(seed)
    hot = ARTICLES[:14]
    weights = [1.0 / (1 + i) ** 0.7 for i in range(len(hot))]
    rows = []

    def buy(c, days_before, a, units=1):
        rows.extend([(day(days_before), c, a)] * units)

    for c in range(26):                                  # the last week: pairs, popular
        for _ in range(rng.randint(1, 5)):
            buy(c, rng.randint(0, 6), rng.choices(hot, weights)[0], rng.choice([1, 1, 1, 2]))
    for i, a in enumerate(ARTICLES[:12]):                # customer 0: a basket beyond the cap
        buy(0, i % 7, a)
    for a in (100, 101, 102, 103):                       # the ghost customer
        buy(GHOST, 1, a)
    for c in range(36):                                  # the last 100 days
        for _ in range(rng.randint(0, 5)):
            buy(c, rng.randint(7, 100), rng.choice(ARTICLES), rng.choice([1, 1, 2]))
    for _ in range(70):                                  # the same week last year and around it
        buy(rng.randrange(36), rng.randint(357, 363), rng.choice(ARTICLES))
    for _ in range(25):
        buy(rng.randrange(36), rng.choice([350, 356, 364, 365, 370]), rng.choice(ARTICLES))
    for _ in range(90):                                  # after the cutoff (target week and later)
        buy(rng.choice(CUSTOMERS + [GHOST]), -rng.randint(1, 10), rng.choice(hot))
    return rows


# ----------------------------------------------------------------------------------------------
# Independent reference (plain Python)


def window_rows(rows, days, first=0):
    """Rows with first <= days_before < days (days_before = cutoff - t_dat in days)."""
    out = []
    for t, c, a in rows:
        db = (CUTOFF - t).days
        if first <= db < days:
            out.append((db, c, a))
    return out


def ref_baskets(rows, days, cap):
    last = {}
    for db, c, a in window_rows(rows, days):
        last[(c, a)] = min(last.get((c, a), db), db)
    by_c = defaultdict(list)
    for (c, a), db in last.items():
        by_c[c].append((db, a))
    return {c: {a for db, a in sorted(items)[:cap]} for c, items in by_c.items()}


def ref_pairs(rows, cfg):
    count = Counter()
    for items in ref_baskets(rows, cfg.pair_window_days, cfg.pair_basket_cap).values():
        for a in items:
            for b in items:
                if a != b:
                    count[(a, b)] += 1
    return {k: n for k, n in count.items() if n >= cfg.pair_min_buyers}


def ref_top(pairs, k):
    by_a = defaultdict(list)
    for (a, b), n in pairs.items():
        by_a[a].append((-n, b))
    return {a: [(b, -negn) for negn, b in sorted(lst)[:k]] for a, lst in by_a.items()}


def ref_recent_items(rows, cfg):
    return ref_baskets(rows, cfg.pair_customer_window_days, cfg.pair_basket_cap)


def ranked(customer_rows, key):
    """{customer: [(article, score, score2)]} -> rows with rank by the sort key."""
    out = {}
    for c, items in customer_rows.items():
        for r, (a, s, s2) in enumerate(sorted(items, key=key), start=1):
            out[(c, a)] = (s, s2, r)
    return out


def ref_pair_source(rows, cfg):
    top = ref_top(ref_pairs(rows, cfg), cfg.pair_top_k)
    per = defaultdict(list)
    for c, items in ref_recent_items(rows, cfg).items():
        for i in items:
            for b, n in top.get(i, []):
                per[(c, b)].append(n)
    by_c = defaultdict(list)
    for (c, b), ns in per.items():
        by_c[c].append((b, max(ns), sum(ns)))
    return ranked(by_c, key=lambda x: (-x[1], -x[2], x[0]))


def ref_repurchase(rows, cfg):
    units, since = Counter(), {}
    for db, c, a in window_rows(rows, cfg.repurchase_window_days):
        units[(c, a)] += 1
        since[(c, a)] = min(since.get((c, a), db), db)
    by_c = defaultdict(list)
    for (c, a), n in units.items():
        by_c[c].append((a, n, since[(c, a)]))
    return ranked(by_c, key=lambda x: (x[2], -x[1], x[0]))


def ref_top_articles(units, n):
    return [(a, u) for a, u in sorted(units.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def ref_popular_list(rows, cfg):
    return ref_top_articles(Counter(a for _, _, a in window_rows(rows, cfg.popular_window_days)),
                            cfg.popular_top_n)


def ref_last_year_list(rows, cfg):
    recent = {a for _, _, a in window_rows(rows, cfg.last_year_recent_days)}
    units = Counter(a for _, _, a in window_rows(rows, 364, first=357) if a in recent)
    return ref_top_articles(units, cfg.last_year_top_n)


def ref_global(rows, cfg, customers, which):
    top = ref_popular_list(rows, cfg) if which == "popular" else ref_last_year_list(rows, cfg)
    return {(c, a): (u, None, r) for c in customers for r, (a, u) in enumerate(top, start=1)}


def ref_category(rows, cfg):
    units, since = Counter(), {}
    for db, c, a in window_rows(rows, cfg.category_window_days):
        k = (c, PRODUCT_TYPE[a])
        units[k] += 1
        since[k] = min(since.get(k, db), db)
    by_c = defaultdict(list)
    for (c, p), n in units.items():
        by_c[c].append((-n, since[(c, p)], p))
    week = Counter(a for _, _, a in window_rows(rows, cfg.popular_window_days))
    best = defaultdict(list)
    for a, n in week.items():
        best[PRODUCT_TYPE[a]].append((-n, a))
    out = {}
    for c, cats in by_c.items():
        r = 0
        for _, _, p in sorted(cats)[:cfg.category_top_categories]:
            for negn, a in sorted(best[p])[:cfg.category_top_n]:
                r += 1
                out[(c, a)] = (-negn, None, r)
    return out


def ref_sources(rows, cfg, customers):
    """{source: {(customer, article): (score, score2, rank)}} for customers of the table only."""
    out = {
        "pair": ref_pair_source(rows, cfg),
        "repurchase": ref_repurchase(rows, cfg),
        "popular": ref_global(rows, cfg, customers, "popular"),
        "last_year": ref_global(rows, cfg, customers, "last_year"),
        "category": ref_category(rows, cfg),
    }
    keep = set(customers)
    return {s: {k: v for k, v in d.items() if k[0] in keep} for s, d in out.items()}


def ref_candidates(sources, cfg):
    """Dedupe + round-robin priority + cap, as documented in hmspark.recall.union."""
    order = [s.strip() for s in cfg.source_priority.split(",")]
    merged = defaultdict(dict)
    for s, d in sources.items():
        for key, v in d.items():
            merged[key][s] = v
    by_c = defaultdict(list)
    for (c, a), per in merged.items():
        slot = min((per[s][2] - 1) * len(order) + order.index(s) for s in per)
        by_c[c].append((slot, a, per))
    out = {}
    for c, items in by_c.items():
        for prio, (_, a, per) in enumerate(sorted(items)[:cfg.max_candidates_per_customer], 1):
            out[(c, a)] = (tuple(sorted(per)), per, prio)
    return out


def ref_pair_features(rows, cfg, keys):
    pairs = ref_pairs(rows, cfg)
    items = ref_recent_items(rows, cfg)
    out = {}
    for c, a in keys:
        ns = [pairs[(i, a)] for i in items.get(c, ()) if (i, a) in pairs]
        out[(c, a)] = (max(ns) if ns else 0, sum(ns))
    return out


# ----------------------------------------------------------------------------------------------
# Spark side


def write_inputs(spark, wh, rows, customers=CUSTOMERS):
    tx = transactions_df(spark, [(t.isoformat(), c, a) for t, c, a in rows])
    write_table(tx.coalesce(1), wh, "transactions")
    write_table(articles_df(spark, [{"article_id": a, "product_type_no": p}
                                    for a, p in PRODUCT_TYPE.items()]).coalesce(1), wh, "articles")
    write_table(customers_df(spark, [(k, 30) for k in customers]).coalesce(1), wh, "customers")


def partition(spark, wh, name, cutoff):
    """One cutoff's rows of a table as a pandas frame, sorted, index reset."""
    df = read_table(spark, wh, name).filter(F.col("cutoff") == F.lit(as_date(cutoff))).toPandas()
    keys = [c for c in ("customer_key", "article_id", "source", "level") if c in df.columns]
    return df.sort_values(keys).reset_index(drop=True)


@pytest.fixture(scope="module")
def data():
    rows = make_rows()
    return rows, [r for r in rows if r[0] <= CUTOFF]


@pytest.fixture(scope="module")
def built(spark, data, tmp_path_factory):
    rows, _ = data
    wh = str(tmp_path_factory.mktemp("recall") / "warehouse")
    write_inputs(spark, wh, rows)
    counts = build_candidates(spark, wh, CUTOFF, CFG)
    tables = {name: partition(spark, wh, name, CUTOFF)
              for name in ("candidate_sources", "candidates", "candidate_pair_features")}
    return wh, counts, tables


@pytest.fixture(scope="module")
def reference(data):
    _, past = data
    sources = ref_sources(past, CFG, CUSTOMERS)
    return sources, ref_candidates(sources, CFG)


def test_the_data_exercises_the_rules(data, reference):
    """Guard: the random data really has units, ties, capped baskets and cut lists."""
    rows, past = data
    assert max(Counter(rows).values()) > 1, "duplicate rows (units)"
    pairs = ref_pairs(past, CFG)
    partners = Counter(a for a, _ in pairs)
    assert max(partners.values()) > CFG.pair_top_k, "some article has more partners than top-k"
    k = CFG.pair_top_k
    ranked_counts = [sorted((n for (x, _), n in pairs.items() if x == a), reverse=True)
                     for a in partners if partners[a] > k]
    assert any(c[k - 1] == c[k] for c in ranked_counts), "a tie at the top-k cut"
    week = Counter(a for _, _, a in window_rows(past, 7))
    assert len(week.values()) != len(set(week.values())), "ties in weekly units"
    assert len(ref_baskets(past, 7, 10**6)[0]) > CFG.pair_basket_cap, "a basket beyond the cap"
    sources, cands = reference
    assert all(len(sources[s]) > 0 for s in SOURCE_NAMES)
    per_customer = Counter(c for c, _ in {k for d in sources.values() for k in d})
    assert max(per_customer.values()) > CFG.max_candidates_per_customer, "the cap binds"
    assert {36, 37, 38, 39} <= {c for c, _ in cands}, "customers without history"


def test_pair_counts_match_reference(spark, data):
    rows, past = data
    tx = transactions_df(spark, [(t.isoformat(), c, a) for t, c, a in rows])
    got = {(r["article_a"], r["article_b"]): r["pair_count"]
           for r in pair_counts(tx, CUTOFF, CFG).collect()}
    assert got == ref_pairs(past, CFG)
    assert all(n >= 2 for n in got.values())


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_source_matches_reference(built, reference, source):
    _, _, tables = built
    cs = tables["candidate_sources"]
    got = {(r.customer_key, r.article_id): (r.score, None if pd.isna(r.score2) else r.score2, r.rank)
           for r in cs[cs["source"] == source].itertuples()}
    assert got == reference[0][source]
    assert len(got) > 0


def test_candidates_match_reference(built, reference):
    _, counts, tables = built
    exp = reference[1]
    cands = tables["candidates"]
    assert not cands.duplicated(["customer_key", "article_id"]).any()
    assert counts["candidates"] == len(cands) == len(exp)
    wide = {"pair": ("pair_score_max", "pair_score_sum", "pair_rank"),
            "repurchase": ("repurchase_count", "repurchase_days_since", "repurchase_rank"),
            "popular": ("popular_units", None, "popular_rank"),
            "last_year": ("last_year_units", None, "last_year_rank"),
            "category": ("category_units", None, "category_rank")}
    for r in cands.to_dict("records"):
        sources, per, prio = exp[(r["customer_key"], r["article_id"])]
        assert tuple(r["sources"]) == sources
        assert r["priority"] == prio
        for s, (score, score2, rank) in wide.items():
            if s in per:
                assert (r[score], r[rank]) == (per[s][0], per[s][2])
                if score2:
                    assert r[score2] == per[s][1]
            else:
                assert pd.isna(r[score]) and pd.isna(r[rank])
    # Every customer of the table, and only them, has candidates.
    assert set(cands["customer_key"]) == set(CUSTOMERS)
    assert cands.groupby("customer_key").size().max() == CFG.max_candidates_per_customer


def test_pair_features_match_reference(built, data, reference):
    _, _, tables = built
    feats = tables["candidate_pair_features"]
    keys = list(reference[1])
    exp = ref_pair_features(data[1], CFG, keys)
    got = {(r.customer_key, r.article_id): (r.pair_count_max, r.pair_count_sum)
           for r in feats.itertuples()}
    # Only the candidates some pair links to have a row (the others' features are 0).
    assert got == {k: v for k, v in exp.items() if v[0] > 0}
    assert got and any(v[0] == 0 for v in exp.values())
    # Also non-pair candidates get pair features (the feature ignores the top-k cut).
    cands = tables["candidates"]
    non_pair = cands[cands["pair_rank"].isna()]
    assert any(exp[(c, a)][0] > 0 for c, a in zip(non_pair.customer_key, non_pair.article_id))


# ----------------------------------------------------------------------------------------------
# The pair rule by hand


def hand_pairs_rows():
    """Article 1 bought by customers 1..8 in the last week, with partners:
    10 (customers 1,2,3 -> 3), 5, 20, 21, 22, 23 (two customers each -> 2),
    30 (customer 8 only -> 1); and customer 9 alone buying 40 and 41."""
    rows = [("2020-09-20", c, 1) for c in range(1, 9)]
    rows += [("2020-09-21", c, 10) for c in (1, 2, 3)]
    for b, cs in ((5, (4, 5)), (20, (1, 4)), (21, (2, 5)), (22, (6, 7)), (23, (3, 6))):
        rows += [("2020-09-19", c, b) for c in cs]
    rows += [("2020-09-22", 8, 30), ("2020-09-22", 9, 40), ("2020-09-22", 9, 41),
             ("2020-09-22", 9, 41)]
    rows += [("2020-09-23", c, 30) for c in range(1, 9)]   # after the cutoff: ignored
    return rows


def test_pair_rule_and_top_k_by_hand(spark):
    cfg = RecallSettings()
    tx = transactions_df(spark, hand_pairs_rows())
    pairs = pair_counts(tx, CUTOFF, cfg)
    got = {(r.article_a, r.article_b): r.pair_count for r in pairs.collect()}
    assert got[(1, 10)] == got[(10, 1)] == 3
    for b in (5, 20, 21, 22, 23):
        assert got[(1, b)] == 2
    # Bought together by one customer only: never a pair.
    assert (1, 30) not in got and (30, 1) not in got and (40, 41) not in got
    assert all(n >= 2 for n in got.values())
    # Top 5 of article 1: 10 (3), then the 2s by smaller id: 5, 20, 21, 22 (23 is cut).
    top = [(r.article_b, r.pair_rank) for r in
           top_pairs(pairs, 5).filter("article_a = 1").orderBy("pair_rank").collect()]
    assert top == [(10, 1), (5, 2), (20, 3), (21, 4), (22, 5)]
    # Same result whatever the input order and partitioning.
    shuffled = tx.orderBy(F.rand(3)).repartition(3)
    top2 = [(r.article_b, r.pair_rank) for r in
            top_pairs(pair_counts(shuffled, CUTOFF, cfg), 5).filter("article_a = 1")
            .orderBy("pair_rank").collect()]
    assert top2 == top
    # Customer 8 bought 1 (and 30): candidates = the top 5 of 1 (30 has no pair).
    src = {(r.customer_key, r.article_id): (r.score, r.rank)
           for r in pair_source(tx, CUTOFF, cfg).collect()}
    assert {a: v for (c, a), v in src.items() if c == 8} == {
        10: (3, 1), 5: (2, 2), 20: (2, 3), 21: (2, 4), 22: (2, 5)}
    assert not any(c == 9 for c, _ in src)
    # Pair features: 23 (cut by top-k) still counts; 41 for customer 9 (a single buyer) is 0.
    keys = spark.createDataFrame([(8, 23), (8, 10), (9, 41), (8, 30), (12345, 10)],
                                 "customer_key int, article_id int")
    feats = {(r.customer_key, r.article_id): (r.pair_count_max, r.pair_count_sum)
             for r in pair_features(keys, tx, CUTOFF, cfg).collect()}
    assert feats == {(8, 23): (2, 2), (8, 10): (3, 3)}   # the others: no row, i.e. 0


def test_pair_basket_cap_keeps_most_recent(spark):
    """With a cap of 2, a customer's third-most-recent item no longer pairs."""
    rows = [("2020-09-22", c, 1) for c in (1, 2)] + [("2020-09-21", c, 2) for c in (1, 2)] \
        + [("2020-09-20", c, 3) for c in (1, 2)]
    tx = transactions_df(spark, rows)
    capped = {(r.article_a, r.article_b) for r in
              pair_counts(tx, CUTOFF, RecallSettings(pair_basket_cap=2)).collect()}
    full = {(r.article_a, r.article_b) for r in
            pair_counts(tx, CUTOFF, RecallSettings(pair_basket_cap=0)).collect()}
    assert capped == {(1, 2), (2, 1)}
    assert full == {(1, 2), (2, 1), (1, 3), (3, 1), (2, 3), (3, 2)}


def test_dedupe_priority_and_cap(spark):
    """Round robin by source order; a candidate of several sources takes its best slot."""
    cfg = RecallSettings(max_candidates_per_customer=4)
    rows = [(1, 50, "popular", 9.0, None, 1), (1, 51, "popular", 8.0, None, 2),
            (1, 60, "repurchase", 2.0, 3.0, 1), (1, 61, "repurchase", 1.0, 5.0, 2),
            (1, 51, "pair", 4.0, 6.0, 1), (1, 70, "last_year", 3.0, None, 1),
            (2, 50, "popular", 9.0, None, 1)]
    cs = spark.createDataFrame(rows, "customer_key int, article_id int, source string, "
                                     "score double, score2 double, rank int")
    got = {(r.customer_key, r.article_id): (r.priority, list(r.sources), r.pair_score_sum,
                                            r.repurchase_days_since, r.popular_rank)
           for r in dedupe_candidates(cs, cfg).collect()}
    # Slots (5 sources): repurchase r1 -> 0, pair r1 -> 1, popular r1 -> 3, last_year r1 -> 4,
    # repurchase r2 -> 5, popular r2 -> 8 (51 already has slot 1).  Cap 4 drops 61.
    assert got == {(1, 60): (1, ["repurchase"], None, 3, None),
                   (1, 51): (2, ["pair", "popular"], 6, None, 2),
                   (1, 50): (3, ["popular"], None, None, 1),
                   (1, 70): (4, ["last_year"], None, None, None),
                   (2, 50): (1, ["popular"], None, None, 1)}


# ----------------------------------------------------------------------------------------------
# Recall report


def test_recall_report_by_hand(spark):
    """Customer 1: candidates 10 (p1), 11 (p2), 12 (p3); customer 2: 10 (p1); customer 3: 13 (p1).
    Target week: customer 1 buys 11 twice and 14, customer 2 buys 20, customer 4 buys 10.
    Target = {(1,11), (1,14), (2,20), (4,10)}: 4 pairs, buyers 1, 2, 4."""
    cs = spark.createDataFrame(
        [(1, 10, "popular", 5.0, None, 1), (2, 10, "popular", 5.0, None, 1),
         (3, 10, "popular", 5.0, None, 1), (1, 11, "repurchase", 1.0, 0.0, 1),
         (1, 12, "pair", 2.0, 2.0, 1), (3, 13, "pair", 2.0, 2.0, 1)],
        "customer_key int, article_id int, source string, score double, score2 double, rank int")
    cands = spark.createDataFrame([(1, 10, 1), (1, 11, 2), (1, 12, 3), (2, 10, 1), (3, 13, 1)],
                                  "customer_key int, article_id int, priority int")
    tx = transactions_df(spark, [("2020-09-23", 1, 11), ("2020-09-24", 1, 11),
                                 ("2020-09-29", 1, 14), ("2020-09-25", 2, 20),
                                 ("2020-09-26", 4, 10), ("2020-09-30", 1, 10),   # after the week
                                 ("2020-09-22", 1, 12)])                        # before it
    rows = {r.level: r for r in recall_report(cs, cands, tx, CUTOFF, (1, 2)).collect()}
    def check(level, customers, n, hits, with_hit):
        r = rows[level]
        assert (r.customers, r.candidates, r.hits, r.buyers_with_hit) == \
            (customers, n, hits, with_hit), level
        assert (r.target_pairs, r.buyers) == (4, 3)
        assert r.recall == pytest.approx(hits / 4)
        assert r.precision == (pytest.approx(hits / n) if n else None)
        assert r.buyers_hit_share == pytest.approx(with_hit / 3)
        assert r.candidates_per_customer == (pytest.approx(n / customers) if customers else None)
    check("popular", 3, 3, 0, 0)
    check("repurchase", 1, 1, 1, 1)
    check("pair", 2, 2, 0, 0)
    check("last_year", 0, 0, 0, 0)
    check("all_sources", 3, 6, 1, 1)
    check("union", 3, 5, 1, 1)
    check("union@1", 3, 3, 0, 0)
    check("union@2", 3, 4, 1, 1)
    text = format_report(sorted(rows.values(), key=lambda r: r.level_order))
    assert "union@2" in text and "0.2500" in text


def test_evaluate_matches_pandas(spark, built, data, reference):
    wh, _, tables = built
    rows, _ = data
    report = {r["level"]: r for r in evaluate(spark, wh, CUTOFF, CFG)}
    target = {(c, a) for t, c, a in rows if CUTOFF < t <= CUTOFF + dt.timedelta(days=7)}
    buyers = {c for c, _ in target}
    cands = reference[1]
    for k in (12, 50, 100):
        kept = {key for key, (_, _, prio) in cands.items() if prio <= k}
        hits = kept & target
        r = report[f"union@{k}"]
        assert r["candidates"] == len(kept)
        assert r["hits"] == len(hits)
        assert r["recall"] == pytest.approx(len(hits) / len(target))
        assert r["buyers_with_hit"] == len({c for c, _ in hits})
        assert r["buyers"] == len(buyers)
    everything = set(cands)
    assert report["union"]["candidates"] == len(everything)
    assert report["union"]["hits"] == len(everything & target)
    assert report["union"]["customers"] == len({c for c, _ in everything})
    for s in SOURCE_NAMES:
        keys = set(reference[0][s])
        assert report[s]["hits"] == len(keys & target), s
        assert report[s]["customers"] == len({c for c, _ in keys}), s
    written = partition(spark, wh, "recall_report", CUTOFF)
    assert len(written) == len(report) == 5 + 1 + 1 + len(CFG.report_cuts)


# ----------------------------------------------------------------------------------------------
# Leakage and partitions: on a copy of the module's warehouse, build an earlier cutoff, then
# replace the transactions after the cutoff (more rows, changed rows) and re-run the cutoff.


@pytest.fixture(scope="module")
def rerun(spark, built, data, tmp_path_factory):
    wh, _, _ = built
    rows, past = data
    wh2 = str(tmp_path_factory.mktemp("rerun") / "warehouse")
    shutil.copytree(wh, wh2)
    build_candidates(spark, wh2, EARLIER, CFG)
    earlier = {name: partition(spark, wh2, name, EARLIER) for name in RERUN_TABLES}
    versions = {name: table_version(spark, wh2, name) for name in RERUN_TABLES}

    rng = random.Random(11)
    future = [(t, c, a) for t, c, a in rows if t > CUTOFF]
    changed = [(t, c, ARTICLES[(a + 3) % len(ARTICLES)] if i % 2 else a)
               for i, (t, c, a) in enumerate(future)]
    more = [(CUTOFF + dt.timedelta(days=rng.randint(1, 5)), rng.randrange(26), rng.choice(ARTICLES))
            for _ in range(150)]
    # Every recent buyer also buys the same three articles right after the cutoff: strong pairs
    # and bestsellers if anything leaked.
    more += [(CUTOFF + dt.timedelta(days=1), c, a) for c in range(26) for a in (120, 121, 122)]
    tx = transactions_df(spark, [(t.isoformat(), c, a) for t, c, a in past + changed + more])
    write_table(tx.coalesce(1), wh2, "transactions")
    counts = build_candidates(spark, wh2, CUTOFF, CFG)
    return wh2, counts, earlier, versions


RERUN_TABLES = ("candidate_sources", "candidates", "candidate_pair_features")


def test_no_leakage_from_after_the_cutoff(spark, built, rerun):
    """Other transactions after the cutoff (more, and changed) change nothing of that cutoff:
    the three tables are equal, row for row, to those built before the change."""
    _, _, tables = built
    wh2 = rerun[0]
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(partition(spark, wh2, name, CUTOFF), frame, obj=name)


def test_rerun_replaces_only_its_cutoff(spark, built, rerun):
    wh2, counts, earlier, versions = rerun
    _, _, tables = built
    for name in RERUN_TABLES:
        # The re-run committed a new version of the table (it did rewrite the partition) ...
        assert table_version(spark, wh2, name) > versions[name], name
        # ... without duplicating the cutoff's rows and without touching the other cutoff.
        again = partition(spark, wh2, name, CUTOFF)
        assert len(again) == len(tables[name]), name
        keys = [c for c in ("customer_key", "article_id", "source") if c in again.columns]
        assert not again.duplicated(keys).any(), name
        pd.testing.assert_frame_equal(partition(spark, wh2, name, EARLIER), earlier[name], obj=name)
    # The earlier cutoff has sources and candidates (its pair-feature partition may be empty: no
    # pair of the week before it links to a candidate).
    assert len(earlier["candidate_sources"]) > 0 and len(earlier["candidates"]) > 0
    assert counts["candidates"] == len(tables["candidates"])
    cutoffs = {r[0] for r in
               read_table(spark, wh2, "candidates").select("cutoff").distinct().collect()}
    assert cutoffs == {CUTOFF, EARLIER}
