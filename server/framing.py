"""JSON-RPC framing that survives a badly framed message (stdio and TCP).

pygls's reader trusts every `Content-Length`: one wrong count — too long, too short (a client
counting characters, not UTF-8 bytes), missing or negative — glues the next header onto a body,
and from then on no header line is ever recognised again: the server is alive and deaf, and
the editor sees a hang, not a crash, so it never restarts it.

Here each message is cut from the byte stream by its `Content-Length` when that gives JSON,
and otherwise by the JSON itself. A valid body can never hold a raw `Content-Length: ...`
line (JSON strings cannot hold a raw line break, and the words are not JSON outside one), so
the next header marks where a broken body ends at the latest; a body that ends sooner is seen
as soon as the client pauses with a complete JSON value sent. What is still not JSON is
answered ParseError (-32700, id null) and reading goes on at that next header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import select
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter

from server.foreground import GATE
from server.server import KeneticServer

log = logging.getLogger(__name__)

CHUNK = 1 << 16
READING = "reading"  # the message loop's hold on the foreground gate
MAX_BODY = 256 << 20  # a longer declared length is treated as no length at all
MAX_HEADER_LINE = 8192
# where a (next) message starts: never inside a valid JSON body (see the module docstring)
HEADER = re.compile(rb'Content-(?:Length|Type):[^\r\n"]{0,200}\r?\n', re.IGNORECASE)
HEADER_LINE = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[^\r\n]*")
LENGTH = re.compile(rb"Content-Length:[ \t]*(\d{1,12})[ \t]*", re.IGNORECASE)
PARSE_ERROR = -32700


@dataclass
class NotJson:
    """Bytes where a message should have been: answered ParseError."""

    reason: str


@dataclass
class Unhandled:
    """A JSON message whose structuring raised (pygls logs and reports these)."""

    error: Exception


class Framer:
    """Cuts messages out of a byte stream; `feed` returns what each chunk completed.

    `parse` turns one body into a message and raises ValueError when it is not JSON (pygls's
    `json.loads` with the protocol's object hook). `stalled` says no more bytes are waiting:
    only then is a body that is shorter than its declared length tried early, so a
    message is never parsed twice while it is still streaming in.
    """

    def __init__(self, parse: Callable[[bytes], Any]) -> None:
        self.parse = parse
        self._buf = bytearray()
        self._in_body = False
        self._want: int | None = None  # the declared length; None: unknown or not to be trusted
        self._scanned = 0  # body bytes already searched for a next header

    def feed(self, data: bytes, *, stalled: bool = True) -> list[Any]:
        self._buf += data
        out: list[Any] = []
        while self._body(out, stalled) if self._in_body else self._head():
            pass
        return out

    def close(self) -> list[Any]:
        """End of stream: whatever body is left is a message or a ParseError."""
        out: list[Any] = []
        if self._in_body or self._buf.strip():
            self._emit(bytes(self._buf), out)
        self._buf.clear()
        return out

    def _head(self) -> bool:
        buf = self._buf
        start = len(buf) - len(buf.lstrip())
        del buf[:start]
        if not buf:
            return False
        if HEADER.match(buf) is None:
            # no header here: the rest of a broken body, or a body sent without headers
            self._start_body(None, "a message without a Content-Length header")
            return True
        pos, length = 0, None
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > MAX_HEADER_LINE:
                    break  # no line this long is a header: it is a body
                return False
            line = bytes(buf[pos:nl]).rstrip(b"\r")
            if not line:
                pos = nl + 1
                break
            if HEADER_LINE.fullmatch(line) is None:
                break  # the headers ended without their blank line: the body starts here
            if line[:15].lower() == b"content-length:":
                m = LENGTH.fullmatch(line)
                length = int(m.group(1)) if m else None
            pos = nl + 1
        del buf[:pos]
        if length is not None and length > MAX_BODY:
            length = None
        self._start_body(length, "" if length is not None else "an unusable Content-Length")
        return True

    def _start_body(self, length: int | None, reason: str) -> None:
        if reason:
            log.warning("framing: %s; the body ends where its JSON does", reason)
        self._in_body, self._want, self._scanned = True, length, 0

    def _body(self, out: list[Any], stalled: bool) -> bool:
        buf, want = self._buf, self._want
        if want is not None and len(buf) >= want:
            try:
                message = self.parse(bytes(buf[:want]))
            except (ValueError, RecursionError) as exc:
                if len(buf) == want and stalled:
                    # all it announced came and nothing follows: the body itself is broken
                    return self._done(want, NotJson(str(exc)[:200]), out)
                log.warning("framing: Content-Length %d does not frame a JSON body", want)
                self._want = None  # find the end from the JSON and the next header instead
            except Exception as exc:
                return self._done(want, Unhandled(exc), out)
            else:
                return self._done(want, message, out)
        elif not stalled:
            return False  # more is arriving: look again when it has
        # the body ends at the next header at the latest
        m = HEADER.search(buf, max(0, self._scanned - 256))
        self._scanned = len(buf)
        if m is not None:
            self._emit(bytes(buf[: m.start()]), out)
            return self._done(m.start(), None, out)
        if len(buf) > MAX_BODY:
            out.append(NotJson(f"a body of more than {MAX_BODY} bytes without a valid frame"))
            return self._done(len(buf), None, out)
        # a complete JSON value sent and nothing more coming: a count that was too long (or
        # none at all) must not leave its message waiting for bytes that will never come
        tail = buf.rstrip()
        if stalled and tail[-1:] in (b"}", b"]"):
            try:
                message = self.parse(bytes(tail))
            except (ValueError, RecursionError):
                return False
            except Exception as exc:
                message = Unhandled(exc)
            return self._done(len(buf), message, out)
        return False

    def _emit(self, body: bytes, out: list[Any]) -> None:
        if not body.strip():
            return
        try:
            out.append(self.parse(body))
        except (ValueError, RecursionError) as exc:
            out.append(NotJson(str(exc)[:200] or type(exc).__name__))
        except Exception as exc:
            out.append(Unhandled(exc))

    def _done(self, n: int, message: Any, out: list[Any]) -> bool:
        if message is not None:
            out.append(message)
        del self._buf[:n]
        self._in_body, self._want, self._scanned = False, None, 0
        return True


Read = Callable[[], Awaitable[tuple[bytes, bool]]]


async def run(stop: threading.Event, read: Read, server: KeneticServer) -> None:
    """The message loop: what pygls.io_.run_async does, on the Framer."""
    protocol = server.protocol

    def parse(body: bytes) -> Any:
        return json.loads(body, object_hook=protocol.structure_message)

    framer = Framer(parse)
    while not stop.is_set():
        data, stalled = await read()
        # background work stops while what was read is handled (server.foreground); the
        # requests the editor waits on hold it on until they are answered
        GATE.begin(READING)
        try:
            items = framer.feed(data, stalled=stalled) if data else framer.close()
            for item in items:
                _handle(server, item)
                # let the handlers it started run first, as when each message is read on its
                # own (an `exit` read in the same chunk must not end the requests before it)
                await asyncio.sleep(0)
        finally:
            GATE.end(READING)
        if not data:
            break


def _handle(server: KeneticServer, item: Any) -> None:
    protocol = server.protocol
    if isinstance(item, NotJson):
        log.warning("framing: a body that is not JSON was answered ParseError: %s", item.reason)
        error = {"code": PARSE_ERROR, "message": f"Parse error: {item.reason}"}
        protocol._send_data({"jsonrpc": "2.0", "id": None, "error": error})
        return
    try:
        if isinstance(item, Unhandled):
            raise item.error
        protocol.handle_message(item)
    except Exception as exc:
        log.exception("Unable to handle message")
        server.report_server_error(exc, JsonRpcException)


def _fd_reader(stream: BinaryIO, loop: asyncio.AbstractEventLoop, server: KeneticServer) -> Read:
    fd = stream.fileno()

    def read() -> tuple[bytes, bool]:
        data = os.read(fd, CHUNK)
        try:
            stalled = not select.select([fd], [], [], 0)[0]
        except (OSError, ValueError):  # no select on this kind of file (Windows pipes)
            stalled = len(data) < CHUNK
        return data, stalled

    async def next_chunk() -> tuple[bytes, bool]:
        return await loop.run_in_executor(server.thread_pool, read)

    return next_chunk


def serve_io(server: KeneticServer, stdin: BinaryIO | None = None, stdout: Any = None) -> None:
    """`kenetic serve` on stdio (pygls's start_io, with this module's reader)."""
    stop = server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

    async def main() -> None:
        read = _fd_reader(stdin or sys.stdin.buffer, asyncio.get_running_loop(), server)
        await run(stop, read, server)

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("Connection to the client is lost! Shutting down the server.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def serve_tcp(server: KeneticServer, host: str, port: int) -> None:
    """`kenetic serve --tcp`: one client connection at a time, framed as on stdio."""
    stop = server._stop_event = threading.Event()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)  # type: ignore[arg-type]

        async def read() -> tuple[bytes, bool]:
            data = await reader.read(CHUNK)
            return data, len(data) < CHUNK

        await run(stop, read, server)
        server.shutdown()

    async def main() -> None:
        tcp = await asyncio.start_server(connection, host, port)
        server._server = tcp
        async with tcp:
            await tcp.serve_forever()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        log.debug("server cancelled")
