"""Look addresses up in a Postfix table, one postmap process each, until told to stop.

Every lookup opens the table afresh, as a Postfix daemon does after a table
changed, so a rebuild that ever exposed a partial or missing table shows up as
a miss. Prints one JSON report: lookups, misses (with the first few), and how
many different inodes of the compiled table were seen (each swap is a new one).
"""
import argparse
import itertools
import json
import os
import subprocess
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", required=True, help="type:path, e.g. cdb:/etc/postfix/relay_recipients")
    parser.add_argument("--compiled", required=True, help="the compiled file whose inode is watched")
    parser.add_argument("--keys", required=True, help="file with one address a line, all expected to be found")
    parser.add_argument("--min-lookups", type=int, default=3000)
    parser.add_argument("--stop-file", required=True, help="stop once this exists and --min-lookups are done")
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()

    with open(args.keys) as stream:
        keys = [line.strip() for line in stream if line.strip()]
    lookups, misses, inodes = 0, [], set()
    started = time.monotonic()
    for key in itertools.cycle(keys):
        if lookups >= args.min_lookups and os.path.exists(args.stop_file):
            break
        if time.monotonic() - started > args.max_seconds:
            break
        try:
            inodes.add(os.stat(args.compiled).st_ino)
        except FileNotFoundError:
            misses.append({"key": key, "answer": "compiled table missing"})
        proc = subprocess.run(["postmap", "-q", key, args.table], capture_output=True, text=True, check=False)
        lookups += 1
        if proc.returncode != 0 or proc.stdout.strip() != "OK":
            misses.append({"key": key, "rc": proc.returncode, "answer": (proc.stdout + proc.stderr).strip()})
    print(json.dumps({
        "lookups": lookups,
        "misses": len(misses),
        "first_misses": misses[:10],
        "inodes_seen": len(inodes),
        "seconds": round(time.monotonic() - started, 2),
        "stopped_by_file": os.path.exists(args.stop_file),
    }))


if __name__ == "__main__":
    main()
