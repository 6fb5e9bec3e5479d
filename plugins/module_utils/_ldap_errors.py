# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LDAP export's errors, and ldap3's exception class whether ldap3 is installed or not.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

__all__ = ("HAS_LDAP3", "LDAP3_IMPORT_ERROR", "LDAPException", "LdapSourceError", "ProtocolError")

try:
    from ldap3.core.exceptions import LDAPException
except ImportError:
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = traceback.format_exc()

    class LDAPException(Exception):
        """Stand-in so that except clauses stay valid without ldap3."""

else:
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None


class LdapSourceError(Exception):
    """The export cannot be trusted to be complete; nothing may be installed."""


class ProtocolError(LdapSourceError):
    """A response that is not well-formed BER: none of the data can be trusted."""
