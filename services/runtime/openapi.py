"""The OpenAPI document of a service, saying what its routes really answer.

FastAPI documents each route's success and a 422 in its own ``{"detail": [...]}`` shape. The
services answer every error as an RFC 9457 problem (``application/problem+json``,
``contracts.problems.ProblemDetails``), and more of them: a client generated from that
document misread every error. ``install`` replaces it with one that documents, for each route,
the statuses its declaration implies, each with the problem schema:

- a bearer-token dependency (``auth.authorize``): 401 and 403;
- an ``Idempotency-Key`` (``idempotency.Idempotency``): 400 for a malformed key, 422 for a key
  reused with another body, and the header itself;
- path parameters: 404 (another org's object is not found either);
- a body: 400 (not JSON at all), 413 (the body cap) and 422; query or typed path
  parameters: 422;
- the database (``Engine``, ``UoW``, ``Writes``): 503 with ``Retry-After`` while it cannot be
  reached;

plus what a route declares itself (``responses={409: {"description": ...}}``: its problem
schema is filled in here). Schemas a route's ``openapi_extra`` brings inline with ``$defs``
(request bodies read by hand) are moved to ``components``.

Links (for stateful clients and schemathesis' stateful runs, issue #17): a success answer
that carries an id (``order_id``; in a page, its first item's) links to every operation that
takes that id in its path, so create → read → act flows (place an order, read it, cancel or
accept it) can be followed; a route declares further links itself
(``responses={200: {"links": ...}}``).

Every field and parameter the models and routes leave undescribed gets its description and
example from ``services.runtime.glossary`` (issue #17); an enum without one is exemplified by
its first value. ``tests/unit/test_openapi_descriptions.py`` names whatever is still missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.routing import Route

from contracts.problems import MEDIA_TYPE, ProblemDetails
from services.runtime import i18n
from services.runtime.glossary import field_term, parameter_term
from services.runtime.idempotency import (
    HEADER,
    idempotent_request,
    required_idempotent_request,
)
from services.runtime.problems import RETRY_AFTER_S

REF_TEMPLATE = "#/components/schemas/{model}"
PROBLEM_REF = {"$ref": REF_TEMPLATE.format(model=ProblemDetails.__name__)}
DESCRIPTIONS = {
    400: "Bad request: a body that is not JSON, a malformed or missing Idempotency-Key",
    401: "No valid bearer token",
    403: "The caller's role may not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the object's current state",
    413: "Request body too large",
    415: "Unsupported Content-Type",
    422: "Invalid request: every invalid field is named in 'errors'",
    503: "The service's database cannot be reached now; retry after Retry-After seconds",
}


def api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes with their effective paths (FastAPI ≥ 0.16x keeps an included
    router's routes as contexts of the original ones)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from dependencies(dep)


def statuses(route: Any, database: frozenset[Callable[..., Any]]) -> set[int]:
    """The error statuses a route's declaration implies (see the module's docstring)."""
    deps = list(dependencies(route.dependant))
    calls = {id(d.call) for d in deps}
    out: set[int] = set()
    if any(isinstance(d.call, HTTPBearer) for d in deps):
        out |= {401, 403}
    if calls & {id(idempotent_request), id(required_idempotent_request)}:
        out |= {400, 422}
    params = [p for d in (route.dependant, *deps) for p in d.path_params]
    if params:
        out.add(404)
        if any(p.field_info.annotation is not str for p in params):
            out.add(422)
    if any(d.body_params for d in (route.dependant, *deps)) or (
            "requestBody" in (route.openapi_extra or {})):
        out |= {400, 413, 422}  # 400: a body that is not JSON at all
    if "requestBody" in (route.openapi_extra or {}):
        out.add(415)  # a file upload (CSV, XLSX …) in a format the route does not read
    if any(d.query_params or d.header_params for d in (route.dependant, *deps)):
        out.add(422)
    if calls & {id(c) for c in database}:
        out.add(503)
    return out


def uses(route: Any, calls: frozenset[Callable[..., Any]]) -> bool:
    return bool({id(d.call) for d in dependencies(route.dependant)} & {id(c) for c in calls})


def _problem_response(status: int, given: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": (given or {}).get("description") or DESCRIPTIONS.get(status, "Error"),
        "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }
    if status == 503:
        response["headers"] = {"Retry-After": {
            "description": "seconds to wait before retrying", "schema": {
                "type": "integer", "example": RETRY_AFTER_S}}}
    elif status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def _hoist_defs(node: Any, components: dict[str, Any]) -> None:
    """Move every inline ``$defs`` (refs already point at #/components/schemas) to
    components."""
    if isinstance(node, dict):
        for name, schema in node.pop("$defs", {}).items():
            components.setdefault(name, schema)
        for value in node.values():
            _hoist_defs(value, components)
    elif isinstance(node, list):
        for value in node:
            _hoist_defs(value, components)


def document(schema: dict[str, Any], app: FastAPI,
             database: frozenset[Callable[..., Any]]) -> dict[str, Any]:
    """Rewrite FastAPI's ``schema`` of ``app`` in place (see the module's docstring)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDetails.model_json_schema(ref_template=REF_TEMPLATE)
    for name, sub in problem.pop("$defs", {}).items():
        components[name] = sub
    components[ProblemDetails.__name__] = problem
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        errors = statuses(route, database)
        declared = {int(code) for code in route.responses if str(code).isdigit()}
        for method in route.methods or ():
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if 422 not in errors | declared:  # FastAPI's, for parameters that cannot fail
                responses.pop("422", None)
            for status in sorted(errors | {c for c in declared if c >= 400}):
                responses[str(status)] = _problem_response(status, responses.get(str(status)))
            calls = {id(d.call) for d in dependencies(route.dependant)}
            key_required = id(required_idempotent_request) in calls
            if key_required or id(idempotent_request) in calls:
                operation.setdefault("parameters", []).append({
                    "name": HEADER, "in": "header", "required": key_required,
                    "description": ("required by this route (400 idempotency-key-required "
                                    "without it); " if key_required else "")
                    + "the same key with the same body replays the first response; with "
                      "another body it is refused (422)",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200}})
    _hoist_defs(schema["paths"], components)
    describe(schema)
    link(schema)
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}'" not in text:
            components.pop(unused, None)
    return schema


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,)}


