"""kit: a small Go-kit-style service kit.

Endpoints (``kit.endpoint``) are plain callables from request to response dataclasses; middleware
wraps them (``kit.middleware``); transports adapt the same endpoint to HTTP (``kit.http``), gRPC
(``kit.grpc``) and NATS JetStream, on the server and the client side. Errors come from one taxonomy
(``kit.errors``) and request context travels in ``contextvars`` (``kit.context``), with the
verified claims of a bearer token when a transport authenticates the request (``kit.auth``).
"""

from kit.endpoint import Endpoint, Middleware, chain

__all__ = ["Endpoint", "Middleware", "chain"]
