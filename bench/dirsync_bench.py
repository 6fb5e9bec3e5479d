# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DirSync (issue 12) against Samba AD, run inside bench-samba by bench/run.sh after samba_bench.py.

Uses the directory samba_bench.py loaded (its largest size, the exchange mix,
1,000 objects to an OU) and measures:

1. Cost: a full export (``source: ldap``, the named baseline) against DirSync
   polls (``source: dirsync``) that find k = 0, 1, 10, 100, 1000 changed
   objects: entries read from the directory and wall time of the module run,
   with the ratios. After every poll a full export is taken and compared byte
   for byte with the poll's map source; the load average is noted before each
   row.
2. Latency: two pollers, each a "relay" with its own state and map, run the
   module every BENCH_DIRSYNC_INTERVAL seconds (from the start of one run to
   the next, as the role's timer with OnUnitActiveSec does), at phases of their
   own. Changes (new object, new address, deleted object) are made at random
   moments; for each change and relay the time from the change being written
   to the relay's installed table answering as expected. The installed
   table is the compiled cdb, renamed into place just before the source
   that is read here; no Postfix runs in this container, so the SMTP answer
   itself is timed by the Molecule scenario ``dirsync``.

Changes go in with ldbmodify on the DC's sam.ldb while samba runs (as the
Molecule scenario does). The bind account gets the replication right and,
because Samba returns tombstones only to administrators (docs/dirsync.md),
Domain Admins.

Environment: BENCH_DIRSYNC_CHANGES (default 24), BENCH_DIRSYNC_INTERVAL
(default 30), BENCH_DIRSYNC_REPS (default 3). Writes WORK/dirsync.json.
"""

import os
import random
import statistics
import subprocess
import threading
import time

import bench
import fixtures
import samba_bench as sb

N = max(sb.SIZES)
KS = (0, 1, 10, 100, 1000)
REPS = int(os.environ.get("BENCH_DIRSYNC_REPS", "3"))
CHANGES = int(os.environ.get("BENCH_DIRSYNC_CHANGES", "24"))
INTERVAL = float(os.environ.get("BENCH_DIRSYNC_INTERVAL", "30"))
WORK = bench.WORK + "/dirsync"
RNG = random.Random(12)


def dn_of(i):
    prefix = {"contact": "c", "group": "g"}.get(fixtures.exchange_kind(i), "u")
    return "CN=%s%07d,OU=b%04d,%s" % (prefix, i, i // sb.PER_OU, sb.OU)


def ldbmodify(ldif):
    proc = subprocess.run(["ldbmodify", "-H", sb.SAM], input=ldif, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("ldbmodify: %s" % (proc.stderr or proc.stdout))


def grant():
    bench.sh("samba-tool dsacl set -H %s --car=get-changes --action=allow --objectdn=%s --trusteedn=%s >/dev/null"
             % (sb.SAM, sb.BASE_DN, sb.BIND_DN))
    bench.sh("samba-tool group addmembers 'Domain Admins' svc-relay -H %s >/dev/null" % sb.SAM)


def args(name, **extra):
    """The module's arguments for ``name`` (its own map directory), written to a 0600 file."""
    directory = "%s/%s" % (WORK, name)
    os.makedirs(directory, exist_ok=True)
    options = dict(sb.SERVER["module"], max_shrink_percent=100)
    options.update(extra)
    return bench.module_args(N, directory + "/relay_recipients", sb.MIX, **options)


def dirsync_args(name, **extra):
    return args(name, source="dirsync", dirsync_state_dir="%s/%s/state" % (WORK, name), dirsync_base=sb.BASE_DN,
                dirsync_max_removals=1000000, **extra)


def run(path):
    wall, _rss, result = bench.run_module(path)
    return wall, result


def full_export(name="full"):
    bench.fresh_dir("%s/%s" % (WORK, name))
    path = args(name)
    bench.note("dirsync", bench.module_command(path))
    return run(path)


def change_addresses(indexes, tag):
    ldbmodify("".join(
        "dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:%s-%d@example.com\n\n" % (dn_of(i), tag, i)
        for i in indexes))


def same_map(name_a, name_b):
    return bench.sh("cmp -s %s/%s/relay_recipients %s/%s/relay_recipients && echo yes || echo no"
                    % (WORK, name_a, WORK, name_b)).strip()


def loadavg():
    return " ".join(bench.sh("cat /proc/loadavg").split()[:3])


def cost():
    """Section 1: the full export against polls of k changes."""
    load_full = loadavg()
    fulls = [full_export() for _rep in range(REPS)]
    rows = dict(full=dict(seconds=bench.median([w for w, _r in fulls]), entries_read=fulls[0][1]["ldap_entries"],
                          map_entries=fulls[0][1]["entries"], reps=REPS, all_s=[round(w, 2) for w, _r in fulls],
                          load=load_full))
    bench.fresh_dir(WORK + "/poll")
    path = dirsync_args("poll")
    bench.note("dirsync", bench.module_command(path))
    wall, result = run(path)
    rows["first"] = dict(seconds=round(wall, 3), entries_read=result["dirsync"]["entries_read"], reps=1,
                         reason=result["dirsync"]["reason"])
    used = set()
    for k in KS:
        times, read, identical, patched = [], [], [], []
        reps = REPS if k < 1000 else 1
        load = loadavg()
        for rep in range(reps):
            indexes = RNG.sample([i for i in range(N) if i not in used], k)
            used.update(indexes)
            if k:
                change_addresses(indexes, "k%d-r%d" % (k, rep))
            wall, result = run(path)
            if result["dirsync"]["full_resync"]:
                raise RuntimeError("a poll of %d changes made a full resync: %s" % (k, result["dirsync"]["reason_detail"]))
            times.append(wall)
            read.append(result["dirsync"]["entries_read"])
            patched.append(result["dirsync"].get("patched"))
            # After every poll: the map a full export takes right now, byte for byte.
            full_export("check")
            identical.append(same_map("poll", "check"))
        rows[str(k)] = dict(seconds=bench.median(times), all_s=[round(t, 2) for t in times], entries_read=max(read),
                            reps=reps, identical="yes" if set(identical) == {"yes"} else "NO (%s)" % ", ".join(identical),
                            changed=result["changed"], patched=patched, load=load)
        bench.log("dirsync k=%d: %.2f s, %d entries read, identical %s" % (k, rows[str(k)]["seconds"], max(read), identical))
    return rows


