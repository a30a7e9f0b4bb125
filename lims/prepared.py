"""Core statements compiled once per database and run on the driver's own cursor.

The scan-and-advance is the lab's most frequent write, and SQLAlchemy's execution of an
already compiled statement (execution context, result object, rows) costs five times what
the driver itself takes for the small statements a step runs. A `Prepared` statement keeps
SQLAlchemy for what it is good at: the statement is written and compiled by it, once per
dialect, and the parameters and rows go through the very type conversions SQLAlchemy would
apply (UTC times, JSON, booleans); only the per-call machinery is left out. It runs inside
the caller's transaction (the SQLAlchemy connection's, begun before: on SQLite that is the
BEGIN IMMEDIATE of lims.db).

A statement whose text depends on its values (an IN list given at execution on SQLite,
lims.sql_lists.one_of_bound) is run by SQLAlchemy instead, which renders it at each call.

`instance` builds a table model from a complete row without SQLModel's per-attribute
set-up: what the database holds needs no validation (SQLModel validates no table model
anyway), and the instance belongs to no session, as one built with the constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any, TypeVar, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import configure_mappers
from sqlalchemy.sql import ClauseElement, Executable

M = TypeVar("M")
Processor = Callable[[Any], Any]


@dataclass
class _Plan:
    """A statement as one dialect runs it: its text, its parameters and its conversions."""

    sql: str
    names: tuple[str, ...] | None  # positional parameter order, or None (named)
    defaults: Mapping[str, Any]  # the values the statement itself binds (its literals)
    binds: tuple[tuple[str, Processor], ...]  # parameters to convert before sending
    columns: tuple[str, ...]  # names of what the statement returns
    types: tuple[Any, ...]  # their types as this dialect has them
    dialect: Dialect
    # returned columns to convert, known at the first execution (PostgreSQL's depend on
    # the type the server names)
    results: tuple[tuple[int, Processor], ...] | None = None
    # The statement's text depends on the values (an expanding IN: lims.sql_lists on
    # SQLite): SQLAlchemy renders it at each call instead.
    expanding: bool = False

    @staticmethod
    def of(statement: ClauseElement, dialect: Dialect,
           keys: Sequence[str] | None) -> _Plan:
        compiled = statement.compile(dialect=dialect,
                                     column_keys=list(keys) if keys is not None else None)
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError("a prepared statement needs plain parameter names")
        binds: list[tuple[str, Processor]] = []
        for name, bind in compiled.binds.items():  # type: ignore[attr-defined]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds.append((name, process))
        exported = list(getattr(statement, "exported_columns", ()))
        positional = compiled.positiontup if compiled.positional else None  # type: ignore[attr-defined]
        return _Plan(sql=str(compiled), names=tuple(positional) if positional else None,
                     defaults={k: v for k, v in compiled.params.items() if v is not None},
                     binds=tuple(binds), columns=tuple(c.key for c in exported),
                     types=tuple(c.type.dialect_impl(dialect) for c in exported),
                     dialect=dialect,
                     expanding=bool(getattr(compiled, "post_compile_params", None)))

    def parameters(self, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = {**self.defaults, **given} if self.defaults else dict(given)
        for name, process in self.binds:
            if name in values:
                values[name] = process(values[name])
        if self.names is None:
            return values
        return [values[name] for name in self.names]

    def converter(self, cursor: Any) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
        """How to turn the driver's rows into what SQLAlchemy would return."""
        results = self.results
        if results is None:
            codes = [d[1] for d in cursor.description or ()]
            results = self.results = tuple(
                (i, process) for i, (kind, code) in enumerate(zip(self.types, codes,
                                                                  strict=True))
                if (process := kind.result_processor(self.dialect, code)) is not None)
        if not results:
            return tuple

        def convert(raw: Sequence[Any]) -> tuple[Any, ...]:
            row = list(raw)
            for i, process in results:
                row[i] = process(row[i])
            return tuple(row)

        return convert


