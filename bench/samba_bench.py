# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Section 1 of the benchmarks against Samba AD, run inside the bench-samba container by bench/run.sh.

The lab's AD DC as molecule/common/tasks/samba_dc.yml builds it: samba-tool
domain provision (no DNS), the recipients of the exchange mix loaded offline
with ldbadd, a non-admin service account, samba started. Two differences, for
the load's sake only: the database is LMDB (``--backend-store=mdb``) and
ldbadd runs in ldb's batch mode (``-o batch_mode:1``, as ``samba-tool domain
join`` loads a replica), see LOAD below. Then bench.py's
section_export runs the module and the C pipeline over LDAPS on the loopback,
both with pages of 1000 (AD's MaxPageSize) and the module's default filter.

For several sizes the objects are loaded in steps (the next size adds the
recipients the last one lacked), with samba stopped during each load.

Environment: BENCH_SAMBA_SIZES (default "100000", the size issue 12 names), BENCH_REPS (see bench.py).
Writes WORK/samba.json, which run.sh puts into results.json as "samba".
"""

import base64
import json
import os
import secrets
import subprocess
import time

import bench
import fixtures

MIX = "exchange"
REALM = "SAMBA.EXAMPLE.NET"
BASE_DN = "DC=samba,DC=example,DC=net"
OU = "OU=Bench," + BASE_DN
BIND_DN = "CN=svc-relay,CN=Users," + BASE_DN
SAM = "/var/lib/samba/private/sam.ldb"
LDAPS_URI = "ldaps://127.0.0.1:636"
SIZES = [int(n) for n in os.environ.get("BENCH_SAMBA_SIZES", "100000").split()]
# Recipients spread over OUs, as directories have them (a parent's one-level
# index grows with its children).
PER_OU = 1000
# Why ldbadd was superlinear (measured 2026-11, Samba 4.17, 2 cores): each added
# object is a sub-transaction of ldbadd's transaction, and committing it
# (ldb_kv_index_sub_transaction_commit, seen in gdb stacks) copies the index
# lists it touched into the transaction's index cache; the lists of values
# every object shares (objectClass, objectCategory, ...) hold every object, so
# each add costs more as the database grows: 159/s for the first 5,000, 51/s at
# 15,000 (TDB 5,000 in 52-86 s, 20,000 in 1,185 s). ldb's batch mode, which
# samba-tool domain join uses for the same reason, skips the sub-transactions
# (a failed add then fails the whole load, which is what a bench wants): 100,000
# objects in 10 loads of 10,000 at 450-600/s each, 199 s in all (LMDB).
PROVISION_OPTIONS = "--backend-store=mdb"
LOAD = "ldbadd --nosync -o batch_mode:1"
LOAD_CHUNK = 10000

# Both sides over LDAPS with Samba's self-signed certificate, neither checking
# it: the same transport, and the certificate is checked once per connection.
SERVER = dict(
    uri=LDAPS_URI, bind_dn=BIND_DN, base=OU, env="LDAPTLS_REQCERT=never ",
    module=dict(server_uris=[LDAPS_URI], bind_dn=BIND_DN, base_dns=[OU], validate_certs=False,
                allow_plaintext=False),
)


def write_ldif(out, first, count):
    """Recipients ``first`` to ``count - 1`` of the exchange mix as AD objects, PER_OU to an OU under OU."""
    if first == 0:
        out.write("dn: %s\nobjectClass: organizationalUnit\n\n" % OU)
    for i in range(first, count):
        parent = "OU=b%04d,%s" % (i // PER_OU, OU)
        if i % PER_OU == 0:
            out.write("dn: %s\nobjectClass: organizationalUnit\n\n" % parent)
        kind = fixtures.exchange_kind(i)
        values, _target = fixtures.recipient(i, MIX)
        if kind == "contact":
            lines = ["dn: CN=c%07d,%s" % (i, parent), "objectClass: contact"]
        elif kind == "group":
            lines = ["dn: CN=g%07d,%s" % (i, parent), "objectClass: group", "sAMAccountName: g%07d" % i]
        else:
            lines = ["dn: CN=u%07d,%s" % (i, parent), "objectClass: user", "sAMAccountName: u%07d" % i]
        # targetAddress is Exchange's schema, not Samba's; the export does not read it.
        lines.extend("proxyAddresses: %s" % value for value in values)
        out.write("\n".join(lines) + "\n\n")


def provision():
    bench.sh("rm -f /etc/samba/smb.conf && samba-tool domain provision --realm=%s --domain=SAMBA "
             "--server-role=dc --dns-backend=NONE %s" % (REALM, PROVISION_OPTIONS))
    # An ordinary user; its password goes in on stdin and stays in a 0600 file.
    password = "Rl-" + secrets.token_hex(16)
    with open(os.open(bench.PWFILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        stream.write(password)
    encoded = ('"%s"' % password).encode("utf-16-le")
    ldif = "dn: %s\nobjectClass: user\nsAMAccountName: svc-relay\nuserAccountControl: 512\nunicodePwd:: %s\n" % (
        BIND_DN, base64.b64encode(encoded).decode())
    proc = subprocess.run(["ldbadd", "-H", SAM], input=ldif, text=True, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("service account: %s" % (proc.stderr or proc.stdout))


def load(first, count):
    """ldbadd recipients ``first`` to ``count - 1`` offline, LOAD_CHUNK at a time (as measured): seconds taken."""
    seconds = 0.0
    for start_at in range(first, count, LOAD_CHUNK):
        end = min(count, start_at + LOAD_CHUNK)
        path = "%s/samba-%d.ldif" % (bench.WORK, end)
        with open(path, "w") as stream:
            write_ldif(stream, start_at, end)
        started = time.monotonic()
        bench.sh("%s -H %s %s" % (LOAD, SAM, path))
        seconds += time.monotonic() - started
        os.unlink(path)
    bench.log("ldbadd %d objects: %.1f s (%.0f/s)" % (count - first, seconds, (count - first) / seconds))
    return seconds


def start():
    # samba_dc.yml's drop-in: samba within the container's open-files limit.
    bench.sh("ulimit -n 1024 && samba -D")
    for _unused in range(120):
        out = bench.sh("%sldapsearch -x -H %s -D %s -y %s -s base -b '' -LLL 1.1"
                       % (SERVER["env"], LDAPS_URI, BIND_DN, bench.PWFILE), check=False)
        if out != "":
            return
        time.sleep(1)
    raise RuntimeError("samba did not answer on %s" % LDAPS_URI)


def stop():
    # run.sh starts the container with --init, which reaps samba's processes.
    bench.sh("pid=$(cat /run/samba/samba.pid) && kill $pid && for i in $(seq 300); do kill -0 $pid || break; sleep 0.2; done",
             check=False)


def main():
    os.makedirs(bench.WORK, exist_ok=True)
    started = time.monotonic()
    results = dict(version=bench.sh("samba -V").split()[-1], mix=MIX, transport="LDAPS (self-signed, not verified)",
                   load_at_start=" ".join(bench.sh("cat /proc/loadavg").split()[:3]), sizes={})
    provision()
    bench.sh("touch /etc/postfix/main.cf")  # postmap reads it; no Postfix runs here
    loaded = 0
    for n in sorted(SIZES):
        if loaded:
            stop()
        load_s = load(loaded, n)
        loaded_before, loaded = loaded, n
        start()
        row = bench.section_export(MIX, sizes=[n], server=SERVER, section="samba")[n]
        row.update(load_s=round(load_s, 1), loaded=n - loaded_before,
                   load_per_s=round((n - loaded_before) / load_s), served_per_s=round(n / row["c_s"]))
        results["sizes"][n] = row
    stop()
    finish(results, "samba", started)


def finish(results, section, started):
    """Add the load at the end, the time taken and the commands of ``section``; write WORK/<section>.json."""
    results["load_at_end"] = " ".join(bench.sh("cat /proc/loadavg").split()[:3])
    results["total_s"] = round(time.monotonic() - started, 1)
    results["commands"] = {section: bench.COMMANDS.get(section, [])}
    with open("%s/%s.json" % (bench.WORK, section), "w") as stream:
        json.dump(results, stream, indent=1, sort_keys=True)
    bench.log("%s done in %.0f s" % (section, results["total_s"]))


if __name__ == "__main__":
    main()
