# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Connection options shared by every module that reads the directory.
    DOCUMENTATION = r"""
options:
  server_uris:
    description:
      - Directory servers as C(ldaps://host[:port]) or C(ldap://host[:port]) URIs, tried in order.
      - The first one that accepts the connection, TLS and bind is used for the whole search;
        a search that fails half-way is not restarted on another server.
      - With a forest of several domains, point this at a Global Catalog (ports 3268/3269).
    type: list
    elements: str
  bind_dn:
    description:
      - DN or user principal name for a simple bind. Omit (with no O(sasl_mechanism)) for an anonymous bind.
    type: str
  bind_password:
    description:
      - Password for O(bind_dn). It is never logged and never placed on a command line.
    type: str
  sasl_mechanism:
    description:
      - Use a SASL bind instead of a simple bind. Only C(GSSAPI) (Kerberos) is supported; it needs
        the Python C(gssapi) package, a C(krb5.conf) that names the realm, and a ticket or O(keytab) on the
        host that runs the module. The directory is named by the host name of its URI (C(ldap/<host>)).
    type: str
    choices: [GSSAPI]
  keytab:
    description:
      - Client keytab of the service account for O(sasl_mechanism=GSSAPI) (for example made with
        C(samba-tool domain exportkeytab --principal) or C(ktpass)). Every run gets a fresh ticket from it
        into a credential cache in its own memory, so a scheduled job never meets an expired ticket and leaves
        none behind. Keep it readable by root only.
    type: path
  start_tls:
    description:
      - Upgrade an C(ldap://) connection with StartTLS before binding. Not allowed with C(ldaps://).
    type: bool
    default: false
  validate_certs:
    description:
      - Validate the server certificate and its host name. Only turn this off in a lab.
    type: bool
    default: true
  ca_file:
    description:
      - PEM file with the CA certificates that may sign the directory's certificate.
        Without it the system trust store is used.
    type: path
  allow_plaintext:
    description:
      - Allow an C(ldap://) URI without StartTLS. Passwords and addresses then cross the network in clear text.
      - Active Directory and Samba refuse a simple bind without TLS anyway.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the connection and for each response from the server.
    type: int
    default: 30
"""
