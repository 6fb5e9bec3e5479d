"""Write the push drop file as the Exchange script would; wait for the push unit's build.

    lab_push.py DROP COUNT METRICS_DIR [--unmarked]

COUNT users user000..user(COUNT-1)@example.com plus the postmaster of both
relay domains, as virtual.txt lines, with the end marker (#mailrelay-end
lines=N sha256=HEX) unless --unmarked. The drop file is rewritten in place, as
the upload account does over sftp (its owner and mode stay the role's), in one
write, so the path unit sees one complete change. Then waits (60 s at most) until
the map's metrics file in METRICS_DIR counts one run more, and prints the
new count; exits 1 when no build came.
"""
import argparse
import glob
import hashlib
import os
import re
import sys
import time

RUNS = re.compile(r"^mailrelay_recipient_map_runs_total\{[^}]*\} (\S+)$", re.M)


def runs(directory):
    total = 0.0
    for path in glob.glob(os.path.join(directory, "mailrelay_recipient_map-*.prom")):
        with open(path) as stream:
            total += sum(float(value) for value in RUNS.findall(stream.read()))
    return total


parser = argparse.ArgumentParser()
parser.add_argument("drop")
parser.add_argument("count", type=int)
parser.add_argument("metrics_dir")
parser.add_argument("--unmarked", action="store_true")
args = parser.parse_args()
lines = ["postmaster: SMTP:postmaster@example.com", "postmaster: smtp:postmaster@example.org"]
lines += ["u%d: SMTP:user%03d@example.com" % (i, i) for i in range(args.count)]
body = ("\n".join(lines) + "\n").encode("ascii")
if not args.unmarked:
    body += b"#mailrelay-end lines=%d sha256=%s\n" % (body.count(b"\n"), hashlib.sha256(body).hexdigest().encode("ascii"))
before = runs(args.metrics_dir)
with open(args.drop, "r+b") as stream:
    stream.truncate()
    stream.write(body)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if runs(args.metrics_dir) > before:
        print("runs: %g" % runs(args.metrics_dir))
        sys.exit(0)
    time.sleep(0.5)
print("no build counted in %s within 60 s (runs: %g)" % (args.metrics_dir, before))
sys.exit(1)
