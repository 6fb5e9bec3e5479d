# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render docs/benchmarks.md from bench.py's results.json.

  report.py RESULTS_JSON OUTPUT_MD WALL_SECONDS
"""

import json
import sys

import dirsync_report
import signing_bench


def ratio(value, base):
    return "%.2fx" % (value / base) if base else "n/a"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def commands(results, *sections, **kwargs):
    """``container=`` names another container than bench-lab (the Samba section)."""
    cmds = [c for section in sections for c in results.get("commands", {}).get(section, [])]
    if not cmds:
        return ""
    shown = cmds[:7]
    text = "\n".join(c.replace("/opt/bench/lib/ansible_collections/mailrelay/exchange/", "<collection>/")
                     .replace("/opt/ab/lib/ansible_collections/mailrelay/exchange/", "<baseline collection>/") for c in shown)
    return "Commands (run inside `%s`, one example of each kind):\n\n```\n%s\n```\n" % (
        kwargs.get("container", "bench-lab"), text)


def machine_section(results, wall):
    m = results["machine"]
    rows = [
        ("CPUs (nproc)", m["nproc"]), ("CPU model", m["cpu"]), ("RAM", m["ram"]), ("Kernel", m["kernel"]),
        ("Container OS", m["os"]), ("Postfix", m["postfix"]), ("OpenLDAP slapd", m["slapd"]),
        ("Python", m["python"]), ("ldap3", m["ldap3"]), ("ansible-core (module_utils)", m["ansible_core"]),
        ("Load average at start (1, 5, 15 min)", m["load_at_start"]),
        ("Load average at end", results.get("load_at_end", "")),
        ("Wall time of `make bench`", "%d s" % wall),
    ]
    return table(("", ""), rows)


MIX_NAMES = {
    "smtp": "SMTP only: every recipient a user with 3 SMTP values",
    "exchange": "what Exchange writes: X500, SIP and EUM beside the SMTP values, groups, shared mailboxes, "
                "contacts, other domains, malformed values",
}


def exports(results):
    """{mix: {N: row}} of section 1."""
    return results.get("export") or {}


def export_section(results, mix):
    rows = []
    export = exports(results)[mix]
    sizes = sorted(export, key=int)
    first = export[sizes[0]] if sizes else None
    for n in sizes:
        e = export[n]
        rows.append((
            "{:,}".format(int(n)), "{:,}".format(e.get("entries", 3 * int(n))), e.get("refused", 0), e["reps"],
            "%.2f s" % e["module_s"], "%.2f s" % e["c_s"], "**%.2fx**" % e["ratio"],
            "%.0f MB" % e["module_rss_mb"], "%.0f MB" % e["c_rss_mb"],
            ratio(e["module_s"], first["module_s"]), ratio(e["c_s"], first["c_s"]),
            ratio(e["module_rss_mb"], first["module_rss_mb"]), e["identical_output"],
        ))
    return table(
        ("recipients", "map entries", "values refused", "runs", "module (median)", "C pipeline (median)", "module / C",
         "module peak RSS", "C peak RSS", "module time vs smallest N", "C time vs smallest N",
         "module RSS vs smallest N", "identical map source"),
        rows,
    )


def export_sections(results):
    """Section 1's table for each mix, the exchange mix (the one users should read) first."""
    parts = []
    for mix in sorted(exports(results), key=lambda name: name != "exchange"):
        parts += ["### %s (%s mix)" % (MIX_NAMES.get(mix, mix)[0].upper() + MIX_NAMES.get(mix, mix)[1:], mix), "",
                  export_section(results, mix), "", growth_section(results, mix), ""]
    parts += [startup_text(results), ""]
    return "\n".join(parts)


def startup_text(results):
    startup = results.get("startup")
    if not startup:
        return ""
    return ("Fixed cost of a module run (one address from a file: interpreter, Ansible, imports, sort and "
            "postmap; median of {}): {:.2f} s.".format(startup["reps"], startup["module_s"]))


