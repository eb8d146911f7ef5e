"""Read a Server-Sent Events stream in tests: events as dicts, comments counted, over urllib3."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import urllib3


@dataclass
class Received:
    """One event as read: its fields (``data`` joined with newlines), or a comment."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None


@dataclass
class SSEReader:
    """An open stream; ``events()`` parses it; ``close()`` drops the connection."""

    response: urllib3.BaseHTTPResponse
    comments: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.response.status

    def events(self) -> Iterator[Received]:
        """Events (not comments) as they arrive; comments are appended to ``comments``."""
        current = Received()
        data: list[str] = []
        buffer = b""
        while True:
            chunk = self.response.read1(65536) if hasattr(self.response, "read1") else self.response.read(1)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode().rstrip("\r")
                if not line:
                    if data or current.id is not None or current.event is not None:
                        current.data = "\n".join(data)
                        yield current
                    current, data = Received(), []
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data.append(value)
                    elif name == "id":
                        current.id = value
                    elif name == "event":
                        current.event = value

    def close(self) -> None:
        """Close the connection (the server notices at its next write)."""
        self.response.release_conn()
        self.response.close()


def open_stream(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> SSEReader:
    """GET ``url`` as an event stream, not following redirects, without reading the body."""
    http = urllib3.PoolManager(num_pools=1, retries=False)
    response = http.request("GET", url, headers={"Accept": "text/event-stream", **(headers or {})},
                            preload_content=False, timeout=urllib3.Timeout(connect=timeout, read=timeout))
    return SSEReader(response)
