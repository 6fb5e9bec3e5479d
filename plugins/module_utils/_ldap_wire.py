# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the answer to a search off the wire: a small BER reader for entries and references.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

ldap3 decodes every message with a generic BER decoder into nested lists and
then into dicts; for a directory of 100,000 recipients that is most of the
export's time. The reader below takes over only the receiving side of a
search: ldap3 still encodes and sends the request (filter, paged-results
control, message ID), and the final searchResDone, or any message other than
an entry or a reference, still goes through ldap3's decoder, so result codes,
referrals and the paging cookie are read exactly as before. A search can
also be sent without being read (``send_only``, then ``receive()``), so
that the export asks for the next page before it works on the last one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from ldap3 import GSSAPI, SYNC
    from ldap3.utils.asn1 import decode_message_fast
except ImportError:
    pass  # read_searches_off_the_wire checks HAS_LDAP3 first

from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_errors import HAS_LDAP3, LdapSourceError, ProtocolError
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import RawPage

_SEQUENCE, _SET, _OCTET_STRING, _INTEGER = 0x30, 0x31, 0x04, 0x02
_SEARCH_RES_ENTRY, _SEARCH_RES_REF = 0x64, 0x73
RECEIVE_SIZE = 1 << 16


def _long_length(buf, pos):
    """(length, position after it) of a long-form BER length whose first byte is at ``pos``."""
    count = buf[pos] & 0x7F
    if not 0 < count <= 4:
        raise ProtocolError("unsupported BER length byte 0x%02x" % buf[pos])
    end = pos + 1 + count
    if end > len(buf):
        raise IndexError("length runs past the data")
    return int.from_bytes(buf[pos + 1:end], "big"), end


def _tlv(buf, pos, tag, what):
    """Check the tag at ``pos``; return (content start, content end)."""
    if buf[pos] != tag:
        raise ProtocolError("%s: expected tag 0x%02x, found 0x%02x" % (what, tag, buf[pos]))
    length = buf[pos + 1]
    if length < 0x80:
        return pos + 2, pos + 2 + length
    if length == 0x82:
        # Two length bytes: an attribute or entry of 256 bytes to 64 KiB, the common case.
        return pos + 4, pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
    length, start = _long_length(buf, pos + 1)
    return start, start + length


def parse_entry(buf, pos, end):
    """The DN and attributes of the searchResEntry whose content is ``buf[pos:end]``.

    Returns (dn, [(attribute type, [value, ...]), ...]) as bytes. Every length
    is checked against its container, so a response that does not add up
    raises ProtocolError instead of yielding misread values. The values are
    the bulk of the data, so their tag and length are read in line (_tlv's
    work, short form here, _long_length for the long one).
    """
    start, stop = _tlv(buf, pos, _OCTET_STRING, "entry DN")
    dn = buf[start:stop]
    pos, attributes_end = _tlv(buf, stop, _SEQUENCE, "attribute list")
    if attributes_end != end:
        raise ProtocolError("entry %r: the attribute list does not end with the entry" % dn)
    attributes = []
    while pos < end:
        # PartialAttribute ::= SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING }
        pos, attribute_end = _tlv(buf, pos, _SEQUENCE, "attribute")
        start, stop = _tlv(buf, pos, _OCTET_STRING, "attribute type")
        name = buf[start:stop]
        pos, values_end = _tlv(buf, stop, _SET, "attribute values")
        if values_end != attribute_end:
            raise ProtocolError("entry %r: the values of %r do not end with the attribute" % (dn, name))
        values = []
        while pos < values_end:
            if buf[pos] != _OCTET_STRING:
                raise ProtocolError("entry %r: a value of %r is not an octet string" % (dn, name))
            length = buf[pos + 1]
            if length < 0x80:
                pos += 2
            elif length == 0x81:
                # One length byte: values of 128 to 255 bytes, such as X500 values.
                length = buf[pos + 2]
                pos += 3
            else:
                length, pos = _long_length(buf, pos + 1)
            values.append(buf[pos:pos + length])
            pos += length
        if pos != values_end:
            raise ProtocolError("entry %r: the values of %r overrun the attribute" % (dn, name))
        attributes.append((name, values))
    if pos != end:
        raise ProtocolError("entry %r: the attributes overrun the entry" % dn)
    return dn, attributes


def parse_reference(buf, pos, end):
    """The URIs of the searchResRef whose content is ``buf[pos:end]``."""
    uris = []
    while pos < end:
        start, pos = _tlv(buf, pos, _OCTET_STRING, "reference URI")
        uris.append(buf[start:pos].decode("utf-8", "replace"))
    if pos != end:
        raise ProtocolError("a search reference overruns its message")
    return uris