def growth_section(results, mix):
    """The cost of each further recipient, which the per-N ratios mix together with the start-up."""
    export = exports(results)[mix]
    sizes = sorted(export, key=int)
    lines = []
    if len(sizes) >= 2:
        small, large = export[sizes[0]], export[sizes[-1]]
        users = (int(sizes[-1]) - int(sizes[0])) / 100000.0
        module_step = (large["module_s"] - small["module_s"]) / users
        c_step = (large["c_s"] - small["c_s"]) / users
        lines.append("Cost of each further 100,000 recipients (" + mix + " mix) between N = {:,} and N = {:,}: module {:.2f} s, C pipeline "
                     "{:.2f} s (**{}**); peak RSS from the smallest to the largest N: module {:.0f} to {:.0f} MB, "
                     "C pipeline {:.0f} to {:.0f} MB.".format(
                         int(sizes[0]), int(sizes[-1]), module_step, c_step, ratio(module_step, c_step),
                         small["module_rss_mb"], large["module_rss_mb"], small["c_rss_mb"], large["c_rss_mb"]))
    return "\n\n".join(lines)


def profile_section(results):
    p = results.get("profile")
    if not p:
        return "(not run)"
    rows = [(t["function"], t["calls"], "%.3f" % t["tottime"], "%.3f" % t["cumtime"]) for t in p["top"]]
    return ("Top functions by own time, one module run at N = {:,} ({} mix) under cProfile "
            "(profiling slows the run to {:.1f} s):\n\n".format(p["n"], p.get("mix", "smtp"), p["total_s"])
            + table(("function", "calls", "own s", "cumulative s"), rows)
            + "\n\nWhat earlier profiles led to (see docs/recipients.md, \"Memory and speed\"): ldap3's generic BER "
              "decoder and its per-entry dicts were replaced by a reader of the search entries on the wire "
              "(`parse_entry`, `_tlv`, `_message`); each page's values are checked in one regular-expression scan "
              "(`findall`) instead of one call chain per value; no schema is loaded (`get_info=NONE`); and the "
              "addresses stream into `sort -u` instead of a Python set. `poll` is the module waiting for postmap.")


def noop_section(results):
    n = results.get("noop")
    if not n:
        return "(not run)"
    rows = [
        ("no-op refresh (median of %d)" % n["reps"], "%.2f s" % n["noop_s"]),
        ("baseline: full build by the module at the same N (section 1)", "%.2f s" % n["full_build_s"]),
        ("no-op / full build", "**%.2fx**" % n["ratio"]),
        ("module reported changed", n["changed"]),
        ("module reported reloaded (run with `reload: true`)", n["reloaded"]),
        ("source and table: inode, mtime (ns), size unchanged", n["files_unchanged"]),
        ("map directory listing unchanged (no temporary or backup files left)", n["listing_unchanged"]),
        ("Postfix master pid unchanged", n["master_pid_unchanged"]),
        ("`reload -- version` lines in the Postfix log unchanged", n["reloads_in_log_unchanged"]),
        ("the first (real) build did reload, so the check can see a reload", n["first_build_reloaded"]),
    ]
    files = "\n".join("- `%s`: inode %s, mtime_ns %s, %s bytes" % (f["path"], f["inode"], f["mtime_ns"], f["size"])
                      for f in n["after"]["files"])
    return table(("N = {:,} users".format(n["n"]), ""), rows) + "\n\nFiles after the no-op runs:\n\n" + files