class Prepared:
    """`statement` (a Core select, insert, update...) compiled once per dialect; `keys` are
    the columns an insert or update is given (each call gives exactly those)."""

    def __init__(self, statement: ClauseElement, keys: Iterable[str] | None = None) -> None:
        self.statement = statement
        self.keys = tuple(keys) if keys is not None else None
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._lock = Lock()

    @property
    def _executable(self) -> Executable:
        return cast(Executable, self.statement)

    def plan(self, conn: Connection) -> _Plan:
        dialect = conn.dialect
        key = (dialect.name, dialect.driver, dialect.server_version_info)
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.setdefault(key, _Plan.of(self.statement, dialect, self.keys))
        return plan

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Plan, Any]:
        plan = self.plan(conn)
        driver = conn.connection.driver_connection
        assert driver is not None
        return plan, driver.execute(plan.sql, plan.parameters(params))

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if self.plan(conn).expanding:
            return [tuple(row) for row in conn.execute(self._executable, dict(params))]
        plan, cursor = self._run(conn, params)
        # Every row fetched: the driver's statement is done before anything else runs.
        raws = cursor.fetchall()
        convert = plan.converter(cursor)
        return [convert(raw) for raw in raws]

    def mappings(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        columns = self.plan(conn).columns
        return [dict(zip(columns, row, strict=True)) for row in self.rows(conn, params)]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        rows = self.mappings(conn, params)
        return rows[0] if rows else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        rows = self.rows(conn, params)
        return rows[0][0] if rows else None

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an insert, update or delete; the number of rows it touched."""
        if self.plan(conn).expanding:
            return int(conn.execute(self._executable, dict(params)).rowcount)
        _, cursor = self._run(conn, params)
        return int(cursor.rowcount)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        plan = self.plan(conn)
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.cursor().executemany(plan.sql, [plan.parameters(row) for row in rows])


class PreparedByKeys:
    """An insert or update whose columns vary between calls: one Prepared per set of
    columns given, made on first use."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_keys: dict[tuple[str, ...], Prepared] = {}

    def __call__(self, keys: Iterable[str]) -> Prepared:
        key = tuple(keys)
        prepared = self._by_keys.get(key)
        if prepared is None:
            prepared = self._by_keys.setdefault(key, Prepared(self.statement, key))
        return prepared


def instance(model: type[M], row: Mapping[str, Any]) -> M:
    """An instance of the table model `model` holding `row`, which gives every field, in
    no session; a twentieth of the constructor's cost (no attribute events, no defaults)."""
    return instances(model, [row])[0]


def instances(model: type[M], rows: Iterable[Mapping[str, Any]]) -> list[M]:
    """`instance` of each row of one statement: every row has the same columns, so the
    first one alone is checked against the model's fields."""
    fields: Mapping[str, Any] = model.model_fields  # type: ignore[attr-defined]
    if not model.__mapper__.configured:  # type: ignore[attr-defined]
        configure_mappers()  # what the first constructor call would do
    make = model._sa_class_manager.new_instance  # type: ignore[attr-defined]
    found: list[M] = []
    checked = False
    for row in rows:
        if not checked:
            if len(row) != len(fields) or any(name not in row for name in fields):
                raise ValueError(f"a {model.__name__} row gives every field: {sorted(row)}")
            checked = True
        obj: Any = make()
        obj.__dict__.update(row)
        object.__setattr__(obj, "__pydantic_fields_set__", set(fields))
        object.__setattr__(obj, "__pydantic_extra__", None)
        object.__setattr__(obj, "__pydantic_private__", None)
        found.append(obj)
    return found


def new(model: type[M], **values: Any) -> M:
    """A new (transient) instance of the table model `model`, as its constructor makes it
    (every field not given takes its default), without the constructor's cost."""
    fields: Mapping[str, Any] = model.model_fields  # type: ignore[attr-defined]
    if any(name not in fields for name in values):
        raise TypeError(f"{model.__name__} has no field {sorted(set(values) - set(fields))}")
    row = {}
    for name, field in fields.items():
        if name in values:
            row[name] = values[name]
        elif field.is_required():
            raise TypeError(f"{model.__name__} needs {name}")
        else:
            row[name] = field.get_default(call_default_factory=True)
    return instance(model, row)


def row_of(obj: Any, *, exclude: frozenset[str] = frozenset({"id"})) -> dict[str, Any]:
    """The fields of a table model instance as a row to write (model_dump's result for a
    table model, without pydantic's serialiser)."""
    return {name: getattr(obj, name) for name in type(obj).model_fields if name not in exclude}
