# -*- coding: utf-8 -*-
"""The pure parts of make bench's signing section: template, messages, figures, report, signature count."""

import email
import os
import socket
import sys
import time

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench"))

import signing_bench as sb  # noqa: E402  (bench/ is not a package)
from report import table  # noqa: E402

TEMPLATE = os.path.join(REPO, "roles", "outbound_security", "templates", "dkimpy-milter.conf.j2")
ROLE_VALUES = {
    "ansible_managed | comment": "# managed",
    "__outbound_security_dkim_socket": "/var/spool/postfix/dkimpy-milter/dkimpy-milter.sock",
    "__outbound_security_domains | join(',')": "example.com", "__outbound_security_active": "mr1",
    "outbound_security_dkim_key_dir": "/etc/dkimpy-milter/keys",
}


def test_the_roles_template_renders_with_both_keys_and_nothing_left_over():
    with open(TEMPLATE) as stream:
        conf = sb.render_template(stream.read(), ROLE_VALUES)
    settings = dict(line.split(None, 1) for line in conf.splitlines() if line and not line.startswith("#"))
    assert settings["Socket"] == "local:/var/spool/postfix/dkimpy-milter/dkimpy-milter.sock"
    assert settings["Selector"] == "mr1-rsa"
    assert settings["KeyFile"] == "/etc/dkimpy-milter/keys/mr1-rsa.key"
    assert settings["SelectorEd25519"] == "mr1-ed25519"
    assert settings["KeyFileEd25519"] == "/etc/dkimpy-milter/keys/mr1-ed25519.key"
    assert settings["Domain"] == "example.com"
    assert "{{" not in conf and "}}" not in conf


def test_an_expression_the_bench_does_not_know_is_an_error():
    with pytest.raises(ValueError, match=r"outbound_security_new_option"):
        sb.render_template("Domain {{ __outbound_security_domains | join(',') }}\nX {{ outbound_security_new_option }}\n",
                           ROLE_VALUES)


def test_the_bench_reaches_the_signer_where_the_role_puts_it():
    with open(os.path.join(REPO, "roles", "outbound_security", "vars", "main.yml")) as stream:
        role_vars = yaml.safe_load(stream)
    socket_dir = role_vars["__outbound_security_dkim_socket_dir"]
    assert sb.SOCKET_DIR == socket_dir
    socket_path = role_vars["__outbound_security_dkim_socket"]
    assert sb.SOCKET == socket_path.replace("{{ __outbound_security_dkim_socket_dir }}", socket_dir)
    assert sb.MILTER == role_vars["__outbound_security_milter"]
    # Postfix resolves the milter's path from its queue directory.
    assert "/var/spool/postfix/" + sb.MILTER.split(":", 1)[1] == sb.SOCKET


def test_the_tcp_baseline_changes_the_socket_line_only():
    with open(TEMPLATE) as stream:
        conf = sb.render_template(stream.read(), ROLE_VALUES)
    tcp = sb.tcp_variant(conf)
    changed = [(old, new) for old, new in zip(conf.split("\n"), tcp.split("\n")) if old != new]
    assert changed == [("Socket                  local:/var/spool/postfix/dkimpy-milter/dkimpy-milter.sock",
                        "Socket                  inet:8892@127.0.0.1")]
    with pytest.raises(ValueError, match="2 Socket lines"):
        sb.tcp_variant(conf + "\nSocket inet:1@127.0.0.1\n")


def test_each_side_takes_each_place_in_turn():
    orders = [sb.rotated(sb.SIDES, rep) for rep in range(3)]
    assert orders == [("unsigned", "signed", "tcp"), ("signed", "tcp", "unsigned"), ("tcp", "unsigned", "signed")]
    assert sb.rotated(sb.SIDES, 3) == orders[0]


def test_versus_tcp_compares_medians():
    figures = sb.versus_tcp([100.0, 100.0, 100.0], [40.0, 50.0, 45.0], [30.0, 25.0, 20.0])
    assert figures == dict(tcp_per_s=25.0, tcp_cost_pct=75.0, socket_vs_tcp=1.8)
    with pytest.raises(ValueError):
        sb.versus_tcp([100.0], [40.0, 50.0], [30.0])


def test_a_template_block_is_an_error():
    with pytest.raises(ValueError, match=r"{%"):
        sb.render_template("{% if x %}Mode s{% endif %}\n", ROLE_VALUES)


