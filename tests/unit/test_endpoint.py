from kit import chain
from kit.endpoint import Endpoint


def tracing_middleware(name: str, calls: list[str]):
    def middleware(next_endpoint: Endpoint[int, int]) -> Endpoint[int, int]:
        def endpoint(request: int) -> int:
            calls.append(f"{name}>")
            response = next_endpoint(request)
            calls.append(f"<{name}")
            return response

        return endpoint

    return middleware


def test_chain_first_middleware_is_outermost():
    calls: list[str] = []
    wrapped = chain(tracing_middleware("a", calls), tracing_middleware("b", calls),
                    tracing_middleware("c", calls))(lambda n: n + 1)
    assert wrapped(1) == 2
    assert calls == ["a>", "b>", "c>", "<c", "<b", "<a"]


def test_empty_chain_returns_the_endpoint_unchanged():
    def endpoint(n: int) -> int:
        return n * 2

    assert chain()(endpoint) is endpoint
