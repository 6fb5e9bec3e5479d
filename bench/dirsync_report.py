# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DirSync section of docs/benchmarks.md (bench/dirsync_bench.py's results, key "dirsync")."""


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def summary(results):
    d = results.get("dirsync")
    if not d:
        return ""
    full, ten, lat = d["cost"]["full"], d["cost"]["10"], d["latency"]
    return ("DirSync against Samba AD, {:,} objects: a poll of 10 changes read {:,} entries in {:.2f} s against the full "
            "export's {:,} in {:.2f} s (**{:.0f}x fewer entries, {:.1f}x less time**); {} changes on 2 relays polling "
            "every {:.0f} s were in the relays' tables after a median of {} s, p95 **{} s** (max {} s).".format(
                d["objects"], ten["entries_read"], ten["seconds"], full["entries_read"], full["seconds"],
                full["entries_read"] / max(ten["entries_read"], 1), full["seconds"] / ten["seconds"],
                lat["changes"], lat["interval"], lat["median"], lat["p95"], lat["max"]))


def section(results):
    d = results.get("dirsync")
    if not d:
        return "(not run: needs the Samba section, `BENCH_SAMBA_SIZES`, and `dirsync` in `BENCH_SECTIONS` when that is set)"
    cost, lat = d["cost"], d["latency"]
    full = cost["full"]
    rows = [("full export (`source: ldap`), **baseline**", "-", "{:,}".format(full["entries_read"]),
             "%.2f s" % full["seconds"], "1x", "1x", full["reps"], "-", full.get("load", "-")),
            ("first DirSync pass (no state)", "all", "{:,}".format(cost["first"]["entries_read"]),
             "%.2f s" % cost["first"]["seconds"], "-", "%.2fx" % (full["seconds"] / cost["first"]["seconds"]), 1, "-", "-")]
    for k in ("0", "1", "10", "100", "1000"):
        row = cost[k]
        rows.append(("DirSync poll", k, "{:,}".format(row["entries_read"]), "%.2f s" % row["seconds"],
                     "%.0fx" % (full["entries_read"] / max(row["entries_read"], 1)),
                     "**%.1fx**" % (full["seconds"] / row["seconds"]), row["reps"], row["identical"], row.get("load", "-")))
    return (
        "`source: dirsync` against the Samba AD of section 6 ({objects:,} objects, exchange mix; the bind account "
        "has Replicating Directory Changes and, because Samba returns tombstones only to administrators, is a Domain "
        "Admin). Each run is the module as the role's timer runs it (JSON arguments, a new Python process), over "
        "LDAPS on the loopback, cdb built and swapped, no reload (no Postfix runs in `bench-samba`). A change is a "
        "new `proxyAddresses` value on k random objects, written with `ldbmodify` while samba runs; times are the "
        "median of the runs. Entries read: `ldap_entries` of the full export, `dirsync.entries_read` of a poll "
        "(k = 0: none; the ratio is then against 1). After every poll a full export was taken and compared byte for "
        "byte with the poll's map source (column \"map = full export\": every run of the row). A poll with changes "
        "patches the live map (`dirsync.patched`; docs/dirsync.md). The last column is the machine's load average "
        "(1, 5, 15 min) before the row. Load average at the start and end of the section: {start} / {end}.\n\n".format(
            objects=d["objects"], start=d["load_at_start"], end=d["load_at_end"])
        + _table(("run", "k changed objects", "entries read", "wall time", "entries: full / this", "time: full / this",
                  "runs", "map = full export", "load before"), rows)
        + "\n\nLatency: {relays} relays (each its own state and map, polling every {interval:.0f} s from the start of "
          "one run to the next, as `OnUnitActiveSec` does, at phases of their own), {changes} changes at random "
          "moments 2-10 s apart ({kinds}); for each change and relay, the seconds from `ldbmodify` returning to the "
          "relay's installed table answering as expected (the source read here is renamed into place right after "
          "the compiled cdb that Postfix reads). {samples} samples, {missed} never reached: median **{median} s**, "
          "p95 **{p95} s**, min {min} s, max {max} s. Polls: {polls}, median {busy} s with a change{quiet}. After "
          "the last change both relays' maps equal a full export: {identical}. The SMTP answer itself is measured "
          "by the Molecule scenario `dirsync` (creations, then renames, disabling and deletions, at RCPT TO on two "
          "relays, each within 60 s).\n".format(
              relays=lat["relays"], interval=lat["interval"], changes=lat["changes"],
              kinds=", ".join("%d %s" % (v, k) for k, v in sorted(lat["kinds"].items())), samples=lat["samples"],
              missed=lat["missed"], median=lat["median"], p95=lat["p95"], min=lat["min"], max=lat["max"],
              polls=lat["polls"], busy=lat["change_poll_s"],
              quiet=" and %s s without" % lat["quiet_poll_s"] if lat["quiet_poll_s"] is not None else " (every poll found one)",
              identical=", ".join(lat["identical"]))
        + "\nThe directory is section 6's largest size (`BENCH_SAMBA_SIZES`), loaded with `ldbadd` in ldb's batch "
          "mode (bench/samba_bench.py says why). A poll's cost follows the changes (entries read, objects rendered "
          "and written); what still follows the directory is `postmap` of the whole cdb and the patch of the map "
          "source (0.18 s and 0.07 s on a synthetic 100,000-object state, docs/dirsync.md).\n"
        + "\nCommands (bench-samba):\n\n" + "\n".join("    " + c for c in d.get("commands", {}).get("dirsync", []))
    )
