"""Reports on the LogDig lake: one SQL definition per report, run by DuckDB, Spark or Athena.

Kept import-light on purpose: duckdb and pyspark are imported only by the modules that run them.
The lake table's schema lives with the event contract, in logdig/lake_schema.py.
"""
