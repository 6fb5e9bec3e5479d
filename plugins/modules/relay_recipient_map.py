#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: relay_recipient_map
short_description: Build the Postfix relay recipient map from Active Directory or a pushed file
version_added: 0.1.0
description:
  - Reads every valid recipient address from Active Directory (C(proxyAddresses) over a paged LDAPS
    search) or from a file, keeps the SMTP addresses of the relay domains, validates, de-duplicates and
    sorts them, and compiles them with C(postmap) into the table named by C(relay_recipient_maps).
  - Before anything is installed a safety gate checks the minimum entry count, the share of live entries
    that would disappear and a list of addresses that must be present. A failed gate leaves the live map
    untouched and fails the task with the old count, the new count and the reason.
  - The table is compiled beside the live one and renamed into place, so Postfix never sees a partial
    table. If the content is unchanged nothing is written and RV(ignore:changed) is false.
  - The addresses are never held in memory as a whole; they stream into C(sort -u) page by page, so
    memory stays flat however large the directory.
  - Values that are not acceptable addresses (whitespace, control characters, a second C(@), address or
    map syntax characters, over-long parts, bad domain labels, non-ASCII) are refused and reported in
    RV(refused) with their source; they do not fail the run.
  - Internationalised (SMTPUTF8) addresses are refused with the reason
    C(non-ASCII address (SMTPUTF8 not supported)).
  - The module does not reload Postfix unless O(reload=true); Postfix daemons also notice a changed
    table on their own and restart. Notify a handler that runs C(postfix reload) on RV(ignore:changed).
author:
  - mailrelay.exchange maintainers (@mailrelay)
requirements:
  - ldap3 >= 2.9 (for O(source=ldap))
  - gssapi (for O(sasl_mechanism=GSSAPI))
  - postmap (Postfix) with the map type's support (C(postfix-cdb), C(postfix-lmdb) on Debian)
  - sort and comm (GNU coreutils)
extends_documentation_fragment:
  - mailrelay.exchange.ldap_options
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff lists added and removed addresses up to O(diff_limit); counts are always shown.
  platform:
    platforms: posix
