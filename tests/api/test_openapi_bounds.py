"""Every request input is bounded: the OpenAPI document is walked, and any request string
without maxLength, array without maxItems or free object without maxProperties fails here,
in bodies and in query, path and header parameters alike (and a parameter's number without
a maximum)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lims.app import create_app

SCHEMA = create_app(web=False).openapi()
COMPONENTS: dict[str, Any] = SCHEMA.get("components", {}).get("schemas", {})
# Strings a parser reads whole and refuses unless they are what they claim (a date, a time):
# never stored as sent; their length is bounded by the request size all the same.
PARSED_FORMATS = frozenset({"date", "date-time", "time"})


def _resolve(schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, COMPONENTS[name]


def unbounded(schema: dict[str, Any], where: str, seen: frozenset[str] = frozenset()
              ) -> Iterator[str]:
    """Where in `schema` (a request's) a value has no upper bound."""
    name, schema = _resolve(schema)
    if name is not None:
        if name in seen:
            return
        seen |= {name}
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            yield from unbounded(option, where, seen)
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema \
            and "const" not in schema and schema.get("format") not in PARSED_FORMATS:
        yield f"{where}: a string without maxLength"
    if kind in ("integer", "number") and where.startswith(("query", "path")) \
            and not {"maximum", "exclusiveMaximum"} & set(schema):
        # (a body's numbers are judged by the step registry's limits, field by field)
        yield f"{where}: a number without a maximum"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: an array without maxItems"
        yield from unbounded(schema.get("items", {}), f"{where}[]", seen)
    if kind == "object" or "properties" in schema:
        free = schema.get("additionalProperties")
        if isinstance(free, dict) or free is True or (free is None and not schema.get(
                "properties")):
            if "maxProperties" not in schema:
                yield f"{where}: a free object without maxProperties"
            if isinstance(free, dict):
                yield from unbounded(free, f"{where}.*", seen)
            names = schema.get("propertyNames")
            if isinstance(names, dict):
                yield from unbounded(names, f"{where} (keys)", seen)
            elif isinstance(free, dict):
                yield f"{where}: an object whose keys have no maxLength"
        for prop, sub in schema.get("properties", {}).items():
            yield from unbounded(sub, f"{where}.{prop}", seen)


def request_inputs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in SCHEMA["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", ()):
                yield name, f"{parameter['in']} {parameter['name']}", parameter["schema"]
            content = operation.get("requestBody", {}).get("content", {})
            for media, body in content.items():
                yield name, f"body ({media})", body["schema"]


INPUTS = list(request_inputs())


def test_the_walk_finds_bodies_and_parameters():
    wheres = {where.split()[0] for _, where, _ in INPUTS}
    assert {"body", "query", "path"} <= wheres
    assert len(INPUTS) > 60


@pytest.mark.parametrize(("operation", "where", "schema"), INPUTS,
                         ids=[f"{o} {w}" for o, w, _ in INPUTS])
def test_every_request_input_is_bounded(operation, where, schema):
    assert list(unbounded(schema, where)) == []


def test_the_walk_notices_each_kind_of_unbounded_input():
    free = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 5}}
    found = list(unbounded({"type": "object", "properties": {
        "text": {"type": "string"}, "items": {"type": "array", "items": {"type": "integer"}},
        "free": free}}, "body"))
    found += list(unbounded({"type": "integer", "minimum": 1}, "query page"))
    assert found == ["body.text: a string without maxLength",
                     "body.items: an array without maxItems",
                     "body.free: a free object without maxProperties",
                     "body.free: an object whose keys have no maxLength",
                     "query page: a number without a maximum"]