def maps_section(results):
    maps = results.get("maps")
    if not maps:
        return "(not run)"
    cdb = {(m["n"], "cdb"): m for m in maps if m["type"] == "cdb"}
    rows = []
    for m in maps:
        base = cdb[(m["n"], "cdb")]
        rows.append((
            "{:,}".format(m["n"]), m["type"],
            "%.2f s (%s)" % (m["build_s"], ratio(m["build_s"], base["build_s"])),
            "%.3f s (%s)" % (m["hits_s"], ratio(m["hits_s"], base["hits_s"])),
            "%.3f s (%s)" % (m["misses_s"], ratio(m["misses_s"], base["misses_s"])),
            "%.0f (%s)" % (m["smtpd_hits_per_s"], ratio(m["smtpd_hits_per_s"], base["smtpd_hits_per_s"])),
            "%.0f (%s)" % (m["smtpd_misses_per_s"], ratio(m["smtpd_misses_per_s"], base["smtpd_misses_per_s"])),
            "%.1f MB (%s)" % (m["size_mb"], ratio(m["size_mb"], base["size_mb"])),
        ))
    queries = ", ".join("{:,} at N = {:,}".format(m["queries"], m["n"]) for m in maps if m["type"] == "cdb")
    return (table(("entries", "type", "postmap build", "bulk hits `postmap -q -`", "bulk misses",
                   "smtpd RCPT hits/s", "smtpd RCPT misses/s", "file size"), rows)
            + "\n\nBaseline of every ratio: cdb at the same size. Bulk lookups: %s queries per run. "
              "smtpd: 10,000 random RCPT TO over one pipelined session per run; there the SMTP round trip and "
              "the client dominate, so the table type shows only where it is slow. The module builds every type "
              "beside the live table and renames it into place, so readers never see a half-written table "
              "whatever the type." % queries)


def attack_section(results):
    a = results.get("attack")
    if not a:
        return "(not run)", "(not run)"
    names = [("static_off", "(a) static cdb map", "off"), ("ldap_off", "(b) on-demand `ldap:` table", "off"),
             ("static_on", "(a) static cdb map", "on (role defaults)"),
             ("ldap_on", "(b) on-demand `ldap:` table", "on (role defaults)")]
    rows = []
    for key, label, limits in names:
        r = a[key]
        base = a["static_" + key.split("_")[1]]
        rows.append((label, limits, "%.0f" % r["per_second"], ratio(r["per_second"], base["per_second"]),
                     "%d" % r["slapd_searches"],
                     " / ".join("%d" % run["rejects"] for run in r["runs"])))
    attack = (table(("relay recipient lookup", "anti-harvesting limits", "RCPT rejects/s (median)",
                     "vs (a) same limits", "searches that reached slapd (median per run)", "rejects per run"), rows)
              + "\n\nslapd searches are counted from the monitor backend (`cn=Search,cn=Operations,cn=Monitor`, "
                "`monitorOpCompleted`) before and after each run; the counter's own query is subtracted "
                "(an idle before/after pair differed by %d besides it). With the limits on, the three runs follow "
                "each other within anvil's 60 s window, so the first run gets the most and the later ones are "
                "mostly refused at connect; the median is what one client sustains." % a["monitor_calibration"])
    rows = []
    base = a["static_quiet"]
    for key, label in (("static_quiet", "no attack, static map (baseline)"), ("ldap_quiet", "no attack, `ldap:` table"),
                       ("static_on", "attack, limits on, static map"), ("static_off", "attack, limits off, static map"),
                       ("ldap_on", "attack, limits on, `ldap:` table"), ("ldap_off", "attack, limits off, `ldap:` table")):
        r = a[key]
        rows.append((label, "%d / %d" % (r["legit_accepted"], r["legit_sent"]), "%.1f ms" % r["legit_median_ms"],
                     ratio(r["legit_median_ms"], base["legit_median_ms"]), "%.1f ms" % r["legit_p95_ms"],
                     ratio(r["legit_p95_ms"], base["legit_p95_ms"])))
    valid = (table(("situation", "valid messages accepted / sent", "session latency median", "vs baseline",
                    "p95", "p95 vs baseline"), rows)
             + "\n\nWith the limits off the attack saturates both CPUs, so the legitimate client's latency follows "
               "the attack's rate: the static map lets the attacker run faster than the `ldap:` table does, at "
               "no cost to the directory. With the limits on (the relay's real configuration) valid mail is as "
               "fast as without attack.")
    return attack, valid


def openldap_rate(results):
    """(N, recipients/s) the C pipeline read from slapd at the largest N of the exchange mix, or None."""
    export = exports(results).get("exchange") or {}
    if not export:
        return None
    n = max(export, key=int)
    return int(n), int(n) / export[n]["c_s"]


