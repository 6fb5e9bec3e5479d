# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to do with a map that was built and gated: install it, refuse it, warn, reload.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The module builds the new source, compares it with the live one and runs the
safety gate; this file decides, from those outcomes and the task's options,
what happens next, so the decision is tested without running the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.mailrelay.exchange.plugins.module_utils._gate import gate_message

# The map and its compiled table hold the whole recipient list: not for every
# local user to read. Postfix reads them as root before it drops privileges.
DEFAULT_MODE = "0640"

InstallPlan = namedtuple("InstallPlan", ["changed", "write", "failure", "warning", "reload"])
InstallPlan.__doc__ = """What to do with a built map.

changed: the live map is (or, in check mode, would be) replaced;
write: build and swap the files now (never in check mode);
failure: the message to fail with, the live map kept (nothing else applies then);
warning: a message to warn with, or None;
reload: run ``postfix reload`` after the swap.
"""


def plan(content_changed, gate, check_mode, reload_requested, compiled):
    """The InstallPlan for a map whose content differs from the live one (``content_changed``).

    ``gate`` is the GateResult of the new map. A failed gate refuses a changed
    map unless it was forced; for an unchanged map it only warns, as there is
    nothing to install. A reload is only asked for a compiled table that was
    written.
    """
    if content_changed and not gate.passed and not gate.forced:
        return InstallPlan(False, False, gate_message(gate), None, False)
    warning = None
    if not gate.passed:
        if content_changed:
            warning = "force: " + gate_message(gate, "map installed anyway")
        else:
            warning = gate_message(gate, "map unchanged, nothing installed")
    write = content_changed and not check_mode
    return InstallPlan(content_changed, write, None, warning, write and compiled and reload_requested)


def file_arguments(arguments):
    """The file arguments of the task (mode, owner, group, SELinux) for a map file: mode 0640 unless one is set."""
    if arguments.get("mode") is None:
        arguments = dict(arguments, mode=DEFAULT_MODE)
    return arguments
