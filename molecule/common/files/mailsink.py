"""Lab stand-in for a mail server: accept every message and store it.

Each message is written to SPOOL/<time>-<n>.eml with the envelope in
X-Sink-* headers, so tests can check what arrived, for whom, and that the
body is intact. Used for the Exchange stand-in and the internet's mail host.
With --tls-cert and --tls-key it offers STARTTLS, and X-Sink-TLS says which
protocol the session used ("none" without TLS).
"""
import argparse
import asyncio
import itertools
import os
import ssl
import time

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, spool):
        self.spool = spool
        self.counter = itertools.count()
        os.makedirs(spool, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        name = "%.6f-%d.eml" % (time.time(), next(self.counter))
        head = "X-Sink-Mail-From: %s\r\n" % envelope.mail_from
        head += "".join("X-Sink-Rcpt-To: %s\r\n" % r for r in envelope.rcpt_tos)
        head += "X-Sink-Peer: %s\r\n" % session.peer[0]
        tls = (session.ssl or {}).get("ssl_object")
        head += "X-Sink-TLS: %s\r\n" % (tls.version() if tls is not None else "none")
        tmp = os.path.join(self.spool, "." + name)
        with open(tmp, "wb") as fh:
            fh.write(head.encode() + envelope.original_content)
        os.rename(tmp, os.path.join(self.spool, name))
        return "250 2.0.0 stored as %s" % name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", default="/var/spool/mailsink")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    controller = Controller(Store(args.spool), hostname="0.0.0.0", port=args.port,
                            server_hostname=os.uname().nodename, tls_context=context)
    controller.start()
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
