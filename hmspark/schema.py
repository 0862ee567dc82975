"""Schemas in one place: the Kaggle CSV files as they come in, and the Delta tables ingest writes.

Input files (the competition's layout):

- ``articles.csv``: one row per article; ``article_id`` written with its leading zero (10 digits).
- ``customers.csv``: one row per customer; ``customer_id`` a 64-character hex string.
- ``transactions_train.csv``: one row per unit bought (duplicate rows are several units);
  ``article_id`` written without the leading zero.

Delta tables (grain and meaning in ``TABLES``).
"""

from __future__ import annotations

from pyspark.sql import types as T

ARTICLES_FILE = "articles.csv"
CUSTOMERS_FILE = "customers.csv"
TRANSACTIONS_FILE = "transactions_train.csv"

# Column name -> Spark type of the typed table, in the file's order.  Every input column is read
# as text first and converted with try_* functions, so that a bad value quarantines its row.
ARTICLE_COLUMNS: dict[str, T.DataType] = {
    "article_id": T.IntegerType(),
    "product_code": T.IntegerType(),
    "prod_name": T.StringType(),
    "product_type_no": T.IntegerType(),
    "product_type_name": T.StringType(),
    "product_group_name": T.StringType(),
    "graphical_appearance_no": T.IntegerType(),
    "graphical_appearance_name": T.StringType(),
    "colour_group_code": T.IntegerType(),
    "colour_group_name": T.StringType(),
    "perceived_colour_value_id": T.IntegerType(),
    "perceived_colour_value_name": T.StringType(),
    "perceived_colour_master_id": T.IntegerType(),
    "perceived_colour_master_name": T.StringType(),
    "department_no": T.IntegerType(),
    "department_name": T.StringType(),
    "index_code": T.StringType(),
    "index_name": T.StringType(),
    "index_group_no": T.IntegerType(),
    "index_group_name": T.StringType(),
    "section_no": T.IntegerType(),
    "section_name": T.StringType(),
    "garment_group_no": T.IntegerType(),
    "garment_group_name": T.StringType(),
    "detail_desc": T.StringType(),
}

CUSTOMER_COLUMNS: dict[str, T.DataType] = {
    "customer_id": T.StringType(),
    "FN": T.DoubleType(),
    "Active": T.DoubleType(),
    "club_member_status": T.StringType(),
    "fashion_news_frequency": T.StringType(),
    "age": T.DoubleType(),
    "postal_code": T.StringType(),
}

TRANSACTION_COLUMNS: dict[str, T.DataType] = {
    "t_dat": T.DateType(),
    "customer_id": T.StringType(),
    "article_id": T.IntegerType(),
    "price": T.DoubleType(),
    "sales_channel_id": T.ShortType(),
}

FILE_COLUMNS = {
    ARTICLES_FILE: ARTICLE_COLUMNS,
    CUSTOMERS_FILE: CUSTOMER_COLUMNS,
    TRANSACTIONS_FILE: TRANSACTION_COLUMNS,
}

# Columns that may be empty in a valid row (everything else is required).
OPTIONAL_COLUMNS = {
    ARTICLES_FILE: {"detail_desc", "prod_name"},
    CUSTOMERS_FILE: {"FN", "Active", "club_member_status", "fashion_news_frequency", "age",
                     "postal_code"},
    TRANSACTIONS_FILE: set(),
}

ARTICLES_SCHEMA = T.StructType([T.StructField(n, t) for n, t in ARTICLE_COLUMNS.items()])

CUSTOMERS_SCHEMA = T.StructType([
    T.StructField("customer_id", T.StringType(), False),
    T.StructField("customer_key", T.IntegerType(), False),
    T.StructField("fn", T.ByteType()),
    T.StructField("active", T.ByteType()),
    T.StructField("club_member_status", T.StringType()),
    T.StructField("fashion_news_frequency", T.StringType()),
    T.StructField("age", T.IntegerType()),
    T.StructField("postal_code", T.StringType()),
    T.StructField("in_customers_file", T.BooleanType(), False),
])

TRANSACTIONS_SCHEMA = T.StructType([
    T.StructField("t_dat", T.DateType(), False),
    T.StructField("customer_key", T.IntegerType(), False),
    T.StructField("article_id", T.IntegerType(), False),
    T.StructField("price", T.DoubleType(), False),
    T.StructField("sales_channel_id", T.ShortType(), False),
    T.StructField("week", T.IntegerType(), False),
])

QUARANTINE_SCHEMA = T.StructType([
    T.StructField("source_file", T.StringType(), False),
    T.StructField("raw_line", T.StringType(), False),
    T.StructField("reason", T.StringType(), False),
])

TABLES = {
    "articles": "one row per article of articles.csv (article_id an integer, leading zero dropped)",
    "customers": "one row per customer: those of customers.csv (in_customers_file = true) and those "
                 "seen only in transactions (false, attributes null); customer_key is an "
                 "integer key: 0..n-1 in customer_id order at the first ingest into a warehouse; "
                 "a re-ingest keeps the existing keys and numbers new ids after the largest",
    "transactions": "one row per unit bought (duplicates kept); week = 0 for the 7 days ending on "
                    "the last date, 1 for the 7 before, ...",
    "quarantine": "one row per input line that was not loaded: source file, raw line, reason",
}
