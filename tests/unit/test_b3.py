"""B3 header parsing and writing: both forms, any key case, malformed input."""

import pytest
from werkzeug.datastructures import Headers

from kit.context import TraceContext
from kit.zipkin import b3

TRACE = "463ac35c9f6413ad48485a3953bb6124"
SPAN = "a2fb4a1d1a96d312"
PARENT = "0020000000000001"


def test_multi_header_form_with_every_field():
    got = b3.extract({
        "X-B3-TraceId": TRACE, "X-B3-SpanId": SPAN, "X-B3-ParentSpanId": PARENT, "X-B3-Sampled": "1",
    })
    assert got.context == TraceContext(TRACE, SPAN, PARENT, True, False)
    assert got.sampled is True


@pytest.mark.parametrize("case", [str.lower, str.upper, lambda k: k])
def test_dict_keys_match_in_any_case(case):
    headers = {case("X-B3-TraceId"): TRACE, case("X-B3-SpanId"): SPAN, case("X-B3-Sampled"): "0"}
    got = b3.extract(headers)
    assert got.context == TraceContext(TRACE, SPAN, None, False, False)


def test_case_insensitive_header_views_are_asked_directly():
    headers = Headers([("X-B3-TRACEID", TRACE), ("x-B3-spanid", SPAN), ("Content-Type", "text/plain")])
    assert b3.extract(headers).context == TraceContext(TRACE, SPAN, None, None, False)


def test_64_bit_trace_ids_and_upper_case_hex_are_accepted():
    got = b3.extract({"x-b3-traceid": TRACE[:16].upper(), "x-b3-spanid": SPAN.upper()})
    assert got.context is not None
    assert (got.context.trace_id, got.context.span_id) == (TRACE[:16], SPAN)


@pytest.mark.parametrize(("value", "sampled"), [("1", True), ("0", False), ("true", True), ("false", False)])
def test_sampled_values(value, sampled):
    got = b3.extract({"x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-sampled": value})
    assert got.context is not None
    assert got.context.sampled is sampled


def test_debug_flag_forces_sampling():
    got = b3.extract({"x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-flags": "1", "x-b3-sampled": "0"})
    assert got.context == TraceContext(TRACE, SPAN, None, True, True)


def test_a_sampling_decision_alone_is_kept():
    got = b3.extract({"X-B3-Sampled": "0"})
    assert got.context is None
    assert got.sampled is False


@pytest.mark.parametrize(("value", "expected"), [
    (f"{TRACE}-{SPAN}-1-{PARENT}", TraceContext(TRACE, SPAN, PARENT, True, False)),
    (f"{TRACE}-{SPAN}-0", TraceContext(TRACE, SPAN, None, False, False)),
    (f"{TRACE}-{SPAN}-d", TraceContext(TRACE, SPAN, None, True, True)),
    (f"{TRACE}-{SPAN}", TraceContext(TRACE, SPAN, None, None, False)),
    (f" {TRACE.upper()}-{SPAN}-1 ", TraceContext(TRACE, SPAN, None, True, False)),
])
def test_single_header_form(value, expected):
    assert b3.extract({"b3": value}).context == expected


@pytest.mark.parametrize(("value", "sampled", "debug"), [("0", False, False), ("1", True, False),
                                                         ("d", True, True)])
def test_single_header_bare_decision(value, sampled, debug):
    got = b3.extract({"B3": value})
    assert (got.context, got.sampled, got.debug) == (None, sampled, debug)


def test_single_header_wins_over_multi_header():
    got = b3.extract({"b3": f"{TRACE}-{SPAN}-1", "x-b3-traceid": "1" * 32, "x-b3-spanid": "2" * 16})
    assert got.context is not None
    assert got.context.trace_id == TRACE


def test_malformed_single_header_falls_back_to_multi_header():
    got = b3.extract({"b3": "garbage", "x-b3-traceid": TRACE, "x-b3-spanid": SPAN})
    assert got.context is not None
    assert got.context.span_id == SPAN


@pytest.mark.parametrize("headers", [
    {"x-b3-traceid": "xyz", "x-b3-spanid": SPAN},
    {"x-b3-traceid": TRACE, "x-b3-spanid": SPAN[:15]},
    {"x-b3-traceid": TRACE + "0", "x-b3-spanid": SPAN},
    {"x-b3-traceid": "0" * 32, "x-b3-spanid": SPAN},
    {"x-b3-traceid": TRACE, "x-b3-spanid": "0" * 16},
    {"x-b3-traceid": TRACE},
    {"x-b3-spanid": SPAN},
    {"x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-parentspanid": "nope"},
    {"b3": f"{TRACE}-{SPAN}-x"},
    {"b3": f"{TRACE}-{SPAN}-1-{PARENT}-extra"},
    {"b3": f"{TRACE}-{SPAN}-1-zz"},
    {"b3": f"{TRACE}"},
    {"b3": "-"},
    {"b3": ""},
    {"x-b3-traceid": TRACE.replace("4", "g"), "x-b3-spanid": SPAN},
    {},
])
def test_malformed_headers_give_nothing(headers):
    assert b3.extract(headers) is b3.EMPTY


def test_none_and_misbehaving_carriers_give_nothing():
    class Broken(dict):
        def items(self):
            raise RuntimeError("carrier exploded")

    assert b3.extract(None) is b3.EMPTY
    assert b3.extract(Broken(b3="1")) is b3.EMPTY
    assert b3.extract({"x-b3-traceid": 7, b"b3": "1"}) is b3.EMPTY  # type: ignore[dict-item]


@pytest.mark.parametrize("context", [
    TraceContext(TRACE, SPAN, PARENT, True, False),
    TraceContext(TRACE, SPAN, None, False, False),
    TraceContext(TRACE[:16], SPAN, PARENT, True, True),
    TraceContext(TRACE, SPAN, None, None, False),
])
def test_written_headers_read_back_in_both_forms(context):
    multi: dict[str, str] = {}
    b3.inject(context, multi)
    assert all(key == key.lower() for key in multi)
    assert b3.extract(multi).context == context
    single: dict[str, str] = {}
    b3.inject_single(context, single)
    expected = context if context.sampled is not None else TraceContext(TRACE, SPAN, None, None, False)
    assert b3.extract(single).context == expected


def test_written_header_values():
    headers: dict[str, str] = {}
    b3.inject(TraceContext(TRACE, SPAN, PARENT, False, False), headers)
    assert headers == {"x-b3-traceid": TRACE, "x-b3-spanid": SPAN, "x-b3-parentspanid": PARENT,
                       "x-b3-sampled": "0"}
    debug: dict[str, str] = {}
    b3.inject(TraceContext(TRACE, SPAN, None, True, True), debug)
    assert debug["x-b3-flags"] == "1"
    assert "x-b3-sampled" not in debug
    assert b3.single_header(TraceContext(TRACE, SPAN, PARENT, True, False)) == f"{TRACE}-{SPAN}-1-{PARENT}"
    assert b3.single_header(TraceContext(TRACE, SPAN, None, True, True)) == f"{TRACE}-{SPAN}-d"
