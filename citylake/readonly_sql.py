"""Read-only SQL for the analysts' query path: one SELECT over the lake's named tables, or nothing.

:func:`check` parses the text with a real SQL parser (sqlglot) and refuses, before anything runs,
whatever is not a single ``SELECT`` (or ``WITH ... SELECT``, or a set operation of them): DDL,
DML, ``COPY``, ``SELECT ... INTO``, external tables, commands, table functions, path-addressed
tables (``delta.`/a/path` ``, ``parquet.`...` ``, ``text.`...` ``), functions that reach into the
JVM (``reflect``, ``java_method``) or read files (``read_*``), and any table not named as
``<layer>.<table>`` (or a CTE of the query). The engine then runs the SQL generated from the
checked tree, not the text as typed, so parser and engine cannot disagree about what was checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

LAYERS = ("raw", "standard", "base", "theme", "ops")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# engine -> the sqlglot dialect the query is read and written in
DIALECTS = {"spark": "spark", "datafusion": "postgres"}
WRITING = (exp.Create, exp.Drop, exp.Alter, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy,
           exp.Command, exp.Into, exp.Set, exp.Use, exp.Cache, exp.Uncache, exp.Refresh, exp.LoadData,
           exp.Pragma, exp.Describe, exp.Transaction, exp.Commit, exp.Rollback, exp.TruncateTable)
FORBIDDEN_FUNCTIONS = ("reflect", "java_method", "try_reflect")


class Refused(ValueError):
    """The SQL is not a read-only query citylake runs; the message says why (no values of it)."""


@dataclass(frozen=True)
class Checked:
    """A query that passed: the tables it reads (layer, name) and the SQL to run, in which each
    ``<layer>.<table>`` is renamed ``<layer>__<table>`` (the name the engine registers it under)."""

    tables: list[tuple[str, str]]
    sql: str


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else ""


def check(sql: str, engine: str = "datafusion") -> Checked:
    """The checked query, or Refused naming the rule it breaks."""
    dialect = DIALECTS[engine]
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError:
        raise Refused("the query does not parse as SQL") from None
    if len(statements) != 1:
        raise Refused(f"one statement at a time ({len(statements)} given)")
    (root,) = statements
    if not isinstance(root, exp.Query):
        raise Refused(f"only SELECT queries run ({root.key.upper()} refused)")
    ctes = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    tables: list[tuple[str, str]] = []
    for node in root.walk():
        if isinstance(node, WRITING):
            raise Refused(f"only SELECT queries run ({node.key.upper()} refused)")
        if isinstance(node, exp.Func) and (_function_name(node) in FORBIDDEN_FUNCTIONS
                                           or _function_name(node).startswith("read_")):
            raise Refused(f"function {_function_name(node)} is not allowed")
        if isinstance(node, exp.Table):
            tables.append(_table(node, ctes))
    named = [t for t in dict.fromkeys(tables) if t[0]]
    if not named:
        raise Refused("name the tables as <layer>.<table>, e.g. theme.person_profile")
    for table in root.find_all(exp.Table):
        if table.args.get("db") is not None:
            layer, name = table.db.lower(), table.name
            table.set("db", None)
            table.set("this", exp.to_identifier(f"{layer}__{name}"))
    return Checked(named, root.sql(dialect=dialect))


def _table(node: exp.Table, ctes: set[str]) -> tuple[str, str]:
    if not isinstance(node.this, exp.Identifier):
        raise Refused("table functions are not allowed; name the tables as <layer>.<table>")
    if node.args.get("catalog") is not None:
        raise Refused("a table is named as <layer>.<table>, nothing more")
    db = node.args.get("db")
    if db is None:
        if node.name.lower() in ctes:
            return ("", node.name)
        raise Refused("name the tables as <layer>.<table>, e.g. theme.person_profile")
    layer, name = node.db.lower(), node.name
    if layer not in LAYERS or db.quoted:
        raise Refused("path-addressed and other tables are not allowed: name a table as <layer>.<table> "
                      f"with the layer one of {', '.join(LAYERS)}")
    if node.this.quoted or not NAME.match(name):
        raise Refused("a table name is letters, digits and underscores (no paths)")
    return (layer, name)