class WireSearchReader:
    """Installed as a connection's ``post_send_search``: reads one search's answer.

    Entries and references go into a RawPage that becomes ``conn.response``;
    the searchResDone, decoded by ldap3, becomes ``conn.result``.
    """

    def __init__(self, conn, exclude_disabled, decode_message, system_rule=None):
        self.conn = conn
        self.exclude_disabled = exclude_disabled
        self.decode_message = decode_message
        self.system_rule = system_rule
        # send_only: the next search only sends its request; receive() reads the answer.
        self.send_only = False
        self._unread = None

    def _receive(self):
        try:
            data = self.conn.socket.recv(RECEIVE_SIZE)
        except (OSError, AttributeError) as exc:
            raise LdapSourceError("receiving search results failed: %s" % (str(exc) or type(exc).__name__))
        if not data:
            raise LdapSourceError("the server closed the connection in the middle of a search")
        return data

    def __call__(self, message_id):
        if self.send_only:
            self.send_only = False
            self._unread = message_id
            self.conn.result = self.conn.response = None
            # An int is what ldap3 takes for "answered later" (its asynchronous path): it reads nothing.
            return message_id
        return self._read(message_id)

    def receive(self):
        """Read the answer to the search that was sent with ``send_only``."""
        message_id, self._unread = self._unread, None
        if message_id is None:
            raise ProtocolError("no search is waiting for its answer")
        self._read(message_id)

    def _read(self, message_id):
        page = RawPage(self.system_rule)
        buf = b""
        pos = 0
        while True:
            try:
                start, end = _tlv(buf, pos, _SEQUENCE, "LDAP message")
                if end > len(buf):
                    raise IndexError("message incomplete")
            except IndexError:
                buf = buf[pos:] + self._receive()
                pos = 0
                continue
            try:
                done = self._message(buf, pos, start, end, message_id, page)
            except IndexError:
                raise ProtocolError("a message of %d bytes ends in the middle of a value" % (end - pos))
            pos = end
            if done:
                if pos != len(buf):
                    raise ProtocolError("%d bytes arrived after the end of the search" % (len(buf) - pos))
                outstanding = getattr(self.conn.strategy, "_outstanding", None)
                if isinstance(outstanding, dict):
                    outstanding.pop(message_id, None)
                self.conn.response = page
                return []

    def _message(self, buf, pos, start, end, message_id, page):
        """Handle one whole message; True when it ends the search."""
        id_start, id_end = _tlv(buf, start, _INTEGER, "message ID")
        received_id = int.from_bytes(buf[id_start:id_end], "big")
        tag = buf[id_end]
        if received_id == message_id and tag in (_SEARCH_RES_ENTRY, _SEARCH_RES_REF):
            op_start, op_end = _tlv(buf, id_end, tag, "search result")
            if op_end > end:
                raise ProtocolError("a search result overruns its message")
            if tag == _SEARCH_RES_ENTRY:
                dn, attributes = parse_entry(buf, op_start, op_end)
                page.add_entry(dn, attributes, self.exclude_disabled)
            else:
                page.references.extend(parse_reference(buf, op_start, op_end))
            return False
        try:
            response = self.decode_message(buf[pos:end])
        except Exception as exc:  # pylint: disable=broad-except
            raise ProtocolError("ldap3 could not decode a response: %s" % exc)
        if received_id == 0:
            raise LdapSourceError(
                "the server ended the session: %s %s"
                % (response.get("responseName") or "", response.get("message") or response.get("description") or "")
            )
        if received_id != message_id:
            raise ProtocolError("a response to message %d arrived during search %d" % (received_id, message_id))
        if response.get("type") == "intermediateResponse":
            return False
        if response.get("type") != "searchResDone":
            raise ProtocolError("unexpected %s during a search" % response.get("type"))
        self.conn.result = response
        return True


def read_searches_off_the_wire(conn, exclude_disabled, system_rule=None):
    """Let ``conn`` hand searches to a WireSearchReader; None where that cannot be done.

    Only a synchronous ldap3 connection without a SASL security layer
    qualifies (ldap3 supports none for GSSAPI); anything else keeps ldap3's
    own receiving path, which is slower but gives the same data.
    """
    strategy = getattr(conn, "strategy", None)
    decode_response = getattr(strategy, "decode_response_fast", None)
    if not HAS_LDAP3 or decode_response is None or getattr(conn, "strategy_type", None) != SYNC:
        return None
    if getattr(conn, "sasl_mechanism", None) not in (None, GSSAPI):
        return None

    def decode_message(data):
        return decode_response(decode_message_fast(data))

    reader = WireSearchReader(conn, exclude_disabled, decode_message, system_rule)
    conn.post_send_search = reader
    return reader
