# -*- coding: utf-8 -*-
"""Which entries are Exchange system mailboxes: by msExchRecipientTypeDetails, else by name."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _system_mailboxes as sm

BASE = b",CN=Users,DC=corp,DC=example,DC=com"


@pytest.mark.parametrize(
    "value, kind",
    [
        (b"8192", "SystemAttendantMailbox"),
        (b"16384", "SystemMailbox"),
        (b"8388608", "ArbitrationMailbox"),
        (b"536870912", "DiscoveryMailbox"),
        (b"549755813888", "MonitoringMailbox"),
        (b"4398046511104", "AuditLogMailbox"),
        (b"70368744177664", "AuxAuditLogMailbox"),
        (b"140737488355328", "SupervisoryReviewPolicyMailbox"),
    ],
)
def test_each_system_type_is_recognised_by_its_value(value, kind):
    assert sm.by_type([value]) == "msExchRecipientTypeDetails %s (%s)" % (kind, value.decode())


@pytest.mark.parametrize(
    "value",
    [
        b"1",  # UserMailbox
        b"4",  # SharedMailbox
        b"16",  # RoomMailbox
        b"128",  # MailUser
        b"4096",  # PublicFolder
        b"68719476736",  # PublicFolderMailbox
        b"2147483648",  # RemoteUserMailbox
        b"549755813889",  # not one member: no match by bit
    ],
)
def test_recipients_of_other_types_are_not_system_mailboxes(value):
    assert sm.by_type([value]) is None


def test_a_type_that_is_not_a_number_leaves_the_decision_to_the_name():
    assert sm.by_type([b"MonitoringMailbox"]) is False
    assert sm.by_type([]) is False
    assert sm.system_mailbox(b"CN=HealthMailbox0a1b" + BASE, [(b"msExchRecipientTypeDetails", [b"junk"])]) == (
        "name HealthMailbox..."
    )


@pytest.mark.parametrize(
    "first_rdn, label",
    [
        (b"CN=HealthMailbox0a1b2c3d", "HealthMailbox..."),
        (b"cn=healthmailbox2b9d7c3a1e8f4a6b9c0d1e2f3a4b5c6d", "HealthMailbox..."),
        (b"CN=SystemMailbox{1f05a927-3be2-4fb9-aa03-b59fe3b56f4c}", "SystemMailbox{...}"),
        (b"CN=SYSTEMMAILBOX{E0DC1C29-89C3-4034-B678-E6C29D823ED9}", "SystemMailbox{...}"),
        (b"CN=DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}", "DiscoverySearchMailbox{...}"),
        (b"CN=DiscoverySearchMailbox {D919BA05-46A6-415f-80AD-7E09334BB852}", "DiscoverySearchMailbox{...}"),
        (b"CN=Migration.8f3e7716-2011-43e4-96b1-aba62d229136", "Migration...."),
        (b"CN=FederatedEmail.4c1f4d8b-8179-4148-93bf-00a95fa1e042", "FederatedEmail...."),
        (b"uid=FederatedEmail.4c1f4d8b-8179-4148-93bf-00a95fa1e042", "FederatedEmail...."),
    ],
)
def test_exchange_names_are_recognised_in_the_first_rdn_in_any_case(first_rdn, label):
    assert sm.by_name(first_rdn + BASE) == "name " + label
    assert sm.by_name(first_rdn) == "name " + label


@pytest.mark.parametrize(
    "dn",
    [
        b"CN=Anna Adler" + BASE,
        b"CN=HealthMailbox" + BASE,  # no suffix at all
        b"CN=HealthMailbox Team" + BASE,
        b"CN=Migration Team" + BASE,
        b"CN=Migration.Project-Lead" + BASE,  # not hex
        b"CN=SystemMailbox{1f05a927}x" + BASE,  # more after the brace
        b"CN=Old SystemMailbox{1f05a927}" + BASE,  # not at the start
        b"CN=Anna,OU=HealthMailbox0a1b,DC=corp",  # only the first RDN counts
        b"CN=FederatedEmail.4c1f4d8b\\,x" + BASE,
    ],
)
def test_other_names_are_not_system_mailboxes(dn):
    assert sm.by_name(dn) is None


def test_the_type_decides_over_the_name_where_the_directory_has_it():
    user_type = [(b"proxyAddresses", [b"SMTP:m@example.com"]), (b"msExchRecipientTypeDetails", [b"1"])]
    assert sm.system_mailbox(b"CN=Migration.8f3e7716-2011" + BASE, user_type) is None
    audit_type = [(b"MSEXCHRECIPIENTTYPEDETAILS", [b"4398046511104"])]
    assert sm.system_mailbox(b"CN=Audit Log Store" + BASE, audit_type) == (
        "msExchRecipientTypeDetails AuditLogMailbox (4398046511104)"
    )


def test_without_the_type_the_name_decides():
    attributes = [(b"proxyAddresses", [b"SMTP:h@example.com"])]
    assert sm.system_mailbox(b"CN=HealthMailbox0a1b2c3d" + BASE, attributes) == "name HealthMailbox..."
    assert sm.system_mailbox(b"CN=Anna Adler" + BASE, attributes) is None
