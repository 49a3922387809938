"""The byte-level SSE decoder: right for any split, any line ending, any UTF-8."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_backend_vllm_replay import chat_stream_chunks, sse_bytes

from gptoss_aws.streaming._sse import Event, SSEDecoder, decode_all


def decode_split(data: bytes, cuts: list[int]) -> list[Event]:
    decoder = SSEDecoder()
    events: list[Event] = []
    previous = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events += decoder.feed(data[previous:cut])
        previous = cut
    return events + decoder.flush()


def test_one_part_holding_many_events_gives_them_all() -> None:
    # strands-agents #4035: one SageMaker PayloadPart can carry several SSE events.
    data = sse_bytes(chat_stream_chunks())
    events = SSEDecoder().feed(data)
    assert len(events) == 23
    assert events[-1].data == "[DONE]"
    assert json.loads(events[1].data)["choices"][0]["delta"] == {"reasoning": "User"}


def test_an_event_split_across_parts_comes_out_once_whole() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a"') == []
    assert decoder.feed(b": 1}\n") == []
    assert decoder.feed(b"\n") == [Event(data='{"a": 1}')]


def test_a_multibyte_character_split_between_parts_is_decoded_whole() -> None:
    data = "data: 你好 🌍\n\n".encode()
    start = data.index("🌍".encode())
    decoder = SSEDecoder()
    events = decoder.feed(data[: start + 2]) + decoder.feed(data[start + 2 :])
    assert events == [Event(data="你好 🌍")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_is_a_line_ending(newline: bytes) -> None:
    data = b"event: x" + newline + b"data: 1" + newline + b"data: 2" + newline + newline
    assert decode_all(data) == [Event(data="1\n2", event="x")]


def test_crlf_split_between_parts_is_one_line_end_not_two() -> None:
    decoder = SSEDecoder()
    # If the CR were taken as a line end on its own, the LF would end the (empty) event
    # line early and dispatch "a" here instead of "a\nb".
    events = decoder.feed(b"data: a\r") + decoder.feed(b"\ndata: b\r") + decoder.feed(b"\n\r\n")
    assert events == [Event(data="a\nb")]


def test_comments_and_unknown_fields_are_ignored_and_empty_data_dispatches_nothing() -> None:
    data = b": keep-alive\n\nfoo: bar\nevent: ping\n\ndata\n\ndata:x\n\n"
    assert decode_all(data) == [Event(data=""), Event(data="x")]


def test_id_and_retry_are_kept_and_id_persists() -> None:
    data = b"id: 7\nretry: 1500\ndata: a\n\ndata: b\n\nretry: soon\nid: 8\0\ndata: c\n\n"
    assert decode_all(data) == [
        Event(data="a", id="7", retry=1500),
        Event(data="b", id="7", retry=1500),
        Event(data="c", id="7", retry=1500),
    ]


def test_a_leading_bom_is_dropped_even_when_split() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"\xef") + decoder.feed(b"\xbb") + decoder.feed(b"\xbfdata: x\n\n")
    assert events == [Event(data="x")]


def test_done_sentinel_is_an_ordinary_event() -> None:
    assert decode_all(b"data: [DONE]\n\n") == [Event(data="[DONE]")]


def test_flush_dispatches_an_event_whose_blank_line_never_came() -> None:
    assert decode_all(b"data: [DONE]\n") == [Event(data="[DONE]")]
    assert decode_all(b"data: [DONE]") == [Event(data="[DONE]")]
    assert decode_all(b"data: x\r") == [Event(data="x")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode_all(b"data: \xff\n\n") == [Event(data="\ufffd")]


# ---- property: any split equals no split -------------------------------------------------

# Field values: any text without line breaks (they would end the line), including
# multi-byte characters; data may start with spaces or colons.
_value = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\0"),
    max_size=12,
)
_name = st.text(alphabet="abcdefghij-_", min_size=1, max_size=6)


@st.composite
def _events(draw: st.DrawFn) -> tuple[list[bytes], list[Event]]:
    """Lines of a stream (unterminated) and the events they must decode to."""
    lines: list[bytes] = []
    expected: list[Event] = []
    last_id: str | None = None
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            lines.append(b":" + draw(_value).encode())  # a comment
        name = draw(st.none() | _name)
        if name is not None:
            lines.append(b"event: " + name.encode())
        if draw(st.booleans()):
            last_id = draw(_value)
            lines.append(b"id: " + last_id.encode())
        data = draw(st.lists(_value, min_size=1, max_size=3))
        lines += [b"data: " + d.encode() for d in data]
        lines.append(b"")
        expected.append(Event(data="\n".join(data), event=name or "message", id=last_id))
    return lines, expected


_newline = st.sampled_from([b"\n", b"\r\n", b"\r"])


@settings(max_examples=300, deadline=None)
@given(
    stream=_events(),
    newline=_newline,
    bom=st.booleans(),
    cuts=st.lists(st.integers(0, 2000), max_size=30),
)
def test_any_split_decodes_like_the_whole_and_like_what_was_sent(
    stream: tuple[list[bytes], list[Event]], newline: bytes, bom: bool, cuts: list[int]
) -> None:
    lines, expected = stream
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(line + newline for line in lines)
    cuts = [c % (len(data) + 1) for c in cuts]
    whole = decode_all(data)
    assert decode_split(data, cuts) == whole
    assert whole == expected


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(
        st.sampled_from(
            [
                b"data: ",
                b"data:",
                b"\n",
                b"\r",
                b"\r\n",
                b":",
                b"x",
                "é".encode(),
                b"event: e",
                b"id: 1",
                b"retry: 9",
                b"\xef\xbb\xbf",
                b" ",
            ]
        ),
        max_size=40,
    ),
    cuts=st.lists(st.integers(0, 400), max_size=20),
)
def test_any_split_of_arbitrary_bytes_decodes_like_the_whole(
    raw: list[bytes], cuts: list[int]
) -> None:
    # Mixed line endings and broken fields included: whatever the bytes mean, the split
    # must not change it.
    data = b"".join(raw)
    assert decode_split(data, [c % (len(data) + 1) for c in cuts]) == decode_all(data)


@settings(max_examples=50, deadline=None)
@given(cuts=st.lists(st.integers(0, 5000), max_size=60))
def test_the_recorded_vllm_stream_survives_any_split(cuts: list[int]) -> None:
    data = sse_bytes(chat_stream_chunks())
    events = decode_split(data, [c % (len(data) + 1) for c in cuts])
    assert [e.data for e in events] == [json.dumps(c) for c in chat_stream_chunks()] + ["[DONE]"]
