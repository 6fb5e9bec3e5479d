# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Section "signing" of the benchmarks (issue 13): what DKIM signing costs in relay throughput.

Run by bench.py inside bench-lab, on the Postfix and sink that bench.py set up.
The signer is configured as the outbound_security role configures it: Debian's
dkimpy-milter with the role's own dkimpy-milter.conf.j2 (staged by run.sh),
rendered with the role's values; an RSA-2048 and an Ed25519 key made by the
role's helper (mailrelay-dkim) with the role's layout; Postfix handing the
connections of mynetworks to it through ``smtpd_milter_maps`` with
``milter_default_action = tempfail``, as postfix_relay writes them, over the
role's Unix socket in Postfix's queue directory. The baseline is the same
relay without the milter map (what postfix_relay renders while no selector
signs), measured in the same run. A second named baseline is the same signer
reached over TCP on 127.0.0.1:8892, as the role ran it before it moved to the
socket: a second dkimpy-milter with the same keys and configuration but for
its Socket line.

smtp-source (as Exchange, from 127.0.0.1, in mynetworks like the role's
127.0.0.0/8) sends N messages over SESSIONS parallel sessions to an internet
recipient; the relay delivers them to bench.py's smtp-sink. A run is timed from
smtp-source's start until the Postfix log shows all N delivered. Runs without
signing, with signing and with signing over TCP alternate, the order rotated
each repetition, and every run follows a reload, so drift in the machine's
load falls on every side.