class Poller(threading.Thread):
    """One relay: the module every INTERVAL s from the start of one run to the next."""

    def __init__(self, name, phase, stop):
        threading.Thread.__init__(self, daemon=True)
        self.name, self.phase, self.stop = name, phase, stop
        self.path = dirsync_args(name)
        self.durations = []

    def run(self):
        time.sleep(self.phase)
        while not self.stop.is_set():
            started = time.monotonic()
            wall, result = run(self.path)
            self.durations.append((round(wall, 3), result["dirsync"]["entries_read"]))
            self.stop.wait(max(0.0, INTERVAL - (time.monotonic() - started)))


def table_has(name, address):
    with open("%s/%s/relay_recipients" % (WORK, name)) as stream:
        return any(line.startswith(address + "\t") for line in stream)


def latency():
    """Section 2: random changes, two pollers, time until each relay's table answers as expected."""
    relays = ("relay1", "relay2")
    for name in relays:
        bench.fresh_dir("%s/%s" % (WORK, name))
        run(dirsync_args(name))  # the first full pass, before anything is timed
    stop = threading.Event()
    pollers = [Poller(name, RNG.uniform(0, INTERVAL), stop) for name in relays]
    for poller in pollers:
        poller.start()
    pending, kinds = [], []
    victims = RNG.sample(range(N), CHANGES)
    started = time.monotonic()
    for n, i in enumerate(victims):
        watch_for(pending, relays, RNG.uniform(2, 10))
        kind = ("new object", "new address", "deleted object")[n % 3]
        if kind == "new object":
            address = "lat-new-%d@example.com" % n
            ldbmodify("dn: CN=lat%d,%s\nchangetype: add\nobjectClass: contact\nproxyAddresses: SMTP:%s\n\n" % (n, sb.OU, address))
            present = True
        elif kind == "new address":
            address = "lat-addr-%d@example.com" % n
            ldbmodify("dn: %s\nchangetype: modify\nadd: proxyAddresses\nproxyAddresses: smtp:%s\n\n" % (dn_of(i), address))
            present = True
        else:
            values, _target = fixtures.recipient(i, sb.MIX)
            address = next(v.split(":", 1)[1].lower() for v in values
                           if v.lower().startswith("smtp:") and v.rpartition("@")[2].lower() in bench.DOMAINS)
            ldbmodify("dn: %s\nchangetype: delete\n\n" % dn_of(i))
            present = False
        pending.append([time.monotonic(), address, present, {}])
        kinds.append(kind)
    deadline = time.monotonic() + 3 * INTERVAL
    while any(len(item[3]) < len(relays) for item in pending) and time.monotonic() < deadline:
        watch_for(pending, relays, 0.2)
    stop.set()
    for poller in pollers:
        poller.join()
    missed = sum(len(relays) - len(item[3]) for item in pending)
    seconds = sorted(s for item in pending for s in item[3].values())
    quiet = [d for p in pollers for d, read in p.durations if read == 0]
    busy = [d for p in pollers for d, read in p.durations if read > 0]
    full_export("final")
    return dict(
        changes=CHANGES, relays=len(relays), interval=INTERVAL, kinds={k: kinds.count(k) for k in set(kinds)},
        samples=len(seconds), missed=missed, median=round(statistics.median(seconds), 1),
        p95=round(seconds[max(0, int(round(0.95 * len(seconds))) - 1)], 1), max=round(seconds[-1], 1),
        min=round(seconds[0], 1), seconds=seconds, duration_s=round(time.monotonic() - started),
        quiet_poll_s=bench.median(quiet) if quiet else None, change_poll_s=bench.median(busy) if busy else None,
        polls=len(quiet) + len(busy),
        identical=[same_map(name, "final") for name in relays],
    )


def watch_for(pending, relays, seconds):
    """For ``seconds``, every 0.2 s: note, for each change not yet seen on a relay, whether that
    relay's table now answers as expected, and when."""
    until = time.monotonic() + seconds
    while True:
        now = time.monotonic()
        for changed_at, address, present, seen in pending:
            for name in relays:
                if name not in seen and table_has(name, address) == present:
                    seen[name] = round(now - changed_at, 2)
        if now >= until:
            return
        time.sleep(min(0.2, until - now))


def main():
    os.makedirs(WORK, exist_ok=True)
    started = time.monotonic()
    sb.start()
    grant()
    results = dict(objects=N, mix=sb.MIX, load_at_start=" ".join(bench.sh("cat /proc/loadavg").split()[:3]))
    results["cost"] = cost()
    results["latency"] = latency()
    sb.stop()
    sb.finish(results, "dirsync", started)


if __name__ == "__main__":
    main()
