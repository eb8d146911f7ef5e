"""The event store service: an append-only log of domain events over SQL, published to JetStream.

Layers, inside out: ``domain`` (events, expected versions, queries), ``validation``, ``repository``
(the storage port) with its SQL adapter (``sqlstore``, ``schema``, ``positions``, ``groupcommit``,
``transactions``) and an in-memory one (``memory``), ``service``, ``endpoints``, the gRPC transport
(``grpc``, ``client``), the outbox ``relay`` to JetStream, ``bootstrap``, the composition root
(``container``), the process (``server``) and its commands (``cli``).
"""
