# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An LDAP proxy that breaks one page of a paged search, for the drills.

  python3 ldap_page_breaker.py LISTEN_PORT UPSTREAM_HOST:PORT MODE PAGE LOG

The proxy passes the client's messages to the directory unchanged and counts
the search requests among them (a page of a paged search is one request). The
directory's answer to search request number PAGE is broken:

  cut   the answer is cut in the middle of a message and the connection closed,
        as when a load balancer or firewall drops a long-running session;
  drop  the answer is swallowed and the connection kept open, as when a page
        gets lost and the directory never answers it again.

Every other answer passes unchanged. What the proxy did goes to LOG, one line
per event, so the drill can check that the page it broke was a real one
(entries had already been forwarded for earlier pages).
"""

import socket
import sys
import threading

SEARCH_REQUEST = 0x63


def split_messages(buffer):
    """Split off the complete BER messages at the start of ``buffer``: (messages, rest)."""
    messages = []
    while len(buffer) >= 2:
        first = buffer[1]
        if first < 0x80:
            header, length = 2, first
        else:
            count = first & 0x7F
            if len(buffer) < 2 + count:
                break
            header, length = 2 + count, int.from_bytes(buffer[2:2 + count], "big")
        if len(buffer) < header + length:
            break
        messages.append(buffer[:header + length])
        buffer = buffer[header + length:]
    return messages, buffer


def protocol_op(message):
    """The protocolOp tag of a whole LDAPMessage."""
    first = message[1]
    pos = 2 if first < 0x80 else 2 + (first & 0x7F)
    id_length = message[pos + 1]
    return message[pos + 2 + id_length]


class Session:
    def __init__(self, client, upstream, mode, page, log):
        self.client = client
        self.server = socket.create_connection(upstream)
        self.mode = mode
        self.page = page
        self.log = log
        self.searches = 0
        self.broken = False
        self.forwarded = 0
        self.lock = threading.Lock()

    def note(self, text):
        with self.lock:
            self.log.write(text + "\n")
            self.log.flush()

    def client_to_server(self):
        buffer = b""
        while True:
            try:
                data = self.client.recv(65536)
            except OSError:
                # The other direction closed both sockets (mode cut).
                break
            if not data:
                break
            buffer += data
            messages, buffer = split_messages(buffer)
            for message in messages:
                if protocol_op(message) == SEARCH_REQUEST:
                    with self.lock:
                        self.searches += 1
                self.server.sendall(message)
        try:
            self.server.close()
        except OSError:
            pass

    def server_to_client(self):
        while True:
            data = self.server.recv(65536)
            if not data:
                break
            with self.lock:
                breaking = self.searches == self.page
            if not breaking:
                self.client.sendall(data)
                self.forwarded += len(data)
                continue
            if self.mode == "cut":
                self.client.sendall(data[:len(data) // 2 or 1])
                self.note("cut page %d after %d bytes of earlier pages" % (self.page, self.forwarded))
                self.client.shutdown(socket.SHUT_RDWR)
                self.client.close()
                self.server.close()
                return
            if not self.broken:
                self.note("dropping page %d after %d bytes of earlier pages" % (self.page, self.forwarded))
                self.broken = True
        self.client.close()


def main(argv):
    port, upstream, mode, page, log_path = argv[1], argv[2], argv[3], int(argv[4]), argv[5]
    host, _sep, upstream_port = upstream.rpartition(":")
    if mode not in ("cut", "drop"):
        raise SystemExit("mode must be cut or drop")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(8)
    with open(log_path, "a") as log:
        log.write("listening on 127.0.0.1:%s for %s, %s page %d\n" % (port, upstream, mode, page))
        log.flush()
        while True:
            client, _address = listener.accept()
            session = Session(client, (host, int(upstream_port)), mode, page, log)
            for target in (session.client_to_server, session.server_to_client):
                threading.Thread(target=target, daemon=True).start()


if __name__ == "__main__":
    main(sys.argv)
