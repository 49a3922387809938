"""Streaming: the byte-level SSE decoder, the chunk accumulator, and the tracked streams
(chat: ``Stream`` / ``AsyncStream``; Responses: ``ResponseStream`` / ``AsyncResponseStream``)."""

from gptoss_aws.streaming._accumulate import ChunkAccumulator
from gptoss_aws.streaming._responses_stream import AsyncResponseStream, ResponseStream
from gptoss_aws.streaming._sse import Event, SSEDecoder
from gptoss_aws.streaming.stream import AsyncStream, Stream

__all__ = [
    "AsyncResponseStream",
    "AsyncStream",
    "ChunkAccumulator",
    "Event",
    "ResponseStream",
    "SSEDecoder",
    "Stream",
]