options:
  source:
    description:
      - Where the addresses come from.
      - V(ldap) is a full export, a paged search of every recipient under O(base_dns).
      - V(dirsync) reads only what changed in Active Directory since the last run, with the DirSync control
        (C(1.2.840.113556.1.4.841)), and keeps every object it has seen (object GUID, DN, addresses) in
        O(dirsync_state_dir). The map is the rendering of that whole state through the same validation, gate and
        swap as V(ldap), so it is the map a full export would build at the same moment, byte for byte. A poll renders
        only the objects that changed and patches the live map with what they took out and put in (RV(dirsync.patched));
        a full resync, other rendering options or a live map that is not the state's rendering render every object.
        The first run,
        or any run whose state cannot go on (none or unreadable, other settings, another DC or C(invocationId), a
        cookie the server refuses, O(dirsync_full_resync)), reads every object instead (a full resync), its reason in
        RV(dirsync.reason) and in a warning. A run that finds no change writes neither the map nor the state's objects.
        Active Directory and Samba AD only; against a directory without DirSync (OpenLDAP) the run fails and says so;
        keep V(ldap) there. See C(docs/dirsync.md).
    type: str
    choices: [ldap, dirsync, file]
    required: true
  base_dns:
    description:
      - Base DNs searched (subtree) one after the other. Required with O(source=ldap) and O(source=dirsync)
        (which reads the whole naming context and keeps the objects below these in the map).
    type: list
    elements: str
  filter:
    description:
      - LDAP filter. The default catches users, groups, contacts and public folders with an SMTP address;
        AD compares attribute values case-insensitively, so it matches C(SMTP:) as well.
      - O(source=dirsync) accepts only the default, which it applies to its state itself.
    type: str
    default: (proxyAddresses=smtp:*)
  page_size:
    description:
      - Entries per page of the paged-results search. Keep it at or below the server's limit
        (AD's MaxPageSize is 1000).
    type: int
    default: 1000
  exclude_disabled:
    description:
      - Drop accounts whose C(userAccountControl) has the ACCOUNTDISABLE bit (2).
      - Exchange shared, room and equipment mailboxes are disabled accounts; they are dropped too.
    type: bool
    default: false
  ad_matching_rule:
    description:
      - With O(exclude_disabled), also exclude disabled accounts in the filter with the AD bitwise matching
        rule C(1.2.840.113556.1.4.803). Set to false for directories without that rule (OpenLDAP), which
        otherwise return nothing. Disabled accounts are always checked on the client as well.
    type: bool
    default: true
  include_mail:
    description:
      - Also take the C(mail) attribute.
    type: bool
    default: false
  include_target_address:
    description:
      - Also take the C(targetAddress) attribute (mail users and contacts, Exchange schema only).
    type: bool
    default: false
  exclude_system_mailboxes:
    description:
      - Leave out Exchange's own system mailboxes (health, arbitration, discovery, audit log mailboxes), counted
        in RV(system_mailboxes_skipped) and listed in RV(system_mailboxes). With O(source=ldap).
      - An entry with C(msExchRecipientTypeDetails) (Exchange's schema) is left out when that is
        C(SystemAttendantMailbox) (8192), C(SystemMailbox) (16384), C(ArbitrationMailbox) (8388608),
        C(DiscoveryMailbox) (536870912), C(MonitoringMailbox) (549755813888), C(AuditLogMailbox) (4398046511104),
        C(AuxAuditLogMailbox) (70368744177664) or C(SupervisoryReviewPolicyMailbox) (140737488355328); its name does
        not matter then.
      - An entry without it (no Exchange schema, as in Samba or OpenLDAP) is left out when the value of the first
        RDN of its DN is, whole and in any case, C(HealthMailbox) followed by hex digits and dashes,
        C(SystemMailbox{GUID}), C(DiscoverySearchMailbox{GUID}) (a space before the brace allowed),
        C(Migration.GUID) or C(FederatedEmail.GUID).
      - Only with this option is C(msExchRecipientTypeDetails) requested; a directory without it ignores the name.
    type: bool
    default: false
    version_added: 0.1.0
  fail_on_references:
    description:
      - Fail, with the live map kept, when the directory returns search continuation references that may hold
        recipients (a child domain below a base DN). The references are not followed either way; without this
        option they are a warning and the map is built without the recipients below them.
      - References to AD's C(DomainDnsZones), C(ForestDnsZones) and C(Configuration) partitions, which AD returns
        for every search of a domain's root, hold no recipients; they are listed in RV(references) only.
      - To export every domain of a forest, search a Global Catalog instead (C(ldaps://dc:3269), or C(ldap://dc:3268)
        with O(start_tls)) with the forest root as base DN.
    type: bool
    default: false
    version_added: 0.1.0
  src:
    description:
      - File to read with O(source=file), on the host that runs the module.
    type: path
  format:
    description:
      - Format of O(src).
      - "V(virtual) is the legacy export, one C(alias: TYPE:address) per line; only C(SMTP)/C(smtp) types
        are used, C(X400), C(X500) and other types are ignored."
      - V(list) is one address per line. V(csv) is a CSV file with a header row, see O(csv_column).
      - V(map) is a Postfix map source as this module writes it (C(address<TAB>OK)); the first field of
        each line is the address, the value is not used. It reads a staging copy made with O(compile=false).
      - In every format blank lines and lines starting with C(#) are skipped, the file is read as UTF-8
        (a byte order mark is allowed) and only line endings are stripped.
    type: str
    choices: [virtual, list, csv, map]
    default: virtual
  csv_column:
    description:
      - Column of the CSV file that holds the addresses. Required with O(format=csv).
    type: str
  require_end_marker:
    description:
      - With O(source=file), build only from a complete upload. The file must end with the line
        C(#mailrelay-end lines=N sha256=HEX), where N is the number of lines before it and HEX the SHA-256 of
        every byte before it, as C(extras/windows/Export-RelayRecipients.ps1) writes it. A file without
        that line or whose bytes do not match it (a transfer cut short, a file rewritten while it was read)
        fails the task and the live map is kept.
      - The part before the marker is copied into the run's private directory and checked there, and the map
        is built from that copy, so an upload arriving during the build cannot mix into it.
      - The push path of the C(relay_recipients) role sets this unless C(relay_recipients_push_accept_unmarked)
        is set for a legacy uploader.
    type: bool
    default: false
  domains:
    description:
      - The relay domains. Addresses in other domains are dropped and counted in RV(dropped_by_domain).
        Sub-domains are not included implicitly.
    type: list
    elements: str
    required: true
  map_path:
    description:
      - Path of the map source without the type suffix, as in C(relay_recipient_maps = cdb:/etc/postfix/relay_recipients).
      - The compiled table is this path plus C(.cdb), C(.lmdb) or C(.db), following O(map_type).
    type: path
    default: /etc/postfix/relay_recipients
  map_type:
    description:
      - Postfix table type.
    type: str
    choices: [cdb, lmdb, hash]
    default: cdb
  compile:
    description:
      - "Compile the table with C(postmap). With V(false) only the map source at O(map_path) is written
        (atomically, after the same gate): a staging copy on an export host without Postfix, which the
        relays then read with O(format=map). O(reload) is not done then."
    type: bool
    default: true
    version_added: 0.1.0
  postmap_path:
    description:
      - Path of C(postmap). Found in the PATH and C(/usr/sbin) when omitted.
    type: path
  config_directory:
    description:
      - Postfix configuration directory passed to C(postmap -c). Omit for the default instance.
    type: path
  min_entries:
    description:
      - Fail the gate when the new map would have fewer entries. At least V(1).
      - Required for the first build (no live map at O(map_path)). Without a live map the shrink check has
        nothing to compare with, and a wrong base DN or filter would turn the safe C(451) for a missing table
        into C(550) for every address it misses. Without it the first build fails the gate with a message
        that says how many entries the export found. Once a live map exists, omitting it means V(1).
    type: int
  max_shrink_percent:
    description:
      - Fail the gate when more than this share of the live map's entries would be removed.
        Added entries do not offset removed ones. From V(0) to V(100).
    type: float
    default: 10
  must_exist:
    description:
      - Addresses that must be in the new map. Defaults to C(postmaster@) each of O(domains);
        an empty list disables the check.
    type: list
    elements: str
  force:
    description:
      - Install the map even when the gate fails; the failed checks become a warning.
    type: bool
    default: false
  backup:
    description:
      - Before a swap, keep the live source and table as C(<map_path>.prev) and C(<map_path>.prev.<suffix>),
        a table Postfix can use directly to roll back.
    type: bool
    default: true
  diff_limit:
    description:
      - Largest number of added and removed addresses listed in the diff and in RV(added_addresses) and RV(removed_addresses).
    type: int
    default: 100
  refused_limit:
    description:
      - Largest number of refused values listed in RV(refused); RV(refused_count) counts them all.
    type: int
    default: 100
  lock_timeout:
    description:
      - Seconds to wait for another build of the same map to end. Every build (the refresh playbook, the timer,
        the push unit) holds an exclusive lock on C(<map_path>.lock) for its whole run, so builds on one relay
        follow each other instead of racing to the last rename. After this time the run fails with the live
        map kept. From V(0) to V(3600).
      - Check mode takes the lock only when the lock file exists, and never creates it.
    type: int
    default: 300
  reload:
    description:
      - Run C(postfix reload) when the map changed (never in check mode).
    type: bool
    default: false
  metrics_dir:
    description:
      - The textfile directory of node_exporter (Debian's C(prometheus-node-exporter) reads
        C(/var/lib/prometheus/node-exporter)). When set, every run that is not in check mode, successful or
        not, replaces the map's metrics file there, C(mailrelay_recipient_map-<map path>-<hash>.prom)
        (see RV(metrics_file) and C(docs/monitoring.md)); a failed run records its RV(failure_reason) and keeps
        the last success's time and figures.
      - A metrics file that cannot be written is a warning, never a failure of the build.
    type: path
  refresh_interval:
    description:
      - Seconds between two scheduled builds of this map, written as the metric
        C(mailrelay_recipient_map_refresh_interval_seconds) so that the staleness alert knows what late means.
        From V(60) to V(2678400) (31 days).
    type: int
    default: 3600
  dirsync_state_dir:
    description:
      - With O(source=dirsync), the directory of the DirSync state of this map (C(state.sqlite), an SQLite database,
        mode C(0600)); created C(0700) when missing. One per map; never shared between hosts.
      - The state is written only after the map was installed or found unchanged, never in check mode.
    type: path
    version_added: 0.1.0
  dirsync_base:
    description:
      - The naming context DirSync reads (AD accepts only the head of a naming context). Defaults to the
        C(defaultNamingContext) of the DC; every O(base_dns) must lie below it, and only objects under O(base_dns)
        go into the map.
    type: str
    version_added: 0.1.0
  dirsync_object_security:
    description:
      - Set the DirSync object-security flag, so an account without the C(Replicating Directory Changes) right may
        read the changes of the objects it can read.
      - With it, deleted objects are not returned (measured on Samba AD, as AD documents it), so an address of a
        deleted object stays in the map until the next full resync (O(dirsync_full_resync), the role's nightly job).
    type: bool
    default: false
    version_added: 0.1.0
  dirsync_full_resync:
    description:
      - Read every object again and rebuild the state from nothing (reason C(requested)). The role's scheduled
        refresh does this, nightly by default, as the check and fallback of the deltas. Its map passes the full
        export's gate (O(max_shrink_percent)), not O(dirsync_max_removals).
    type: bool
    default: false
    version_added: 0.1.0
  dirsync_max_removals:
    description:
      - A poll (not a full resync) whose changes would remove more than this many addresses from the live map is
        held - the gate fails, naming them, the live map keeps them and the state is not moved on, so every
        following poll fails the same way - until O(dirsync_approve_removals) approves it or a full resync applies it.
        From V(0) to V(1000000).
    type: int
    default: 20
    version_added: 0.1.0
  dirsync_approve_removals:
    description:
      - Apply a held poll that removes at most this many addresses (the number the held failure named).
        From V(0) to V(1000000).
    type: int
    default: 0
    version_added: 0.1.0
notes:
  - A search counts as complete only when the server returns an empty paged-results cookie. Any result
    code other than success on any page (size, time or admin limit exceeded, referral, unavailable, ...)
    fails the task; search continuation references are reported in RV(references) and not followed (see
    O(fail_on_references)).
  - On every failure (directory unreachable, incomplete search, gate, postmap error) the live map is left
    as it was and temporary files are removed.
  - The source and the table get O(mode), V(0640) when it is not set (the map lists every valid address,
    which is not for every local user; Postfix opens its tables as root), and O(owner) and O(group) when set.
  - Numeric options are checked against their ranges (O(page_size) 1 to 100000, O(timeout) 1 to 3600,
    O(diff_limit) and O(refused_limit) 0 to 1000000) before anything runs.
  - Check mode writes nothing beside the live map. The new source is built and compared in a private
    directory under the system's temporary directory.
seealso:
  - name: Postfix lookup table types
    description: The table types postmap can build.
    link: https://www.postfix.org/DATABASE_README.html
"""

EXAMPLES = r"""
- name: Build the relay recipient map from Active Directory
  mailrelay.exchange.relay_recipient_map:
    source: ldap
    server_uris:
      - ldaps://dc1.corp.example.com
      - ldaps://dc2.corp.example.com
    ca_file: /etc/ssl/certs/corp-root-ca.pem
    bind_dn: svc-relay@corp.example.com
    bind_password: "{{ vault_relay_bind_password }}"
    base_dns:
      - DC=corp,DC=example,DC=com
    domains:
      - example.com
      - example.org
    map_type: cdb
  notify: Reload postfix

- name: Build it from the legacy virtual.txt pushed by Exchange
  mailrelay.exchange.relay_recipient_map:
    source: file
    src: /var/lib/relay-upload/virtual.txt
    format: virtual
    require_end_marker: true
    domains: [example.com]
    max_shrink_percent: 5
  register: relay_map

- name: Show what was refused
  ansible.builtin.debug:
    var: relay_map.refused
  when: relay_map.refused_count > 0

- name: Against OpenLDAP, drop disabled accounts on the client only
  mailrelay.exchange.relay_recipient_map:
    source: ldap
    server_uris:
      - ldap://ldap.example.net
    start_tls: true
    bind_dn: cn=relay,ou=services,dc=example,dc=net
    bind_password: "{{ ldap_password }}"
    base_dns:
      - ou=people,dc=example,dc=net
    exclude_disabled: true
    ad_matching_rule: false
    domains: [example.net]
    map_type: lmdb
    reload: true
"""

RETURN = r"""
failure_reason:
  description:
    - Why a failed run failed, one of V(arguments), V(lock), V(directory), V(source_file), V(upload_incomplete),
      V(gate), V(map_build), V(reload), V(other); the label C(reason) of the failure metrics.
  returned: failure
  type: str
  sample: gate
metrics_file:
  description: The metrics file this run wrote, with O(metrics_dir).
  returned: when O(metrics_dir) is set and the file was written
  type: str
  sample: /var/lib/prometheus/node-exporter/mailrelay_recipient_map-etc_postfix_relay_recipients-6d1c2f0e.prom
entries:
  description: Number of addresses in the new map.
  returned: always
  type: int
  sample: 5120
previous_entries:
  description: Number of addresses in the live map before the run; null when there was none.
  returned: always
  type: int
  sample: 5118
added:
  description: Number of addresses added against the live map.
  returned: always
  type: int
  sample: 3
removed:
  description: Number of addresses removed against the live map.
  returned: always
  type: int
  sample: 1
added_addresses:
  description: Added addresses, sorted, at most O(diff_limit).
  returned: always
  type: list
  elements: str
  sample: [new.user@example.com]
removed_addresses:
  description: Removed addresses, sorted, at most O(diff_limit).
  returned: always
  type: list
  elements: str
  sample: [left.company@example.com]
refused:
  description: Values that were not acceptable addresses, at most O(refused_limit).
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: Where the value came from, C(DN (attribute)) or C(file:line).
      type: str
      sample: CN=Bad Value,OU=Users,DC=corp,DC=example,DC=com (proxyaddresses)
    value:
      description: The value as read.
      type: str
      sample: "smtp:bad user@example.com"
    reason:
      description: Why it was refused.
      type: str
      sample: "whitespace ' '"
refused_count:
  description: Number of refused values, also those not listed in RV(refused).
  returned: always
  type: int
  sample: 2
dropped_by_domain:
  description: Valid addresses dropped because their domain is not a relay domain, counted per domain.
  returned: always
  type: dict
  sample: {"corp.example.com": 40, "example.mail.onmicrosoft.com": 5120}
ignored_by_type:
  description: Address values of other types than SMTP (X400, X500, SIP, ...), counted per type.
  returned: always
  type: dict
  sample: {"X500": 812, "X400": 5120}
pages:
  description: Pages of the paged search fetched, over all base DNs; 0 for a file source.
  returned: always
  type: int
  sample: 6
ldap_entries:
  description: Directory entries received; 0 for a file source.
  returned: always
  type: int
  sample: 5300
disabled_skipped:
  description: Entries dropped on the client as disabled accounts.
  returned: always
  type: int
  sample: 12
ranged_entries:
  description:
    - Entries that returned an attribute's values in ranges (AD sends at most C(MaxValRange) values of an attribute
      per entry, 1500 by default, as C(proxyAddresses;range=0-1499)). The rest of their values were read with
      base-scope searches for C(proxyAddresses;range=1500-*) and so on until the last range (C(*)); an answer without
      the asked range fails the export. 0 for a file source.
  returned: always
  type: int
  sample: 2
range_searches:
  description: Base-scope searches made to read the rest of ranged values (see RV(ranged_entries)).
  returned: always
  type: int
  sample: 3
end_marker:
  description: With O(require_end_marker), the checked end marker of the file source (lines and SHA-256 before it).
  returned: when O(require_end_marker) is set and the marker matched
  type: dict
  sample: {"lines": 5120, "sha256": "3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
references:
  description: Search continuation references the server returned, at most O(refused_limit); they are not followed.
  returned: always
  type: list
  elements: str
  sample: ["ldap://DomainDnsZones.corp.example.com/DC=DomainDnsZones,DC=corp,DC=example,DC=com"]
references_missed:
  description:
    - The references of RV(references) below which recipients may be missing from the map (all but AD's DNS zones
      and configuration partitions), at most O(refused_limit). Any of them is a warning, or a failure with
      O(fail_on_references).
  returned: always
  type: list
  elements: str
  sample: ["ldap://child.corp.example.com/DC=child,DC=corp,DC=example,DC=com"]
  version_added: 0.1.0
system_mailboxes_skipped:
  description: Entries left out as Exchange system mailboxes (O(exclude_system_mailboxes)).
  returned: always
  type: int
  sample: 14
  version_added: 0.1.0
system_mailboxes:
  description: The first 20 entries left out as system mailboxes, and why.
  returned: always
  type: list
  elements: dict
  contains:
    dn:
      description: The entry's DN.
      type: str
      sample: CN=HealthMailbox0a1b2c3d,CN=Monitoring Mailboxes,CN=Microsoft Exchange System Objects,DC=corp,DC=example,DC=com
    reason:
      description: The rule that matched, C(msExchRecipientTypeDetails TYPE (VALUE)) or C(name PATTERN).
      type: str
      sample: msExchRecipientTypeDetails MonitoringMailbox (549755813888)
  version_added: 0.1.0
server:
  description: The directory URI that answered; null for a file source.
  returned: always
  type: str
  sample: ldaps://dc1.corp.example.com
duration:
  description: Seconds the module took.
  returned: always
  type: float
  sample: 2.41
sha256:
  description: SHA-256 of the rendered map source, the same on every relay that got the same data.
  returned: always
  type: str
  sample: 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
map_source:
  description: Path of the map source.
  returned: always
  type: str
  sample: /etc/postfix/relay_recipients
map_file:
  description: Path of the compiled table; null with O(compile=false).
  returned: always
  type: str
  sample: /etc/postfix/relay_recipients.cdb
backup_files:
  description: Backups written by this run (previous source and table).
  returned: always
  type: list
  elements: str
  sample: [/etc/postfix/relay_recipients.prev.cdb, /etc/postfix/relay_recipients.prev]
gate:
  description: Result of the safety gate.
  returned: always
  type: dict
  contains:
    passed:
      description: Whether every check passed.
      type: bool
    forced:
      description: Whether a failed gate was overridden by O(force).
      type: bool
    reasons:
      description: The failed checks.
      type: list
      elements: str
    old_count:
      description: Entries in the live map, null when there is none.
      type: int
    new_count:
      description: Entries in the new map.
      type: int
    removed_percent:
      description: Share of live entries that would be removed, in percent.
      type: float
  sample: {"passed": true, "forced": false, "reasons": [], "old_count": 5118, "new_count": 5120, "removed_percent": 0.02}
reloaded:
  description: Whether C(postfix reload) was run.
  returned: always
  type: bool
  sample: false
dirsync:
  description: With O(source=dirsync), what the poll read and did.
  returned: with O(source=dirsync), when the poll got that far
  type: dict
  contains:
    full_resync:
      description: Whether every object was read (no cookie).
      type: bool
    reason:
      description:
        - Why a full resync was made, one of V(no_state), V(state_invalid), V(settings_changed), V(dc_changed),
          V(invocation_id_changed), V(cookie_refused), V(requested); null for a delta.
      type: str
    reason_detail:
      description: The reason in words (the saved and the current DC, the server's answer).
      type: str
    dc:
      description: C(dnsHostName) of the DC that answered.
      type: str
    invocation_id:
      description: C(invocationId) of that DC, hex.
      type: str
    entries_read:
      description: Directory entries the DirSync pass returned (with a delta, about the number of changed objects).
      type: int
    objects_changed:
      description: Objects added or changed in the state.
      type: int
    objects_deleted:
      description: Objects removed from the state (tombstones of objects it held).
      type: int
    tombstones_ignored:
      description: Tombstones of objects the state never held (a first pass returns every older tombstone).
      type: int
    objects:
      description: Objects in the state after the poll.
      type: int
    patched:
      description:
        - Whether the map was made from the live one and the changed objects alone (a poll); false when every object
          was rendered again (a full resync, other rendering options, a live map that was not the state's rendering).
          Absent when the poll changed no object. With a patch, RV(refused) lists the refused values of the changed
          objects only; RV(refused_count) and the other counts are those of the whole map.
      type: bool
    exported_objects:
      description: Objects of the state that go into the map (under O(base_dns), with an C(smtp:) address).
      type: int
    held_removals:
      description: Addresses this poll's changes would have removed when they were held (see O(dirsync_max_removals)).
      type: int
    resync_corrected:
      description:
        - After a full resync of a state that had rendered a map, the addresses it added to and removed from the live
          map (what the deltas had missed, or a held deletion it applied); also a warning naming the first ten of each.
      type: dict
    deletions_visible:
      description:
        - After a full resync, whether the account sees deleted objects (the pass returned C(CN=Deleted Objects)); when
          false a warning says that deletions reach the map only with the next full resync. Absent after a delta.
      type: bool
    state_saved:
      description: Whether the state was written (its objects, or only a newer cookie).
      type: bool
  sample: {"full_resync": false, "reason": null, "dc": "dc1.corp.example.com", "entries_read": 2, "objects_changed": 2,
           "objects_deleted": 0, "tombstones_ignored": 0, "objects": 5120, "patched": true, "held_removals": 0,
           "state_saved": true}
  version_added: 0.1.0
lock_waited:
  description:
    - Seconds the run waited for another build of the same map (see O(lock_timeout)); a wait of a second or more
      is also a warning. None in check mode when there was no lock file.
  returned: success
  type: float
  sample: 0.0
"""

import os
import time
from collections import namedtuple

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mailrelay.exchange.plugins.module_utils import _build_lock as build_lock
from ansible_collections.mailrelay.exchange.plugins.module_utils import _delta_gate as delta_gate
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_delta as dirsync_delta
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_metrics as dirsync_metrics
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_render as dirsync_render
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_search as dirsync_search
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_state as dirsync_state
from ansible_collections.mailrelay.exchange.plugins.module_utils import _end_marker as end_marker
from ansible_collections.mailrelay.exchange.plugins.module_utils import _install_policy as install_policy
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_connect as ldap_connect
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_errors as ldap_errors
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_source as ldap_source
from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_metrics as map_metrics
from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_patch as map_patch
from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_map as postfix_map
from ansible_collections.mailrelay.exchange.plugins.module_utils import _search_references as search_references
from ansible_collections.mailrelay.exchange.plugins.module_utils import _system_mailboxes as system_mailboxes
from ansible_collections.mailrelay.exchange.plugins.module_utils._address import normalise_domains
from ansible_collections.mailrelay.exchange.plugins.module_utils._collector import RecipientCollector
from ansible_collections.mailrelay.exchange.plugins.module_utils._file_source import FILE_READERS, read_file_source
from ansible_collections.mailrelay.exchange.plugins.module_utils._gate import check_gate, default_must_exist
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import ExportStats
from ansible_collections.mailrelay.exchange.plugins.module_utils._map_source import diff_text
from ansible_collections.mailrelay.exchange.plugins.module_utils._option_ranges import range_problems


def argument_spec():
    spec = ldap_connect.ldap_argument_spec()
    spec.update(
        source=dict(type="str", required=True, choices=["ldap", "dirsync", "file"]),
        base_dns=dict(type="list", elements="str"),
        filter=dict(type="str", default=ldap_source.DEFAULT_FILTER),
        page_size=dict(type="int", default=1000),
        exclude_disabled=dict(type="bool", default=False),
        ad_matching_rule=dict(type="bool", default=True),
        include_mail=dict(type="bool", default=False),
        include_target_address=dict(type="bool", default=False),
        exclude_system_mailboxes=dict(type="bool", default=False),
        fail_on_references=dict(type="bool", default=False),
        src=dict(type="path"),
        format=dict(type="str", default="virtual", choices=sorted(FILE_READERS)),
        csv_column=dict(type="str"),
        require_end_marker=dict(type="bool", default=False),
        domains=dict(type="list", elements="str", required=True),
        map_path=dict(type="path", default="/etc/postfix/relay_recipients"),
        map_type=dict(type="str", default="cdb", choices=sorted(postfix_map.SUFFIXES)),
        compile=dict(type="bool", default=True),
        postmap_path=dict(type="path"),
        config_directory=dict(type="path"),
        min_entries=dict(type="int"),
        max_shrink_percent=dict(type="float", default=10),
        must_exist=dict(type="list", elements="str"),
        force=dict(type="bool", default=False),
        backup=dict(type="bool", default=True),
        diff_limit=dict(type="int", default=100),
        refused_limit=dict(type="int", default=100),
        reload=dict(type="bool", default=False),
        lock_timeout=dict(type="int", default=300),
        metrics_dir=dict(type="path"),
        refresh_interval=dict(type="int", default=3600),
        dirsync_state_dir=dict(type="path"),
        dirsync_base=dict(type="str"),
        dirsync_object_security=dict(type="bool", default=False),
        dirsync_full_resync=dict(type="bool", default=False),
        dirsync_max_removals=dict(type="int", default=20),
        dirsync_approve_removals=dict(type="int", default=0),
    )
    return spec


class RelayMapModule(AnsibleModule):
    """AnsibleModule whose every end, success or failure, writes the map's metrics (metrics_dir).

    ``fail_json`` takes ``failure_reason`` (see _map_metrics.FAILURE_REASONS)
    and returns it to the caller too; without one it is ``arguments`` while
    AnsibleModule checks the options and ``other`` after.
    """

    def __init__(self, *args, **kwargs):
        self.options_checked = False
        super(RelayMapModule, self).__init__(*args, **kwargs)
        self.options_checked = True

    def record_metrics(self, outcome):
        params = getattr(self, "params", None) or {}
        directory = params.get("metrics_dir")
        if not directory or getattr(self, "check_mode", False):
            return
        outcome.setdefault("map_source", params.get("map_path"))
        try:
            path, warnings = map_metrics.record_run(
                directory, outcome, params.get("refresh_interval"), params.get("max_shrink_percent")
            )
        except (ValueError, OSError) as exc:
            self.warn("the map's metrics were not written to %s: %s" % (directory, exc))
            return
        for warning in warnings:
            self.warn(warning)
        outcome["metrics_file"] = path
        if outcome.get("dirsync"):
            try:
                dirsync_metrics.record_poll(directory, outcome["map_source"], outcome["dirsync"], outcome.get("failed", False))
            except (ValueError, OSError) as exc:
                self.warn("the DirSync metrics were not written to %s: %s" % (directory, exc))

    def fail_json(self, msg, failure_reason=None, **kwargs):
        failure_reason = failure_reason or ("other" if self.options_checked else "arguments")
        outcome = dict(kwargs, failed=True, failure_reason=failure_reason)
        self.record_metrics(outcome)
        kwargs.update(failure_reason=failure_reason)
        if "metrics_file" in outcome:
            kwargs["metrics_file"] = outcome["metrics_file"]
        super(RelayMapModule, self).fail_json(msg=msg, **kwargs)

    def exit_json(self, **kwargs):
        self.record_metrics(kwargs)
        super(RelayMapModule, self).exit_json(**kwargs)


def open_directory(module):
    """(connection, URI) of the first directory server that binds; fail_json for a missing library or a bad URI."""
    params = module.params
    if not ldap_errors.HAS_LDAP3:
        module.fail_json(msg=missing_required_lib("ldap3"), exception=ldap_errors.LDAP3_IMPORT_ERROR, failure_reason="arguments")
    if params["sasl_mechanism"] and not ldap_connect.HAS_GSSAPI:
        module.fail_json(msg=missing_required_lib("gssapi"), failure_reason="arguments")
    for uri in params["server_uris"]:
        problem = ldap_connect.transport_problem(uri, params["start_tls"], params["allow_plaintext"])
        if problem:
            module.fail_json(msg=problem, failure_reason="arguments")
    return ldap_connect.connect(params)


def collect_ldap(module, collector, result):
    params = module.params
    conn, server = open_directory(module)
    try:
        stats = ldap_source.export(
            conn,
            params["base_dns"],
            ldap_source.build_filter(params["filter"], params["exclude_disabled"], params["ad_matching_rule"]),
            ldap_source.requested_attributes(
                params["include_mail"],
                params["include_target_address"],
                params["exclude_disabled"],
                params["exclude_system_mailboxes"],
            ),
            params["page_size"],
            collector,
            params["exclude_disabled"],
            time_limit=params["timeout"],
            exclude_system_mailboxes=params["exclude_system_mailboxes"],
        )
    finally:
        ldap_connect.close(conn)
    missed = search_references.missed(stats.references)
    result.update(source_counts(stats, server, missed, params["refused_limit"]))
    failure, warning = search_references.outcome(missed, params["fail_on_references"])
    if failure:
        # Before anything is compared or written: the caller keeps the live map.
        raise ldap_errors.LdapSourceError(failure)
    if warning:
        module.warn(warning)


def dirsync_settings(params, base):
    """The attributes the DirSync state keeps and the fingerprint of what shapes them."""
    attributes = ldap_source.requested_attributes(
        params["include_mail"], params["include_target_address"], params["exclude_disabled"], params["exclude_system_mailboxes"]
    )
    fingerprint = dirsync_state.settings_fingerprint(
        base=dirsync_render.normalise_dn(base), attributes=sorted(a.lower() for a in attributes),
        object_security=params["dirsync_object_security"], filter=dirsync_search.SYNC_FILTER,
    )
    return attributes, fingerprint


def dirsync_read(module, state, reason, detail, poll):
    """Read the changes since ``state``'s cookie, or every object for a full resync; return (state, Pass).

    A DC other than the state's, a changed invocationId or a cookie the server
    refuses empties the state first; ``poll`` gets the DC and the reason.
    """
    params = module.params
    conn, server = open_directory(module)
    try:
        identity = dirsync_search.read_identity(conn, params["timeout"])
        if not identity.supports_dirsync:
            module.fail_json(
                msg="%s does not offer the DirSync control (%s), as OpenLDAP does not: keep the full export "
                "(source: ldap; role: relay_recipients_dirsync_enabled false)" % (server, dirsync_search.DIRSYNC_OID),
                failure_reason="directory", server=server,
            )
        base = params["dirsync_base"] or identity.naming_context
        outside = [b for b in params["base_dns"] if not dirsync_render.under(b, [dirsync_render.normalise_dn(base)])]
        if outside:
            module.fail_json(msg="base_dns outside the DirSync base %s: %s" % (base, ", ".join(outside)), failure_reason="arguments")
        attributes, fingerprint = dirsync_settings(params, base)
        if reason is None:
            reason, detail = dirsync_state.resync_reason(state, identity.dns_host_name, identity.invocation_id, fingerprint)
        if reason is not None:
            state = dirsync_state.State()
        try:
            found = dirsync_search.read_changes(conn, base, attributes, state.cookie, params["dirsync_object_security"], params["timeout"])
        except dirsync_search.CookieRefused as exc:
            reason, detail = "cookie_refused", str(exc)
            state = dirsync_state.State()
            found = dirsync_search.read_changes(conn, base, attributes, None, params["dirsync_object_security"], params["timeout"])
    finally:
        ldap_connect.close(conn)
    state.dns_host_name, state.invocation_id, state.settings = identity.dns_host_name, identity.invocation_id, fingerprint
    poll.update(server=server, dc=identity.dns_host_name, invocation_id=identity.invocation_id, base=base,
                full_resync=reason is not None, reason=reason, reason_detail=detail)
    if reason is not None and reason != "requested":
        module.warn("DirSync full resync (%s): %s" % (reason, detail))
    if reason is not None:
        poll["deletions_visible"] = found.deletions_visible
        if not found.deletions_visible:
            module.warn(
                "the full DirSync pass returned no CN=Deleted Objects: %s does not see deleted objects, so a deletion "
                "reaches the map only with the next full resync (docs/dirsync.md, rights)" % (params["bind_dn"] or "this account")
            )
    return state, found


def live_map_matches(params, state):
    """Whether the live map is the one ``state`` rendered last (and its table is current)."""
    map_path = params["map_path"]
    if not state.map_sha256 or not os.path.exists(map_path):
        return False
    if params["compile"] and not postfix_map.is_current(map_path, params["map_type"]):
        return False
    return postfix_map.digest_and_count(map_path)[0] == state.map_sha256


def unchanged_result(result, state, stats):
    """The result of a poll that changed nothing: the figures of the map the state rendered last."""
    count = state.entries
    result.update(source_counts(stats, result["dirsync"]["server"], [], 0))
    result.update(
        entries=count, previous_entries=count, added=0, removed=0, added_addresses=[], removed_addresses=[], refused=[],
        refused_count=state.refused_count, dropped_by_domain={}, ignored_by_type={}, sha256=state.map_sha256,
        gate=dict(passed=True, forced=False, reasons=[], old_count=count, new_count=count, removed_percent=0.0),
    )
    return result


class RenderOptions:
    """How this run renders a DirSync state: the options that shape the map, and their fingerprint."""

    def __init__(self, params, domains):
        self.params, self.domains = params, domains
        self.system_rule = system_mailboxes.system_mailbox if params["exclude_system_mailboxes"] else None
        self.fingerprint = dirsync_state.settings_fingerprint(
            domains=sorted(domains), base_dns=sorted(dirsync_render.normalise_dn(b) for b in params["base_dns"]),
            exclude_disabled=params["exclude_disabled"], exclude_system_mailboxes=params["exclude_system_mailboxes"],
        )

    def of(self, objects):
        """dirsync_render.Rendering of ``objects`` into a set."""
        params = self.params
        return dirsync_render.Rendering(objects, params["base_dns"], self.domains, params["refused_limit"],
                                        params["exclude_disabled"], self.system_rule)

    def state_fits(self, state):
        """Whether ``state`` keeps the totals of a rendering made as this one."""
        return bool(state.render) and state.render.get("fingerprint") == self.fingerprint

    def header(self, totals):
        return dict(fingerprint=self.fingerprint, totals=totals.as_dict())


def dirsync_patch(module, work, state, before, objects, rendering, must_exist, result, poll):
    """The new map of a poll from the live one and the changed objects alone; return (Made, RenderTotals).

    ``before`` and ``objects`` hold the changed objects as they were and as
    they are now; each side is rendered on its own. An address they gave up
    leaves the map unless another object still renders it (found through the
    state's address keys). The live map is the state's rendering (its sha256
    was checked), so the result is the map a whole rendering would give, byte
    for byte, at a cost that follows the changes.
    """
    params = module.params
    out, into, was, now = dirsync_render.map_change(before, objects, state.holders, rendering.of)
    source = work.join("source")
    try:
        patched = map_patch.patch_source(params["map_path"], source, out, into, params["diff_limit"], must_exist)
    except OSError as exc:
        module.fail_json(msg="cannot patch the live map into a new source: %s; live map kept" % exc, failure_reason="map_build", **result)
    totals = dirsync_render.RenderTotals.from_dict(state.render["totals"]).moved(was.totals, now.totals)
    stats = ExportStats()
    stats.entries, stats.disabled_skipped, stats.system_skipped = poll["entries_read"], totals.disabled, totals.system
    stats.system_sample = now.stats.system_sample
    poll.update(exported_objects=totals.exported, patched=True)
    result.update(source_counts(stats, poll["server"], [], params["refused_limit"]))
    diff = patched.diff
    made = Made(source, patched.sha256, patched.count, not diff.added_count and not diff.removed_count, state.entries, diff,
                patched.present, now.collector.refused_as_dicts(), totals.refused, dict(totals.dropped_by_domain),
                dict(totals.ignored_by_type))
    return made, totals


def dirsync_render_all(module, work, domains, must_exist, objects, rendering, result, poll):
    """The new map from every object, through the full export's own path (sort, compare); return (Made, RenderTotals)."""
    params = module.params
    totals = []

    def fill(collector):
        rendered = dirsync_render.render(objects, params["base_dns"], collector, params["exclude_disabled"], rendering.system_rule)
        poll["exported_objects"] = rendered.entries
        totals.append(dirsync_render.RenderTotals.of(rendered, collector))
        rendered.entries = poll["entries_read"]
        result.update(source_counts(rendered, poll["server"], [], params["refused_limit"]))

    made = export_and_compare(module, work, domains, must_exist, result, fill)
    poll["patched"] = False
    return made, totals[0]


def dirsync_run(module, work, domains, must_exist, map_file, result, started):
    """One DirSync poll: read the changes, merge them into the state, render, gate, install, save the state.

    When the live map is the state's rendering (and made with these options),
    only the changed objects are read from the state, rendered and written
    back, and the map is patched (dirsync_patch); otherwise (a full resync,
    other options, a live map changed by hand) every object is rendered again.
    """
    params = module.params
    if params["filter"] != ldap_source.DEFAULT_FILTER:
        module.fail_json(msg="source=dirsync renders the default filter %s only, not %s" % (ldap_source.DEFAULT_FILTER, params["filter"]),
                         failure_reason="arguments")
    directory = params["dirsync_state_dir"]
    state, reason, detail = dirsync_state.load(directory)
    state_had_map = state.map_sha256 is not None
    if reason is None and params["dirsync_full_resync"]:
        reason, detail = "requested", "a full resync was asked for (dirsync_full_resync)"
    poll = result["dirsync"] = dict(held_removals=0, state_saved=False)
    try:
        state, found = dirsync_read(module, state, reason, detail, poll)
    except (ldap_errors.LdapSourceError, ldap_errors.LDAPException) as exc:
        module.fail_json(msg="DirSync failed, live map kept: %s" % exc, failure_reason="directory", **result)
    rendering = RenderOptions(params, domains)
    patch = not poll["full_resync"] and rendering.state_fits(state) and live_map_matches(params, state)
    try:
        if patch:
            before = state.records(change.guid for change in found.changes)
            objects = dict(before)
        else:
            before, objects = None, state.all_records()
        delta = dirsync_delta.apply_changes(objects, found.changes)
        count = len(objects) if before is None else state.count() + len(set(objects) - set(before)) - delta.deleted
    except dirsync_state.StateError as exc:
        module.fail_json(msg="the DirSync state in %s cannot be read (%s); live map kept. Remove the directory for a full resync"
                         % (directory, exc), failure_reason="other", **result)
    poll.update(entries_read=found.entries, rounds=found.rounds, objects_changed=delta.changed, objects_deleted=delta.deleted,
                objects_unchanged=delta.unchanged, tombstones_ignored=delta.tombstones_ignored, objects=count)
    if patch and not delta.changed and not delta.deleted:
        stats = ExportStats()
        stats.entries = found.entries
        result = unchanged_result(result, state, stats)
        if not module.check_mode and found.cookie != state.cookie:
            state.cookie = found.cookie
            try:
                dirsync_state.save_cookie(state)
            except dirsync_state.StateError as exc:
                module.fail_json(msg="the DirSync cookie could not be saved in %s: %s" % (directory, exc), failure_reason="other", **result)
            poll["state_saved"] = True
        result["duration"] = round(time.monotonic() - started, 3)
        return result

    if patch:
        made, totals = dirsync_patch(module, work, state, before, objects, rendering, must_exist, result, poll)
    else:
        made, totals = dirsync_render_all(module, work, domains, must_exist, objects, rendering, result, poll)

    def hold(diff):
        if poll["full_resync"]:
            return None
        why = delta_gate.hold_reason(diff.removed_count, diff.removed, params["dirsync_max_removals"], params["dirsync_approve_removals"])
        poll["held_removals"] = diff.removed_count if why else 0
        return why

    result = build(module, must_exist, map_file, result, started, made, hold)
    if poll["full_resync"] and state_had_map and (result["added"] or result["removed"]):
        # The check the nightly resync is for: what the deltas had not brought (or a held deletion).
        poll["resync_corrected"] = dict(added=result["added"], removed=result["removed"])
        module.warn("the DirSync full resync (%s) changed the live map: %d added, %d removed (%s)" % (
            poll["reason"], result["added"], result["removed"],
            ", ".join(["+" + a for a in result["added_addresses"][:10]] + ["-" + a for a in result["removed_addresses"][:10]])))
    if not module.check_mode:
        state.cookie, state.map_sha256, state.entries = found.cookie, result["sha256"], result["entries"]
        state.refused_count, state.render = result["refused_count"], rendering.header(totals)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if patch:
                writes = dict((guid, objects.get(guid)) for guid in set(before) | set(objects) if objects.get(guid) != before.get(guid))
                dirsync_state.save_changes(directory, state, writes, before, dirsync_render.address_keys)
            else:
                dirsync_state.save_all(directory, state, objects, dirsync_render.address_keys)
        except (OSError, dirsync_state.StateError) as exc:
            module.fail_json(msg="the map was installed but the DirSync state could not be saved in %s: %s" % (directory, exc),
                             failure_reason="other", **result)
        poll["state_saved"] = True
    return result


def source_counts(stats, server, missed, limit):
    """The directory's counts in the result; a file source reports an empty ExportStats."""
    return dict(
        server=server,
        pages=stats.pages,
        ldap_entries=stats.entries,
        disabled_skipped=stats.disabled_skipped,
        ranged_entries=stats.ranged_entries,
        range_searches=stats.range_searches,
        references=stats.references[:limit],
        references_missed=missed[:limit],
        system_mailboxes_skipped=stats.system_skipped,
        system_mailboxes=stats.system_sample,
    )


def collect(module, work, collector, result):
    """Read the source into ``collector``; its counts go into ``result``."""
    params = module.params
    if params["source"] == "ldap":
        collect_ldap(module, collector, result)
        return
    result.update(source_counts(ExportStats(), None, [], params["refused_limit"]))
    src = path = params["src"]
    if params["require_end_marker"]:
        # Built from the checked copy, never from the upload itself.
        path = work.join("upload")
        lines, sha256 = end_marker.snapshot(src, path)
        result["end_marker"] = dict(lines=lines, sha256=sha256)
    read_file_source(path, params["format"], collector, params["csv_column"], name=src)


def file_attributes(module):
    def apply(path, changed=False):
        args = install_policy.file_arguments(module.load_file_common_arguments(module.params, path=path))
        return module.set_fs_attributes_if_different(args, changed)

    return apply


def postmap_runner(module):
    params = module.params
    binary = params["postmap_path"] or module.get_bin_path("postmap", required=True, opt_dirs=["/usr/sbin"])
    config = ["-c", params["config_directory"]] if params["config_directory"] else []

    def run(type_and_path):
        return module.run_command([binary] + config + [type_and_path])

    return run


def reload_postfix(module):
    args = [module.get_bin_path("postfix", required=True, opt_dirs=["/usr/sbin"])]
    if module.params["config_directory"]:
        args += ["-c", module.params["config_directory"]]
    rc, out, err = module.run_command(args + ["reload"])
    if rc != 0:
        module.fail_json(msg="the map was installed but postfix reload failed: %s" % (err or out).strip(), rc=rc, failure_reason="reload")


def export_failure_reason(params, exc):
    """The failure_reason of an export that raised ``exc``."""
    if isinstance(exc, end_marker.EndMarkerError):
        return "upload_incomplete"
    return "source_file" if params["source"] == "file" else "directory"


def export_sorted(module, work, domains, must_exist, result, fill):
    """Export into a sorted source in ``work`` with ``fill(collector)``; return (its path, the collector)."""
    params = module.params
    try:
        source = postfix_map.SortedSource(work)
    except postfix_map.MapBuildError as exc:
        module.fail_json(msg="%s; live map kept" % exc, failure_reason="map_build", **result)
    collector = RecipientCollector(domains, params["refused_limit"], sink=source, watch=must_exist)
    try:
        fill(collector)
    except (ldap_errors.LdapSourceError, ldap_errors.LDAPException, ValueError, OSError) as exc:
        source.abort()
        module.fail_json(msg="recipient export failed, live map kept: %s" % exc, failure_reason=export_failure_reason(params, exc), **result)
    except BaseException:
        # fail_json before the export started (a missing library): stop sort too.
        source.abort()
        raise
    try:
        return source.finish(), collector
    except postfix_map.MapBuildError as exc:
        module.fail_json(msg="cannot build the map source: %s; live map kept" % exc, failure_reason="map_build", **result)


class Made(namedtuple("Made", [
    "source", "sha256", "count", "unchanged", "old_count", "diff", "watched", "refused", "refused_count",
    "dropped_by_domain", "ignored_by_type",
])):
    """A new map source in the work directory, compared with the live one, and the collector's counts."""

    __slots__ = ()


def export_and_compare(module, work, domains, must_exist, result, fill):
    """Export with ``fill(collector)`` into a sorted source and compare it with the live one; return Made."""
    params = module.params
    new_source, collector = export_sorted(module, work, domains, must_exist, result, fill)
    try:
        sha256, new_count = postfix_map.digest_and_count(new_source)
        unchanged, old_count, diff = postfix_map.compare_with_live(work, params["map_path"], new_source, new_count, params["diff_limit"])
    except (postfix_map.MapBuildError, OSError) as exc:
        module.fail_json(msg="cannot compare with the live map: %s; live map kept" % exc, failure_reason="map_build", **result)
    return Made(new_source, sha256, new_count, unchanged, old_count, diff, collector.watched, collector.refused_as_dicts(),
                collector.refused_count, dict(collector.dropped_by_domain), dict(collector.ignored_by_type))


def build(module, must_exist, map_file, result, started, made, hold=None):
    """Gate and install the new source ``made`` (Made); return the result.

    ``hold(diff)`` is the reason to hold a delta's removals, or None (see _delta_gate).
    """
    params = module.params
    map_path = params["map_path"]
    map_type = params["map_type"]
    compile_table = params["compile"]
    unchanged, diff, new_count = made.unchanged, made.diff, made.count
    gate = check_gate(
        made.old_count,
        new_count,
        diff.removed_count,
        params["min_entries"],
        params["max_shrink_percent"],
        [address for address in must_exist if address.lower() not in made.watched],
        params["force"],
        orphan_table=made.old_count is None and map_file is not None and os.path.exists(map_file),
    )
    if hold is not None:
        gate = delta_gate.with_hold(gate, hold(diff), params["force"])
    result.update(
        entries=new_count,
        previous_entries=gate.old_count,
        added=diff.added_count,
        removed=diff.removed_count,
        added_addresses=diff.added,
        removed_addresses=diff.removed,
        refused=made.refused,
        refused_count=made.refused_count,
        dropped_by_domain=made.dropped_by_domain,
        ignored_by_type=made.ignored_by_type,
        sha256=made.sha256,
        gate=gate._asdict(),
    )
    content_changed = not unchanged or (compile_table and not postfix_map.is_current(map_path, map_type))
    plan = install_policy.plan(content_changed, gate, module.check_mode, params["reload"], compile_table)
    if plan.failure:
        result["duration"] = round(time.monotonic() - started, 3)
        module.fail_json(msg=plan.failure, failure_reason="gate", **result)
    if plan.warning:
        module.warn(plan.warning)

    set_attributes = file_attributes(module)
    if plan.write:
        # changed only once the new map is in place: a failed build changed nothing.
        try:
            result["backup_files"] = postfix_map.build_and_swap(
                map_path,
                map_type,
                made.source,
                postmap_runner(module) if compile_table else None,
                set_attributes,
                params["backup"],
            )
        except postfix_map.MapBuildError as exc:
            module.fail_json(msg="%s; live map kept" % exc, failure_reason="map_build", **result)
    if plan.changed:
        result["changed"] = True
    else:
        for path in (map_file, map_path):
            if path is not None:
                result["changed"] = set_attributes(path, result["changed"])

    if module._diff:
        result["diff"] = dict(
            before_header="%s (live)" % map_path,
            after_header="%s (new)" % map_path,
            before=diff_text(made.old_count or 0, diff.removed, diff.removed_count, "removed"),
            after=diff_text(new_count, diff.added, diff.added_count, "added"),
        )

    if plan.reload:
        reload_postfix(module)
        result["reloaded"] = True

    result["duration"] = round(time.monotonic() - started, 3)
    return result


def take_build_lock(module, map_path, result):
    """The map's build lock, held (see _build_lock); fail_json when it cannot be had."""
    lock = build_lock.BuildLock(build_lock.lock_path(map_path), module.params["lock_timeout"], create=not module.check_mode)
    try:
        lock.acquire()
    except build_lock.LockTimeout as exc:
        module.fail_json(msg="%s; live map kept" % exc, failure_reason="lock", **result)
    except OSError as exc:
        module.fail_json(msg="cannot take the build lock beside %s: %s; live map kept" % (map_path, exc), failure_reason="lock", **result)
    result["lock_waited"] = lock.waited
    if lock.waited is not None and lock.waited >= 1:
        module.warn("waited %.1f s for another build of %s to end (lock %s)" % (lock.waited, map_path, lock.path))
    return lock


def main():
    module = RelayMapModule(
        argument_spec=argument_spec(),
        required_if=[
            ("source", "ldap", ["server_uris", "base_dns"]),
            ("source", "dirsync", ["server_uris", "base_dns", "dirsync_state_dir"]),
            ("source", "file", ["src"]),
            ("format", "csv", ["csv_column"]),
        ],
        required_together=ldap_connect.LDAP_REQUIRED_TOGETHER,
        mutually_exclusive=ldap_connect.LDAP_MUTUALLY_EXCLUSIVE,
        required_by=ldap_connect.LDAP_REQUIRED_BY,
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    started = time.monotonic()
    problems = range_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems), failure_reason="arguments")
    try:
        domains = normalise_domains(params["domains"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), failure_reason="arguments")

    map_path = params["map_path"]
    map_file = postfix_map.compiled_path(map_path, params["map_type"]) if params["compile"] else None
    result = dict(changed=False, map_source=map_path, map_file=map_file, backup_files=[], reloaded=False)

    must_exist = default_must_exist(domains) if params["must_exist"] is None else params["must_exist"]
    lock = take_build_lock(module, map_path, result)
    try:
        try:
            work = postfix_map.WorkDir(map_path, beside=not module.check_mode)
        except postfix_map.MapBuildError as exc:
            module.fail_json(msg="%s; live map kept" % exc, failure_reason="map_build", **result)
        with work:
            if params["source"] == "dirsync":
                result = dirsync_run(module, work, domains, must_exist, map_file, result, started)
            else:
                made = export_and_compare(module, work, domains, must_exist, result,
                                          lambda collector: collect(module, work, collector, result))
                result = build(module, must_exist, map_file, result, started, made)
        module.exit_json(**result)
    finally:
        lock.release()


if __name__ == "__main__":
    main()
