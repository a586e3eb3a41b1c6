"""A small HTTP/1.1 keep-alive load generator for the benchmarks (pure Python, asyncio protocols).

Kept cheap on purpose, because on a small machine it shares the CPU with the server it measures:
the request bytes are built once, a response is framed by ``content-length`` (or the end of a
chunked body) with no header parsing beyond that, and one callback both records a response and
sends the next request on the same connection (one request in flight per connection, no pipelining).

Two modes:

* ``closed_loop`` — every connection sends its next request as soon as the previous answer
  arrives: the number of connections is the concurrency, and the completed rate is the peak.
* ``open_loop`` — requests are due on a fixed schedule (``rate`` per second) whatever the server
  does; a request due while every connection is busy waits in a client-side queue, and its latency
  is counted from the time it was *due*, not from when it could be sent, so a slow server cannot
  hide its stalls by slowing the generator down (no coordinated omission).

And ``KeepAliveClient``, not a load at all: one connection, one request after another, each timed
from the first byte sent to the last byte of the body read, with the body's size; what a user's
browser tab feels on a page, for reads timed one by one (bench/scale.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import http.client
import itertools
import time
from dataclasses import dataclass, field

SEQ = "{seq}"  # in a header value: replaced by a number unique to each request (32 hex digits)


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None,
                  method: str = "POST") -> bytes:
    """The request's bytes, built once. A header value holding ``SEQ`` (e.g. a fresh Idempotency-Key
    per request) gets a number of its own at each send; the body stays as it is."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_numbers = itertools.count(1)  # one sequence for the whole run: phases never reuse a number


class _Numbered:
    """A request whose ``SEQ`` marker takes the next number at every send."""

    def __init__(self, request: bytes):
        self.head, self.tail = request.split(SEQ.encode(), 1)

    def next(self) -> bytes:
        return self.head + b"%032x" % next(_numbers) + self.tail


class Requests:
    """Requests built beforehand, each sent once, in order, across every phase that is given this
    object: for a body that must differ each time (a camera's alert id, a phone and its SMS code).
    When they run out the last one is sent again, and its answer (a replay, a refusal) shows as an error."""

    def __init__(self, requests: list[bytes]):
        self.requests = requests
        self.i = 0

    def next(self) -> bytes:
        request = self.requests[min(self.i, len(self.requests) - 1)]
        self.i += 1
        return request

    def __len__(self) -> int:
        return len(self.requests)


