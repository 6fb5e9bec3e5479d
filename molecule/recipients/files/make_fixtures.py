"""Write the recipient fixtures of the Molecule scenario `recipients`.

One deterministic data set, written for both directories and as a legacy
virtual.txt export, together with what the relay recipient map must hold.
The expected results are computed here by this script's own rules, written
independently of the collection's module_utils (nothing is imported from it),
so the scenario compares two implementations, not one with itself.

Files written into OUTDIR:
  samba.ldif            users, groups, contacts, public-folder stand-ins (ldbadd)
  openldap.ldif         the same objects for OpenLDAP (slapadd), plus the service account
  virtual.txt           the legacy export of the enabled objects ("alias: TYPE:address")
  virtual-extra.txt     the same with EXTRA more addresses (rebuilds during lookups)
  samba-newhire.ldif    one user added in AD during verify
  samba-delete.ldif     deletes 60 % of the ordinary users (changetype: delete)
  openldap-references   the URIs of the referral object in openldap.ldif
  expected_addresses    sorted addresses the map must hold, one a line
  expected_map          the same as map source lines ("address<TAB>OK")
  expected.json         counts and sample addresses for the assertions

Samba's schema has no Exchange classes (publicFolder, msExch*): the public
folders are contacts in OU=Public Folders there, and organizationalRole entries
in OpenLDAP. Exchange's system mailboxes (HealthMailbox..., SystemMailbox{...},
...) are ordinary users named as Exchange names them; OpenLDAP also gives them
msExchRecipientTypeDetails (the lab schema defines it), Samba cannot. One
more system mailbox ("Audit Log Store") has only the type to tell it apart, so
only OpenLDAP can exclude it.

OpenLDAP also holds a referral object under the base (OU=Child Domain), so a
subtree search there returns a search continuation reference, as AD does for
a child domain. slapd returns it only when the object is a candidate of the
filter's index, so it carries the address of a user of that child domain,
which the export must miss.

The OpenLDAP service account's password is read from the environment variable
RCP_LDAP_BIND_PASSWORD, never from the command line.
"""

import argparse
import base64
import hashlib
import json
import os
import re

BASE = "DC=corp,DC=example,DC=com"
RELAY_DOMAINS = ("example.com", "example.org")
CLOUD_DOMAIN = "example.mail.onmicrosoft.com"
PARTNER_DOMAIN = "partner.example.net"

USERS = 4000
GROUPS = 600
CONTACTS = 450
PUBLIC_FOLDERS = 6
ADDRESS_ONLY_X500 = 20  # objects with X400/X500 values only: not matched by the filter
# Exchange system mailboxes: (common name, msExchRecipientTypeDetails in OpenLDAP).
# The names are the forms Exchange gives them; 549755813888 is MonitoringMailbox,
# 8388608 ArbitrationMailbox, 536870912 DiscoveryMailbox, 4398046511104 AuditLogMailbox.
SYSTEM_MAILBOXES = [
    ("HealthMailbox0a1b2c3d", 549755813888),
    ("SystemMailbox{1f05a927-3be2-4fb9-aa03-b59fe3b56f4c}", 8388608),
    ("DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}", 536870912),
    ("Migration.8f3e7716-2011-43e4-96b1-aba62d229136", 8388608),
    ("FederatedEmail.4c1f4d8b-8179-4148-93bf-00a95fa1e042", 8388608),
]
# Named like a person: only its type makes it a system mailbox.
TYPE_ONLY_SYSTEM_MAILBOX = ("Audit Log Store", 4398046511104)
# What this script takes for a system mailbox's name (the module documents its own patterns).
SYSTEM_NAME = re.compile(r"(?i)(healthmailbox[0-9a-f]+|(systemmailbox|discoverysearchmailbox)\{[0-9a-f-]+\}"
                         r"|(migration|federatedemail)\.[0-9a-f-]+)")
CHILD_DOMAIN_OU = "Child Domain"
CHILD_DOMAIN_DN = "OU=Child Domain,DC=child,DC=corp,DC=example,DC=com"
CHILD_DOMAIN_REF = "ldap://child.corp.example.com/" + CHILD_DOMAIN_DN.replace(" ", "%20")
CHILD_DOMAIN_ADDRESS = "child.user@example.com"
EXTRA = 40

