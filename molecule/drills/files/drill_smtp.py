# -*- coding: utf-8 -*-
"""SMTP clients of the drills scenario; each prints one JSON object.

  drill_smtp.py lookups --rcpt ADDR --stop-file F [--interval 0.005] [--max-seconds 120]
      Recipient lookups through Postfix: one RCPT TO for a listed address every
      INTERVAL seconds until STOP-FILE exists, a new session every 50 lookups
      (smtpd reopens a changed table between sessions). Reports the number of
      lookups, every answer that was not 250, the longest RCPT (the lookup
      stall), the longest session set-up (connect, banner, EHLO, MAIL: a new
      smtpd process after a reload) and when each slow one happened.
  drill_smtp.py steady --rcpt ADDR --count N --token T [--interval 0.5]
      Steady mail: N messages, one session each, subject "drill T <i>".
"""

import argparse
import json
import os
import smtplib
import time


def lookups(args):
    started = time.monotonic()
    answered, failures, sessions, errors, slow = 0, [], 0, [], []
    slowest = dict(rcpt=0.0, session=0.0)
    server = None

    def timed(kind, tick):
        took = time.monotonic() - tick
        slowest[kind] = max(slowest[kind], took)
        if took > 0.05:
            slow.append([round(tick - started, 3), kind, round(took * 1000, 1)])

    while not os.path.exists(args.stop_file) and time.monotonic() - started < args.max_seconds:
        try:
            if server is None:
                tick = time.monotonic()
                server = smtplib.SMTP(args.server, args.port, timeout=10)
                server.ehlo("drill.example.net")
                server.mail("drill@example.net")
                sessions += 1
                timed("session", tick)
            tick = time.monotonic()
            code, message = server.rcpt(args.rcpt)
            timed("rcpt", tick)
            answered += 1
            if code != 250:
                failures.append([round(time.monotonic() - started, 3), code, message.decode(errors="replace")])
            if answered % 50 == 0:
                server.quit()
                server = None
        except (OSError, smtplib.SMTPException) as exc:
            errors.append([round(time.monotonic() - started, 3), str(exc)])
            server = None
        time.sleep(args.interval)
    if server is not None:
        server.quit()
    print(json.dumps(dict(lookups=answered, sessions=sessions, failures=failures[:20], failed=len(failures),
                          errors=errors[:20], max_stall_ms=round(slowest["rcpt"] * 1000, 1),
                          max_session_setup_ms=round(slowest["session"] * 1000, 1), slow=slow[:40],
                          seconds=round(time.monotonic() - started, 2))))


def steady(args):
    accepted, refused = 0, []
    for number in range(1, args.count + 1):
        body = "Subject: drill %s %d\r\n\r\nsteady mail %d\r\n" % (args.token, number, number)
        try:
            with smtplib.SMTP(args.server, args.port, timeout=30) as server:
                server.ehlo("steady.example.net")
                server.sendmail("steady@example.net", [args.rcpt], body)
            accepted += 1
        except (OSError, smtplib.SMTPException) as exc:
            refused.append([number, str(exc)])
        time.sleep(args.interval)
    print(json.dumps(dict(sent=args.count, accepted=accepted, refused=refused)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["lookups", "steady"])
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--rcpt", required=True)
    parser.add_argument("--stop-file")
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--token", default="steady")
    args = parser.parse_args()
    (lookups if args.mode == "lookups" else steady)(args)


if __name__ == "__main__":
    main()
