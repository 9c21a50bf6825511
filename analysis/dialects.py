"""Where DuckDB, Spark SQL and Athena (Trino) differ, as small macros the report SQL calls.

Everything else in the reports is SQL the three engines share: window functions, CASE,
GROUPING SETS, `%`, `||`, regexp_extract with a group (patterns avoid backslashes, which Spark's
string literals would eat). Times are handled as epoch milliseconds (BIGINT) so that no engine's
timestamp type or session time zone gets a say in the answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def sql_literal(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"report parameter {value!r} must be a string or a number")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _sequence(start: str, stop: str, step: str) -> str:
    """Spark's and Trino's sequence(): an inclusive BIGINT array."""
    return f"sequence(CAST({start} AS BIGINT), CAST({stop} AS BIGINT), CAST({step} AS BIGINT))"


@dataclass
class Dialect:
    """One engine's spelling; `param` renders a report option (a literal, or a placeholder)."""

    name: str
    placeholders: list[str] = field(default_factory=list)

    def param(self, name: str, value: object) -> str:
        return sql_literal(value)

    def epoch_ms(self, iso: str) -> str:
        raise NotImplementedError

    def day_epoch(self, date: str) -> str:
        """A 'YYYY-MM-DD' expression as epoch seconds of its UTC midnight."""
        raise NotImplementedError

    def series(self, start: str, stop: str, step: str, column: str) -> str:
        """A derived table of one BIGINT column: start, start+step, ... <= stop."""
        raise NotImplementedError

    def iso_seconds(self, epoch_s: str) -> str:
        """Epoch seconds as 'YYYY-MM-DDTHH:MM:SSZ'."""
        raise NotImplementedError

    def extract(self, text: str, pattern: str) -> str:
        """Group 1 of pattern in text, '' when it does not match (Athena would say NULL)."""
        return f"COALESCE(regexp_extract({text}, {sql_literal(pattern)}, 1), '')"

    def any_value(self, value: str) -> str:
        """Any one value of the group (where all are the same)."""
        return f"any_value({value})"

    def median(self, value: str) -> str | None:
        """The exact median of the group (the mean of the middle two for an even count), as a
        DOUBLE; None where the engine has only an approximate one (reports then count it)."""
        return None


class DuckDB(Dialect):
    def __init__(self):
        super().__init__("duckdb")

    def epoch_ms(self, iso):
        return f"epoch_ms(CAST({iso} AS TIMESTAMPTZ))"

    def day_epoch(self, date):
        return f"CAST(epoch(CAST({date} AS DATE)) AS BIGINT)"

    def series(self, start, stop, step, column):
        return f"(SELECT CAST(UNNEST(generate_series({start}, {stop}, {step})) AS BIGINT) AS {column})"

    def iso_seconds(self, epoch_s):
        return f"strftime(epoch_ms(CAST({epoch_s} AS BIGINT) * 1000), '%Y-%m-%dT%H:%M:%SZ')"

    def median(self, value):
        return f"median({value})"


class Spark(Dialect):
    """Spark SQL; the session must run with spark.sql.session.timeZone=UTC (spark_job sets it)."""

    def __init__(self, name: str = "spark"):
        super().__init__(name)

    def epoch_ms(self, iso):
        return f"unix_millis(CAST({iso} AS TIMESTAMP))"

    def day_epoch(self, date):
        return f"CAST(unix_timestamp(CAST({date} AS DATE)) AS BIGINT)"

    def series(self, start, stop, step, column):
        return f"(SELECT explode({_sequence(start, stop, step)}) AS {column})"

    def iso_seconds(self, epoch_s):
        return f"from_unixtime({epoch_s}, \"yyyy-MM-dd'T'HH:mm:ss'Z'\")"

    def median(self, value):
        return f"percentile({value}, 0.5)"


class Athena(Dialect):
    """Athena engine v3 (Trino). Report options become `?` execution parameters, in order."""

    def __init__(self):
        super().__init__("athena")

    def param(self, name, value):
        self.placeholders.append(name)
        return "?"

    def epoch_ms(self, iso):
        return f"CAST(to_unixtime(from_iso8601_timestamp({iso})) * 1000 AS BIGINT)"

    def day_epoch(self, date):
        return f"CAST(to_unixtime(CAST(CAST({date} AS DATE) AS TIMESTAMP)) AS BIGINT)"

    def series(self, start, stop, step, column):
        return f"(SELECT {column} FROM UNNEST({_sequence(start, stop, step)}) AS t({column}))"

    def iso_seconds(self, epoch_s):
        return f"format_datetime(from_unixtime({epoch_s}, 'UTC'), 'yyyy-MM-dd''T''HH:mm:ss''Z''')"

    def any_value(self, value):
        return f"arbitrary({value})"


class Zeppelin(Spark):
    """Spark SQL in a Zeppelin paragraph: options become dynamic-form fields with defaults."""

    def __init__(self):
        super().__init__("zeppelin")

    def param(self, name, value):
        self.placeholders.append(name)
        form = "${" + f"{name}={value}" + "}"
        return f"'{form}'" if isinstance(value, str) else form


DIALECTS = {"duckdb": DuckDB, "spark": Spark, "athena": Athena, "zeppelin": Zeppelin}


def dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]()
    except KeyError:
        raise ValueError(f"SQL dialect {name!r} must be one of {', '.join(DIALECTS)}") from None
