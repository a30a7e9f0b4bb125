"""`one_of(column, values)`: `column IN (values)` sent as one array on PostgreSQL.

A page reads the rows of the products, containers or events it shows with `IN (...)`. With
an IN list, SQLAlchemy writes one parameter per value into the statement at each call, so
the statement's text changes with the number of values: it is rendered again every time,
psycopg parses it again, and PostgreSQL plans it again and never keeps it prepared (the
worklist's label query took 6 ms for 262 containers, 1.6 ms as one array). On PostgreSQL
`one_of` renders `column = ANY(%(values)s)`, one parameter whatever the number of values:
the text is the same at every call. Elsewhere (SQLite) it is the plain expanding IN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class OneOf(ColumnElement[bool]):
    """`column` is one of the values of a list bound at execution (see the module)."""

    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: no `= 1` added where booleans are ints
    inherit_cache = True
    # What decides the statement's text: the column and the two binds (their names and
    # types, not their values), so a compiled statement is reused for any list.
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own declaration is a list)
        ("column", InternalTraversal.dp_clauseelement),
        ("listed", InternalTraversal.dp_clauseelement),
        ("array", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any], listed: BindParameter[Any],
                 array: BindParameter[Any]) -> None:
        self.column, self.listed, self.array = column, listed, array


def one_of(column: Any, values: Iterable[Any]) -> OneOf:
    """`column IN values`, for int or str columns (see the module)."""
    listed = list(values)
    element: ColumnElement[Any] = column.expression if hasattr(column, "expression") else column
    return OneOf(element, bindparam(None, listed, type_=element.type, expanding=True),
                 bindparam(None, listed, type_=ARRAY(element.type)))


def one_of_bound(column: Any, name: str) -> OneOf:
    """`column IN` the list given at execution as the parameter `name`: for a statement
    compiled once (lims.prepared), on PostgreSQL one array parameter."""
    element: ColumnElement[Any] = column.expression if hasattr(column, "expression") else column
    # Two binds of one name: a dialect renders one of them (the array, or the IN list).
    return OneOf(element, bindparam(name, type_=element.type, expanding=True),
                 bindparam(name, type_=ARRAY(element.type)))


@compiles(OneOf)
def _in_list(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.listed), **kw)


@compiles(OneOf, "postgresql")
def _any_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column == any_(element.array), **kw)
