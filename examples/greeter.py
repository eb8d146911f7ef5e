"""greeter: a complete kit service, one endpoint served over HTTP and gRPC with middleware."""

import logging
from dataclasses import dataclass

import kit
import kit.grpc
import kit.http
from kit.errors import InvalidArgument
from kit.middleware.logging import logging_middleware
from kit.middleware.metrics import instrument
from kit.middleware.resilience import timeout


@dataclass(frozen=True)
class Greet:
    """Whom to greet."""

    name: str


@dataclass(frozen=True)
class Greeting:
    """What to say."""

    text: str


def greet(request: Greet) -> Greeting:
    """The service: business logic that knows nothing of transports."""
    if not request.name.strip():
        raise InvalidArgument.for_field("name", "must not be blank")
    return Greeting(f"hello {request.name}")


# The onion, outermost first: log each call, count and time it, then bound its time.
middleware: kit.Middleware[Greet, Greeting] = kit.chain(
    logging_middleware(logging.getLogger("greeter"), "Greet"),
    instrument("greeter", "Greet"),
    timeout(1.0),
)
endpoint = middleware(greet)

app = kit.http.create_app(__name__)
kit.http.register(app, "/greet", kit.http.HTTPServer(
    endpoint, kit.http.json_request(Greet), kit.http.json_response()), methods=["POST"])
grpc_service = kit.grpc.service("greeter.Greeter", {"Greet": kit.grpc.json_method(endpoint, Greet)})

if __name__ == "__main__":
    server = kit.grpc.serve(grpc_service, port=50052)
    app.run(port=3001)
