"""The server side of RFC 6455 WebSockets, as far as a stub needs it: the opening handshake with a sub-protocol, and
text, ping, pong and close frames (https://www.rfc-editor.org/rfc/rfc6455). Standard library only."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import struct
import threading
from typing import BinaryIO

__all__ = ["ConnectionClosed", "WebSocket", "accept_key"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CLOSE, _PING, _PONG, _CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class ConnectionClosed(Exception):
    """The peer closed the connection, or it broke."""


def accept_key(client_key: str) -> str:
    """The Sec-WebSocket-Accept answer to a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((client_key + _GUID).encode()).digest()).decode()


class WebSocket:
    """One accepted connection: ``receive()`` a text message, ``send(text)`` from any thread."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self._reader = reader
        self._writer = writer
        self._write_lock = threading.Lock()
        self.closed = False

    def receive(self) -> str:
        """The next text message; raises ConnectionClosed when the peer closes or the connection breaks."""
        parts: list[bytes] = []
        while True:
            opcode, final, payload = self._frame()
            if opcode == _CLOSE:
                self._send_frame(_CLOSE, payload[:2])
                self.closed = True
                raise ConnectionClosed("closed by the peer")
            if opcode == _PING:
                self._send_frame(_PONG, payload)
                continue
            if opcode == _PONG:
                continue
            parts.append(payload)
            if final:
                return b"".join(parts).decode()

    def send(self, text: str) -> None:
        self._send_frame(_TEXT, text.encode())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionClosed):
                self._send_frame(_CLOSE, struct.pack("!H", 1000))

    def _frame(self) -> tuple[int, bool, bytes]:
        head = self._read(2)
        final, opcode = bool(head[0] & 0x80), head[0] & 0x0F
        masked, length = bool(head[1] & 0x80), head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        mask = self._read(4) if masked else b"\0\0\0\0"
        payload = bytes(byte ^ mask[position % 4] for position, byte in enumerate(self._read(length)))
        return opcode, final, payload

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            try:
                chunk = self._reader.read(count - len(data))
            except (OSError, ValueError) as error:
                raise ConnectionClosed(str(error)) from error
            if not chunk:
                raise ConnectionClosed("the connection ended")
            data += chunk
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 2**16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self._write_lock:
            try:
                self._writer.write(header + payload)
                self._writer.flush()
            except OSError as error:
                self.closed = True
                raise ConnectionClosed(str(error)) from error
