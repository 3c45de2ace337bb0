"""A page served by the bare IOLoop: a listening socket watched with
``add_handler``, the way seed 004's talk shows the event loop at work.

It answers every request with one small HTML page and closes the
connection; nothing here parses HTTP beyond finding the end of the head.
"""

from __future__ import annotations

import socket

from squall.ioloop import IOLoop

PAGE = b"<!doctype html><title>squall</title><h1>Hello from squall's IOLoop</h1>\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\n"
    b"Content-Length: " + str(len(PAGE)).encode() + b"\r\nConnection: close\r\n\r\n" + PAGE
)
# A request head larger than this is answered without waiting for the rest.
MAX_HEAD = 64 * 1024


def main(port: int = 8888, address: str = "127.0.0.1", processes: int = 1) -> None:
    io_loop = IOLoop.current()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(128)
    listener.setblocking(False)
    buffers: dict[int, bytes] = {}

    def on_readable(conn: socket.socket, events: int) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        head = buffers.get(conn.fileno(), b"") + data
        if data and b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
            buffers[conn.fileno()] = head
            return
        buffers.pop(conn.fileno(), None)
        io_loop.remove_handler(conn)
        if data:
            try:
                conn.sendall(RESPONSE)
            except OSError:
                pass
        conn.close()

    def on_connection(sock: socket.socket, events: int) -> None:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        io_loop.add_handler(conn, on_readable, IOLoop.READ)

    io_loop.add_handler(listener, on_connection, IOLoop.READ)
    io_loop.start()
