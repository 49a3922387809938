"""Streaming: the byte-level SSE decoder, the chunk accumulator, and the tracked streams."""

from gptoss_aws.streaming._accumulate import ChunkAccumulator
from gptoss_aws.streaming._sse import Event, SSEDecoder
from gptoss_aws.streaming.stream import AsyncStream, Stream

__all__ = ["AsyncStream", "ChunkAccumulator", "Event", "SSEDecoder", "Stream"]
