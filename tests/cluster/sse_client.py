"""A raw-socket HTTP/1.1 client for the cluster test: the reply's head as it came, and a streamed
body cut into SSE events, each stamped with the time the read that completed it returned (so a
proxy that holds events back shows up as events sharing one arrival time).

Only the standard library: the test runs wherever python3 does.
"""
import json
import socket
import time
import zlib


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)


class Stream:
    """One request on its own connection; iterate events() for (arrival_time, event_text)."""

    def __init__(self, port, method, target, body=None, headers=None, timeout=60, read_head=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sent_at = time.monotonic()
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        self.buf = b""
        self._events = None
        if read_head:  # else the caller only sends (and may close before any reply)
            self._read_head()

    def _recv(self):
        chunk = self.sock.recv(65536)
        return chunk, time.monotonic()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk, _ = self._recv()
            if not chunk:
                raise ConnectionError("closed before the reply's head")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.length = int(self.headers["content-length"]) if "content-length" in self.headers else None

    def body_pieces(self):
        """(arrival_time, bytes) of the body as it arrives, chunked framing removed and gzip (which
        a proxy may add for a client that accepts it) undone."""
        if self.headers.get("content-encoding", "").lower() != "gzip":
            yield from self._raw_pieces()
            return
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        for t, piece in self._raw_pieces():
            out = inflate.decompress(piece)
            if out:
                yield t, out

    def _raw_pieces(self):
        pending, t = self.buf, time.monotonic()
        self.buf = b""
        raw = b""
        left = self.length
        while True:
            if self.chunked:
                raw += pending
                out = b""
                while True:
                    nl = raw.find(b"\r\n")
                    if nl < 0:
                        break
                    size = int(raw[:nl].split(b";")[0], 16)
                    if size == 0:
                        if out:
                            yield t, out
                        return
                    if len(raw) < nl + 2 + size + 2:
                        break
                    out += raw[nl + 2:nl + 2 + size]
                    raw = raw[nl + 2 + size + 2:]
                if out:
                    yield t, out
            else:
                if pending:
                    yield t, pending
                if left is not None:
                    left -= len(pending)
                    if left <= 0:
                        return
            pending, t = self._recv()
            if not pending:
                if self.chunked:
                    raise ConnectionError("the chunked body ended without its last chunk")
                return

    def events(self):
        """(arrival_time, event_text) per SSE event, comments (": ping") skipped: one iterator per
        stream, so a caller may take a few events and later continue where it stopped."""
        if self._events is None:
            self._events = self._event_iter()
        return self._events

    def _event_iter(self):
        text = b""
        for t, piece in self.body_pieces():
            text += piece
            while b"\n\n" in text:
                event, text = text.split(b"\n\n", 1)
                event = event.decode()
                if all(line.startswith(":") for line in event.split("\n")):
                    continue
                yield t, event

    def read_all(self):
        return b"".join(piece for _, piece in self.body_pieces())

    def close(self):
        self.sock.close()


def request(port, method, target, body=None, headers=None, timeout=60):
    """A whole request and reply on a fresh connection."""
    s = Stream(port, method, target, body, headers, timeout)
    try:
        return Reply(s.status, s.headers, s.read_all())
    finally:
        s.close()


def event_data(event):
    """The JSON of an event's data line(s), or None for [DONE]."""
    data = "\n".join(line[len("data: "):] for line in event.split("\n") if line.startswith("data: "))
    return None if data == "[DONE]" else json.loads(data)
