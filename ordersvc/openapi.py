"""The order API described in OpenAPI 3.1 (``/openapi.json``) and a page that renders it (``/docs``).

The page is self-contained (no CDN: it must work offline): a few lines of script fetch the spec and
list every operation with its parameters, body, responses and the schemas they refer to.
"""

from __future__ import annotations

from typing import Any

from orders.domain import (
    MAX_CODE_LENGTH,
    MAX_ID_LENGTH,
    MAX_ITEMS,
    MAX_NAME_LENGTH,
    MAX_QUANTITY,
    MAX_REASON_LENGTH,
    OrderStatus,
)
from orders.money import MAX_UNIT_PRICE
from orders.readmodel import MAX_LIMIT


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": _ref("Problem")}}}


_ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}
_MONEY = {"type": "number", "multipleOf": 0.01, "minimum": 0,
          "description": "Exact decimal amount with at most 2 decimal places (a JSON number, or "
                         "decimal text on input)."}
_ERRORS = {
    "400": _problem("Invalid input; `errors` names each field at fault"),
    "401": _problem("With auth on: no valid bearer token (`WWW-Authenticate: Bearer`)"),
    "403": _problem("With auth on: the token may not do this (another customer's id, a missing scope)"),
    "503": _problem("A dependency is unavailable; retry after `Retry-After` seconds"),
}
_SCHEMAS: dict[str, Any] = {
    "OrderItem": {
        "type": "object", "additionalProperties": False,
        "required": ["code", "name", "unit_price", "quantity"],
        "properties": {
            "code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE_LENGTH},
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
            "unit_price": {**_MONEY, "maximum": float(MAX_UNIT_PRICE)},
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        },
    },
    "NewOrder": {
        "type": "object", "additionalProperties": False,
        "required": ["customer_id", "restaurant_id", "order_items"],
        "properties": {
            "customer_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
            "restaurant_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
            "order_items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                            "items": _ref("OrderItem"),
                            "description": "One line per product `code`; a line may be free "
                                           "(`unit_price` 0) but the order must add up to more "
                                           "than 0.00."},
        },
    },
    "Order": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "customer_id": {"type": "string"},
            "restaurant_id": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in OrderStatus]},
            "created_on": {"type": "string", "format": "date-time"},
            "amount": {**_MONEY, "description": "Sum of unit_price x quantity, computed by the server."},
            "order_items": {"type": "array", "items": _ref("OrderItem")},
            "payment_status": {"type": "string", "enum": ["none", "debited", "failed", "refunded"]},
            "rejection_reason": {"type": "string"},
            "cancellation_reason": {"type": "string"},
            "version": {"type": "integer", "description": "Number of events the order has had."},
        },
    },
    "OrderPage": {
        "type": "object",
        "properties": {
            "orders": {"type": "array", "items": _ref("Order")},
            "next_cursor": {"type": ["string", "null"],
                            "description": "Pass as `cursor` for the next page; null on the last."},
        },
    },
    "OrderEvent": {
        "type": "object",
        "properties": {
            "event_id": {"type": "string"}, "event_type": {"type": "string"},
            "version": {"type": "integer"}, "position": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"}, "data": {"type": "object"},
        },
    },
    "OrderHistory": {
        "type": "object",
        "properties": {"order_id": {"type": "string"},
                       "events": {"type": "array", "items": _ref("OrderEvent")}},
    },
    "Problem": {
        "type": "object", "description": "RFC 9457 problem details",
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "instance": {"type": "string"}, "code": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "message": {"type": "string"}}}},
        },
    },
}


