"""Test helpers that ship with kit, so services test themselves the way kit tests itself.

- ``kit.testing.fakes``: ``FakeEndpoint``, a scripted stand-in for any kit client;
- ``kit.testing.logging``: ``nop_logger``, ``capture_logs``;
- ``kit.testing.tracing``: ``SpanCollector``, ``RecordingTracer``, ``ZipkinCollector`` (a real
  collector on a free port), ``SpanSchema`` (validates spans against the Zipkin v2 schema);
- ``kit.testing.http``: ``serve_wsgi`` (a real waitress server on a free port);
- ``kit.testing.grpc``: ``serve_grpc`` (a real gRPC server on a free port), ``FakeServicerContext``;
- ``kit.testing.nats``: ``NatsServer`` / ``running_nats`` (a real ``nats-server -js``, optionally with
  a configuration: users, permissions, TLS);
- ``kit.testing.natsjwt``: ``Operator`` (decentralized NATS auth: an account and users' ``.creds``
  files with their permissions, and the server configuration that trusts them);
- ``kit.testing.tls``: ``make_pki`` (a CA, server/client certificates and a stranger from another CA);
- ``kit.testing.auth``: RSA/EC key pairs, test secrets, hand-forged tokens (``alg: none``, confusion);
- ``kit.testing.postgres``: ``running_postgres`` (a real PostgreSQL, embedded or from a DSN),
  ``EmbeddedPostgres(tls=ServerTLSFiles(...))`` (one that admits TCP clients by certificate only);
- ``kit.testing.zipkin``: ``ZipkinServer`` / ``running_zipkin`` (a real Zipkin server and its UI,
  with its query API), ``zipkin_missing`` (why it cannot start here);
- ``kit.testing.requires``: ``unavailable`` (skip a test whose program is missing; fail under CI);
- ``kit.testing.net``: ``free_port``, ``wait_for_port``;
- ``kit.testing.wait``: ``eventually`` (poll until a condition holds; the one polling helper).

Each module imports only what it needs, so importing one never starts or loads the others.
"""
