"""Byte-level server-sent-events decoder, right for any split of the stream into parts.

Both streaming transports hand us arbitrary byte slices: httpx's ``iter_bytes()`` cuts
where the socket read ended, and SageMaker's InvokeEndpointWithResponseStream cuts
PayloadParts where the container's writes happened to land, so one part may end inside
an event, inside a line, inside a CRLF pair or inside a multi-byte UTF-8 character, and
one part may hold several events (strands-agents #4035). The decoder therefore keeps
everything as bytes until a line is complete: ``\\r`` and ``\\n`` never occur inside a
UTF-8 sequence, so a complete line always decodes cleanly.

Parsing follows the WHATWG "event stream interpretation" rules: lines end in CRLF, LF or
CR; ``:`` starts a comment; ``field: value`` loses one leading space; ``data`` lines are
joined with ``\\n``; a blank line dispatches the event unless its data is empty; a
leading BOM is dropped. One deliberate difference: ``flush()`` dispatches an event whose
closing blank line never came (the spec drops it), so a server that ends on
``data: [DONE]\\n`` without the blank line is not silently cut short.
"""

from __future__ import annotations

from dataclasses import dataclass

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event. ``id`` is the last event id seen so far, as the spec says."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed it bytes in any slicing; it returns the events those bytes completed."""

    __slots__ = ("_bom_pending", "_data", "_event", "_id", "_line", "_pending_cr", "_retry")

    def __init__(self) -> None:
        self._line: list[bytes] = []  # pieces of the current, unterminated line
        self._pending_cr = False  # a part ended in "\r": it may be half of a CRLF
        self._bom_pending = True  # until we know whether the stream starts with a BOM
        self._data: list[bytes] = []
        self._event = b""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        if self._bom_pending:
            chunk = self._strip_bom(chunk)
            if self._bom_pending:
                return []
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.endswith(b"\r"):
            # Hold it back: if the next part starts with "\n" the pair is one line end.
            chunk = chunk[:-1]
            self._pending_cr = True
        if b"\r" in chunk:
            # Normalise every line end to LF: CRLF first, then a lone CR. This is exact
            # because the only CR that could pair with a later LF is the held one above.
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._line.append(chunk)
            return []
        if self._line:
            self._line.append(chunk)
            chunk = b"".join(self._line)
            self._line = []
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if rest:
            self._line.append(rest)
        events: list[Event] = []
        for line in lines:
            self._process_line(line, events)
        return events

    def flush(self) -> list[Event]:
        """End of stream: finish the last line and dispatch any event still open."""
        events: list[Event] = []
        if self._bom_pending:
            # Fewer than three bytes ever arrived and they were a BOM prefix.
            self._line = []
            self._bom_pending = False
        self._pending_cr = False
        if self._line:
            line = b"".join(self._line)
            self._line = []
            self._process_line(line, events)
        self._process_line(b"", events)
        return events

    def _strip_bom(self, chunk: bytes) -> bytes:
        # The BOM itself may be split across parts, so buffer until three bytes are known.
        head = b"".join(self._line) + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._line = [head] if head else []
            return b""
        self._line = []
        self._bom_pending = False
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _process_line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            if self._data:
                events.append(
                    Event(
                        data=b"\n".join(self._data).decode("utf-8", "replace"),
                        event=self._event.decode("utf-8", "replace") or "message",
                        id=self._id,
                        retry=self._retry,
                    )
                )
            self._data = []
            self._event = b""
            return
        # Fast path: nearly every line of a chat stream is "data: {...}".
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
            return
        if line.startswith(b":"):
            return  # comment, e.g. a keep-alive
        field, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if field == b"data":  # "data" with no colon: an empty data line
            self._data.append(value)
        elif field == b"event":
            self._event = value
        elif field == b"id":
            if b"\0" not in value:
                self._id = value.decode("utf-8", "replace")
        elif field == b"retry" and value.isdigit():
            self._retry = int(value)
        # Any other field is ignored, as the spec says.


def decode_all(data: bytes) -> list[Event]:
    """Decode a whole stream at once (tests and small bodies)."""
    decoder = SSEDecoder()
    return decoder.feed(data) + decoder.flush()