FIRST = ["Anna", "Bernd", "Chloe", "Dmitri", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemal", "Lea"]
LAST = ["Adler", "Berger", "Costa", "Dubois", "Engel", "Fischer", "Garcia", "Huber", "Ivanova", "Jansen"]

# The rule of this script for an acceptable map key: a plain ASCII dot-atom of
# letters, digits and . _ + - and a host name with a letter TLD, parts within
# the RFC 5321 lengths. Every fixture value is made valid or hostile on
# purpose; the rule is checked against that intent for every value.
VALID = re.compile(r"[a-z0-9_+-]+(\.[a-z0-9_+-]+)*@[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*\.[a-z]{2,}")

# Values with every kind of defect a directory can hold, with a tag each.
HOSTILE = [
    ("newline", "smtp:new\nline@example.com"),
    ("tab", "smtp:tab\tuser@example.com"),
    ("space", "smtp:space user@example.com"),
    ("trailing space", "SMTP:trailing.space@example.com "),
    ("leading space in address", "smtp: leading.space@example.org"),
    ("second at", "smtp:two@at@example.com"),
    ("no at", "smtp:nobody.example.com"),
    ("empty local part", "smtp:@example.com"),
    ("semicolon", "smtp:semi;colon@example.com"),
    ("angle brackets", "smtp:<angle>@example.com"),
    ("comment start", "smtp:#hash@example.org"),
    ("double dot", "smtp:dot..dot@example.com"),
    ("over-long local part", "smtp:" + "l" * 65 + "@example.com"),
    ("bad domain label", "smtp:user@exa_mple.com"),
    ("non-ASCII", "smtp:m\u00fcller@example.com"),
    ("control character", "smtp:ctl\x01char@example.org"),
    ("quoted local part", 'smtp:"quoted"@example.com'),
    ("no type prefix", "plain.value@example.com"),
    ("space in the type", "SMTP :spaced.type@example.com"),
]


def is_valid(address):
    local = address.partition("@")[0]
    return bool(VALID.fullmatch(address)) and len(local) <= 64 and len(address) <= 254


class DataSet:
    """Objects with their proxyAddresses; values marked hostile are meant to be refused."""

    def __init__(self):
        self.objects = []

    def add(self, kind, ou, cn, alias, values, disabled=False, hostile=(), type_details=None):
        self.objects.append(dict(kind=kind, ou=ou, cn=cn, alias=alias, values=values, disabled=disabled,
                                 hostile=list(hostile), type_details=type_details))


def expect(objects):
    """What a correct export of ``objects`` yields, by this script's own rules.

    Only objects with an SMTP value match the filter; disabled ones are
    skipped whole; X400, X500, SIP values are ignored; hostile values are
    refused; valid addresses outside the relay domains are dropped per domain.
    """
    result = dict(addresses=set(), refused=[], dropped={}, matched_enabled=0, matched_disabled=0)
    for obj in objects:
        if not any(v[:5].lower() == "smtp:" for v in obj["values"]):
            continue
        if obj["disabled"]:
            result["matched_disabled"] += 1
            continue
        result["matched_enabled"] += 1
        for value in obj["values"]:
            if value in obj["hostile"]:
                result["refused"].append(value)
                continue
            value_type, sep, address = value.partition(":")
            if not sep:
                raise SystemExit("fixture bug: untyped value %r not marked hostile" % value)
            if value_type.lower() != "smtp":
                continue
            address = address.lower()
            if not is_valid(address):
                raise SystemExit("fixture bug: %r fails this script's rule but is not marked hostile" % value)
            domain = address.partition("@")[2]
            if domain in RELAY_DOMAINS:
                result["addresses"].add(address)
            else:
                result["dropped"][domain] = result["dropped"].get(domain, 0) + 1
    for value in result["refused"]:
        value_type, _sep, address = value.partition(":")
        if value_type.lower() == "smtp" and is_valid(address.lower()):
            raise SystemExit("fixture bug: hostile value %r passes this script's rule" % value)
    return result


def build():
    data = DataSet()
    data.add("user", "Staff", "Postmaster", "postmaster",
             ["SMTP:Postmaster@example.com", "smtp:postmaster@example.org", "smtp:abuse@example.com"])
    for i in range(USERS):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        local = "%s.%s%04d" % (first, last, i)
        values = ["SMTP:%s@example.com" % local, "smtp:%s%s%04d@example.org" % (first[0], last, i)]
        if i % 3 == 0:
            values.append("smtp:%s@%s" % (local, CLOUD_DOMAIN))
        if i % 4 == 0:
            values.append("X400:c=US;a= ;p=Corp;o=Exchange;s=%s;g=%s%04d;" % (last, first, i))
        if i % 5 == 0:
            values.append("X500:/o=Corp/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=%s%04d"
                          % (first.lower(), i))
        if i % 7 == 0:
            values.append("sip:%s@example.com" % local.lower())
        if i % 11 == 0:
            values.append("smtp:%s.%s.%04d@EXAMPLE.ORG" % (first.upper(), last.upper(), i))
        if i % 97 == 0:
            values.append("smtp:Sales@example.com")  # the same alias on several objects
        data.add("user", "Staff", "%s %s %04d" % (first, last, i), "u%04d" % i, values, disabled=i % 25 == 24)
    for i, (_tag, value) in enumerate(HOSTILE):
        data.add("user", "Staff", "Hostile %02d" % i, "hostile%02d" % i,
                 ["SMTP:hostile%02d@example.com" % i, value], hostile=(value,))
    for i in range(GROUPS):
        values = ["SMTP:group-%03d@example.com" % i]
        if i % 2 == 0:
            values.append("smtp:Group-%03d@Example.org" % i)
        if i % 10 == 0:
            values.append("X500:/o=Corp/ou=Exchange Administrative Group/cn=Recipients/cn=group%03d" % i)
        data.add("group", "Groups", "Group %03d" % i, "group%03d" % i, values)
    for i in range(CONTACTS):
        values = ["SMTP:partner%03d@%s" % (i, PARTNER_DOMAIN)]
        if i % 3 == 0:
            values.append("smtp:contact-%03d@example.org" % i)
        data.add("contact", "Contacts", "Contact %03d" % i, "contact%03d" % i, values)
    for i in range(PUBLIC_FOLDERS):
        data.add("publicfolder", "Public Folders", "PF Archive %d" % i, "pf%d" % i,
                 ["SMTP:pf-archive-%d@example.com" % i, "X500:/o=Corp/cn=Public Folders/cn=pf%d" % i])
    for i in range(ADDRESS_ONLY_X500):
        data.add("contact", "Contacts", "Legacy %02d" % i, "legacy%02d" % i,
                 ["X500:/o=Legacy/cn=legacy%02d" % i, "X400:c=DE;a= ;p=Legacy;s=L%02d;" % i])
    # Enabled here, so that only the exclusion of system mailboxes drops them.
    for i, (cn, type_details) in enumerate(SYSTEM_MAILBOXES + [TYPE_ONLY_SYSTEM_MAILBOX]):
        local = re.sub(r"[^a-z0-9.-]", "", cn.lower())
        data.add("user", "Exchange System", cn, "SM_%02d" % i, ["SMTP:%s@example.com" % local],
                 type_details=type_details)
    return data


def is_system_mailbox(obj, by_type):
    """Whether an export that excludes system mailboxes drops ``obj``: by its type
    where the directory has the attribute (``by_type``), else by its name."""
    if by_type and obj["type_details"] is not None:
        return True
    return bool(SYSTEM_NAME.fullmatch(obj["cn"]))


def primary(obj):
    return next(v for v in obj["values"] if v.startswith("SMTP:")).partition(":")[2].lower()


def ldif_value(name, value):
    """An LDIF attribute line, base64 where RFC 2849 requires it."""
    raw = value.encode("utf-8")
    safe = (
        value
        and all(32 <= b < 127 for b in raw)
        and value[0] not in " :<"
        and not value.endswith(" ")
    )
    if safe:
        return "%s: %s" % (name, value)
    return "%s:: %s" % (name, base64.b64encode(raw).decode("ascii"))


def dn_of(obj, base=BASE):
    return "CN=%s,OU=%s,%s" % (obj["cn"], obj["ou"], base)


SAMBA_CLASS = {"user": "user", "group": "group", "contact": "contact", "publicfolder": "contact"}


def samba_entry(obj):
    lines = ["dn: " + dn_of(obj), "objectClass: " + SAMBA_CLASS[obj["kind"]]]
    if obj["kind"] in ("user", "group"):
        lines.append("sAMAccountName: " + obj["alias"])
    if obj["kind"] == "user":
        # 512 normal account, 514 normal and disabled; PASSWD_NOTREQD (32)
        # lets Samba create the accounts without a password.
        lines.append("userAccountControl: %d" % (546 if obj["disabled"] else 544))
    lines.extend(ldif_value("proxyAddresses", v) for v in obj["values"])
    return "\n".join(lines) + "\n"


OPENLDAP_CLASS = {
    "user": ["inetOrgPerson"],
    "group": ["groupOfNames"],
    "contact": ["inetOrgPerson"],
    "publicfolder": ["organizationalRole"],
}


def openldap_entry(obj, service_dn):
    lines = ["dn: " + dn_of(obj)]
    lines.extend("objectClass: " + c for c in OPENLDAP_CLASS[obj["kind"]] + ["relayLabRecipient"])
    lines.append("cn: " + obj["cn"])
    if obj["kind"] in ("user", "contact"):
        lines.append("sn: " + obj["cn"].split()[-1])
    if obj["kind"] == "group":
        lines.append("member: " + service_dn)
    if obj["kind"] == "user":
        lines.append("userAccountControl: %d" % (514 if obj["disabled"] else 512))
    if obj["type_details"] is not None:
        lines.append("msExchRecipientTypeDetails: %d" % obj["type_details"])
    lines.extend(ldif_value("proxyAddresses", v) for v in obj["values"])
    return "\n".join(lines) + "\n"


def ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--service-dn", default="CN=relay-export,OU=Services," + BASE)
    args = parser.parse_args()
    password = os.environ.get("RCP_LDAP_BIND_PASSWORD")
    if not password:
        parser.error("RCP_LDAP_BIND_PASSWORD is not set")
    data = build()
    out = args.outdir
    os.makedirs(out, exist_ok=True)

    ous = sorted({o["ou"] for o in data.objects} | {"Services"})
    samba = ["dn: OU=%s,%s\nobjectClass: organizationalUnit\n" % (ou, BASE) for ou in ous if ou != "Services"]
    samba.extend(samba_entry(o) for o in data.objects)
    write(os.path.join(out, "samba.ldif"), "\n".join(samba))

    openldap = ["dn: %s\nobjectClass: top\nobjectClass: domain\ndc: corp\n" % BASE]
    openldap.extend("dn: OU=%s,%s\nobjectClass: organizationalUnit\nou: %s\n" % (ou, BASE, ou) for ou in ous)
    openldap.append("dn: %s\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: relay-export\n"
                    "userPassword: %s\n" % (args.service_dn, ssha(password)))
    openldap.extend(openldap_entry(o, args.service_dn) for o in data.objects)
    # Without ManageDsaIT, slapd answers a subtree search with a reference for this entry.
    openldap.append("dn: OU=%s,%s\nobjectClass: referral\nobjectClass: extensibleObject\nou: %s\nref: %s\n"
                    "proxyAddresses: SMTP:%s\n" % (CHILD_DOMAIN_OU, BASE, CHILD_DOMAIN_OU, CHILD_DOMAIN_REF,
                                                   CHILD_DOMAIN_ADDRESS))
    write(os.path.join(out, "openldap.ldif"), "\n".join(openldap))

    # The legacy export lists every proxy address of the enabled objects; it
    # has no line continuation, so a value with a newline breaks its line.
    virtual = ["# legacy Exchange export (fixture)"]
    for obj in data.objects:
        if not obj["disabled"]:
            virtual.extend("%s: %s" % (obj["alias"], v) for v in obj["values"])
    write(os.path.join(out, "virtual.txt"), "\r\n".join(virtual) + "\r\n")
    # A second export with a few more addresses, for rebuilds under load.
    extra = ["extra%02d: SMTP:extra-%02d@example.com" % (n, n) for n in range(EXTRA)]
    write(os.path.join(out, "virtual-extra.txt"), "\r\n".join(virtual + extra) + "\r\n")

    newhire = dict(kind="user", ou="Staff", cn="New Hire", alias="newhire", disabled=False, hostile=[],
                   values=["SMTP:New.Hire@example.com", "smtp:nhire@example.org"])
    write(os.path.join(out, "samba-newhire.ldif"), samba_entry(newhire))
    # 60 % of the ordinary users, disabled ones included, go in the mass deletion.
    ordinary = [o for o in data.objects if o["kind"] == "user" and o["alias"].startswith("u")]
    deleted = [o for n, o in enumerate(ordinary) if n % 5 < 3]
    write(os.path.join(out, "samba-delete.ldif"), "\n".join("dn: %s\nchangetype: delete\n" % dn_of(o) for o in deleted))

    full = expect(data.objects)
    after_newhire = expect(data.objects + [newhire])
    after_delete = expect([o for o in data.objects + [newhire] if o not in deleted])
    expected = sorted(full["addresses"])
    write(os.path.join(out, "expected_addresses"), "".join(a + "\n" for a in expected))
    expected_map = "".join(a + "\tOK\n" for a in expected)
    write(os.path.join(out, "expected_map"), expected_map)
    removed = sorted(after_newhire["addresses"] - after_delete["addresses"])
    # Keys a wrong export would have produced: disabled accounts, foreign
    # domains, and hostile values trimmed or cut at the whitespace.
    disabled = {v.partition(":")[2].lower() for o in data.objects if o["disabled"] for v in o["values"]
                if v[:5].lower() == "smtp:"}
    absent = sorted(disabled - full["addresses"])[:50] + [
        "anna.adler0000@" + CLOUD_DOMAIN, "partner000@" + PARTNER_DOMAIN,
        "trailing.space@example.com", "leading.space@example.org", "line@example.com", "user@example.com",
        "dot..dot@example.com", "plain.value@example.com", "spaced.type@example.com", "two@at@example.com", "#hash@example.org",
        CHILD_DOMAIN_ADDRESS,
    ]
    if set(absent) & full["addresses"]:
        raise SystemExit("fixture bug: an absent key is expected")
    kept = sorted(after_delete["addresses"])
    samba_system = [o for o in data.objects if is_system_mailbox(o, by_type=False)]
    openldap_system = [o for o in data.objects if is_system_mailbox(o, by_type=True)]
    samba_without_system = expect([o for o in data.objects if o not in samba_system])
    openldap_without_system = expect([o for o in data.objects if o not in openldap_system])
    summary = dict(
        objects=len(data.objects),
        entries=len(expected),
        sha256=hashlib.sha256(expected_map.encode("utf-8")).hexdigest(),
        refused_count=len(full["refused"]),
        refused_values=sorted(full["refused"]),
        dropped_by_domain=full["dropped"],
        matched_enabled=full["matched_enabled"],
        matched_disabled=full["matched_disabled"],
        newhire_added=sorted(after_newhire["addresses"] - full["addresses"]),
        entries_with_newhire=len(after_newhire["addresses"]),
        deleted_users=len(deleted),
        entries_after_delete=len(after_delete["addresses"]),
        removed_by_delete=len(removed),
        absent=absent,
        removed_sample=[a for a in removed if a.endswith("@example.com")][:3],
        kept_sample=[a for a in kept if a.startswith("anna.") and a.endswith("@example.com")][:3],
        samba_system_dns=sorted(dn_of(o) for o in samba_system),
        samba_system_addresses=sorted(full["addresses"] - samba_without_system["addresses"]),
        samba_entries_without_system=len(samba_without_system["addresses"]),
        openldap_system_dns=sorted(dn_of(o) for o in openldap_system),
        openldap_entries_without_system=len(openldap_without_system["addresses"]),
        openldap_reference_dn=CHILD_DOMAIN_DN,
        child_domain_address=CHILD_DOMAIN_ADDRESS,
    )
    write(os.path.join(out, "expected.json"), json.dumps(summary, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: summary[k] for k in ("objects", "entries", "refused_count", "dropped_by_domain",
                                              "entries_after_delete")}))


if __name__ == "__main__":
    main()
