# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening and binding the LDAP connection: options, transport rules, failover, Kerberos.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import ssl

try:
    from ldap3 import ANONYMOUS, GSSAPI, NONE, SASL, SIMPLE, Connection, Server, Tls
except ImportError:
    pass  # the module fails with missing_required_lib when HAS_LDAP3 is false

try:
    import gssapi  # noqa: F401 pylint: disable=unused-import
except ImportError:
    HAS_GSSAPI = False
else:
    HAS_GSSAPI = True

from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_errors import LDAPException, LdapSourceError


def ldap_argument_spec():
    """The connection options, documented by the mailrelay.exchange.ldap_options fragment."""
    return dict(
        server_uris=dict(type="list", elements="str"),
        bind_dn=dict(type="str"),
        bind_password=dict(type="str", no_log=True),
        sasl_mechanism=dict(type="str", choices=["GSSAPI"]),
        keytab=dict(type="path"),
        start_tls=dict(type="bool", default=False),
        validate_certs=dict(type="bool", default=True),
        ca_file=dict(type="path"),
        allow_plaintext=dict(type="bool", default=False),
        timeout=dict(type="int", default=30),
    )


LDAP_REQUIRED_TOGETHER = [("bind_dn", "bind_password")]
LDAP_MUTUALLY_EXCLUSIVE = [("bind_dn", "sasl_mechanism")]
LDAP_REQUIRED_BY = {"keytab": "sasl_mechanism"}


def transport_problem(uri, start_tls, allow_plaintext):
    """Return why ``uri`` may not be used, or None. Plain LDAP needs an opt-in."""
    scheme = uri.partition("://")[0].lower()
    if scheme == "ldaps":
        if start_tls:
            return "%s: start_tls cannot be combined with ldaps://" % uri
        return None
    if scheme != "ldap":
        return "%s: only ldap:// and ldaps:// URIs are supported" % uri
    if not start_tls and not allow_plaintext:
        return "%s: plain LDAP without TLS; use ldaps://, start_tls, or set allow_plaintext explicitly" % uri
    return None


def _tls(validate_certs, ca_file):
    return Tls(validate=ssl.CERT_REQUIRED if validate_certs else ssl.CERT_NONE, ca_certs_file=ca_file)


def _connection(uri, opts):
    """An unopened ldap3 Connection for ``uri``."""
    tls = _tls(opts["validate_certs"], opts["ca_file"])
    server = Server(uri, get_info=NONE, tls=tls, connect_timeout=opts["timeout"])
    kwargs = dict(
        raise_exceptions=False,
        auto_referrals=False,
        read_only=True,
        receive_timeout=opts["timeout"],
        # Without the wire reader, ldap3 would add an empty list for every
        # requested attribute an entry lacks (userAccountControl on a group or
        # contact); the export needs no empty lists.
        return_empty_attributes=False,
    )
    if opts["sasl_mechanism"]:
        kwargs.update(authentication=SASL, sasl_mechanism=GSSAPI)
    elif opts["bind_dn"]:
        kwargs.update(authentication=SIMPLE, user=opts["bind_dn"], password=opts["bind_password"])
    else:
        kwargs.update(authentication=ANONYMOUS)
    return Connection(server, **kwargs)


def close(conn):
    """Unbind and close ``conn``; errors are ignored.

    After a failed search the socket may already be gone (the directory
    stopped, a page was cut off): the unbind must not replace the reason the
    search failed with a socket error of its own.
    """
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass


def kerberos_environment(keytab):
    """The environment a GSSAPI bind from the client keytab ``keytab`` needs.

    MIT Kerberos gets the initial ticket from the client keytab when the
    credential cache has none; a cache in this process's memory means every
    run gets a fresh ticket and none is left behind (nothing to renew, nothing
    for another user to read).
    """
    return {"KRB5_CLIENT_KTNAME": "FILE:%s" % keytab, "KRB5CCNAME": "MEMORY:mailrelay-exchange"}


def use_keytab(keytab):
    """Point this process's Kerberos at ``keytab``; LdapSourceError when it cannot be read."""
    try:
        with open(keytab, "rb"):
            pass
    except OSError as exc:
        raise LdapSourceError("cannot read the keytab %s: %s" % (keytab, exc.strerror or exc))
    os.environ.update(kerberos_environment(keytab))


def _connect_one(uri, opts):
    conn = _connection(uri, opts)
    try:
        conn.open()
        if opts["start_tls"] and not conn.start_tls(read_server_info=False):
            raise LdapSourceError("StartTLS failed: %s" % (conn.result or {}).get("description"))
        if not conn.bind(read_server_info=False):
            result = conn.result or {}
            raise LdapSourceError("bind failed: %s %s" % (result.get("description"), result.get("message") or ""))
    except (LDAPException, LdapSourceError):
        close(conn)
        raise
    return conn


def connect(opts):
    """Open and bind the first URI of ``opts['server_uris']`` that works.

    Failover happens only here: a search that fails half-way is a failure, not
    a reason to start again elsewhere. Returns (connection, uri).
    """
    if opts.get("keytab"):
        use_keytab(opts["keytab"])
    errors = []
    for uri in opts["server_uris"]:
        try:
            return _connect_one(uri, opts), uri
        except (LDAPException, LdapSourceError) as exc:
            errors.append("%s: %s" % (uri, str(exc).strip()))
    raise LdapSourceError("no directory server could be used: %s" % "; ".join(errors))