def samba_summary(results):
    s = results.get("samba")
    if not s or not s.get("sizes"):
        return ""
    n = max(s["sizes"], key=int)
    e = s["sizes"][n]
    slapd = openldap_rate(results)
    return ("Export + build against Samba AD ({}), {:,} recipients, exchange mix: module {:.2f} s vs C pipeline "
            "{:.2f} s (**{:.2f}x**), identical: {}; the DC served {:,.0f} recipients/s{}.".format(
                s["version"], int(n), e["module_s"], e["c_s"], e["ratio"], e["identical_output"],
                e["served_per_s"],
                " (OpenLDAP: {:,.0f}/s at N = {:,})".format(slapd[1], slapd[0]) if slapd else ""))


def samba_section(results):
    s = results.get("samba")
    if not s or not s.get("sizes"):
        return "(not run: `BENCH_SAMBA_SIZES` was empty)"
    rows = []
    for n in sorted(s["sizes"], key=int):
        e = s["sizes"][n]
        rows.append((
            "{:,}".format(int(n)), "{:,}".format(e["entries"]), e["refused"], e["reps"], "%.2f s" % e["module_s"],
            "%.2f s" % e["c_s"], "**%.2fx**" % e["ratio"], "%.0f MB" % e["module_rss_mb"], "%.0f MB" % e["c_rss_mb"],
            "{:,}".format(e["served_per_s"]), e["identical_output"],
            "{:,} in {:.0f} s ({:,}/s)".format(e["loaded"], e["load_s"], e["load_per_s"]),
        ))
    slapd = openldap_rate(results)
    largest = s["sizes"][max(s["sizes"], key=int)]
    openldap = exports(results).get("exchange") or {}
    if openldap:
        n = max(openldap, key=int)
        slapd_text = (" Against OpenLDAP in section 1 the module took {:.2f}x the C pipeline's time at N = {:,} and the "
                      "C pipeline read {:,.0f} recipients/s; against Samba {:.2f}x and {:,} recipients/s.".format(
                          openldap[n]["ratio"], int(n), slapd[1], largest["ratio"], largest["served_per_s"]))
    else:
        slapd_text = ""
    return (
        "The same comparison as section 1 (exchange mix) against the lab's AD: Samba {version} "
        "(`samba-tool domain provision --server-role=dc --dns-backend=NONE`, as "
        "`molecule/common/tasks/samba_dc.yml` builds it) in a second container, `bench-samba`, run after the "
        "others. The recipients are AD objects, 1,000 to an OU below one OU that is the base DN (users and shared mailboxes `user`, groups `group`, mail "
        "contacts `contact`; Samba's schema has no `targetAddress`, which the export does not read), loaded "
        "offline with `ldbadd --nosync -o batch_mode:1` into an LMDB database (bench/samba_bench.py: without ldb's "
        "batch mode the load slowed down as the database grew); the export binds as an ordinary user. Both sides over {transport} on the "
        "loopback, pages of 1000 (AD's MaxPageSize), filter `(proxyAddresses=smtp:*)`. The last column is the "
        "load's time and rate. Load average at the start and end of this section: {start} / {end}.\n\n".format(
            version=s["version"], transport=s["transport"], start=s["load_at_start"], end=s["load_at_end"])
        + table(("recipients", "map entries", "values refused", "runs", "module (median)", "C pipeline (median)",
                 "module / C", "module peak RSS", "C peak RSS", "recipients/s the DC served the C pipeline",
                 "identical map source", "ldbadd load"), rows)
        + "\n\n" + slapd_text.strip() + (" " if slapd_text else "")
        + "What this tells users: against a DC the server's speed dominates. Both exports wait on the DC for "
          "every page, so the module's own cost is a small part of the run; the time to expect is the number of "
          "recipients divided by the objects per second the DC serves, a figure to measure on one's own DC "
          "(a Windows DC is another server).\n"
        + "\n" + commands(s, "samba", container="bench-samba")
    )


def ab_rows(results):
    ab = results.get("ab") or {}
    for mix, rows in sorted((ab.get("rows") or {}).items(), key=lambda item: item[0] != "exchange"):
        for n in sorted(rows, key=int):
            yield mix, int(n), rows[n]


