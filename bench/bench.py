# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmarks of issue 6, run inside the bench-lab container by bench/run.sh.

Everything (slapd, Postfix, the module, the load generators) runs in the one
container over its loopback, so a run measures this machine, not the network.
Each figure is the median of several runs and is set against a named baseline
measured in the same run. Results go to WORK/results.json; report.py renders
docs/benchmarks.md from them.

Environment: BENCH_SIZES (default "10000 100000 300000"), BENCH_REPS (5),
BENCH_MIXES (default "smtp exchange": the fixtures of fixtures.py; section 1
runs once per mix),
BENCH_MAP_SIZES ("100000 1000000"), BENCH_ATTACK_SECONDS (15),
BENCH_ROLE_LIMITS (JSON of the role's anti-harvesting defaults), BENCH_SECTIONS
(default all: export startup profile noop maps attack signing; signing: signing_bench.py).
"""

import json
import os
import pstats
import secrets
import shlex
import statistics
import subprocess
import time

import fixtures
import signing_bench

ROOT = "/opt/bench"
LIB = ROOT + "/lib"
WORK = "/var/bench"
MODULE = LIB + "/ansible_collections/mailrelay/exchange/plugins/modules/relay_recipient_map.py"
SLAPD_CONF = "/etc/ldap/bench.d"
PWFILE = WORK + "/bindpw"
LDAP_URI = "ldap://127.0.0.1:389"
DOMAINS = ["example.com", "example.org"]
FILTER = "(proxyAddresses=smtp:*)"
SUFFIXES = {"cdb": ".cdb", "lmdb": ".lmdb", "hash": ".db"}
POSTFIX_LOG = "/var/log/postfix.log"
LEGIT_SOURCE = "127.0.0.2"
# 48 messages a minute: under the role's 60 connections a minute per client.
LEGIT_INTERVAL = 1.25

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "10000 100000 300000").split()]
REPS = int(os.environ.get("BENCH_REPS", "5"))
MAP_SIZES = [int(n) for n in os.environ.get("BENCH_MAP_SIZES", "100000 1000000").split()]
ATTACK_SECONDS = float(os.environ.get("BENCH_ATTACK_SECONDS", "15"))
ROLE_LIMITS = json.loads(os.environ.get("BENCH_ROLE_LIMITS", "{}"))
MIXES = os.environ.get("BENCH_MIXES", "smtp exchange").split()
SECTIONS = os.environ.get("BENCH_SECTIONS", "export startup profile noop maps attack signing").split()
# The module of another commit (run.sh stages BENCH_AB_REF's plugins there): section "ab"
# runs it against this tree's module, interleaved, on the export's directories.
AB_LIB = os.environ.get("BENCH_AB_LIB", "")
AB_REF = os.environ.get("BENCH_AB_REF", "")
AB_REPS = int(os.environ.get("BENCH_AB_REPS", "9"))
# The profile is taken on the data users should read: the exchange mix when it runs.
PROFILE_MIX = "exchange" if "exchange" in MIXES else MIXES[0]
NOOP_N = 100000 if 100000 in SIZES else SIZES[len(SIZES) // 2]

COMMANDS = {}


def note(section, command):
    """Remember a command line for the report (one example per kind)."""
    COMMANDS.setdefault(section, [])
    if command not in COMMANDS[section]:
        COMMANDS[section].append(command)


def sh(command, check=True, env=None):
    proc = subprocess.run(command, shell=True, check=False, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (command, proc.returncode, (proc.stderr or proc.stdout)[-2000:]))
    return proc.stdout


def timed(command, env=None):
    """Run ``command`` under GNU time: (wall seconds, peak RSS of the largest process in MB, stdout)."""
    started = time.monotonic()
    out = sh("/usr/bin/time -f %%M -o %s/time.out %s" % (WORK, command), env=env)
    wall = time.monotonic() - started
    with open(WORK + "/time.out") as stream:
        rss_kb = int(stream.read().split()[-1])
    return wall, rss_kb / 1024.0, out


def median(values):
    return round(statistics.median(values), 4)


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


# ---------------------------------------------------------------- slapd

SLAPD_CONFIG = """dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: /run/slapd/slapd.pid
olcLogLevel: none

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: cn=bench,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: bench
olcAttributeTypes: ( 2.25.286419731850412766519214094117101940001 NAME 'proxyAddresses'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
olcAttributeTypes: ( 2.25.286419731850412766519214094117101940003 NAME 'targetAddress'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcObjectClasses: ( 2.25.286419731850412766519214094117101940002 NAME 'benchRecipient'
  SUP top AUXILIARY MAY ( proxyAddresses $ targetAddress ) )

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config

dn: olcDatabase={{1}}monitor,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{1}}monitor
olcAccess: {{0}}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth read by * none
{databases}"""

# AD-like limits: 1000 entries for an unpaged search and per page, paged total
# unlimited; the export binds as an ordinary entry because the rootdn ignores limits.
SLAPD_DATABASE = """
dn: olcDatabase={{{index}}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{{index}}}mdb
olcSuffix: {suffix}
olcDbDirectory: {directory}
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: proxyAddresses eq
olcLimits: {{0}}users size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited
olcLimits: {{1}}anonymous size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited
olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none
olcAccess: {{1}}to * by users read by * none
"""


def suffix_of(n, mix="smtp"):
    return "o=%s%d" % ("n" if mix == "smtp" else "x", n)


def bind_dn(n, mix="smtp"):
    return "cn=relay," + suffix_of(n, mix)


def setup_slapd(databases):
    """One database per (mix, N) in ``databases``, loaded with slapadd; then start slapd."""
    sh("rm -rf %s /var/lib/ldap/bench-* && mkdir -p %s /run/slapd" % (SLAPD_CONF, SLAPD_CONF))
    directory = "/var/lib/ldap/bench-%s-%d"
    config = "".join(
        SLAPD_DATABASE.format(index=i + 2, suffix=suffix_of(n, mix), directory=directory % (mix, n))
        for i, (mix, n) in enumerate(databases)
    )
    with open(WORK + "/slapd-config.ldif", "w") as stream:
        stream.write(SLAPD_CONFIG.format(databases=config))
    sh(" && ".join("mkdir -p " + directory % db for db in databases))
    sh("slapadd -n0 -F %s -l %s/slapd-config.ldif" % (SLAPD_CONF, WORK))
    with open(os.open(PWFILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        stream.write(secrets.token_hex(16))
    password_hash = sh("slappasswd -T %s" % PWFILE).strip()
    loads = {}
    for mix, n in databases:
        ldif = "%s/users-%s-%d.ldif" % (WORK, mix, n)
        sh("python3 %s/fixtures.py ldif %s %d '%s' %s > %s" % (ROOT, suffix_of(n, mix), n, password_hash, mix, ldif))
        started = time.monotonic()
        sh("slapadd -q -F %s -b %s -l %s" % (SLAPD_CONF, suffix_of(n, mix), ldif))
        loads["%s-%d" % (mix, n)] = round(time.monotonic() - started, 2)
        os.unlink(ldif)
        log("slapadd %d recipients (%s mix): %.1f s" % (n, mix, loads["%s-%d" % (mix, n)]))
    sh("slapd -F %s -h '%s/ ldapi:///'" % (SLAPD_CONF, LDAP_URI))
    for _unused in range(50):
        if sh("ldapsearch -x -H %s -s base -b '' -LLL 1.1" % LDAP_URI, check=False) != "":
            break
        time.sleep(0.2)
    return loads


def slapd_searches():
    """Completed search operations, from the monitor backend (this query counts itself once)."""
    out = sh("ldapsearch -Q -Y EXTERNAL -H ldapi:/// -b cn=Search,cn=Operations,cn=Monitor -s base "
             "-LLL monitorOpCompleted")
    for line in out.splitlines():
        if line.startswith("monitorOpCompleted:"):
            return int(line.split(":")[1])
    raise RuntimeError("no monitorOpCompleted in %r" % out)


def check_size_limit(n):
    """Prove the limit bites: an unpaged search as the relay account stops at 1000."""
    out = sh("ldapsearch -x -H %s -D %s -y %s -b %s -LLL '%s' 1.1 2>&1; true"
             % (LDAP_URI, bind_dn(n), PWFILE, suffix_of(n), FILTER))
    return dict(entries=out.count("dn: "), size_limit_exceeded="Size limit exceeded" in out)


# ---------------------------------------------------------------- §1 export + build

def module_args(n, map_path, mix="smtp", **extra):
    with open(PWFILE) as stream:
        password = stream.read()
    args = dict(
        source="ldap", server_uris=[LDAP_URI], allow_plaintext=True, bind_dn=bind_dn(n, mix),
        bind_password=password, base_dns=[suffix_of(n, mix)], domains=DOMAINS, map_path=map_path,
        map_type="cdb", must_exist=[],
        # The first build needs an explicit floor; the bench checks the exact count itself.
        min_entries=1,
    )
    args.update(extra)
    path = "%s/args-%d-%s.json" % (WORK, n, os.path.basename(os.path.dirname(map_path)))
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        json.dump(dict(ANSIBLE_MODULE_ARGS=args), stream)
    return path


def module_command(args_path, profile=None, lib=LIB):
    runner = "python3 -m cProfile -o %s" % profile if profile else "python3"
    module = MODULE.replace(LIB, lib, 1)
    return "env PYTHONPATH=%s %s %s %s" % (lib, runner, module, args_path)


def pipeline_command(n, map_dir, mix="smtp", server=None):
    """The C pipeline; ``server`` (uri, bind_dn, base, env) is another directory than this slapd (samba_bench.py)."""
    server = server or dict(uri=LDAP_URI, bind_dn=bind_dn(n, mix), base=suffix_of(n, mix), env="")
    source = map_dir + "/relay_recipients"
    return (
        "sh -c \"%sldapsearch -x -H %s -D %s -y %s -b %s -E pr=1000/noprompt -o ldif-wrap=no -LLL '%s' proxyAddresses"
        " | awk -f %s/pipeline.awk | LC_ALL=C sort -u > %s && postmap cdb:%s\""
        % (server["env"], server["uri"], server["bind_dn"], PWFILE, server["base"], FILTER, ROOT, source, source)
    )


def fresh_dir(path):
    sh("rm -rf %s && mkdir -p %s" % (path, path))
    return path


def run_module(args_path, lib=LIB):
    wall, rss, out = timed(module_command(args_path, lib=lib))
    result = json.loads(out)
    if result.get("failed"):
        raise RuntimeError("module failed: %s" % result.get("msg"))
    return wall, rss, result


def section_export(mix, sizes=None, server=None, section="export"):
    """Module vs C pipeline for each N of ``sizes`` (default SIZES); ``server``: see pipeline_command,
    with ``module``, the module's arguments for that directory."""
    rows = {}
    for n in sizes or SIZES:
        reps = REPS if n < 300000 else max(3, REPS - 2)
        entries = fixtures.relay_entries(n, mix)
        mod_t, mod_rss, c_t, c_rss = [], [], [], []
        for rep in range(reps):
            mdir = fresh_dir("%s/export/module-%s-%d" % (WORK, mix, n))
            args = module_args(n, mdir + "/relay_recipients", mix, **(server["module"] if server else {}))
            cdir = fresh_dir("%s/export/c-%s-%d" % (WORK, mix, n))
            command = pipeline_command(n, cdir, mix, server)
            # Alternate the order so neither side always runs on a warm cache.
            order = ("module", "c") if rep % 2 == 0 else ("c", "module")
            for side in order:
                if side == "module":
                    wall, rss, result = run_module(args)
                    if result["entries"] != entries or not result["changed"]:
                        raise RuntimeError("module built %s entries for %d recipients (%s mix), not %d"
                                           % (result["entries"], n, mix, entries))
                    mod_t.append(wall)
                    mod_rss.append(rss)
                else:
                    wall, rss, _unused = timed(command)
                    c_t.append(wall)
                    c_rss.append(rss)
            note(section, module_command(args))
            note(section, command)
        same = sh("cmp -s %s/relay_recipients %s/relay_recipients && echo yes || echo no" % (mdir, cdir)).strip()
        rows[n] = dict(
            mix=mix, entries=entries, refused=result["refused_count"], reps=reps, module_s=median(mod_t), module_rss_mb=median(mod_rss), c_s=median(c_t),
            c_rss_mb=median(c_rss), ratio=round(median(mod_t) / median(c_t), 2), identical_output=same,
            module_runs=[round(t, 3) for t in mod_t], c_runs=[round(t, 3) for t in c_t],
        )
        log("export %d (%s mix): module %.2f s %.0f MB, C pipeline %.2f s %.0f MB (x%.2f)"
            % (n, mix, rows[n]["module_s"], rows[n]["module_rss_mb"], rows[n]["c_s"], rows[n]["c_rss_mb"], rows[n]["ratio"]))
    return rows


def section_ab():
    """This tree's module against AB_REF's on the same directories, runs interleaved (ABBA...).

    Both modules do the same work on the same data in the same container, one
    run after the other, so drift in the machine's load falls on both sides.
    """
    rows = {}
    sides = (("baseline", AB_LIB), ("current", LIB))
    for mix in MIXES:
        for n in SIZES:
            times = {"baseline": [], "current": []}
            rss = {"baseline": [], "current": []}
            entries = fixtures.relay_entries(n, mix)
            for rep in range(AB_REPS):
                for side, lib in (sides if rep % 2 == 0 else sides[::-1]):
                    mdir = fresh_dir("%s/ab/%s-%s-%d" % (WORK, side, mix, n))
                    args = module_args(n, mdir + "/relay_recipients", mix)
                    wall, peak, result = run_module(args, lib)
                    if result["entries"] != entries:
                        raise RuntimeError("%s module built %s entries, not %d" % (side, result["entries"], entries))
                    times[side].append(wall)
                    rss[side].append(peak)
                    note("ab", module_command(args, lib=lib))
            same = sh("cmp -s %s/ab/baseline-%s-%d/relay_recipients %s/ab/current-%s-%d/relay_recipients && echo yes || echo no"
                      % (WORK, mix, n, WORK, mix, n)).strip()
            row = dict(reps=AB_REPS, identical_output=same)
            for side in times:
                row[side + "_s"] = median(times[side])
                row[side + "_rss_mb"] = median(rss[side])
                row[side + "_runs"] = [round(t, 3) for t in times[side]]
            row["ratio"] = round(row["current_s"] / row["baseline_s"], 3)
            rows.setdefault(mix, {})[n] = row
            log("ab %d (%s mix): baseline %s %.2f s %.0f MB, current %.2f s %.0f MB (x%.3f)"
                % (n, mix, AB_REF, row["baseline_s"], row["baseline_rss_mb"], row["current_s"], row["current_rss_mb"],
                   row["ratio"]))
    return dict(ref=AB_REF, rows=rows)


def section_startup():
    """The module's fixed cost: one address from a file (interpreter, Ansible, imports, sort, postmap)."""
    src = WORK + "/one-address.list"
    with open(src, "w") as stream:
        stream.write("postmaster@example.com\n")
    times = []
    for _unused in range(REPS):
        mdir = fresh_dir("%s/export/startup" % WORK)
        args = module_args(0, mdir + "/relay_recipients", source="file", format="list", src=src)
        wall, _rss, result = run_module(args)
        if result["entries"] != 1:
            raise RuntimeError("startup run built %s entries" % result["entries"])
        times.append(wall)
    note("startup", module_command(args))
    return dict(reps=REPS, module_s=median(times), runs=[round(t, 3) for t in times])


def section_profile():
    n = NOOP_N
    mdir = fresh_dir("%s/export/profile" % WORK)
    profile = WORK + "/module.prof"
    sh(module_command(module_args(n, mdir + "/relay_recipients", PROFILE_MIX), profile))
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append((tottime, calls, cumtime, "%s:%d(%s)" % (os.path.basename(filename), line, name)))
    rows.sort(reverse=True)
    note("profile", module_command("ARGS.json", profile))
    return dict(n=n, mix=PROFILE_MIX, total_s=round(stats.total_tt, 3),
                top=[dict(tottime=round(t, 3), calls=c, cumtime=round(cu, 3), function=f) for t, c, cu, f in rows[:12]])


# ---------------------------------------------------------------- Postfix

def postconf(settings):
    sh("postconf -e " + " ".join(shlex.quote("%s=%s" % item) for item in settings.items()))


def limits_off():
    return dict(
        smtpd_error_sleep_time="0", smtpd_soft_error_limit="100000", smtpd_hard_error_limit="100000",
        smtpd_junk_command_limit="100000", smtpd_recipient_limit="1000", smtpd_client_connection_count_limit="0",
        smtpd_client_connection_rate_limit="0", smtpd_client_recipient_rate_limit="0",
        smtpd_client_message_rate_limit="0",
    )


def limits_on():
    """The role's defaults (roles/postfix_relay/defaults/main.yml), handed in by run.sh."""
    names = ("error_sleep_time", "soft_error_limit", "hard_error_limit", "junk_command_limit", "recipient_limit",
             "client_connection_count_limit", "client_connection_rate_limit", "client_recipient_rate_limit",
             "client_message_rate_limit")
    return {"smtpd_" + name: str(ROLE_LIMITS["postfix_relay_" + name]) for name in names}


def setup_postfix(map_spec):
    sh(": > /etc/postfix/main.cf")
    postconf(dict(
        compatibility_level="3.6", myhostname="bench-lab.example.net", mydestination="", inet_interfaces="loopback-only",
        inet_protocols="ipv4", relay_domains=" ".join(DOMAINS), relay_recipient_maps=map_spec,
        relay_transport="smtp:[127.0.0.1]:2525", default_transport="error:no outbound mail in the bench",
        # The attacker (127.0.0.1) and the legitimate client (127.0.0.2) are both
        # internet clients: neither is exempt from the anvil limits.
        mynetworks="127.0.0.3/32", smtpd_relay_restrictions="permit_mynetworks, reject_unauth_destination",
        smtpd_recipient_restrictions="reject_non_fqdn_recipient, reject_unlisted_recipient, permit",
        smtpd_client_event_limit_exceptions="$mynetworks", unknown_relay_recipient_reject_code="550",
        maillog_file=POSTFIX_LOG, smtputf8_enable="no", biff="no", default_process_limit="100",
    ))
    postconf(limits_off())
    sh("newaliases 2>/dev/null; true")
    sh("nohup smtp-sink -u postfix 127.0.0.1:2525 256 >/dev/null 2>&1 &")
    sh("postfix start")
    time.sleep(1)


def postfix_reload(settings):
    postconf(settings)
    sh("postfix reload")
    time.sleep(1.5)


def master_pid():
    with open("/var/spool/postfix/pid/master.pid") as stream:
        return int(stream.read().split()[0])


def log_size():
    return os.path.getsize(POSTFIX_LOG)


def log_since(offset):
    with open(POSTFIX_LOG, errors="replace") as stream:
        stream.seek(offset)
        return stream.read()


def reload_count():
    return log_since(0).count("reload -- version")


# ---------------------------------------------------------------- §2 no-op refresh

def file_state(path):
    st = os.stat(path)
    return dict(path=path, inode=st.st_ino, mtime_ns=st.st_mtime_ns, size=st.st_size)


def section_noop(export_rows):
    n = NOOP_N
    mdir = fresh_dir("%s/noop" % WORK)
    args = module_args(n, mdir + "/relay_recipients", reload=True)
    _unused, _unused, first = run_module(args)
    if not (first["changed"] and first["reloaded"]):
        raise RuntimeError("first build did not change and reload: %s" % first)
    time.sleep(1.5)
    paths = [mdir + "/relay_recipients", mdir + "/relay_recipients.cdb"]
    before = dict(files=[file_state(p) for p in paths], master_pid=master_pid(), reloads=reload_count(),
                  listing=sorted(os.listdir(mdir)))
    times = []
    changed = reloaded = False
    for _unused in range(REPS):
        wall, rss, result = run_module(args)
        times.append(wall)
        changed = changed or result["changed"]
        reloaded = reloaded or result["reloaded"]
    note("noop", module_command(args) + "   # args carry reload: true")
    after = dict(files=[file_state(p) for p in paths], master_pid=master_pid(), reloads=reload_count(),
                 listing=sorted(os.listdir(mdir)))
    full = export_rows.get(n, {}).get("module_s")
    return dict(
        n=n, reps=REPS, noop_s=median(times), runs=[round(t, 3) for t in times], full_build_s=full,
        ratio=round(median(times) / full, 2) if full else None, changed=changed, reloaded=reloaded,
        files_unchanged=before["files"] == after["files"], listing_unchanged=before["listing"] == after["listing"],
        master_pid_unchanged=before["master_pid"] == after["master_pid"],
        reloads_in_log_unchanged=before["reloads"] == after["reloads"], before=before, after=after,
        first_build_reloaded=first["reloaded"],
    )


# ---------------------------------------------------------------- §3 map types

def section_map_types():
    rows = []
    for n in MAP_SIZES:
        keys = "%s/maps/keys-%d" % (WORK, n)
        if n == MAP_SIZES[0]:
            fresh_dir("%s/maps" % WORK)
        sh("python3 %s/fixtures.py keys %d bench@example.com > %s" % (ROOT, n, keys))
        queries = min(n, 100000)
        step = n // queries
        sh("awk -F'\\t' '(NR - 1) %% %d == 0 {print $1}' %s | head -n %d > %s.hits" % (step, keys, queries, keys))
        sh("awk 'BEGIN {for (i = 0; i < %d; i++) print i \"nobody@example.com\"}' > %s.misses" % (queries, keys))
        for map_type in ("cdb", "lmdb", "hash"):
            source = "%s/maps/%s-%d/relay_recipients" % (WORK, map_type, n)
            sh("mkdir -p %s && cp %s %s" % (os.path.dirname(source), keys, source))
            spec = "%s:%s" % (map_type, source)
            build = []
            for _unused in range(3):
                sh("rm -f %s%s" % (source, SUFFIXES[map_type]))
                wall, _unused, _unused = timed("postmap %s" % spec)
                build.append(wall)
            note("maps", "postmap %s" % spec)
            lookups = {}
            for kind in ("hits", "misses"):
                walls = []
                for _unused in range(3):
                    wall, _unused, out = timed("sh -c 'postmap -q - %s < %s.%s | wc -l'" % (spec, keys, kind))
                    walls.append(wall)
                found = int(out.strip())
                if found != (queries if kind == "hits" else 0):
                    raise RuntimeError("%s %s: %d of %d found" % (spec, kind, found, queries))
                lookups[kind] = median(walls)
                note("maps", "postmap -q - %s < %s.%s" % (spec, keys, kind))
            postfix_reload(dict(relay_recipient_maps=spec, **limits_off()))
            smtpd = {}
            for kind, suffix in (("hits", "bench@example.com"), ("misses", "nobody@example.com")):
                rates = []
                for _unused in range(3):
                    out = json.loads(sh("python3 %s/smtp_load.py rcpt --suffix %s --keys %d --count 10000 --random"
                                        % (ROOT, suffix, n)))
                    want = "250" if kind == "hits" else "550"
                    if out["codes"].get(want) != out["count"]:
                        raise RuntimeError("smtpd %s %s: %s" % (spec, kind, out["codes"]))
                    rates.append(out["per_second"])
                smtpd[kind] = median(rates)
                note("maps", "python3 bench/smtp_load.py rcpt --suffix %s --keys %d --count 10000 --random" % (suffix, n))
            compiled = source + SUFFIXES[map_type]
            st = os.stat(compiled)
            rows.append(dict(
                n=n, type=map_type, build_s=median(build), hits_s=lookups["hits"], misses_s=lookups["misses"],
                queries=queries, smtpd_hits_per_s=smtpd["hits"], smtpd_misses_per_s=smtpd["misses"],
                size_mb=round(st.st_size / 1e6, 1), disk_mb=round(st.st_blocks * 512 / 1e6, 1),
            ))
            log("map %s %d: build %.2f s, %d hits %.3f s, misses %.3f s, smtpd %s/%s rcpt/s, %.1f MB"
                % (map_type, n, median(build), queries, lookups["hits"], lookups["misses"], smtpd["hits"],
                   smtpd["misses"], st.st_size / 1e6))
    return rows


# ---------------------------------------------------------------- §4 + §5 attack

LDAP_TABLE = """server_host = {uri}
search_base = {base}
scope = sub
version = 3
bind = yes
bind_dn = {bind_dn}
bind_pw = {password}
query_filter = (proxyAddresses=smtp:%s)
result_attribute = proxyAddresses
result_format = OK
"""


def write_ldap_table(n):
    with open(PWFILE) as stream:
        password = stream.read()
    path = "/etc/postfix/ldap-recipients.cf"
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "w") as stream:
        stream.write(LDAP_TABLE.format(uri=LDAP_URI, base=suffix_of(n), bind_dn=bind_dn(n), password=password))
    sh("chgrp postfix %s" % path)
    return "ldap:" + path


def count_rejects(text):
    lines = [line for line in text.splitlines() if "NOQUEUE: reject: RCPT" in line]
    return len(lines), sum(1 for line in lines if "User unknown in relay recipient table" in line)


def attack_once(map_spec, limited, seconds):
    """One attack window with the legitimate client running beside it."""
    stop = WORK + "/attack.stop"
    sh("rm -f " + stop)
    offset = log_size()
    searches = slapd_searches()
    # The legitimate client runs for the whole window, one message every
    # LEGIT_INTERVAL s: below the role's per-client connection rate limit.
    legit = subprocess.Popen(
        ["python3", ROOT + "/smtp_load.py", "mail", "--rcpt", "u0000001@example.com", "--source", LEGIT_SOURCE,
         "--seconds", str(seconds), "--interval", str(LEGIT_INTERVAL)],
        stdout=subprocess.PIPE, text=True)
    # smtp-source: 10 sessions, 100 unique unknown recipients a message, for the window.
    attack = "timeout %d smtp-source -A -N -s 10 -m 1000000 -r 100 -f attacker@evil.test -t nobody@example.com 127.0.0.1:25" % seconds
    started = time.monotonic()
    sh(attack, check=False)
    elapsed = time.monotonic() - started
    legit_out = json.loads(legit.communicate(timeout=seconds + 60)[0])
    time.sleep(1)
    rejects, unknown = count_rejects(log_since(offset))
    queries = slapd_searches() - searches - 1
    note("attack", attack)
    note("attack", "python3 bench/smtp_load.py mail --rcpt u0000001@example.com --source %s --seconds %d --interval %s"
         % (LEGIT_SOURCE, seconds, LEGIT_INTERVAL))
    return dict(rejects=rejects, unknown=unknown, seconds=round(elapsed, 2), per_second=round(rejects / elapsed, 1),
                slapd_searches=queries, legit=legit_out, limited=limited, map=map_spec)


def quiet_once(seconds):
    searches = slapd_searches()
    out = json.loads(sh("python3 %s/smtp_load.py mail --rcpt u0000001@example.com --source %s --seconds %d --interval %s"
                        % (ROOT, LEGIT_SOURCE, seconds, LEGIT_INTERVAL)))
    return dict(legit=out, slapd_searches=slapd_searches() - searches - 1)


def section_attack():
    n = NOOP_N
    static = "cdb:%s/noop/relay_recipients" % WORK
    ldap = write_ldap_table(n)
    reps = 3
    calibration = slapd_searches()
    calibration = slapd_searches() - calibration - 1
    results = {}
    for name, spec in (("static", static), ("ldap", ldap)):
        for limited in (False, True):
            postfix_reload(dict(relay_recipient_maps=spec, **(limits_on() if limited else limits_off())))
            runs = [attack_once(spec, limited, ATTACK_SECONDS) for _unused in range(reps)]
            key = "%s_%s" % (name, "on" if limited else "off")
            results[key] = dict(
                runs=runs, per_second=median([r["per_second"] for r in runs]),
                slapd_searches=median([r["slapd_searches"] for r in runs]),
                legit_median_ms=median([r["legit"]["median_ms"] for r in runs if r["legit"]["median_ms"]] or [0]),
                legit_p95_ms=median([r["legit"]["p95_ms"] for r in runs if r["legit"]["p95_ms"]] or [0]),
                legit_accepted=sum(r["legit"]["accepted"] for r in runs),
                legit_sent=sum(r["legit"]["sent"] for r in runs),
            )
            log("attack %s: %.0f rejects/s, %s slapd searches, legit median %.1f ms (%d/%d accepted)"
                % (key, results[key]["per_second"], results[key]["slapd_searches"], results[key]["legit_median_ms"],
                   results[key]["legit_accepted"], results[key]["legit_sent"]))
        postfix_reload(dict(relay_recipient_maps=spec, **limits_on()))
        runs = [quiet_once(ATTACK_SECONDS) for _unused in range(reps)]
        results["%s_quiet" % name] = dict(
            runs=runs, legit_median_ms=median([r["legit"]["median_ms"] for r in runs]),
            legit_p95_ms=median([r["legit"]["p95_ms"] for r in runs]),
            legit_accepted=sum(r["legit"]["accepted"] for r in runs), legit_sent=sum(r["legit"]["sent"] for r in runs),
            slapd_searches=median([r["slapd_searches"] for r in runs]),
        )
    postfix_reload(dict(relay_recipient_maps=static, **limits_off()))
    results["monitor_calibration"] = calibration
    return results


# ---------------------------------------------------------------- machine

def machine():
    cpu = sh("sed -n 's/^model name\\s*: //p' /proc/cpuinfo | head -n1").strip()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo").strip()
    return dict(
        nproc=int(sh("nproc").strip()), cpu=cpu, ram=mem, kernel=sh("uname -r").strip(),
        os=sh(". /etc/os-release && echo \"$PRETTY_NAME\"").strip(),
        postfix=sh("postconf -d -h mail_version").strip(),
        slapd=sh("slapd -VV 2>&1 | sed -n 's/.*slapd \\([^ ]*\\) .*/\\1/p' | head -n1").strip(),
        python=sh("python3 -c 'import platform; print(platform.python_version())'").strip(),
        ldap3=sh("python3 -c 'import ldap3; print(ldap3.__version__)'").strip(),
        ansible_core=sh("env PYTHONPATH=%s python3 -c 'from ansible.release import __version__; print(__version__)'"
                        % LIB).strip(),
        load_at_start=os.environ.get("BENCH_LOAD_AT_START", ""),
    )


def main():
    os.makedirs(WORK, exist_ok=True)
    started = time.monotonic()
    results = dict(machine=machine(), sizes=SIZES, reps=REPS, attack_seconds=ATTACK_SECONDS)
    log("machine: %s" % results["machine"])
    databases = [("smtp", n) for n in sorted(set(SIZES + [NOOP_N]))]
    databases += [(mix, n) for mix in MIXES if mix != "smtp" for n in SIZES]
    results["mixes"] = MIXES
    results["slapadd_s"] = setup_slapd(databases)
    results["size_limit"] = check_size_limit(SIZES[0])
    setup_postfix("cdb:%s/noop/relay_recipients" % WORK)
    sections = dict(export=lambda: {mix: section_export(mix) for mix in MIXES}, startup=section_startup,
                    profile=section_profile, noop=lambda: section_noop(results["export"].get("smtp", {})),
                    maps=section_map_types, attack=section_attack, ab=section_ab, signing=signing_bench.section)
    results["export"] = {}
    # Other names (dirsync) are sections of the other scripts run.sh runs.
    for name in (name for name in SECTIONS if name in sections):
        results[name] = sections[name]()
    results["load_at_end"] = " ".join(sh("cat /proc/loadavg").split()[:3])
    results["total_s"] = round(time.monotonic() - started, 1)
    results["commands"] = COMMANDS
    with open(WORK + "/results.json", "w") as stream:
        json.dump(results, stream, indent=1, sort_keys=True)
    log("done in %.0f s" % results["total_s"])


if __name__ == "__main__":
    main()