@dataclass
class PhaseResult:
    mode: str
    connections: int
    duration: float  # seconds from the first send to the last answer
    target_rate: float | None = None
    sent: int = 0
    completed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    conn_errors: int = 0
    unanswered: int = 0  # still in flight (or queued) when the drain timeout ran out
    late_sends: int = 0  # open loop: sent more than 1 ms after they were due (connections all busy)
    latencies: list[float] = field(default_factory=list)  # seconds
    dues: list[float] = field(default_factory=list)  # when each answered request was due (same order)
    start: float = 0.0
    client_cpu: float = 0.0  # CPU seconds this process spent during the phase

    ok_status: int = 201  # the answer of a request that did what it was sent for (a form's: 302)

    @property
    def ok(self) -> int:
        return self.statuses.get(self.ok_status, 0)

    @property
    def errors(self) -> int:
        return self.completed - self.ok + self.conn_errors + self.unanswered

    @property
    def ok_rate(self) -> float:
        return self.ok / self.duration if self.duration > 0 else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        s = sorted(self.latencies)
        k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
        return s[k]

    def summary(self) -> dict:
        ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
        return {
            "mode": self.mode, "connections": self.connections, "duration_s": round(self.duration, 3),
            "target_rate": None if self.target_rate is None else round(self.target_rate, 1),
            "sent": self.sent, "completed": self.completed, "ok_201": self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "conn_errors": self.conn_errors, "unanswered": self.unanswered, "errors": self.errors,
            "late_sends": self.late_sends, "ok_rate": round(self.ok_rate, 1),
            "p50_ms": ms(self.percentile(50)), "p90_ms": ms(self.percentile(90)),
            "p99_ms": ms(self.percentile(99)), "max_ms": ms(max(self.latencies) if self.latencies else None),
            "client_cpu_s": round(self.client_cpu, 3),
            "per_second": self.timeline(),
        }

    def timeline(self) -> list[dict]:
        """Per second of schedule (by due time): answers, p50, p99 and max latency in ms."""
        buckets: dict[int, list[float]] = {}
        for due, lat in zip(self.dues, self.latencies, strict=True):
            buckets.setdefault(int(due - self.start), []).append(lat)
        out = []
        for sec in sorted(buckets):
            s = sorted(buckets[sec])
            out.append({"s": sec, "n": len(s), "p50_ms": round(s[len(s) // 2] * 1000, 1),
                        "p99_ms": round(s[min(len(s) - 1, int(0.99 * len(s)))] * 1000, 1),
                        "max_ms": round(s[-1] * 1000, 1)})
        return out


class _Conn(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    __slots__ = ("buf", "due", "lost", "pool", "transport")

    def __init__(self, pool: _Pool):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.due: float | None = None  # when the request in flight was due (None: idle)
        self.lost = False

    def connection_made(self, transport):
        self.transport = transport

    def send(self, due: float) -> None:
        self.due = due
        pool = self.pool
        self.transport.write(pool.request if pool.numbered is None else pool.numbered.next())

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[: end + 4]).lower()
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 17)
                total = end + 4 + int(head[i + 17 : j])
            elif b"\r\ntransfer-encoding: chunked" in head:
                k = buf.find(b"\r\n0\r\n\r\n", end)
                if k < 0:
                    return
                total = k + 7
            else:  # no body framing: read to close (not expected from our servers)
                return
            if len(buf) < total:
                return
            status = int(buf[9:12])
            close = b"\r\nconnection: close" in head
            del buf[:total]
            self.pool.answered(self, status)
            if close:
                self.transport.close()
                return

    def connection_lost(self, exc):
        self.lost = True
        self.pool.lost(self)


class _Pool:
    def __init__(self, host: str, port: int, request: bytes | Requests, connections: int, result: PhaseResult):
        self.host, self.port, self.request = host, port, request
        if isinstance(request, Requests):
            self.numbered = request
        else:
            self.numbered = _Numbered(request) if SEQ.encode() in request else None
        self.n = connections
        self.result = result
        self.loop = asyncio.get_running_loop()
        self.clock = time.perf_counter
        self.conns: list[_Conn] = []
        self.idle: collections.deque[_Conn] = collections.deque()
        self.backlog: collections.deque[float] = collections.deque()
        self.in_flight = 0
        self.closed_loop_until: float | None = None  # closed loop: resend until this time
        self.all_done = asyncio.Event()
        self.stopping = False
        self.last_answer = 0.0

    async def open(self) -> None:
        for _ in range(self.n):
            await self._connect()

    async def _connect(self) -> None:
        _, conn = await self.loop.create_connection(lambda: _Conn(self), self.host, self.port)
        self.conns.append(conn)
        self.idle.append(conn)

    def dispatch(self, due: float) -> None:
        """Send a request due at ``due`` now, or queue it until a connection is free."""
        self.result.sent += 1
        if self.idle:
            conn = self.idle.popleft()
            self.in_flight += 1
            conn.send(due)
        else:
            self.backlog.append(due)

    def answered(self, conn: _Conn, status: int) -> None:
        now = self.clock()
        r = self.result
        r.latencies.append(now - conn.due)
        r.dues.append(conn.due)
        r.completed += 1
        r.statuses[status] = r.statuses.get(status, 0) + 1
        self.last_answer = now
        conn.due = None
        self.in_flight -= 1
        self._next(conn, now)

    def _next(self, conn: _Conn, now: float) -> None:
        if conn.lost:
            return
        if self.closed_loop_until is not None:
            if now < self.closed_loop_until:
                self.result.sent += 1
                self.in_flight += 1
                conn.send(now)
                return
        elif self.backlog:
            due = self.backlog.popleft()
            if now - due > 0.001:
                self.result.late_sends += 1
            self.in_flight += 1
            conn.send(due)
            return
        self.idle.append(conn)
        if self.stopping and self.in_flight == 0 and not self.backlog:
            self.all_done.set()

    def lost(self, conn: _Conn) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.due is not None:
            self.result.conn_errors += 1
            self.in_flight -= 1
            conn.due = None
        if not self.stopping or self.in_flight or self.backlog:
            self.loop.create_task(self._replace())
        elif self.in_flight == 0:
            self.all_done.set()

    async def _replace(self) -> None:
        try:
            _, conn = await self.loop.create_connection(lambda: _Conn(self), self.host, self.port)
        except OSError:
            self.result.conn_errors += 1
            await asyncio.sleep(0.05)
            if not self.stopping:
                self.loop.create_task(self._replace())
            return
        self.conns.append(conn)
        self._next(conn, self.clock())

    async def drain(self, timeout: float) -> None:
        self.stopping = True
        if self.in_flight or self.backlog:
            self.all_done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.all_done.wait(), timeout)
        self.result.unanswered = self.in_flight + len(self.backlog)

    def close(self) -> None:
        for c in self.conns:
            if c.transport is not None and not c.lost:
                c.transport.close()


