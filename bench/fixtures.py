# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Synthetic data for the benchmarks (bench/, never imported by the collection).

  fixtures.py ldif SUFFIX N PASSWORD_HASH > file.ldif
      N users under ``ou=people,SUFFIX``, 3 proxyAddresses each (mixed case, two
      relay domains), plus the export's service account ``cn=relay,SUFFIX``.
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


def write_ldif(out, suffix, count, password_hash):
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
        lines.extend("proxyAddresses: %s" % value for value in user_addresses(i))
        out.write("\n".join(lines) + "\n\n")


def write_keys(out, count, prefix):
    for i in range(count):
        out.write("%d%s\tOK\n" % (i, prefix))


def main(argv):
    if argv[1] == "ldif":
        write_ldif(sys.stdout, argv[2], int(argv[3]), argv[4])
    elif argv[1] == "keys":
        write_keys(sys.stdout, int(argv[2]), argv[3])
    else:
        raise SystemExit("usage: fixtures.py ldif SUFFIX N HASH | keys N PREFIX")


if __name__ == "__main__":
    main(sys.argv)
