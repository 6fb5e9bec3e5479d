# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMTP clients for the benchmarks; each prints one JSON object.

  smtp_load.py rcpt --suffix S --keys N --count K [--random]
      K RCPT TO commands over one session, pipelined in batches, addresses
      ``<i>S`` with i below N (in order, or random with --random). Measures
      recipient lookups through smtpd; RSET every 400 recipients keeps the
      session under smtpd_recipient_limit.
  smtp_load.py mail --rcpt ADDR --seconds D --interval T [--source IP]
      A legitimate client: one message per T seconds for D seconds, one
      session each, reporting each session's latency and reply codes.
"""

import argparse
import json
import random
import socket
import statistics
import time


class Session:
    def __init__(self, server, port, source=None, timeout=30):
        self.sock = socket.create_connection((server, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def reply(self):
        """Read one (possibly multi-line) reply; return its code."""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return int(line[:3])

    def send(self, *lines):
        self.sock.sendall(b"".join(line.encode("ascii") + b"\r\n" for line in lines))

    def close(self):
        try:
            self.send("QUIT")
            self.reply()
        except (OSError, ConnectionError):
            pass
        self.sock.close()


def rcpt_mode(args):
    session = Session(args.server, args.port)
    codes = {}
    session.reply()
    session.send("EHLO bench.example.net")
    session.reply()
    rng = random.Random(7)
    started = time.monotonic()
    sent = 0
    while sent < args.count:
        batch = min(args.batch, args.count - sent)
        numbers = [rng.randrange(args.keys) if args.random else (sent + n) % args.keys for n in range(batch)]
        session.send("MAIL FROM:<bench@bench.example.net>",
                     *["RCPT TO:<%d%s>" % (i, args.suffix) for i in numbers], "RSET")
        session.reply()
        for _unused in range(batch):
            code = session.reply()
            codes[code] = codes.get(code, 0) + 1
        session.reply()
        sent += batch
    seconds = time.monotonic() - started
    session.close()
    print(json.dumps(dict(count=sent, seconds=round(seconds, 4), per_second=round(sent / seconds, 1),
                          codes={str(k): v for k, v in sorted(codes.items())})))


def one_message(args, number):
    started = time.monotonic()
    codes = []
    try:
        session = Session(args.server, args.port, args.source, timeout=args.timeout)
        codes.append(session.reply())
        session.send("EHLO legit.example.net")
        codes.append(session.reply())
        session.send("MAIL FROM:<partner@legit.example.net>", "RCPT TO:<%s>" % args.rcpt, "DATA")
        codes.extend(session.reply() for _unused in range(3))
        if codes[-1] == 354:
            session.send("Subject: bench %d" % number, "", "valid mail under attack", ".")
            codes.append(session.reply())
        session.close()
    except (OSError, ConnectionError) as exc:
        codes.append(str(exc))
    return time.monotonic() - started, codes


def mail_mode(args):
    latencies, failures = [], []
    deadline = time.monotonic() + args.seconds
    number = 0
    while time.monotonic() < deadline and number < args.max_messages:
        number += 1
        tick = time.monotonic()
        seconds, codes = one_message(args, number)
        if codes[-1] == 250 and codes[-3:-1] == [250, 354]:
            latencies.append(seconds)
        else:
            failures.append(codes)
        time.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
    latencies.sort()
    ms = [round(s * 1000, 2) for s in latencies]
    print(json.dumps(dict(
        sent=number, accepted=len(latencies), failures=failures[:5], failed=len(failures),
        median_ms=round(statistics.median(ms), 2) if ms else None,
        p95_ms=ms[int(0.95 * (len(ms) - 1))] if ms else None,
        max_ms=ms[-1] if ms else None,
    )))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["rcpt", "mail"])
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--suffix", default="bench@example.com")
    parser.add_argument("--keys", type=int, default=1)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--random", action="store_true")
    parser.add_argument("--rcpt")
    parser.add_argument("--source")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--max-messages", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    (rcpt_mode if args.mode == "rcpt" else mail_mode)(args)


if __name__ == "__main__":
    main()
