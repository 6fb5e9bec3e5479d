# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An LDAP proxy that answers like Active Directory with MaxValRange, for the drills.

  python3 ldap_value_ranger.py LISTEN_PORT UPSTREAM_HOST:PORT MAX_VALUES LOG

OpenLDAP and Samba AD return every value of an attribute at once; AD returns
at most MaxValRange values (1500 by default) per attribute and entry and names
them ``<attribute>;range=0-1499``. The client asks for the rest with a search
for ``<attribute>;range=1500-*`` and gets ``;range=1500-2999``, and so on, the
last part named ``;range=<low>-*``. This proxy does the same in front of a
directory that does not:

- in a search request, an attribute ``<name>;range=<low>-<high|*>`` is asked
  of the directory as ``<name>`` and the range is remembered for the answer;
- in an entry of the answer, an attribute with more than MAX_VALUES values,
  or one asked with a range, is cut to that range (at most MAX_VALUES values)
  and named as AD names it.

Everything else passes unchanged. Each range it sent goes to LOG, one line
each, so the drill can check that the export really met ranges.
"""

import re
import socket
import sys
import threading

# Beside this file on the relay (prepare.yml copies both): one message splitter for both proxies.
from ldap_page_breaker import split_messages

SEQUENCE, SET, OCTET_STRING = 0x30, 0x31, 0x04
SEARCH_REQUEST, SEARCH_ENTRY = 0x63, 0x64
RANGED = re.compile(rb"^(.*);range=([0-9]+)-([0-9]+|\*)$", re.I)


def read_length(buf, pos):
    """(length, position after it) of the BER length at ``pos``."""
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    return int.from_bytes(buf[pos + 1:pos + 1 + count], "big"), pos + 1 + count


def encode(tag, content):
    length = len(content)
    if length < 0x80:
        header = bytes([length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + header + content


def children(buf):
    """The (tag, content) elements one after another in ``buf``."""
    pos, items = 0, []
    while pos < len(buf):
        tag = buf[pos]
        length, start = read_length(buf, pos + 1)
        items.append((tag, buf[start:start + length]))
        pos = start + length
    return items


def join(items):
    return b"".join(encode(tag, content) for tag, content in items)


class Session:
    def __init__(self, client, upstream, max_values, log, lock):
        self.client = client
        self.server = socket.create_connection(upstream)
        self.max_values = max_values
        self.log = log
        self.lock = lock
        # message ID -> {lower-case attribute name: (low, high or None)}
        self.asked = {}

    def note(self, text):
        with self.lock:
            self.log.write(text + "\n")
            self.log.flush()

    def request(self, message):
        """A client message, with the ranges of a search request taken out."""
        (_tag, body), = children(message)
        parts = children(body)
        if len(parts) < 2 or parts[1][0] != SEARCH_REQUEST:
            return message
        fields = children(parts[1][1])
        ranges, names = {}, []
        for _tag, name in children(fields[7][1]):
            match = RANGED.match(name)
            if match:
                high = None if match.group(3) == b"*" else int(match.group(3))
                ranges[match.group(1).lower()] = (int(match.group(2)), high)
                name = match.group(1)
            names.append((OCTET_STRING, name))
        if not ranges:
            return message
        self.asked[int.from_bytes(parts[0][1], "big")] = ranges
        fields[7] = (SEQUENCE, join(names))
        parts[1] = (SEARCH_REQUEST, join(fields))
        return encode(SEQUENCE, join(parts))

    def answer(self, message):
        """A directory message, with the values of an entry cut to AD's ranges."""
        (_tag, body), = children(message)
        parts = children(body)
        if len(parts) < 2 or parts[1][0] != SEARCH_ENTRY:
            return message
        ranges = self.asked.get(int.from_bytes(parts[0][1], "big"), {})
        dn, attribute_list = children(parts[1][1])
        attributes = []
        for _tag, attribute in children(attribute_list[1]):
            (_t, name), (_s, value_set) = children(attribute)
            values = children(value_set)
            low, high = ranges.get(name.lower(), (0, None))
            if name.lower() in ranges or len(values) > self.max_values:
                last = len(values) - 1 if high is None else min(high, len(values) - 1)
                last = min(last, low + self.max_values - 1)
                sent = values[low:last + 1]
                span = "%d-%s" % (low, "*" if last >= len(values) - 1 else last)
                name = name + b";range=" + span.encode("ascii")
                values = sent
                self.note("%s %s: %d values, sent %d (%s)" % (
                    dn[1].decode("utf-8", "replace"), name.decode("utf-8", "replace"), len(children(value_set)), len(sent), span))
            attributes.append((SEQUENCE, join([(OCTET_STRING, name), (SET, join(values))])))
        entry = join([dn, (SEQUENCE, join(attributes))])
        parts[1] = (SEARCH_ENTRY, entry)
        return encode(SEQUENCE, join(parts))

    def pump(self, source, target, change):
        buffer = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                buffer += data
                messages, buffer = split_messages(buffer)
                for message in messages:
                    target.sendall(change(message))
        except OSError:
            pass
        for end in (source, target):
            try:
                end.close()
            except OSError:
                pass


def main(argv):
    port, upstream, max_values, log_path = argv[1], argv[2], int(argv[3]), argv[4]
    host, _sep, upstream_port = upstream.rpartition(":")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(8)
    lock = threading.Lock()
    with open(log_path, "a") as log:
        log.write("listening on 127.0.0.1:%s for %s, at most %d values\n" % (port, upstream, max_values))
        log.flush()
        while True:
            client, _address = listener.accept()
            session = Session(client, (host, int(upstream_port)), max_values, log, lock)
            for source, target, change in ((client, session.server, session.request),
                                           (session.server, client, session.answer)):
                threading.Thread(target=session.pump, args=(source, target, change), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv)
