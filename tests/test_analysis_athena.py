"""The committed Athena SQL, checked without AWS: sqlglot parses each file as Athena (Trino) SQL,
and, transpiled to DuckDB with its `?` parameters filled in the order the header gives, each
report returns the rows DuckDB's own rendering returns on the same seeded lake."""

import re

import pytest

from analysis import duck, generated, lake_files, reports
from tests.lakegen import generate, write_events

sqlglot = pytest.importorskip("sqlglot")
from sqlglot import exp  # noqa: E402

FIRST, LAST = "2026-11-20", "2026-11-22"
VALUES = {"from": FIRST, "to": LAST, "bucket_seconds": 3600, "columns": 20, "row_px": 100,
          "page": "https://shop.example.com/cart", "step1": "/products", "step2": "/cart",
          "step3": "conversion"}
VALUES["end_ms"] = reports.options("active_sessions", VALUES)["end_ms"]
OPTIONS = {"bucket": "hour", "page": VALUES["page"], "steps": "/products,/cart,conversion"}


def options(name: str) -> dict:
    """OPTIONS as the generated files take them: `page` only where the report needs it."""
    takes_page = "page" in reports.REPORTS[name].options
    return {k: v for k, v in OPTIONS.items() if k != "page" or takes_page}


def parameters(text: str) -> list[str]:
    return re.search(r"^-- Execution parameters, in order: (.*)$", text, re.M).group(1).split(", ")


def filled(text: str):
    """The parsed file with each `?` replaced by the literal of the parameter named for it."""
    names = iter(parameters(text))

    def fill(node):
        if not isinstance(node, exp.Placeholder):
            return node
        value = VALUES[next(names)]
        return exp.Literal.number(value) if isinstance(value, int) else exp.Literal.string(value)

    return sqlglot.parse_one(text, read="athena").transform(fill)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("athena")
    generate(root, events=2500, seed=3, start=FIRST, days=3)
    # A visitor still on the site at the range end, so active_sessions has a row to agree on.
    write_events(root, [{"v": 1, "event_id": f"late-{n}", "event_type": "page_view",
                         "user_key": "L" * 20, "current_page": "https://shop.example.com/cart",
                         "received_at": f"{LAST}T23:5{n}:00.000Z"} for n in (1, 7)])
    return lake_files.open_lake(root.as_uri(), "events/")


@pytest.fixture(scope="module")
def con(lake, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("athena-work")
    con = duck.connect()
    days = lake_files.plan(lake, FIRST, LAST, workdir)
    duck.create_view(con, *lake_files.local_files(lake, days, workdir))
    # The Athena files query the Glue table `events`.
    con.execute("CREATE TEMP VIEW events AS SELECT * FROM lake_events")
    # sqlglot keeps Trino's format_datetime; the files use it with this one Joda pattern only.
    con.execute("CREATE MACRO format_datetime(ts, pattern) AS strftime(ts, '%Y-%m-%dT%H:%M:%SZ')")
    return con


@pytest.mark.parametrize("name", reports.REPORTS)
def test_athena_file_parses_with_one_placeholder_per_listed_parameter(name):
    text = (generated.ATHENA_DIR / f"{name}.sql").read_text()
    tree = sqlglot.parse_one(text, read="athena")
    assert len(list(tree.find_all(exp.Placeholder))) == len(parameters(text))
    assert set(parameters(text)) <= set(VALUES)


@pytest.mark.parametrize("name", reports.REPORTS)
def test_athena_file_gives_duckdbs_answers(name, lake, con):
    text = (generated.ATHENA_DIR / f"{name}.sql").read_text()
    want = duck.run(name, reports.options(name, {"from": FIRST, "to": LAST, **options(name)}), lake)[1]

    got = con.execute(filled(text).sql(dialect="duckdb")).fetchall()

    assert want and got == want


def test_create_table_ddl_parses_as_athena():
    text = (generated.ATHENA_DIR / "create_table.sql").read_text()
    tree = sqlglot.parse_one(text, read="athena")
    assert isinstance(tree, exp.Create)
    assert tree.this.this.name == "events"
