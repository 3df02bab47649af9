"""The chat-completions client: `UpstreamClient.stream_chat()`, SSE decoding, errors, retries."""

from assistantd.upstream.client import UpstreamClient
from assistantd.upstream.errors import UpstreamError
from assistantd.upstream.types import ChatChunk

__all__ = ["ChatChunk", "UpstreamClient", "UpstreamError"]
