"""Reports on the LogDig lake: one SQL definition per report, run by DuckDB, Spark or Athena.

Kept import-light on purpose: setup_aws imports analysis.lake_schema, which must not pull in
duckdb or pyspark.
"""
