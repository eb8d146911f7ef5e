"""Property tests: no header garbage makes B3 extraction raise, and written contexts read back."""

import string

from hypothesis import given
from hypothesis import strategies as st

from kit.context import TraceContext
from kit.zipkin import b3

B3_KEYS = ["b3", "B3", "X-B3-TraceId", "x-b3-spanid", "X-B3-PARENTSPANID", "x-b3-Sampled", "X-B3-Flags"]
hex_chars = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16).filter(lambda s: s.strip("0"))
keys = st.one_of(st.sampled_from(B3_KEYS), st.text(max_size=20))
values = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=string.hexdigits + "-dD01 ", max_size=70),
    st.builds(lambda a, b, c: f"{a}-{b}-{c}", hex_chars, hex_chars, st.text(max_size=20)),
)


def _valid(value: str, lengths: tuple[int, ...]) -> bool:
    return len(value) in lengths and all(c in "0123456789abcdef" for c in value) and value.strip("0") != ""


@given(st.dictionaries(keys, values, max_size=8))
def test_any_header_garbage_never_raises_and_yields_valid_ids(headers):
    got = b3.extract(headers)
    assert isinstance(got, b3.Extracted)
    if got.context is not None:
        assert _valid(got.context.trace_id, (16, 32))
        assert _valid(got.context.span_id, (16,))
        assert got.context.parent_id is None or _valid(got.context.parent_id, (16,))


@given(
    trace_id=st.one_of(hex_chars, st.builds(str.__add__, hex_chars, hex_chars)),
    span_id=hex_chars,
    parent_id=st.none() | hex_chars,
    sampled=st.sampled_from([True, False]),
    debug=st.booleans(),
)
def test_every_valid_context_reads_back_from_both_forms(trace_id, span_id, parent_id, sampled, debug):
    context = TraceContext(trace_id, span_id, parent_id, True if debug else sampled, debug)
    multi: dict[str, str] = {}
    b3.inject(context, multi)
    single: dict[str, str] = {}
    b3.inject_single(context, single)
    assert b3.extract(multi).context == context
    assert b3.extract(single).context == context