def spec() -> dict[str, Any]:
    """The OpenAPI document of the order API."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "eventstream orders", "version": "1.0.0",
                 "description": "Place, read, list and cancel orders. Money is exact decimal."},
        "paths": {
            "/api/orders": {
                "post": {
                    "summary": "Place an order (Pending); the amount is computed by the server",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                    "schema": {"type": "string", "maxLength": 255},
                                    "description": "Same key and body: same response, one order. "
                                                   "Same key, other body: 422."}],
                    "requestBody": {"required": True, **_json(_ref("NewOrder"))},
                    "responses": {
                        "201": {"description": "Created; `Location` names the order",
                                **_json(_ref("Order"))},
                        **_ERRORS,
                        "413": _problem("Body too large"),
                        "415": _problem("Body is not application/json"),
                        "422": _problem("Idempotency-Key reused with a different body"),
                    },
                },
                "get": {
                    "summary": "List orders, newest first (eventually consistent read model)",
                    "parameters": [
                        {"name": "customer_id", "in": "query", "schema": {"type": "string"}},
                        {"name": "status", "in": "query",
                         "schema": {"type": "string", "enum": [s.value for s in OrderStatus]}},
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": {"description": "A page", **_json(_ref("OrderPage"))}, **_ERRORS},
                },
            },
            "/api/orders/{order_id}": {"get": {
                "summary": "Read an order (includes one created a moment ago)",
                "parameters": [_ORDER_ID],
                "responses": {"200": {"description": "The order", **_json(_ref("Order"))},
                              "404": _problem("No such order"), **_ERRORS},
            }},
            "/api/orders/{order_id}/cancel": {"post": {
                "summary": "Cancel a Pending order",
                "parameters": [_ORDER_ID],
                "requestBody": {"required": False, **_json({
                    "type": "object", "additionalProperties": False,
                    "properties": {"reason": {"type": "string", "maxLength": MAX_REASON_LENGTH}}})},
                "responses": {"200": {"description": "The cancelled order", **_json(_ref("Order"))},
                              "404": _problem("No such order"),
                              "409": _problem("The order is no longer Pending, or changed meanwhile"),
                              **_ERRORS},
            }},
            "/api/orders/{order_id}/events": {"get": {
                "summary": "The order's history from the event store",
                "parameters": [_ORDER_ID],
                "responses": {"200": {"description": "Its events, oldest first",
                                      **_json(_ref("OrderHistory"))},
                              "404": _problem("No such order"), **_ERRORS},
            }},
            "/healthz": {"get": {"summary": "Liveness", "security": [],
                                 "responses": {"200": {"description": "Up"}}}},
            "/readyz": {"get": {"summary": "Readiness: event store and orders database reachable",
                                "security": [],
                                "responses": {"200": {"description": "Ready"},
                                              "503": {"description": "Not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                                 "responses": {"200": {"description": "Text exposition format"}}}},
        },
        "components": {"schemas": _SCHEMAS, "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "Required when the service runs with auth on: `sub` is the customer id, "
                           "scope `orders:admin` reads every customer's orders."}}},
        # Open (no auth configured) or a bearer token: operations without their own list use this.
        "security": [{}, {"bearer": []}],
    }


DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eventstream orders API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4em;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}
pre{background:#f6f6f6;padding:.6em;overflow:auto}
td,th{text-align:left;padding:.15em .8em .15em 0;vertical-align:top}
</style></head><body>
<h1 id="title">API</h1><p id="desc"></p><div id="ops"></div><h2>Schemas</h2><div id="schemas"></div>
<script>
function el(tag, text, cls){
  var e=document.createElement(tag);if(text)e.textContent=text;if(cls)e.className=cls;return e;}
function schemaText(s){return JSON.stringify(s,null,2);}
fetch("openapi.json").then(function(r){return r.json();}).then(function(spec){
  document.getElementById("title").textContent=spec.info.title+" "+spec.info.version;
  document.getElementById("desc").textContent=spec.info.description||"";
  var ops=document.getElementById("ops");
  Object.keys(spec.paths).forEach(function(path){
    var item=spec.paths[path];
    Object.keys(item).forEach(function(method){
      var op=item[method], box=el("div",null,"op"), head=el("div");
      head.appendChild(el("span",method,"m "+method));head.appendChild(el("code",path));
      head.appendChild(document.createTextNode(" \\u2014 "+(op.summary||"")));box.appendChild(head);
      if(op.parameters&&op.parameters.length){
        var t=el("table");
        t.appendChild(el("tr")).innerHTML="<th>parameter</th><th>in</th><th>schema</th><th></th>";
        op.parameters.forEach(function(p){var tr=el("tr");[p.name+(p.required?" *":""),p.in,
          JSON.stringify(p.schema),p.description||""].forEach(function(c){tr.appendChild(el("td",c));});
          t.appendChild(tr);});
        box.appendChild(t);}
      if(op.requestBody){box.appendChild(el("div","Request body:"));
        var c=op.requestBody.content;box.appendChild(el("pre",schemaText(c[Object.keys(c)[0]].schema)));}
      var t2=el("table");t2.appendChild(el("tr")).innerHTML="<th>status</th><th>response</th>";
      Object.keys(op.responses).forEach(function(code){var r=op.responses[code],tr=el("tr"),s="";
        if(r.content){var k=Object.keys(r.content)[0];s=" ("+k+" "+JSON.stringify(r.content[k].schema)+")";}
        tr.appendChild(el("td",code));tr.appendChild(el("td",r.description+s));t2.appendChild(tr);});
      box.appendChild(t2);ops.appendChild(box);});});
  var schemas=document.getElementById("schemas"),all=(spec.components||{}).schemas||{};
  Object.keys(all).forEach(function(name){schemas.appendChild(el("h3",name));
    schemas.appendChild(el("pre",schemaText(all[name])));});
}).catch(function(e){document.getElementById("desc").textContent="cannot load openapi.json: "+e;});
</script></body></html>
"""
