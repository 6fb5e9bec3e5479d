"""Verify every DKIM signature of a message with dkimpy, against the DNS of this host.

    dkim_check.py FILE [--tamper]

Prints JSON: one object per DKIM-Signature header, in order, with its
algorithm (a=), selector (s=), domain (d=), whether it verifies and why not. With
--tamper, a word of the body is changed first (a message changed in transit).
The lab's mail sink adds X-Sink-* headers on top, which are not signed: they
are removed before verifying, as they were not there when the relay signed.
"""
import argparse
import json
import re

import dkim

parser = argparse.ArgumentParser()
parser.add_argument("path")
parser.add_argument("--tamper", action="store_true")
args = parser.parse_args()
with open(args.path, "rb") as stream:
    message = stream.read()
message = re.sub(rb"\AX-Sink-[^\r\n]*\r?\n(?:X-Sink-[^\r\n]*\r?\n)*", b"", message)
if args.tamper:
    head, sep, body = message.partition(b"\r\n\r\n") if b"\r\n\r\n" in message else message.partition(b"\n\n")
    message = head + sep + body.replace(b"queued", b"changed", 1)
signatures = []
for index, value in enumerate(re.findall(rb"(?mi)^DKIM-Signature:((?:.*)(?:\r?\n[ \t].*)*)", message)):
    tags = dict((k.strip(), re.sub(rb"\s+", b"", v)) for k, v in
                (part.split(b"=", 1) for part in value.split(b";") if b"=" in part))
    try:
        ok, error = bool(dkim.DKIM(message).verify(idx=index)), ""
    except dkim.DKIMException as exc:  # a body hash mismatch is raised, not returned
        ok, error = False, str(exc)
    signatures.append({"a": tags.get(b"a", b"").decode(), "s": tags.get(b"s", b"").decode(),
                       "d": tags.get(b"d", b"").decode(), "ok": ok, "error": error})
print(json.dumps(signatures))
