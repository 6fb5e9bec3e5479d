# -*- coding: utf-8 -*-
"""The outbound_security role's DKIM helper: keys made once, records from them, DNS states."""

import base64
import json
import os
import shutil
import stat

import pytest
from conftest import load_script

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dkim_record as dr

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


helper = load_script("roles/outbound_security/files/mailrelay-dkim", "mailrelay_dkim")


def test_generate_makes_both_keys_once_private(tmp_path):
    created = helper.generate(str(tmp_path), "mr1")
    assert sorted(os.path.basename(p) for p in created) == ["mr1-ed25519.key", "mr1-rsa.key"]
    for path in created:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = [open(p, "rb").read() for p in created]
    assert helper.generate(str(tmp_path), "mr1") == []
    assert [open(p, "rb").read() for p in created] == before
    assert len(base64.b64decode(open(created[1]).read().strip())) == 32


def test_rsa_public_key_is_2048_bits(tmp_path):
    helper.generate(str(tmp_path), "mr1")
    der = base64.b64decode(helper.public_key("rsa", str(tmp_path / "mr1-rsa.key")))
    assert len(der) == 294  # SubjectPublicKeyInfo of a 2048-bit key with exponent 65537


def test_ed25519_public_key_from_a_known_seed(tmp_path):
    # RFC 8032, section 7.1, TEST 1: the secret key and its public key.
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    path = tmp_path / "t-ed25519.key"
    path.write_text(base64.b64encode(seed).decode() + "\n")
    public = base64.b64decode(helper.public_key("ed25519", str(path)))
    assert public.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def test_damaged_keys_are_refused(tmp_path):
    (tmp_path / "bad-ed25519.key").write_text("c2hvcnQ=\n")
    with pytest.raises(RuntimeError, match="not an Ed25519 seed"):
        helper.public_key("ed25519", str(tmp_path / "bad-ed25519.key"))
    (tmp_path / "bad-rsa.key").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(RuntimeError, match="openssl pkey failed"):
        helper.public_key("rsa", str(tmp_path / "bad-rsa.key"))


def test_status_reports_states_zone_and_active(tmp_path):
    for base in ("mr1", "mr2"):
        helper.generate(str(tmp_path), base)
    first = helper.status(str(tmp_path), ["mr1", "mr2"], ["example.com"], lambda name: [])
    published = {}
    for base in ("mr1",):
        for key_type in dr.KEY_TYPES:
            published["%s-%s._domainkey.example.com" % (base, key_type)] = [first["records"][base][key_type]]
    result = helper.status(str(tmp_path), ["mr1", "mr2"], ["example.com"], lambda name: published.get(name, []))
    assert result["status"]["mr1"]["example.com"] == {"rsa": "published", "ed25519": "published"}
    assert result["status"]["mr2"]["example.com"] == {"rsa": "missing", "ed25519": "missing"}
    assert result["active"] == "mr1"
    assert len(result["zone"]["example.com"]) == 4
    assert first["active"] is None


def test_command_line_refuses_bad_selector_and_reports_dns_errors(tmp_path, capsys, monkeypatch):
    assert helper.main(["generate", "--key-dir", str(tmp_path), "--selector", "Bad_Name"]) == 1
    assert "lower-case letters" in capsys.readouterr().err
    assert helper.main(["generate", "--key-dir", str(tmp_path), "--selector", "mr1"]) == 0
    assert len(json.loads(capsys.readouterr().out)["created"]) == 2

    def timeout(name):
        raise helper.LookupError_("%s: The DNS operation timed out" % name)

    monkeypatch.setattr(helper, "dns_txt", timeout)
    code = helper.main(["status", "--key-dir", str(tmp_path), "--selector", "mr1", "--domain", "example.com"])
    assert code == 2
    assert "DNS gave no usable answer for mr1-rsa._domainkey.example.com" in capsys.readouterr().err
    assert helper.main(["status", "--key-dir", str(tmp_path), "--selector", "mr1", "--domain", "example.com",
                        "--sign-unpublished"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] == "mr1"
