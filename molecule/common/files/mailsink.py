"""Lab stand-in for a mail server: accept every message and store it.

Each message is written to SPOOL/<time>-<n>.eml with the envelope in
X-Sink-* headers, so tests can check what arrived, for whom, and that the
body is intact. Used for the Exchange stand-in and the internet's mail host.
"""
import argparse
import asyncio
import itertools
import os
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
        tmp = os.path.join(self.spool, "." + name)
        with open(tmp, "wb") as fh:
            fh.write(head.encode() + envelope.original_content)
        os.rename(tmp, os.path.join(self.spool, name))
        return "250 2.0.0 stored as %s" % name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", default="/var/spool/mailsink")
    parser.add_argument("--port", type=int, default=25)
    args = parser.parse_args()
    controller = Controller(Store(args.spool), hostname="0.0.0.0", port=args.port,
                            server_hostname=os.uname().nodename)
    controller.start()
    try:
        asyncio.new_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