The signed runs must have signed: dkimpy-milter logs every signature (the
role's ``SyslogSuccess yes``) to /dev/log, where a counter stands in for the
journal; each signed run needs N RSA and N Ed25519 signatures, each unsigned run
none. Before the runs, one probe message per side is caught by a dumping sink:
signed, it carries both signatures and both verify against the helper's
records; unsigned, it carries none.

Environment: BENCH_REPS (bench.py's; repetitions of each side, at least 3).
"""

import base64
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time

import bench

# Nothing of bench is read at import time: bench.py imports this module while it loads.
WORK = "/var/bench/signing"
STAGE = "/opt/bench"
# As roles/outbound_security (vars/main.yml, defaults/main.yml) and postfix_relay lay them out.
HELPER_DIR = "/usr/local/lib/mailrelay-dkim"
KEY_DIR = "/etc/dkimpy-milter/keys"
CONF = "/etc/dkimpy-milter/dkimpy-milter.conf"
# As roles/outbound_security/vars/main.yml has them (a unit test compares).
SOCKET_DIR = "/var/spool/postfix/dkimpy-milter"
SOCKET = SOCKET_DIR + "/dkimpy-milter.sock"
MILTER = "unix:dkimpy-milter/dkimpy-milter.sock"
MILTER_MAP = "/etc/postfix/outbound_milters.cidr"
# The named baseline: the signer over TCP, as the role ran it before.
TCP_PORT = 8892
TCP_MILTER = "inet:127.0.0.1:%d" % TCP_PORT
TCP_CONF = "/etc/dkimpy-milter/dkimpy-milter-tcp.conf"
TCP_MILTER_MAP = "/etc/postfix/outbound_milters_tcp.cidr"
TCP_PIDFILE = "/run/dkimpy-milter/dkimpy-milter-tcp.pid"
# The sides of a comparison, in the order of the first repetition.
SIDES = ("unsigned", "signed", "tcp")
MYNETWORKS = ["127.0.0.0/8", "[::1]/128"]
PIDFILE = "/run/dkimpy-milter/dkimpy-milter.pid"
SELECTOR = "bench"
# A relay domain of bench.py's Postfix, as the role requires of a signing domain.
DOMAIN = "example.com"
SENDER = "sales@" + DOMAIN
RECIPIENT = "customer@sink.example.net"
PROBE_RECIPIENT = "customer@probe.example.net"
PROBE_PORT = 2526
SESSIONS = 8
# (message size in bytes, messages per run): a few seconds a run on the lab machine.
SIZES = ((10000, 1000), (1000000, 100))
SIGNED_LINE = re.compile(r"\S+: (\S+) DKIM signature added \(s=(\S+) d=(\S+)\)")
SINK_HEADER = re.compile(rb"X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): ")
# This module's own list: bench.py runs as __main__, so its bench.note() is another module's.
COMMANDS = []


# ---------------------------------------------------------------- pure parts (tests/unit/bench)

def render_template(text, values):
    """The role's Jinja2 template with each ``{{ expression }}`` replaced by ``values[expression]``.

    Only the expressions the bench knows are filled in: one it does not know
    (the template changed) is an error, never left in or guessed at.
    """
    unknown = sorted(set(expr for expr in re.findall(r"{{\s*(.*?)\s*}}", text) if expr not in values))
    if unknown or "{%" in text:
        raise ValueError("the template has expressions the bench does not fill in: %s" % (unknown or ["{% ... %}"]))
    return re.sub(r"{{\s*(.*?)\s*}}", lambda match: str(values[match.group(1)]), text)


def message(size, sender=SENDER, recipient=RECIPIENT):
    """A message of ``size`` bytes on the wire (CRLF line ends, within two bytes): a short text part
    and a base64 attachment, the shape of most large mail. Lines end in LF, as smtp-source -F wants them."""
    boundary = "=_bench_%d" % size
    head = [
        "From: Sales <%s>" % sender, "To: <%s>" % recipient, "Subject: Offer %d" % size,
        "Date: Mon, 2 Nov 2026 09:00:00 +0000", "Message-ID: <bench-%d@%s>" % (size, DOMAIN), "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="%s"' % boundary, "",
        "--" + boundary, "Content-Type: text/plain; charset=us-ascii", "",
        "Please find our offer attached.", "", "--" + boundary,
        'Content-Type: application/pdf; name="offer.pdf"', "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="offer.pdf"', "",
    ]
    tail = ["--%s--" % boundary]
    room = size - sum(len(line) + 2 for line in head + tail)
    data = base64.b64encode(random.Random(size).randbytes(max(0, room) * 3 // 4 + 3)).decode("ascii")
    body, used = [], 0
    while room > 2:
        width = min(76, room - 2)
        body.append(data[used:used + width])
        used += width
        room -= width + 2
    return "\n".join(head + body + tail) + "\n"


def summarise(plain, signed):
    """Medians of the messages per second without (``plain``) and with signing, and the cost.

    The cost is the share of throughput signing takes: 1 - signed / plain, in
    per cent. ``pair_costs`` are the same figure for each repetition's pair
    (runs i of both lists), to show how far the pairs spread.
    """
    if not plain or len(plain) != len(signed):
        raise ValueError("need the same number of runs with and without signing, at least one")
    plain_median, signed_median = statistics.median(plain), statistics.median(signed)
    return dict(
        plain_per_s=round(plain_median, 1), signed_per_s=round(signed_median, 1),
        cost_pct=round(100.0 * (1 - signed_median / plain_median), 1),
        pair_costs=[round(100.0 * (1 - s / p), 1) for p, s in zip(plain, signed)],
    )


def rotated(sides, rep):
    """The sides in the order of repetition ``rep``: each takes each place in turn."""
    shift = rep % len(sides)
    return tuple(sides[shift:]) + tuple(sides[:shift])


def versus_tcp(plain, signed, tcp):
    """The named baseline: the signer over TCP. Its median, its cost and how many times faster the socket signs."""
    if len(tcp) != len(signed):
        raise ValueError("need as many runs over TCP as over the socket")
    tcp_median = statistics.median(tcp)
    return dict(tcp_per_s=round(tcp_median, 1),
                tcp_cost_pct=round(100.0 * (1 - tcp_median / statistics.median(plain)), 1),
                socket_vs_tcp=round(statistics.median(signed) / tcp_median, 2))


# ---------------------------------------------------------------- the signer's log

class SignatureLog(threading.Thread):
    """Stands in for the journal at /dev/log: keeps dkimpy-milter's lines, counts its signatures by algorithm."""

    def __init__(self, path="/dev/log"):
        super().__init__(daemon=True)
        self.path = path
        if os.path.exists(path):
            raise RuntimeError("%s exists: another syslog daemon would take the signer's lines" % path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.counts = {}
        self.other = []

    def run(self):
        while True:
            try:
                line = self.sock.recv(65536).decode("utf-8", "replace")
            except OSError:
                return
            match = SIGNED_LINE.search(line)
            if match:
                self.counts[match.group(1)] = self.counts.get(match.group(1), 0) + 1
            else:
                self.other.append(line)

    def snapshot(self):
        return dict(self.counts)

    def close(self):
        self.sock.close()
        os.unlink(self.path)


# ---------------------------------------------------------------- setup

def start_signer(conf, pidfile, ready):
    """dkimpy-milter with ``conf``, as dkimpy-milter.service runs it (Type=simple), once ``ready()`` holds."""
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    out = "%s/%s.out" % (WORK, os.path.basename(conf))
    signer = subprocess.Popen(["/usr/bin/dkimpy-milter", conf, "-P", pidfile],
                              stdout=open(out, "w"), stderr=subprocess.STDOUT)
    for _unused in range(100):
        try:
            ready()
            return signer
        except OSError:
            if signer.poll() is not None:
                raise RuntimeError("dkimpy-milter (%s) stopped: %s" % (conf, open(out).read()[-2000:]))
            time.sleep(0.1)
    raise RuntimeError("dkimpy-milter (%s) does not answer" % conf)


def connect_unix(path):
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(path)
    finally:
        sock.close()


def write_milter_map(path, milter):
    with open(path, "w") as stream:
        stream.write("".join("%s %s\n" % (re.sub(r"^\[(.*)\]", r"\1", net), milter) for net in MYNETWORKS))


def tcp_variant(conf):
    """The role's configuration with the signer on 127.0.0.1:TCP_PORT instead of its socket."""
    lines = conf.split("\n")
    socket_lines = [i for i, line in enumerate(lines) if line.split()[:1] == ["Socket"]]
    if len(socket_lines) != 1:
        raise ValueError("the configuration has %d Socket lines, not 1" % len(socket_lines))
    lines[socket_lines[0]] = "Socket                  inet:%d@127.0.0.1" % TCP_PORT
    return "\n".join(lines)


def install_signer():
    """Keys, records and configuration as the role makes them; returns (the helper's status, {side: signer process})."""
    os.makedirs(HELPER_DIR, exist_ok=True)
    shutil.copy(STAGE + "/mailrelay-dkim", HELPER_DIR + "/")
    shutil.copy(bench.LIB + "/ansible_collections/mailrelay/exchange/plugins/module_utils/_dkim_record.py", HELPER_DIR + "/")
    bench.sh("install -d -o dkimpy-milter -g dkimpy-milter -m 0700 " + KEY_DIR)
    helper = "python3 %s/mailrelay-dkim" % HELPER_DIR
    bench.sh("%s generate --key-dir %s --selector %s --owner dkimpy-milter" % (helper, KEY_DIR, SELECTOR))
    bench.sh("install -d -o dkimpy-milter -g postfix -m 2750 " + SOCKET_DIR)
    # The records are not in any DNS here: sign at once, as outbound_security_dkim_require_published: false does.
    status = json.loads(bench.sh("%s status --key-dir %s --selector %s --domain %s --sign-unpublished"
                                 % (helper, KEY_DIR, SELECTOR, DOMAIN)))
    with open(STAGE + "/dkimpy-milter.conf.j2") as stream:
        template = stream.read()
    conf = render_template(template, {
        "ansible_managed | comment": "# Rendered by bench/signing_bench.py from the role's template",
        "__outbound_security_dkim_socket": SOCKET, "__outbound_security_domains | join(',')": DOMAIN,
        "__outbound_security_active": status["active"], "outbound_security_dkim_key_dir": KEY_DIR,
    })
    with open(CONF, "w") as stream:
        stream.write(conf)
    with open(TCP_CONF, "w") as stream:
        stream.write(tcp_variant(conf))
    write_milter_map(MILTER_MAP, MILTER)
    write_milter_map(TCP_MILTER_MAP, TCP_MILTER)
    signers = dict(signed=start_signer(CONF, PIDFILE, lambda: connect_unix(SOCKET)))
    signers["tcp"] = start_signer(TCP_CONF, TCP_PIDFILE,
                                  lambda: socket.create_connection(("127.0.0.1", TCP_PORT), timeout=1).close())
    return status, signers


def wire(side):
    """Postfix as postfix_relay renders it with the signer's milter map (``signed``), with the map to the
    signer over TCP (``tcp``), or without one (``unsigned``, the baseline)."""
    milter_map = {"unsigned": "", "signed": "cidr:" + MILTER_MAP, "tcp": "cidr:" + TCP_MILTER_MAP}[side]
    bench.postfix_reload(dict(smtpd_milter_maps=milter_map, milter_default_action="tempfail"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def send(path, count, recipient=RECIPIENT):
    """smtp-source as Exchange; returns once the Postfix log shows ``count`` deliveries."""
    offset = bench.log_size()
    command = "smtp-source -d -s %d -m %d -F %s -f %s -t %s 127.0.0.1:25" % (
        min(SESSIONS, count), count, path, SENDER, recipient)
    if command not in COMMANDS:
        COMMANDS.append(command)
    bench.sh(command)
    delivered, deadline = 0, time.monotonic() + 300
    with open(bench.POSTFIX_LOG, errors="replace") as stream:
        stream.seek(offset)
        rest = ""
        while delivered < count:
            lines = (rest + stream.read()).split("\n")
            rest = lines.pop()
            for line in lines:
                if " status=sent " in line:
                    delivered += 1
                elif re.search(r" status=(deferred|bounced)| reject: ", line):
                    raise RuntimeError("the relay did not deliver: %s" % line)
            if time.monotonic() > deadline:
                raise RuntimeError("%d of %d messages delivered after 300 s" % (delivered, count))
            time.sleep(0.02)


def signatures_since(log, before, expected, timeout=10):
    """Signatures logged since ``before``, waiting up to ``timeout`` s for ``expected`` of each algorithm."""
    deadline = time.monotonic() + timeout
    while True:
        now = log.snapshot()
        made = {algorithm: now.get(algorithm, 0) - before.get(algorithm, 0) for algorithm in ("rsa-sha256", "ed25519-sha256")}
        if all(n >= expected for n in made.values()) or time.monotonic() > deadline:
            return made
        time.sleep(0.05)


def probe(signed, status, path):
    """One message through the relay to a dumping sink: the signatures it carries, each verified."""
    import dkim

    dump_dir = bench.fresh_dir(WORK + "/probe")
    bench.sh("chown postfix %s" % dump_dir)
    send(path, 1, PROBE_RECIPIENT)
    dumps = os.listdir(dump_dir)
    if len(dumps) != 1:
        raise RuntimeError("the probe sink holds %d messages, not 1" % len(dumps))
    with open(os.path.join(dump_dir, dumps[0]), "rb") as stream:
        lines = stream.read().split(b"\n")
    # smtp-sink's own records first; then the message, with LF line ends.
    while lines and SINK_HEADER.match(lines[0]):
        lines.pop(0)
    raw = b"\r\n".join(lines)
    records = {"%s-%s" % (SELECTOR, key_type): text.encode("ascii")
               for key_type, text in status["records"][SELECTOR].items()}
    found = []
    checker = dkim.DKIM(raw)
    for index in range(sum(1 for name, _value in checker.headers if name.lower() == b"dkim-signature")):
        valid = checker.verify(idx=index, dnsfunc=lambda name, timeout=5: records.get(name.split(b".")[0].decode()))
        fields = checker.signature_fields
        found.append(dict(algorithm=fields[b"a"].decode(), selector=fields[b"s"].decode(), domain=fields[b"d"].decode(),
                          valid=bool(valid)))
    want = sorted(["rsa-sha256", "ed25519-sha256"]) if signed else []
    if sorted(sig["algorithm"] for sig in found) != want or not all(sig["valid"] and sig["domain"] == DOMAIN for sig in found):
        raise RuntimeError("probe %s signing carried %s" % ("with" if signed else "without", found))
    return found


def signing_alone(path, reps=5):
    """CPU milliseconds python3-dkim takes to sign the message once with each key, in this process (median)."""
    import dkim

    with open(path, "rb") as stream:
        raw = stream.read().replace(b"\n", b"\r\n")
    costs = {}
    for key_type, algorithm in (("rsa", b"rsa-sha256"), ("ed25519", b"ed25519-sha256")):
        with open("%s/%s-%s.key" % (KEY_DIR, SELECTOR, key_type), "rb") as stream:
            key = stream.read().strip() if key_type == "ed25519" else stream.read()
        times = []
        for _unused in range(reps):
            begin = time.process_time()
            dkim.DKIM(raw).sign(b"x", DOMAIN.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                                signature_algorithm=algorithm)
            times.append(1000.0 * (time.process_time() - begin))
        costs[key_type] = round(statistics.median(times), 2)
    return costs


def versions():
    return {name: bench.sh("dpkg-query -W -f '${Version}' %s" % name).strip()
            for name in ("dkimpy-milter", "python3-dkim", "python3-nacl")}


# ---------------------------------------------------------------- the section

def section():
    reps = max(3, bench.REPS)
    bench.fresh_dir(WORK)
    load_at_start = " ".join(bench.sh("cat /proc/loadavg").split()[:3])
    started = time.monotonic()
    main_cf = WORK + "/main.cf.before"
    shutil.copy("/etc/postfix/main.cf", main_cf)
    log = SignatureLog()
    log.start()
    signers, probe_sink = {}, None
    try:
        status, signers = install_signer()
        # The role's mynetworks (the relay itself; Exchange is 127.0.0.1 here); the sink is "the internet".
        bench.postconf(dict(mynetworks=" ".join(MYNETWORKS), transport_maps="inline:{sink.example.net=smtp:[127.0.0.1]:2525, "
                            "probe.example.net=smtp:[127.0.0.1]:%d}" % PROBE_PORT))
        probe_sink = subprocess.Popen(["smtp-sink", "-u", "postfix", "-d", WORK + "/probe/%H%M%S.",
                                       "127.0.0.1:%d" % PROBE_PORT, "16"])
        files = {}
        for size, _count in SIZES:
            files[size] = "%s/message-%d.eml" % (WORK, size)
            with open(files[size], "w") as stream:
                stream.write(message(size))
        probes = {}
        for side in SIDES:
            wire(side)
            probes[side] = probe(side != "unsigned", status, files[SIZES[0][0]])
        rows = []
        for size, count in SIZES:
            rates = {side: [] for side in SIDES}
            cpu_ms = []
            for rep in range(reps):
                for side in rotated(SIDES, rep):
                    signed = side != "unsigned"
                    wire(side)
                    before, cpu = log.snapshot(), cpu_seconds(signers["signed"].pid)
                    begin = time.monotonic()
                    send(files[size], count)
                    wall = time.monotonic() - begin
                    made = signatures_since(log, before, count if signed else 0, timeout=10 if signed else 0)
                    if made != {"rsa-sha256": count if signed else 0, "ed25519-sha256": count if signed else 0}:
                        raise RuntimeError("%d messages %s, signatures logged: %s; the signer's other lines: %s"
                                           % (count, side, made, log.other[-5:]))
                    rates[side].append(count / wall)
                    if side == "signed":
                        cpu_ms.append(1000.0 * (cpu_seconds(signers["signed"].pid) - cpu) / count)
            row = dict(size=size, messages=count, reps=reps, sessions=SESSIONS,
                       plain_runs=[round(r, 1) for r in rates["unsigned"]],
                       signed_runs=[round(r, 1) for r in rates["signed"]], tcp_runs=[round(r, 1) for r in rates["tcp"]],
                       signer_cpu_ms=round(statistics.median(cpu_ms), 2), signing_alone_ms=signing_alone(files[size]))
            row.update(summarise(rates["unsigned"], rates["signed"]))
            row.update(versus_tcp(rates["unsigned"], rates["signed"], rates["tcp"]))
            rows.append(row)
            bench.log("signing %d bytes: %.1f msgs/s without, %.1f with signing (cost %.1f %%; signer %.1f ms CPU a message); "
                      "over TCP %.1f (cost %.1f %%)" % (size, row["plain_per_s"], row["signed_per_s"], row["cost_pct"],
                                                        row["signer_cpu_ms"], row["tcp_per_s"], row["tcp_cost_pct"]))
    finally:
        for process in list(signers.values()) + [probe_sink]:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        log.close()
        shutil.copy(main_cf, "/etc/postfix/main.cf")
        bench.sh("postfix reload")
    return dict(rows=rows, probes=probes, versions=versions(), selector=SELECTOR, domain=DOMAIN, commands=COMMANDS,
                load_at_start=load_at_start, load_at_end=" ".join(bench.sh("cat /proc/loadavg").split()[:3]),
                seconds=round(time.monotonic() - started, 1))


# ---------------------------------------------------------------- report (report.py)

def size_label(size):
    return "%g MB" % (size / 1e6) if size >= 1000000 else "%g kB" % (size / 1e3)


def summary(section):
    """One line for the summary of docs/benchmarks.md."""
    def each(text):
        return " and ".join("%s (%s)" % (text % row, size_label(row["size"])) for row in section["rows"])

    met = all(row["cost_pct"] < 10 for row in section["rows"])
    return ("DKIM signing (dkimpy-milter, RSA + Ed25519, on the role's Unix socket) takes {} of the relay's throughput "
            "(goal under 10 %: {}; over TCP, as the role ran it before: {}); the signer used {} of CPU a message.".format(
                each("%(cost_pct).1f %%"), "met" if met else "**not met**", each("%(tcp_cost_pct).1f %%"),
                each("%(signer_cpu_ms).1f ms")))


def report(section, table):
    """The section of docs/benchmarks.md; ``table`` is report.py's."""
    if not section:
        return "(not run)"
    rows = [(size_label(row["size"]), "{:,}".format(row["messages"]), row["reps"], "%.1f" % row["plain_per_s"],
             "%.1f" % row["signed_per_s"], "**%.1f %%**" % row["cost_pct"],
             " / ".join("%.1f" % cost for cost in row["pair_costs"]),
             "%.1f" % row["tcp_per_s"], "%.1f %%" % row["tcp_cost_pct"], "%.2f x" % row["socket_vs_tcp"],
             "%.1f ms" % row["signer_cpu_ms"],
             "%.1f / %.1f ms" % (row["signing_alone_ms"]["rsa"], row["signing_alone_ms"]["ed25519"]),
             "%.0f" % (1000.0 / row["signer_cpu_ms"]))
            for row in section["rows"]]
    versions = section["versions"]
    probes = section["probes"]
    signed = " and ".join("%s (s=%s, d=%s, %s)" % (sig["algorithm"], sig["selector"], sig["domain"],
                                                   "valid" if sig["valid"] else "INVALID")
                          for sig in probes["signed"])
    return "\n".join([
        "Baseline: **the same relay without signing** (no `smtpd_milter_maps`, as postfix_relay renders main.cf "
        "while no selector signs), measured in the same run. Signer: dkimpy-milter {milter} (python3-dkim {dkim}, "
        "python3-nacl {nacl}) with the configuration rendered from the role's `dkimpy-milter.conf.j2` (Mode s, "
        "relaxed/relaxed, an RSA-2048 and an Ed25519 key of selector `{selector}` made by the role's "
        "`mailrelay-dkim` helper, every signature logged), reached through `smtpd_milter_maps` on the role's "
        "socket `{milter_addr}` (in Postfix's queue directory) with `milter_default_action = tempfail`. Second "
        "named baseline: **the same signer over TCP** on `{tcp_addr}`, as the role ran it before, a second "
        "dkimpy-milter with the same keys and configuration but for its `Socket` line.".format(
            milter=versions["dkimpy-milter"], dkim=versions["python3-dkim"], nacl=versions["python3-nacl"],
            selector=section["selector"], milter_addr=MILTER, tcp_addr=TCP_MILTER),
        "",
        "A run: smtp-source (as Exchange: 127.0.0.1, in mynetworks) sends the messages over {sessions} parallel "
        "sessions, `From:` the signing domain {domain}, to an internet recipient; the relay delivers them to "
        "smtp-sink. Timed from smtp-source's start until the Postfix log shows every message delivered. Each "
        "message is a short text part and a base64 attachment. Runs without signing, with signing and with signing "
        "over TCP alternate, the order rotated every repetition, each after a `postfix reload`. Cost: 1 - (msgs/s "
        "with signing) / (msgs/s without), medians; the pairs column gives it for each repetition; socket vs TCP: "
        "msgs/s with signing on the socket divided by msgs/s with signing over TCP.".format(
            sessions=SESSIONS, domain=section["domain"]),
        "",
        table(("message size", "messages a run", "runs each", "msgs/s without signing (median)",
               "msgs/s with signing (median)", "cost", "cost per pair", "msgs/s signing over TCP (median)",
               "cost over TCP", "socket vs TCP", "signer CPU a message",
               "RSA / Ed25519 signature alone", "signer's ceiling, msgs/s"), rows),
        "",
        "Checks: every signed run logged one RSA and one Ed25519 signature a message (dkimpy-milter's "
        "`SyslogSuccess` lines, read at /dev/log), every unsigned run none. A probe message caught by a dumping "
        "sink carried, with signing (on the socket and over TCP alike), {signed}; without, {unsigned}.".format(
            signed=signed, unsigned="no DKIM-Signature" if not probes["unsigned"] else probes["unsigned"]),
        "",
        "Signer CPU: dkimpy-milter's CPU time (all its threads) in a signed run divided by its messages. It is one "
        "Python process whose signing code runs on one core at a time (the interpreter lock) however many the "
        "relay has: the ceiling column is 1000 ms divided by that CPU time. \"Signature alone\": the CPU time of "
        "python3-dkim signing the same message once with each key in the bench's own Python (median of 5): the part of the "
        "signer's time each signature takes (each canonicalises and hashes the whole body). Both sides speak "
        "plain SMTP over the loopback (smtp-source and smtp-sink have no TLS), so the baseline is faster than a "
        "relay with TLS and the cost is, if anything, overstated.",
        "",
        "Load average (1, 5, 15 min) at the start and end of this section: {start} / {end}; the section took "
        "{seconds:.0f} s.".format(start=section["load_at_start"], end=section["load_at_end"],
                                  seconds=section["seconds"]),
        "",
        "Commands (run inside `bench-lab`):\n\n```\n%s\n```\n" % "\n".join(section["commands"]),
    ])
