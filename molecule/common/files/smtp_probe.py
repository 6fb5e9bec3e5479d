"""Drive one SMTP session command by command and report every reply as JSON.

Recipients are sent raw (RCPT TO:<...>) so that malformed and routing-trick
addresses reach the server exactly as written. Stops at the first
disconnection and records where it happened.
"""
import argparse
import json
import smtplib
import ssl
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--helo", default="client.internet.test")
    parser.add_argument("--sender", default="someone@internet.test")
    parser.add_argument("--rcpt", action="append", default=[])
    parser.add_argument("--rcpt-count", type=int, default=0,
                        help="add N generated recipients rcpt-N@--rcpt-domain")
    parser.add_argument("--rcpt-domain", default="example.com")
    parser.add_argument("--body-file", help="send DATA from this file when a recipient was accepted")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    rcpts = list(args.rcpt) + ["nobody-%04d@%s" % (i, args.rcpt_domain) for i in range(args.rcpt_count)]
    report = {"server": args.server, "rcpt": [], "disconnected": False, "data": None}
    smtp = smtplib.SMTP(timeout=args.timeout)
    # starttls() takes the TLS server name from the host given to the constructor,
    # which would also connect before the banner can be recorded.
    smtp._host = args.server
    try:
        report["connect"] = list(smtp.connect(args.server, args.port))
        report["connect"][1] = report["connect"][1].decode(errors="replace")
        code, msg = smtp.ehlo(args.helo)
        report["ehlo"] = code
        report["starttls_offered"] = smtp.has_extn("starttls")
        if args.starttls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the lab relays use self-signed certificates
            code, msg = smtp.starttls(context=context)
            report["starttls"] = code
            report["tls_version"] = smtp.sock.version()
            smtp.ehlo(args.helo)
        code, msg = smtp.docmd("MAIL FROM:<%s>" % args.sender)
        report["mail"] = [code, msg.decode(errors="replace")]
        accepted = 0
        for rcpt in rcpts:
            start = time.monotonic()
            code, msg = smtp.docmd("RCPT TO:<%s>" % rcpt)
            report["rcpt"].append({"rcpt": rcpt, "code": code, "msg": msg.decode(errors="replace"),
                                   "seconds": round(time.monotonic() - start, 3)})
            if code == 421:
                report["disconnected"] = True
                break
            accepted += code == 250
        if args.body_file and accepted and not report["disconnected"]:
            with open(args.body_file, "rb") as fh:
                body = fh.read()
            code, msg = smtp.data(body)
            report["data"] = [code, msg.decode(errors="replace")]
        if not report["disconnected"]:
            smtp.quit()
    except smtplib.SMTPServerDisconnected as exc:
        report["disconnected"] = True
        report["error"] = str(exc)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