def _cpu() -> float:
    return time.process_time()


async def closed_loop(host: str, port: int, request: bytes | Requests, *, connections: int, duration: float,
                      drain_timeout: float = 10.0, ok_status: int = 201) -> PhaseResult:
    result = PhaseResult("closed", connections, 0.0, ok_status=ok_status)
    pool = _Pool(host, port, request, connections, result)
    await pool.open()
    gc.disable()
    cpu0 = _cpu()
    try:
        start = result.start = pool.clock()
        pool.closed_loop_until = start + duration
        for conn in list(pool.idle):
            pool.idle.remove(conn)
            result.sent += 1
            pool.in_flight += 1
            conn.send(start)
        await asyncio.sleep(duration)
        await pool.drain(drain_timeout)
        result.duration = max(pool.last_answer, start + duration) - start
    finally:
        result.client_cpu = _cpu() - cpu0
        gc.enable()
        pool.close()
    return result


async def open_loop(host: str, port: int, request: bytes | Requests, *, connections: int, rate: float, duration: float,
                    drain_timeout: float = 10.0, ok_status: int = 201) -> PhaseResult:
    result = PhaseResult("open", connections, 0.0, target_rate=rate, ok_status=ok_status)
    pool = _Pool(host, port, request, connections, result)
    await pool.open()
    total = max(1, int(rate * duration))
    interval = 1.0 / rate
    gc.disable()
    cpu0 = _cpu()
    try:
        start = result.start = pool.clock() + 0.01
        i = 0
        while i < total:
            now = pool.clock()
            due_count = min(total, int((now - start) / interval) + 1) if now >= start else 0
            while i < due_count:
                pool.dispatch(start + i * interval)
                i += 1
            if i < total:
                delay = start + i * interval - pool.clock()
                # asyncio.sleep(0) still runs the callbacks of ready connections.
                await asyncio.sleep(delay if delay > 0 else 0)
        await pool.drain(drain_timeout)
        result.duration = max(pool.last_answer, start + duration) - start
    finally:
        result.client_cpu = _cpu() - cpu0
        gc.enable()
        pool.close()
    return result


class KeepAliveClient:
    """One HTTP/1.1 keep-alive connection reused for every request, one request at a time.

    ``connects`` counts the TCP connections opened: 1 after any number of requests means the server
    kept the connection alive throughout (http.client reopens silently when a server closes it).
    """

    def __init__(self, host: str, port: int, timeout: float = 120.0):
        self.connects = 0
        client = self

        class Counted(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                client.connects += 1

        self.conn = Counted(host, port, timeout=timeout)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, float, dict[str, str]]:
        """GET ``path``: the status, the body as received (not decoded), the seconds from sending the
        request to reading the body's last byte, and the response's headers (lower-cased names)."""
        t = time.perf_counter()
        self.conn.request("GET", path, headers=headers or {})
        response = self.conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - t
        return response.status, body, seconds, {k.lower(): v for k, v in response.getheaders()}

    def close(self) -> None:
        self.conn.close()


async def probe(host: str, port: int, path: str = "/", timeout: float = 1.0) -> int | None:
    """One GET; the status, or None when nothing answers yet."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
        return int(line[9:12]) if line.startswith(b"HTTP/1.") else None
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        writer.close()
