"""The order domain, shared by the order service (``ordersvc``) and the workers (``workers``).

Neither transport owns it. Layers, inside out: ``money`` and ``jsontext`` (exact values), ``domain``
(statuses, items, the invariants of a new order), ``events`` (what changes an order, and their
JSON), ``aggregate`` (the order as a fold of its events, and its decisions), ``ports`` (the event
store and the read model as protocols), ``history`` (an order rebuilt from its stored events) and
``decisions`` (the one load -> decide -> append -> retry-on-conflict loop); the adapters
``eventstore`` (gRPC), ``readmodel``, ``schema`` and ``engine`` (SQL), and ``memory`` (in-process
fakes for tests, held to the same contract suite as the real adapters). Stored events are the
shared ``contracts.events`` shapes.
"""
