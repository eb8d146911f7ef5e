"""The JetStream workers of the order system: payment, projection, review and the saga coordinator.

Each worker is a service (domain logic over ports, no NATS / gRPC / SQL imports), an endpoint, a
decoder from ``kit.nats.Message`` (``messages``) and a composition root (``container``); ``cli``
holds the ``eventstream worker | replay | saga | dlq`` commands. Every worker is idempotent and can
run as several instances sharing one durable consumer: effects are appends with deterministic event
ids at expected versions (``orders.decisions``), or SQL changes committed with the handled event's version.
"""
