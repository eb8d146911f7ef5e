"""The order service: the order domain and its API over HTTP (Flask) and gRPC, from one set of endpoints.

``flask --app ordersvc run`` calls ``create_app()``, which reads its configuration from the
environment (``EVENTSTREAM_EVENTSTORE_ADDR``, default ``127.0.0.1:50051``;
``EVENTSTREAM_ORDERS_DB_URL``, default ``sqlite:///.eventstream/orders.db``;
``EVENTSTREAM_ZIPKIN_URL``). ``eventstream ordersvc`` serves HTTP and gRPC together (``cli``).

The order domain itself (money, events, the aggregate, the event store and read model adapters) is
the ``orders`` package, shared with the workers. Layers here, inside out: ``ports`` (idempotency
keys) and ``service``, ``endpoints``, the transports ``http`` and ``grpc`` (with ``requests`` and
``views``), the adapters ``idempotency``, ``schema`` and ``memory``, the live order board ``board`` (its
own package, with its templates and script), and the composition root ``container``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import flask


def create_app() -> flask.Flask:
    """The Flask app of the order API, configured from ``EVENTSTREAM_*`` environment variables.

    Creates the orders database tables if they are missing (idempotent), so a development run
    needs no separate bootstrap step.
    """
    from ordersvc.container import Settings, build
    from ordersvc.schema import create_schema

    container = build(Settings.from_env())
    create_schema(container.engine())
    app: flask.Flask = container.app()
    app.extensions["ordersvc.container"] = container
    return app
