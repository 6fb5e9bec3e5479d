"""Ask relays at RCPT TO until each answers every recipient as expected, or time runs out.

    python3 await-rcpt --timeout 60 --relay NAME=IP ... --expect ADDRESS=CODE ...

Prints JSON: per relay the seconds from this program's start until that
relay first gave every expected code (null if it never did), and its last
answers. Exits 1 when a relay did not answer as expected in time. One SMTP
session per relay and round, a round every --interval seconds.
"""
import argparse
import json
import smtplib
import sys
import time


def answers(ip, addresses):
    smtp = smtplib.SMTP(ip, 25, timeout=10)
    try:
        smtp.ehlo("client.internet.test")
        smtp.mail("someone@internet.test")
        return {address: smtp.rcpt(address)[0] for address in addresses}
    finally:
        try:
            smtp.quit()
        except smtplib.SMTPException:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", action="append", required=True)
    parser.add_argument("--expect", action="append", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--interval", type=float, default=1)
    args = parser.parse_args()
    relays = dict(item.split("=", 1) for item in args.relay)
    expected = {address: int(code) for address, code in (item.rsplit("=", 1) for item in args.expect)}
    start = time.monotonic()
    reached = dict.fromkeys(relays)
    last = {}
    while True:
        for name, ip in relays.items():
            if reached[name] is not None:
                continue
            try:
                last[name] = answers(ip, list(expected))
            except (OSError, smtplib.SMTPException) as exc:
                last[name] = {"error": str(exc)}
                continue
            if last[name] == expected:
                reached[name] = round(time.monotonic() - start, 1)
        if all(value is not None for value in reached.values()) or time.monotonic() - start > args.timeout:
            break
        time.sleep(args.interval)
    print(json.dumps({"seconds": reached, "last": last, "expected": expected}))
    return 0 if all(value is not None for value in reached.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
