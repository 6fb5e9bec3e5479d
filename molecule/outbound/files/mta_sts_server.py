"""Lab MTA-STS policy server: HTTPS on 443, /.well-known/mta-sts.txt by Host.

Serves /srv/mta-sts/<host>.txt as text/plain; anything else is 404.
"""
import http.server
import os
import ssl

ROOT = "/srv/mta-sts"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path = os.path.join(ROOT, host + ".txt")
        if self.path != "/.well-known/mta-sts.txt" or "/" in host or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as stream:
            body = stream.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 443), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain("/etc/lab-pki/sts.crt", "/etc/lab-pki/sts.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