def ab_summary(results):
    ab = results.get("ab")
    if not ab:
        return ""
    parts = ["{:,} {} {:.3f}x".format(n, mix, row["ratio"]) for mix, n, row in ab_rows(results)]
    return "This tree's module against that of {} on the same directories, runs interleaved: {}.".format(
        ab["ref"], ", ".join(parts))


def ab_section(results):
    ab = results.get("ab")
    if not ab:
        return "Not run this time (`BENCH_AB_REF=<commit> make bench` runs it)."
    rows = [("{:,}".format(n), mix, row["reps"], "%.2f s" % row["baseline_s"], "%.2f s" % row["current_s"],
             "**%.3fx**" % row["ratio"], "%.0f MB" % row["baseline_rss_mb"], "%.0f MB" % row["current_rss_mb"],
             row["identical_output"])
            for mix, n, row in ab_rows(results)]
    return ("Baseline: the module of **{}**, staged from git beside this tree's. Both run on the same directories "
            "of section 1 in the same container, one after the other, the order swapped every run, so drift in the "
            "machine's load falls on both sides. A ratio over 1 means this tree is slower.\n\n".format(ab["ref"])
            + table(("recipients", "mix", "runs each", "baseline (median)", "this tree (median)", "this / baseline",
                     "baseline peak RSS", "this tree peak RSS", "identical map source"), rows))


def summary(results):
    lines = []
    for mix, export in sorted(exports(results).items(), key=lambda item: item[0] != "exchange"):
        for n in sorted(export, key=int):
            e = export[n]
            lines.append("- Export + build, {:,} recipients, {} mix: module {:.2f} s vs C pipeline {:.2f} s "
                         "(**{:.2f}x**), peak RSS {:.0f} MB vs {:.0f} MB.".format(
                             int(n), mix, e["module_s"], e["c_s"], e["ratio"], e["module_rss_mb"], e["c_rss_mb"]))
        growth = growth_section(results, mix)
        if growth:
            lines.append("- " + growth)
    if results.get("startup"):
        lines.append("- " + startup_text(results))
    noop = results.get("noop")
    if noop:
        lines.append("- No-op refresh at {:,} users: {:.2f} s ({:.2f}x of a full build: the export still has to read "
                     "the directory), nothing written, no reload: {}.".format(
                         noop["n"], noop["noop_s"], noop["ratio"],
                         "yes" if noop["files_unchanged"] and noop["master_pid_unchanged"]
                         and noop["reloads_in_log_unchanged"] and not noop["changed"] else "NO"))
    if samba_summary(results):
        lines.append("- " + samba_summary(results))
    if dirsync_report.summary(results):
        lines.append("- " + dirsync_report.summary(results))
    if ab_summary(results):
        lines.append("- " + ab_summary(results))
    if results.get("signing"):
        lines.append("- " + signing_bench.summary(results["signing"]))
    attack = results.get("attack")
    if attack:
        lines.append("- Dictionary attack, limits off: static map {:.0f} rejects/s with {} slapd searches; `ldap:` table "
                     "{:.0f} rejects/s ({}) with {} slapd searches per {} s run.".format(
                         attack["static_off"]["per_second"], attack["static_off"]["slapd_searches"],
                         attack["ldap_off"]["per_second"],
                         ratio(attack["ldap_off"]["per_second"], attack["static_off"]["per_second"]),
                         attack["ldap_off"]["slapd_searches"], results.get("attack_seconds")))
        lines.append("- Valid mail during the capacity attack on the static map: median session {:.1f} ms vs {:.1f} ms "
                     "without attack ({}); {} of {} accepted.".format(
                         attack["static_off"]["legit_median_ms"], attack["static_quiet"]["legit_median_ms"],
                         ratio(attack["static_off"]["legit_median_ms"], attack["static_quiet"]["legit_median_ms"]),
                         attack["static_off"]["legit_accepted"], attack["static_off"]["legit_sent"]))
    return "\n".join(lines)


