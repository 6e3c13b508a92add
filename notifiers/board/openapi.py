"""The board API's OpenAPI 3.1 document, its schemas generated from the pydantic models it serves."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from notifiers.board.requests import AckRequest, Me, Problem, SilenceRequest, Ticket
from notifiers.board.views import Acknowledged, BoardAlert, CityFigures, Snapshot, StationHealth
from notifiers.silences import Silence
from notifiers.store import AuditEntry
from rules.events import AlertEvent


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list(name: str) -> dict[str, Any]:
    return _json({"type": "array", "items": _ref(name)})


REFUSALS = {
    "400": _json(_ref("Problem"), "the body is not valid: `field` names where"),
    "401": _json(_ref("Problem"), "no token, or not a user's"),
    "403": _json(_ref("Problem"), "read-only board, or outside the units the user acts for"),
    "429": _json(_ref("Problem"), "too many failed sign-ins from this address: wait a minute"),
}
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]


def _paths() -> dict[str, Any]:
    filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("district", "kind", "severity", "rule", "unit")
    ]
    return {
        "/api/snapshot": {
            "get": {"summary": "Everything the page shows", "responses": {"200": _json(_ref("Snapshot"))}}
        },
        "/api/alerts": {
            "get": {
                "summary": "Firing alerts",
                "parameters": filters,
                "responses": {"200": _list("BoardAlert")},
            }
        },
        "/api/stations": {"get": {"summary": "Station health", "responses": {"200": _list("StationHealth")}}},
        "/api/city": {
            "get": {"summary": "The plan's city figures", "responses": {"200": _json(_ref("CityFigures"))}}
        },
        "/api/feed": {
            "get": {"summary": "Latest transitions, newest first", "responses": {"200": _list("AlertEvent")}}
        },
        "/api/silences": {
            "get": {
                "summary": "Silences in force (all=1: every one)",
                "parameters": [{"name": "all", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _list("Silence")},
            },
            "post": {
                "summary": "Create a silence from now on",
                "security": SECURED,
                "requestBody": {"content": {"application/json": {"schema": _ref("SilenceRequest")}}},
                "responses": {"201": _json(_ref("Silence"), "created"), **REFUSALS},
            },
        },
        "/api/silences/{silence_id}": {
            "delete": {
                "summary": "End a silence now",
                "security": SECURED,
                "parameters": [
                    {"name": "silence_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": _json(_ref("Silence")), "404": _json(_ref("Problem")), **REFUSALS},
            }
        },
        "/api/alerts/{fingerprint}/ack": {
            "post": {
                "summary": "Acknowledge the alert's current episode",
                "security": SECURED,
                "parameters": [
                    {"name": "fingerprint", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {"content": {"application/json": {"schema": _ref("AckRequest")}}},
                "responses": {"200": _json(_ref("Acknowledged")), "404": _json(_ref("Problem")), **REFUSALS},
            }
        },
        "/api/audit": {
            "get": {
                "summary": "Who acknowledged and silenced what, newest first",
                "responses": {"200": _list("AuditEntry")},
            }
        },
        "/api/me": {"get": {"summary": "Who the token proves", "responses": {"200": _json(_ref("Me"))}}},
        "/api/events": {
            "get": {
                "summary": "Live feed (server-sent events: transition, ack, silence, figures)",
                "parameters": [{"name": "ticket", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "text/event-stream"},
                    "401": _json(_ref("Problem"), "reads need a token: bring a ticket"),
                    "503": _json(_ref("Problem"), "as many live pages open as the board serves"),
                },
            }
        },
        "/api/events/ticket": {
            "post": {
                "summary": "A single-use ticket for the live feed, good for 60 s (reads need a token)",
                "security": SECURED,
                "responses": {"200": _json(_ref("Ticket")), **REFUSALS},
            }
        },
        "/metrics": {
            "get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain"}}}
        },
    }


@cache
def document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        Snapshot, BoardAlert, StationHealth, CityFigures, AlertEvent, Silence, Acknowledged,
        AuditEntry, AckRequest, SilenceRequest, Me, Problem, Ticket,
    ]  # fmt: skip
    _, schemas = models_json_schema(
        [(model, "serialization") for model in models], ref_template="#/components/schemas/{model}"
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "envalert board API",
            "version": "1",
            "description": "Alerts, station health and the plan's city figures; acknowledge and silence.",
        },
        "paths": _paths(),
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
