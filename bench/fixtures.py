# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Synthetic data for the benchmarks (bench/, never imported by the collection).

  fixtures.py ldif SUFFIX N PASSWORD_HASH [MIX] > file.ldif
      N recipients under ``ou=people,SUFFIX``, plus the export's service account
      ``cn=relay,SUFFIX``. MIX is one of:
        smtp      every recipient a user with 3 SMTP proxyAddresses (mixed case,
                  two relay domains) and nothing else;
        exchange  what Exchange writes (see exchange_object): mailboxes with
                  X500, SIP and EUM values beside their SMTP ones, groups, shared
                  mailboxes, mail contacts with an external targetAddress,
                  addresses of domains that are not relayed, a few malformed values.
  fixtures.py entries N MIX
      how many map entries the N recipients of MIX give (distinct relay addresses).
  fixtures.py keys N PREFIX > file
      N map source lines ``<i>PREFIX<TAB>OK``, the form smtp-source -N produces
      from ``-t PREFIX``, so smtpd hits can be driven by smtp-source as well.
"""

import sys

FIRST = ("Anna", "Bernd", "Chloe", "Dmitri", "Eva", "Farid", "Greta", "Hugo")
LAST = ("Adler", "Berger", "Costa", "Dubois", "Engel", "Fischer", "Garcia", "Huber", "Ivanova")


def user_addresses(i):
    """The three proxyAddresses of user ``i`` as AD writes them (primary in upper case)."""
    given, family = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
    return (
        "SMTP:%s.%s%d@example.com" % (given, family, i),
        "smtp:u%07d@example.com" % i,
        "smtp:%s.%s%d@example.org" % (given[0], family, i),
    )


# The exchange mix, one kind of recipient by i % 20. What Exchange writes on each
# (Exchange Server 2016/2019 on premises, as `Get-Recipient | fl EmailAddresses`
# and ADSI Edit show them):
# - a user mailbox: SMTP: (primary) and smtp: values from the email address
#   policies; X500: with a former legacyExchangeDN on every mailbox migrated
#   between organisations or from Exchange Online, or renamed; SIP: where Skype
#   for Business or Teams is used (the SIP address, usually the SMTP address);
#   EUM: with Unified Messaging (extension;phone-context=dial plan). In a hybrid
#   organisation a routing address in the tenant's mail.onmicrosoft.com domain
#   (not a relay domain) is added by the policy as well.
# - a shared mailbox: SMTP:/smtp: and X500:; organisations that date from
#   Exchange 2003 still carry an X400: value (C=..;A= ;P=..;O=..;S=..;).
# - a distribution group: SMTP:/smtp: and X500:.
# - a mail contact: targetAddress SMTP: its external address, which is also its
#   primary SMTP: value (a domain the relay does not relay); the policy can add a
#   secondary smtp: in a relay domain, and X500:.
# Malformed values do occur (hand edits, bulk imports); two shapes here, which
# both the module and the C pipeline leave out: a space in the local part, a
# trailing dot on the domain.
KIND_BY_REMAINDER = {0: "contact", 1: "group", 2: "shared"}  # every other remainder: a user mailbox
RELAY_ENTRIES = {"contact": 1, "group": 2, "shared": 2, "mailbox": 3}
ORG_DN = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="


def exchange_kind(i):
    return KIND_BY_REMAINDER.get(i % 20, "mailbox")


def exchange_object(i):
    """(kind, proxyAddresses, targetAddress or None) of recipient ``i`` of the exchange mix."""
    given, family = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
    x500 = "X500:%s%032x-%s%d" % (ORG_DN, (i + 1) * 0x9E3779B97F4A7C15F39CC0605CEDC835 % (1 << 128), family.lower(), i)
    kind = exchange_kind(i)
    if kind == "contact":
        external = "%s.%s%d@partner.example" % (given, family, i)
        return kind, ("SMTP:" + external, "smtp:c%07d@example.com" % i, x500), "SMTP:" + external
    if kind == "group":
        return kind, ("SMTP:Group%d@example.com" % i, "smtp:group%d@example.org" % i, x500), None
    if kind == "shared":
        return kind, ("SMTP:Shared%d@example.com" % i, "smtp:s%07d@example.com" % i, x500,
                      "X400:C=DE;A= ;P=Example;O=Exchange;S=Shared%d;" % i), None
    values = list(user_addresses(i))
    values += [x500, "SIP:%s.%s%d@example.com" % (given.lower(), family.lower(), i),
               "EUM:%d;phone-context=Dialplan.example.com" % (100000 + i)]
    if i % 10 == 3:
        values.append("smtp:u%07d@example.mail.onmicrosoft.com" % i)
    if i % 1000 == 7:
        values.append("smtp:%s %s%d@example.com" % (given, family, i))
    if i % 1000 == 507:
        values.append("smtp:x%07d@example.com." % i)
    return kind, tuple(values), None


def relay_entries(count, mix):
    """The distinct relay addresses (map entries) the first ``count`` recipients of ``mix`` give."""
    if mix == "smtp":
        return 3 * count
    return sum(RELAY_ENTRIES[exchange_kind(i)] for i in range(count))


def recipient(i, mix):
    """(proxyAddresses, targetAddress or None) of recipient ``i`` of ``mix``."""
    if mix == "smtp":
        return user_addresses(i), None
    _kind, values, target = exchange_object(i)
    return values, target


def write_ldif(out, suffix, count, password_hash, mix="smtp"):
    rdn = suffix.split(",")[0].split("=")[1]
    out.write("dn: %s\nobjectClass: organization\no: %s\n\n" % (suffix, rdn))
    out.write("dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n" % suffix)
    out.write(
        "dn: cn=relay,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        "cn: relay\nuserPassword: %s\n\n" % (suffix, password_hash)
    )
    for i in range(count):
        given, family = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        lines = [
            "dn: uid=u%07d,ou=people,%s" % (i, suffix),
            "objectClass: inetOrgPerson",
            "objectClass: benchRecipient",
            "uid: u%07d" % i,
            "cn: %s %s %d" % (given, family, i),
            "sn: %s" % family,
        ]
        values, target = recipient(i, mix)
        lines.extend("proxyAddresses: %s" % value for value in values)
        if target:
            lines.append("targetAddress: %s" % target)
        out.write("\n".join(lines) + "\n\n")


def write_keys(out, count, prefix):
    for i in range(count):
        out.write("%d%s\tOK\n" % (i, prefix))


def main(argv):
    if argv[1] == "ldif":
        write_ldif(sys.stdout, argv[2], int(argv[3]), argv[4], argv[5] if len(argv) > 5 else "smtp")
    elif argv[1] == "entries":
        print(relay_entries(int(argv[2]), argv[3]))
    elif argv[1] == "keys":
        write_keys(sys.stdout, int(argv[2]), argv[3])
    else:
        raise SystemExit("usage: fixtures.py ldif SUFFIX N HASH [smtp|exchange] | entries N MIX | keys N PREFIX")


if __name__ == "__main__":
    main(sys.argv)