def resolve(node: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A property's schema without its ``$ref``/``allOf`` wrapper and its ``null`` branch."""
    for _ in range(5):
        if "$ref" in node:
            node = components.get(node["$ref"].rsplit("/", 1)[-1], {})
        elif len(node.get("allOf", ())) == 1:
            node = node["allOf"][0]
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            if len(branches) != 1:
                return node
            node = branches[0]
        else:
            return node
    return node


def needs_example(node: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a field is a value (exemplified where it stands) rather than a nested object
    or a list of them (exemplified by their own schema's fields)."""
    target = resolve(node, components)
    if target.get("type") == "array":
        target = resolve(target.get("items", {}), components)
    return target.get("type") != "object" and "properties" not in target


def fits(example: Any, node: dict[str, Any], components: dict[str, Any]) -> bool:
    target = resolve(node, components)
    if "enum" in target:
        return example in target["enum"]
    kinds = [target.get("type")] if "type" in target else [
        b.get("type") for b in target.get("anyOf", ())]
    return any(isinstance(example, _JSON_TYPES.get(str(k), ())) and not (
        k in ("integer", "number") and isinstance(example, bool)) for k in kinds)


def _example_for(node: dict[str, Any], example: Any,
                 components: dict[str, Any]) -> Any:
    """The model's own default or constant, else the glossary's example if it fits the
    field's type, else an enum's first value (of a list of them, a list of it)."""
    for own in ("const", "default"):
        if node.get(own) is not None:
            return node[own]
    for candidate in example if isinstance(example, tuple) else (example,):
        if candidate is not None and fits(candidate, node, components):
            return candidate
    target = resolve(node, components)
    if target.get("type") == "array":
        items = resolve(target.get("items", {}), components)
        return [items["enum"][0]] if items.get("enum") else None
    return target["enum"][0] if target.get("enum") else None


def has_example(node: dict[str, Any]) -> bool:
    return "example" in node or bool(node.get("examples"))


def describe(schema: dict[str, Any]) -> None:
    """Fill in, from the glossary, the descriptions and examples the models leave out."""
    components = schema.get("components", {}).get("schemas", {})
    for name, model in components.items():
        for field, node in model.get("properties", {}).items():
            term = field_term(name, field)
            if term is not None and not node.get("description"):
                node["description"] = term.en
            if not has_example(node) and needs_example(node, components):
                example = _example_for(node, term.example if term else None, components)
                if example is not None:
                    node["examples"] = [example]
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters", ()) if isinstance(operation, dict) else ():
                term = parameter_term(param["name"])
                if term is not None and not param.get("description"):
                    param["description"] = term.en
                node = param.get("schema", {})
                if not has_example(param) and not has_example(node):
                    example = _example_for(node, term.example if term else None, components)
                    if example is not None:
                        param["example"] = example


def _carried(node: dict[str, Any], components: dict[str, Any]) -> dict[str, str]:
    """The fields a success answer carries, each with the JSON pointer to it: the answer's
    own fields, or a page's or list's first item's."""
    target = resolve(node, components)
    if target.get("type") == "array":
        item = resolve(target.get("items", {}), components)
        return {f: f"/0/{f}" for f in item.get("properties", {})}
    fields = {f: f"/{f}" for f in target.get("properties", {})}
    items = resolve(target.get("properties", {}).get("items", {}), components)
    if items.get("type") == "array":
        item = resolve(items.get("items", {}), components)
        fields = {f: f"/items/0/{f}" for f in item.get("properties", {})} | fields
    return fields


def link(schema: dict[str, Any]) -> None:
    """Add, to each success answer carrying an id, a link to every operation taking that id
    in its path (see the module's docstring)."""
    components = schema.get("components", {}).get("schemas", {})
    targets = []
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            params = [p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"]
            if params and "operationId" in operation:
                targets.append((operation["operationId"], params))
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if not status.startswith("2") or body is None:
                    continue
                carried = _carried(body, components)
                links = response.setdefault("links", {})
                for target, params in targets:
                    if target != operation.get("operationId") and all(
                            p in carried for p in params) and any(
                            p.endswith("_id") for p in params):
                        links.setdefault(target, {
                            "operationId": target,
                            "parameters": {p: f"$response.body#{carried[p]}" for p in params}})
                if not links:
                    del response["links"]


def install(app: FastAPI, *, database: frozenset[Callable[..., Any]]) -> None:
    """``app.openapi()`` (and ``/openapi.json``) return the rewritten document;
    ``/openapi.json`` asked for in Chinese (``Accept-Language: zh-CN``) answers it with its
    descriptions and summaries in Chinese (``i18n.document_zh``)."""
    generate = app.openapi
    chinese: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(generate(), app, database)
        return app.openapi_schema

    async def served(request: Request) -> JSONResponse:
        if i18n.language(request.headers.get("accept-language")) == i18n.ZH:
            if not chinese:
                chinese.update(i18n.document_zh(openapi()))
            return JSONResponse(chinese, headers={"Content-Language": i18n.ZH,
                                                  "Vary": "Accept-Language"})
        return JSONResponse(openapi(), headers={"Vary": "Accept-Language"})

    app.openapi = openapi  # type: ignore[method-assign]
    if app.openapi_url:
        app.router.routes[:] = [r for r in app.router.routes
                                if not (isinstance(r, Route) and r.path == app.openapi_url)]
        app.add_route(app.openapi_url, served, include_in_schema=False)


def database_routes(app: FastAPI, database: frozenset[Callable[..., Any]]) -> frozenset[str]:
    """Paths of the routes that use the database (a success there ends an outage)."""
    return frozenset(route.path_format for route in api_routes(app) if uses(route, database))
