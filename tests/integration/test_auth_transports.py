"""Bearer auth over real HTTP (waitress) and gRPC servers: every refusal, and the claims when let in.

Both servers run the same endpoints behind ``kit.auth.BearerAuth`` and ``require_scopes``; kit
clients send the tokens. Every log line written meanwhile (root logger, DEBUG) is scanned for them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
import urllib3

from kit import context, errors
from kit.auth import BearerAuth, TokenVerifier, hs256_key, mint_token, require_scopes, subject
from kit.grpc import dial, json_client, json_method, service
from kit.http import (
    HTTPClient,
    HTTPServer,
    create_app,
    json_decoder,
    json_response,
    no_body,
    query_request,
    register,
)
from kit.middleware.logging import logging_middleware
from kit.testing.auth import OTHER_SECRET, SECRET, forged
from kit.testing.grpc import serve_grpc
from kit.testing.http import serve_wsgi
from kit.testing.logging import LogCapture, capture_logs

pytestmark = pytest.mark.integration

AUDIENCE = "eventstream"
VERIFIER = TokenVerifier([hs256_key(SECRET)], audience=AUDIENCE)


@dataclass(frozen=True)
class WhoAmI:
    pass


@dataclass(frozen=True)
class Identity:
    sub: str
    scope: str
    request_id: str
    saw_authorization: bool


def whoami(request: WhoAmI) -> Identity:
    claims = context.current().claims or {}
    metadata = context.current().metadata
    return Identity(subject() or "", str(claims.get("scope", "")), metadata.get("x-request-id", ""),
                    "authorization" in metadata)


LOG = logging.getLogger("test.auth")
plain = logging_middleware(LOG, "whoami")(whoami)
admin_only = logging_middleware(LOG, "admin")(require_scopes("orders:admin")(whoami))


def token(scopes: tuple[str, ...] = (), **kwargs: object) -> str:
    kwargs.setdefault("audience", AUDIENCE)
    return mint_token(SECRET, subject="cust-1", scopes=scopes, **kwargs)  # type: ignore[arg-type]


def refused_tokens() -> dict[str, str]:
    hour_ago = time.time() - 3600
    return {
        "expired": token(ttl=60, now=hour_ago),
        "other key": mint_token(OTHER_SECRET, subject="cust-1", audience=AUDIENCE),
        "alg none": forged({"alg": "none"}, {"sub": "cust-1", "aud": AUDIENCE,
                                             "exp": time.time() + 600}, None),
        "other audience": token(audience="billing"),
        "garbage": "garbage",
    }


@pytest.fixture(scope="module")
def logs() -> Iterator[LogCapture]:
    with capture_logs(logging.getLogger(), level=logging.DEBUG) as capture:
        yield capture


@pytest.fixture(scope="module")
def base_url(logs: LogCapture) -> Iterator[str]:
    app = create_app(__name__)
    auth = BearerAuth(VERIFIER)
    register(app, "/whoami", HTTPServer(plain, query_request(WhoAmI), json_response(), auth=auth,
                                        metadata_headers=("x-request-id", "authorization")))
    register(app, "/admin", HTTPServer(admin_only, query_request(WhoAmI), json_response(), auth=auth))
    register(app, "/open", HTTPServer(plain, query_request(WhoAmI), json_response()))
    with serve_wsgi(app) as url:
        yield url


@pytest.fixture(scope="module")
def channel(logs: LogCapture) -> Iterator[grpc.Channel]:
    auth = BearerAuth(VERIFIER)
    registration = service("test.Who", {"WhoAmI": json_method(plain, WhoAmI),
                                        "Admin": json_method(admin_only, WhoAmI)}, auth=auth)
    with serve_grpc(registration) as target:
        channel = dial(target)
        yield channel
        channel.close()


def http_call(base_url: str, path: str, bearer: str | None) -> urllib3.BaseHTTPResponse:
    headers = {"X-Request-Id": "req-1"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return urllib3.request("GET", base_url + path, headers=headers, retries=False)


def test_http_without_a_token_is_401_with_a_bearer_challenge(base_url: str) -> None:
    response = http_call(base_url, "/whoami", None)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("case", sorted(refused_tokens()))
def test_http_refuses_a_bad_token_with_401(base_url: str, case: str) -> None:
    bad = refused_tokens()[case]
    response = http_call(base_url, "/whoami", bad)
    assert response.status == 401, case
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert bad not in response.data.decode()


def test_http_a_good_token_reaches_the_endpoint_with_its_claims(base_url: str) -> None:
    response = http_call(base_url, "/whoami", token(("service",)))
    assert response.status == 200
    # The claims are in the context; the header is not, even when named as a metadata header.
    assert response.json() == {"sub": "cust-1", "scope": "service", "request_id": "req-1",
                               "saw_authorization": False}


def test_http_a_token_lacking_the_scope_is_403(base_url: str) -> None:
    response = http_call(base_url, "/admin", token(("service",)))
    assert response.status == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert http_call(base_url, "/admin", token(("orders:admin",))).status == 200


def test_http_a_route_without_auth_stays_open(base_url: str) -> None:
    assert http_call(base_url, "/open", None).status == 200


def test_the_kit_http_client_sends_a_static_or_provided_token(base_url: str) -> None:
    good = token(("orders:admin",))
    static = HTTPClient("GET", base_url + "/admin", no_body, json_decoder(Identity), token=good)
    assert static(WhoAmI()).scope == "orders:admin"
    provided = HTTPClient("GET", base_url + "/admin", no_body, json_decoder(Identity),
                          token=lambda: token(("orders:admin",)))
    assert provided(WhoAmI()).sub == "cust-1"
    anonymous = HTTPClient("GET", base_url + "/admin", no_body, json_decoder(Identity))
    with pytest.raises(errors.Unauthenticated):
        anonymous(WhoAmI())
    lacking = HTTPClient("GET", base_url + "/admin", no_body, json_decoder(Identity), token=token())
    with pytest.raises(errors.PermissionDenied):
        lacking(WhoAmI())


def grpc_whoami(channel: grpc.Channel, bearer: str | None, method: str = "WhoAmI") -> Identity:
    call = json_client(channel, f"/test.Who/{method}", WhoAmI, Identity, timeout=5,
                       metadata={"x-request-id": "req-1"}, token=bearer)
    return call(WhoAmI())


def test_grpc_without_a_token_is_unauthenticated(channel: grpc.Channel) -> None:
    with pytest.raises(errors.Unauthenticated, match="missing bearer token"):
        grpc_whoami(channel, None)


@pytest.mark.parametrize("case", sorted(refused_tokens()))
def test_grpc_refuses_a_bad_token_as_unauthenticated(channel: grpc.Channel, case: str) -> None:
    bad = refused_tokens()[case]
    with pytest.raises(errors.Unauthenticated) as info:
        grpc_whoami(channel, bad)
    assert bad not in info.value.message


def test_grpc_a_good_token_reaches_the_endpoint_with_its_claims(channel: grpc.Channel) -> None:
    assert grpc_whoami(channel, token(("service",))) == Identity("cust-1", "service", "req-1", False)


def test_grpc_a_token_lacking_the_scope_is_permission_denied(channel: grpc.Channel) -> None:
    with pytest.raises(errors.PermissionDenied):
        grpc_whoami(channel, token(("service",)), "Admin")
    assert grpc_whoami(channel, token(("orders:admin",)), "Admin").scope == "orders:admin"


def test_a_provider_is_asked_for_a_token_on_every_grpc_call(channel: grpc.Channel) -> None:
    asked: list[str] = []

    def provide() -> str:
        asked.append("x")
        return token()

    call = json_client(channel, "/test.Who/WhoAmI", WhoAmI, Identity, timeout=5, token=provide)
    call(WhoAmI())
    call(WhoAmI())
    assert len(asked) == 2


def test_no_token_ever_reaches_a_log_line(base_url: str, channel: grpc.Channel,
                                          logs: LogCapture) -> None:
    sent = [token(("service",)), token(("orders:admin",)), *refused_tokens().values()]
    for bearer in sent:
        http_call(base_url, "/whoami", bearer)
        http_call(base_url, "/admin", bearer)
        for method in ("WhoAmI", "Admin"):
            with contextlib.suppress(errors.KitError):
                grpc_whoami(channel, bearer, method)
    assert any("method=whoami" in line for line in logs.lines)  # the scan saw the calls' lines
    signatures = [bearer.rpartition(".")[2] for bearer in sent if bearer.count(".") == 2]
    leaked = [line for line in logs.lines for secret in [*sent, *signatures, SECRET]
              if secret and secret in line]
    assert not leaked