def render(results, wall):
    attack, valid = attack_section(results)
    limit = results.get("size_limit", {})
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.sh`); do not edit by hand. Every figure is the median of several "
        "runs and is set against a named baseline measured in the same run on the same machine. All programs ran "
        "in one Podman container (`bench-lab`, Debian 12) over its loopback: OpenLDAP with AD-like limits "
        "(1000 entries per unpaged search and per page, paged total unlimited; the export binds as an ordinary "
        "entry, not the rootdn), Postfix with the map types, the module and the load generators. "
        "Other engineers' Molecule runs may share the machine: the load average is recorded below, and "
        "ratios (measured side by side) are more trustworthy than absolute times.",
        "",
        "## Summary",
        "",
        summary(results),
        "",
        "## Machine",
        "",
        machine_section(results, wall),
        "",
        "Size limit check: an unpaged search as the export's account returned %s entries, size limit exceeded: %s."
        % (limit.get("entries"), limit.get("size_limit_exceeded")),
        "",
        "## 1. Export + build: module vs C tools",
        "",
        "Each run starts from an empty map directory (first build). Module: `relay_recipient_map` run as Ansible "
        "runs it (JSON arguments, `AnsibleModule`), paged search (ldap3 sends, the module's BER reader reads), "
        "validation, `sort -u`, gate, cdb build and swap. "
        "Baseline: `ldapsearch -E pr=1000/noprompt | awk | sort -u > src && postmap cdb:src`. Peak RSS is that "
        "of the largest single process (GNU time `%M`); the C pipeline's stages run side by side. Both outputs are "
        "compared byte for byte.",
        "",
        "Two directories are measured (`bench/fixtures.py`). The **exchange mix** is what Exchange writes: a "
        "user mailbox carries X500, SIP and EUM values beside its three SMTP ones (one in ten also a hybrid "
        "routing address in a domain that is not relayed), and one recipient in twenty each is a mail contact "
        "(an external `targetAddress` and primary address), a distribution group or a shared mailbox (with an "
        "X400 value); two in a thousand carry a malformed value. **Read this one**: every value travels through "
        "the export, address or not. The SMTP-only mix (three SMTP values a user, nothing else) is the earlier "
        "fixture, kept so that the two can be compared.",
        "",
        export_sections(results),
        commands(results, "export", "startup"),
        profile_section(results),
        "",
        commands(results, "profile"),
        "## 2. No-op refresh",
        "",
        "The directory is unchanged since the last build; the module runs again with `reload: true`.",
        "",
        noop_section(results),
        "",
        commands(results, "noop"),
        "## 3. Map types",
        "",
        maps_section(results),
        "",
        commands(results, "maps"),
        "## 4. Dictionary attack",
        "",
        "`smtp-source -A -N` (10 sessions, 100 unique unknown recipients a message) for %s s per run, 3 runs, "
        "against Postfix with (a) the static cdb map built by the module and (b) an on-demand `ldap:` table "
        "against the same slapd (N = 100,000 users). Rejects are counted from the Postfix log "
        "(`NOQUEUE: reject: RCPT`). Limits off: no error sleep, error limits and anvil rates off (capacity). "
        "Limits on: the role's defaults, one attacking client (127.0.0.1, not in `mynetworks`)."
        % results.get("attack_seconds", "15"),
        "",
        attack,
        "",
        commands(results, "attack"),
        "## 5. Valid mail under attack",
        "",
        "A legitimate client (127.0.0.2) sends one message every 1.25 s (under the role's per-client connection "
        "rate limit) to a valid recipient during each attack window, one SMTP session per message; latency is "
        "connect to QUIT reply. Baseline: the same client with no attack, same window.",
        "",
        valid,
        "",
        "## 6. Export against Samba AD",
        "",
        samba_section(results),
        "",
        "## 7. This tree against an earlier commit",
        "",
        ab_section(results),
        "",
        commands(results, "ab"),
        "## 8. DKIM signing cost",
        "",
        signing_bench.report(results.get("signing"), table),
        "",
        "## 9. DirSync: deltas against the full export, and latency",
        "",
        dirsync_report.section(results),
    ]
    return "\n".join(parts)


def main(argv):
    with open(argv[1]) as stream:
        results = json.load(stream)
    text = render(results, int(argv[3]))
    with open(argv[2], "w") as stream:
        stream.write(text)


if __name__ == "__main__":
    main(sys.argv)
