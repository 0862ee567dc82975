"""Bad input: clear errors for missing files and columns; bad rows quarantined with their reason,
and the counts adding up.  Every file is written by hand here, so each expectation is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmspark.ingest import IngestError, ingest
from hmspark.tables import read_table

ARTICLE_HEADER = ("article_id,product_code,prod_name,product_type_no,product_type_name,"
                  "product_group_name,graphical_appearance_no,graphical_appearance_name,"
                  "colour_group_code,colour_group_name,perceived_colour_value_id,"
                  "perceived_colour_value_name,perceived_colour_master_id,"
                  "perceived_colour_master_name,department_no,department_name,index_code,"
                  "index_name,index_group_no,index_group_name,section_no,section_name,"
                  "garment_group_no,garment_group_name,detail_desc")
CUSTOMER_HEADER = "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code"
TX_HEADER = "t_dat,customer_id,article_id,price,sales_channel_id"

C1, C2, C3 = "a" * 64, "b" * 64, "c" * 64


def article_line(article_id: str, product_code: str = "0108775", desc: str = '"Soft, stretchy"'):
    return (f"{article_id},{product_code},Strap top,253,Vest top,Garment Upper body,1010016,Solid,"
            f"9,Black,4,Dark,5,Black,1676,Jersey Basic,A,Ladieswear,1,Ladieswear,16,"
            f"Womens Everyday Basics,1002,Jersey Basic,{desc}")


GOOD_ARTICLES = [article_line("0108775015"), article_line("0108775044"),
                 article_line("0663713001", "0663713")]
GOOD_CUSTOMERS = [f"{C1},1.0,1.0,ACTIVE,Regularly,49.0,p1",
                  f"{C2},,,PRE-CREATE,None,,p2"]
GOOD_TX = [f"2020-09-20,{C1},108775015,0.0508305084745762,2",
           f"2020-09-20,{C1},108775015,0.0508305084745762,2",   # a duplicate row: two units
           f"2020-09-21,{C2},663713001,0.03,1",
           f"2020-09-22,{C3},108775044,0.01,2"]                 # C3 is not in customers.csv


def write_input(folder: Path, articles=None, customers=None, transactions=None,
                headers=None) -> str:
    headers = headers or {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, header, rows in (("articles.csv", ARTICLE_HEADER, articles or GOOD_ARTICLES),
                               ("customers.csv", CUSTOMER_HEADER, customers or GOOD_CUSTOMERS),
                               ("transactions_train.csv", TX_HEADER, transactions or GOOD_TX)):
        if rows == "absent":
            continue
        (folder / name).write_text("\n".join([headers.get(name, header), *rows]) + "\n")
    return str(folder)


def quarantined(spark, warehouse):
    return {(r["source_file"], r["raw_line"]): r["reason"]
            for r in read_table(spark, warehouse, "quarantine").collect()}


def test_good_input_counts(spark, tmp_path, warehouse):
    report = ingest(spark, write_input(tmp_path / "in"), warehouse)
    assert report.files["articles.csv"].written == 3
    assert report.files["customers.csv"].written == 2
    assert report.files["transactions_train.csv"].written == 4   # duplicates kept
    assert report.unknown_customers == 1
    assert read_table(spark, warehouse, "quarantine").count() == 0
    weeks = {(str(r["t_dat"]), r["week"]) for r in
             read_table(spark, warehouse, "transactions").select("t_dat", "week").collect()}
    assert weeks == {("2020-09-20", 0), ("2020-09-21", 0), ("2020-09-22", 0)}


def test_week_index_counts_back_from_last_date(spark, tmp_path, warehouse):
    tx = [f"2020-09-22,{C1},108775015,0.01,2", f"2020-09-16,{C1},108775015,0.01,2",
          f"2020-09-15,{C1},108775015,0.01,2", f"2020-09-08,{C1},108775015,0.01,2",
          f"2019-09-24,{C1},108775015,0.01,2"]
    ingest(spark, write_input(tmp_path / "in", transactions=tx), warehouse)
    got = {str(r["t_dat"]): r["week"] for r in
           read_table(spark, warehouse, "transactions").select("t_dat", "week").collect()}
    # 22-16 = 6 days -> week 0; 7 days -> week 1; 14 days -> week 2; 364 days -> week 52.
    assert got == {"2020-09-22": 0, "2020-09-16": 0, "2020-09-15": 1, "2020-09-08": 2,
                   "2019-09-24": 52}


@pytest.mark.parametrize("missing", ["articles.csv", "customers.csv", "transactions_train.csv"])
def test_missing_file_is_a_clear_error(spark, tmp_path, warehouse, missing):
    kwargs = {"articles": None, "customers": None, "transactions": None}
    kwargs[{"articles.csv": "articles", "customers.csv": "customers",
            "transactions_train.csv": "transactions"}[missing]] = "absent"
    folder = write_input(tmp_path / "in", **kwargs)
    with pytest.raises(IngestError, match=f"input file missing: .*{missing}"):
        ingest(spark, folder, warehouse)


def test_missing_column_is_a_clear_error(spark, tmp_path, warehouse):
    folder = write_input(tmp_path / "in", headers={
        "transactions_train.csv": "t_dat,customer_id,article_id,sales_channel_id"},
        transactions=[f"2020-09-20,{C1},108775015,2"])
    with pytest.raises(IngestError, match=r"transactions_train\.csv: missing column\(s\) price"):
        ingest(spark, folder, warehouse)


def test_empty_file_is_a_clear_error(spark, tmp_path, warehouse):
    folder = write_input(tmp_path / "in")
    Path(folder, "customers.csv").write_text("")
    with pytest.raises(IngestError, match=r"customers\.csv: file is empty"):
        ingest(spark, folder, warehouse)


def test_transactions_without_a_usable_row_are_a_clear_error(spark, tmp_path, warehouse):
    folder = write_input(tmp_path / "in")
    Path(folder, "transactions_train.csv").write_text(TX_HEADER + "\n")
    with pytest.raises(IngestError, match=r"transactions_train\.csv: no usable rows \(0 read, "
                                          r"0 quarantined: only a header\)"):
        ingest(spark, folder, warehouse)
    # Every row refused: the error says so, and the quarantine table keeps them with reasons.
    bad = [f"2020-09-20,{C1},108775015,-0.01,2", f"2020-09-20,{C1},999999999,0.01,2"]
    Path(folder, "transactions_train.csv").write_text("\n".join([TX_HEADER, *bad]) + "\n")
    with pytest.raises(IngestError, match=r"no usable rows \(2 read, 2 quarantined; reasons in "
                                          r"the quarantine table\)"):
        ingest(spark, folder, warehouse)
    assert {line for (_, line) in quarantined(spark, warehouse)} == set(bad)


BAD_TX = {
    f"2020-13-01,{C1},108775015,0.01,2": "t_dat '2020-13-01' is not a date (yyyy-MM-dd)",
    f"20/09/2020,{C1},108775015,0.01,2": "t_dat '20/09/2020' is not a date (yyyy-MM-dd)",
    f"2020-09-20,{C1},10877x015,0.01,2": "article_id '10877x015' is not an integer",
    f"2020-09-20,{C1},108775015,,2": "missing value in column price",
    f"2020-09-20,{C1},108775015,abc,2": "price 'abc' is not a number",
    f"2020-09-20,{C1},108775015,-0.01,2": "price is negative",
    f"2020-09-20,{C1},108775015,0.01,3": "sales_channel_id not one of 1, 2",
    f"2020-09-20,{C1},999999999,0.01,2": "article_id '999999999' is not in articles.csv",
    "2020-09-20,,108775015,0.01,2": "missing value in column customer_id",
    f"2020-09-20,{C1},108775015,0.01": "expected 5 fields, found 4",
    f"2020-09-20,{C1},108775015,0.01,2,9": "expected 5 fields, found 6",
    "": "expected 5 fields, found 1",
}


def test_bad_transaction_rows_are_quarantined_with_reason(spark, tmp_path, warehouse):
    folder = write_input(tmp_path / "in", transactions=GOOD_TX + list(BAD_TX))
    report = ingest(spark, folder, warehouse)
    counts = report.files["transactions_train.csv"]
    assert (counts.read, counts.written, counts.quarantined) == (
        len(GOOD_TX) + len(BAD_TX), len(GOOD_TX), len(BAD_TX))
    q = quarantined(spark, warehouse)
    assert q == {("transactions_train.csv", line): reason for line, reason in BAD_TX.items()}
    # The good rows are all there, the bad ones are not.
    assert read_table(spark, warehouse, "transactions").count() == len(GOOD_TX)


def test_bad_article_and_customer_rows_are_quarantined(spark, tmp_path, warehouse):
    bad_articles = {
        article_line("01087750AB"): "article_id '01087750AB' is not an integer",
        article_line("0108775015"): "duplicate article_id (first occurrence kept)",
        article_line("0000000000", "0000000"): "article_id must be a positive numeric id of at "
                                               "most 10 digits",
    }
    bad_customers = {
        f"{C1},1.0,1.0,ACTIVE,NONE,50.0,p9": "duplicate customer_id (first occurrence kept)",
        f"{'d' * 64},,,ACTIVE,NONE,old,p3": "age 'old' is not a number",
        f"{'e' * 64},,,ACTIVE,NONE,7.0,p4": "age outside 10..110 or not a whole number",
        f"{'f' * 64},2.0,,ACTIVE,NONE,30.0,p5": "FN must be 0, 1 or empty",
    }
    folder = write_input(tmp_path / "in", articles=GOOD_ARTICLES + list(bad_articles),
                         customers=GOOD_CUSTOMERS + list(bad_customers))
    report = ingest(spark, folder, warehouse)
    q = quarantined(spark, warehouse)
    expected = {("articles.csv", k): v for k, v in bad_articles.items()}
    expected |= {("customers.csv", k): v for k, v in bad_customers.items()}
    assert q == expected
    a, c = report.files["articles.csv"], report.files["customers.csv"]
    assert (a.read, a.written, a.quarantined) == (6, 3, 3)
    assert (c.read, c.written, c.quarantined) == (6, 2, 4)
    # The first occurrence of the duplicate customer is the one kept (age 49, not 50).
    ages = {r["customer_id"]: r["age"] for r in read_table(spark, warehouse, "customers").collect()}
    assert ages[C1] == 49


def test_reingest_is_idempotent(spark, tmp_path, warehouse):
    folder = write_input(tmp_path / "in", transactions=GOOD_TX + list(BAD_TX)[:3])
    ingest(spark, folder, warehouse)
    first = {n: sorted(map(tuple, read_table(spark, warehouse, n).collect()))
             for n in ("articles", "customers", "transactions", "quarantine")}
    report = ingest(spark, folder, warehouse)
    second = {n: sorted(map(tuple, read_table(spark, warehouse, n).collect()))
              for n in ("articles", "customers", "transactions", "quarantine")}
    assert first == second
    assert report.files["transactions_train.csv"].written == len(GOOD_TX)


def test_repeated_header_lines_are_skipped_and_counted(spark, tmp_path, warehouse):
    folder = write_input(tmp_path / "in", transactions=GOOD_TX[:2] + [TX_HEADER] + GOOD_TX[2:])
    report = ingest(spark, folder, warehouse)
    counts = report.files["transactions_train.csv"]
    assert counts.repeated_headers == 1
    assert counts.read == len(GOOD_TX) and counts.written == len(GOOD_TX)
