"""The order domain, shared by the order service (``ordersvc``) and the workers (``workers``).

Neither transport owns it. Layers, inside out: ``money`` and ``jsontext`` (exact values), ``domain``
(statuses, items, the invariants of a new order), ``events`` (what changes an order, and their
JSON), ``aggregate`` (the order as a fold of its events, and its decisions), ``ports`` (the event
store and the read model as protocols); the adapters ``eventstore`` (gRPC), ``readmodel``,
``schema`` and ``engine`` (SQL), and ``memory`` (in-process fakes for tests).
"""