@pytest.mark.parametrize("size", [10000, 1000000])
def test_a_message_has_its_size_on_the_wire_and_the_signing_domain_as_author(size):
    text = sb.message(size)
    lines = text.split("\n")[:-1]
    assert abs(sum(len(line) + 2 for line in lines) - size) <= 2
    assert max(len(line) for line in lines) <= 78
    parsed = email.message_from_string(text)
    assert parsed["From"] == "Sales <sales@%s>" % sb.DOMAIN
    attachment = parsed.get_payload()[1]
    assert len(attachment.get_payload(decode=True)) > 0.65 * size  # base64 of 57 bytes a 78-byte line


def test_summarise_takes_medians_and_the_share_of_throughput_lost():
    figures = sb.summarise([100.0, 90.0, 110.0], [80.0, 95.0, 60.0])
    assert figures["plain_per_s"] == 100.0
    assert figures["signed_per_s"] == 80.0
    assert figures["cost_pct"] == 20.0
    assert figures["pair_costs"] == [20.0, -5.6, 45.5]


@pytest.mark.parametrize("plain, signed", [([], []), ([1.0, 2.0], [1.0])])
def test_summarise_needs_pairs(plain, signed):
    with pytest.raises(ValueError):
        sb.summarise(plain, signed)


def section(cost_small, cost_large):
    rows = []
    for size, cost in ((10000, cost_small), (1000000, cost_large)):
        row = dict(size=size, messages=100, reps=3, signer_cpu_ms=8.0, signing_alone_ms=dict(rsa=7.5, ed25519=0.4))
        row.update(sb.summarise([100.0, 100.0, 100.0], [100.0 - cost] * 3))
        row.update(sb.versus_tcp([100.0] * 3, [100.0 - cost] * 3, [25.0] * 3))
        rows.append(row)
    return dict(
        rows=rows, versions={"dkimpy-milter": "1.2.3-1", "python3-dkim": "1.1.4-1", "python3-nacl": "1.5.0-2"},
        probes=dict(signed=[dict(algorithm="rsa-sha256", selector="bench-rsa", domain="example.com", valid=True)],
                    unsigned=[]),
        selector="bench", domain="example.com", load_at_start="1.00 0.50 0.25", load_at_end="2.00 1.00 0.50",
        seconds=120.4, commands=["smtp-source -m 100 127.0.0.1:25"])


def test_the_report_shows_each_size_the_load_and_the_goal():
    text = sb.report(section(5.0, 50.0), table)
    assert ("| 10 kB | 100 | 3 | 100.0 | 95.0 | **5.0 %** | 5.0 / 5.0 / 5.0 | 25.0 | 75.0 % | 3.80 x | 8.0 ms "
            "| 7.5 / 0.4 ms | 125 |") in text
    assert "| 1 MB | 100 | 3 | 100.0 | 50.0 | **50.0 %** |" in text
    assert "1.00 0.50 0.25 / 2.00 1.00 0.50" in text
    assert "smtp-source -m 100 127.0.0.1:25" in text
    assert "**not met**" in sb.summary(section(5.0, 50.0))
    assert "**not met**" not in sb.summary(section(5.0, 9.9))


def test_a_section_that_did_not_run_says_so():
    assert sb.report(None, table) == "(not run)"


def test_the_signature_log_counts_each_algorithm_and_keeps_the_rest(tmp_path):
    path = str(tmp_path / "log")
    log = sb.SignatureLog(path)
    log.start()
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    # As dkimpy-milter's syslog() sends them (glibc's format).
    for line in ("<22>Nov 30 15:54:12 dkimpy-milter[91]: 0139547: rsa-sha256 DKIM signature added (s=b-rsa d=example.com)",
                 "<22>Nov 30 15:54:12 dkimpy-milter[91]: 0139547: ed25519-sha256 DKIM signature added (s=b-ed25519 d=example.com)",
                 "<22>Nov 30 15:54:13 dkimpy-milter[91]: 0139548: rsa-sha256 DKIM signature added (s=b-rsa d=example.com)",
                 "<22>Nov 30 15:54:13 dkimpy-milter[91]: sign_dkim: something failed"):
        sender.sendto(line.encode(), path)
    deadline = time.monotonic() + 5
    while len(log.other) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.snapshot() == {"rsa-sha256": 2, "ed25519-sha256": 1}
    assert log.other == ["<22>Nov 30 15:54:13 dkimpy-milter[91]: sign_dkim: something failed"]
    log.close()
    assert not os.path.exists(path)


def test_the_signature_log_refuses_a_socket_that_is_there(tmp_path):
    path = tmp_path / "log"
    path.write_text("")
    with pytest.raises(RuntimeError, match="exists"):
        sb.SignatureLog(str(path))
