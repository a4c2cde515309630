"""The read-only query guard: PostgreSQL's own parser (pglast) decides what a query is.

Accepted: exactly one plain SELECT (or VALUES) with no INTO, no locking clause, no
data-modifying CTE, reading only the read-model tables, calling only pure functions of an
allowlist. Everything else is refused before the database sees it; the database role and the
READ ONLY transaction are the second line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.parser import ParseError

from labs_core.errors import InvalidArgument, PermissionDenied
from services.tools.domain.errors import ToolsError

FIELD = "arguments.sql"

#: Pure functions a query may call (aggregates, window, maths, text, dates, JSON, search).
ALLOWED_FUNCTIONS = frozenset(
    [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "stddev",
        "stddev_pop",
        "stddev_samp",
        "variance",
        "var_pop",
        "var_samp",
        "bool_and",
        "bool_or",
        "every",
        "array_agg",
        "string_agg",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "percentile_cont",
        "percentile_disc",
        "mode",
        "regr_slope",
        "regr_intercept",
        "regr_r2",
        "regr_count",
        "corr",
        "covar_pop",
        "covar_samp",
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
        "abs",
        "round",
        "ceil",
        "ceiling",
        "floor",
        "trunc",
        "sqrt",
        "cbrt",
        "power",
        "pow",
        "exp",
        "ln",
        "log",
        "log10",
        "mod",
        "sign",
        "div",
        "width_bucket",
        "greatest",
        "least",
        "pi",
        "degrees",
        "radians",
        "lower",
        "upper",
        "initcap",
        "length",
        "char_length",
        "character_length",
        "octet_length",
        "bit_length",
        "substring",
        "substr",
        "trim",
        "btrim",
        "ltrim",
        "rtrim",
        "replace",
        "concat",
        "concat_ws",
        "left",
        "right",
        "position",
        "strpos",
        "split_part",
        "lpad",
        "rpad",
        "repeat",
        "reverse",
        "starts_with",
        "translate",
        "format",
        "md5",
        "to_hex",
        "regexp_replace",
        "regexp_match",
        "regexp_matches",
        "regexp_split_to_array",
        "regexp_like",
        "quote_ident",
        "quote_literal",
        "date_trunc",
        "date_part",
        "extract",
        "date_bin",
        "age",
        "now",
        "to_char",
        "to_date",
        "to_timestamp",
        "to_number",
        "make_date",
        "make_time",
        "make_timestamp",
        "make_timestamptz",
        "make_interval",
        "justify_days",
        "justify_hours",
        "justify_interval",
        "isfinite",
        "timezone",
        "json_build_object",
        "jsonb_build_object",
        "json_build_array",
        "jsonb_build_array",
        "to_json",
        "to_jsonb",
        "row_to_json",
        "json_extract_path",
        "json_extract_path_text",
        "jsonb_extract_path",
        "jsonb_extract_path_text",
        "jsonb_array_length",
        "json_array_length",
        "jsonb_object_keys",
        "json_object_keys",
        "jsonb_each",
        "jsonb_each_text",
        "json_each",
        "json_each_text",
        "jsonb_array_elements",
        "jsonb_array_elements_text",
        "json_array_elements",
        "json_array_elements_text",
        "jsonb_typeof",
        "json_typeof",
        "jsonb_strip_nulls",
        "jsonb_pretty",
        "array_length",
        "array_lower",
        "array_upper",
        "cardinality",
        "array_position",
        "array_positions",
        "array_to_string",
        "string_to_array",
        "array_remove",
        "array_append",
        "array_prepend",
        "array_cat",
        "unnest",
        "generate_series",
        "to_tsvector",
        "to_tsquery",
        "plainto_tsquery",
        "phraseto_tsquery",
        "websearch_to_tsquery",
        "ts_rank",
        "ts_rank_cd",
        "coalesce",
        "nullif",
    ]
)

#: Functions refused by name even if someone adds them to the allowlist by mistake.
FORBIDDEN_FUNCTIONS = frozenset(
    [
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "set_config",
        "current_setting",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "nextval",
        "setval",
        "currval",
        "lastval",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_try_advisory_lock",
        "txid_current",
        "pg_notify",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "lo_import",
        "lo_export",
        "lo_create",
        "lo_unlink",
        "lo_open",
        "lo_put",
        "query_to_xml",
        "pg_logical_emit_message",
    ]
)

#: Schemas and tables a query may not read (catalogs, and the service's own bookkeeping).
HIDDEN_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})
HIDDEN_TABLES = frozenset({"schema_migrations", "projection_checkpoints"})

#: Statement nodes that write, lock or change anything, wherever they appear in the tree.
_WRITES = (
    ast.InsertStmt,
    ast.UpdateStmt,
    ast.DeleteStmt,
    ast.MergeStmt,
    ast.IntoClause,
    ast.LockingClause,
    ast.CopyStmt,
)


class QueryRefused(ToolsError, InvalidArgument):
    """The SQL is not one read-only SELECT (INVALID_ARGUMENT naming arguments.sql)."""

    def __init__(self, reason: str) -> None:
        InvalidArgument.__init__(self, FIELD, reason)


class QueryForbidden(ToolsError, PermissionDenied):
    """The SELECT reaches for a function or relation it may not use (PERMISSION_DENIED)."""


@dataclass(frozen=True, slots=True)
class CheckedQuery:
    """A query that passed the guard: its text and the relations it reads."""

    sql: str
    relations: tuple[str, ...]


def _walk(node: object) -> Iterator[ast.Node]:
    if isinstance(node, ast.Node):
        yield node
        for name in getattr(node, "__slots__", ()):
            yield from _walk(getattr(node, name, None))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _walk(item)


def _names(parts: tuple[ast.Node, ...] | None) -> list[str]:
    return [p.sval or "" for p in parts or () if isinstance(p, ast.String)]


def check_query(sql: str, *, schema: str) -> CheckedQuery:
    """Parse and vet one query; raise QueryRefused or QueryForbidden naming the reason."""
    if not sql.strip():
        raise QueryRefused("is empty")
    try:
        stmts = parse_sql(sql)
    except ParseError as e:
        raise QueryRefused(f"is not valid SQL: {e}") from e
    if len(stmts) != 1:
        raise QueryRefused(f"must be exactly one statement, found {len(stmts)}")
    stmt = stmts[0].stmt
    if not isinstance(stmt, ast.SelectStmt):
        raise QueryRefused(f"must be a SELECT, not {type(stmt).__name__.removesuffix('Stmt').upper()}")
    relations: list[str] = []
    ctes: set[str] = set()
    for node in _walk(stmt):
        if isinstance(node, _WRITES):
            what = {
                ast.IntoClause: "SELECT INTO",
                ast.LockingClause: "a locking clause (FOR UPDATE/SHARE)",
                ast.CopyStmt: "COPY",
            }.get(type(node), "a data-modifying statement")
            raise QueryRefused(f"must be read-only: it contains {what}")
        if isinstance(node, ast.CommonTableExpr) and node.ctename:
            ctes.add(node.ctename)
        elif isinstance(node, ast.ParamRef):
            raise QueryRefused("must not use parameters ($n)")
        elif isinstance(node, ast.FuncCall):
            parts = _names(node.funcname)
            name = parts[-1].lower() if parts else ""
            qualifier = parts[0].lower() if len(parts) > 1 else "pg_catalog"
            if name in FORBIDDEN_FUNCTIONS or name.startswith(("dblink", "lo_", "pg_")):
                raise QueryForbidden(f"function {'.'.join(parts)} is not allowed (it has side effects)")
            if qualifier != "pg_catalog" or name not in ALLOWED_FUNCTIONS:
                raise QueryForbidden(f"function {'.'.join(parts)} is not in the allowlist of pure functions")
        elif isinstance(node, ast.RangeVar):
            rel_schema = (node.schemaname or "").lower()
            rel = (node.relname or "").lower()
            if node.catalogname:
                raise QueryForbidden(
                    f"relation {node.catalogname}.{rel_schema}.{rel}: other databases are hidden"
                )
            if rel_schema and rel_schema != schema:
                raise QueryForbidden(f"relation {rel_schema}.{rel} is outside the read models")
            if rel.startswith("pg_") or rel in HIDDEN_TABLES or rel in {"information_schema"}:
                raise QueryForbidden(f"relation {rel} is hidden")
            relations.append(rel)
    for node in _walk(stmt):
        if isinstance(node, ast.RangeVar) and (node.relname or "").lower() in HIDDEN_SCHEMAS:
            raise QueryForbidden(f"relation {node.relname} is hidden")
    return CheckedQuery(sql=sql, relations=tuple(sorted({r for r in relations if r not in ctes})))
