# SPDX-License-Identifier: GPL-2.0-only
"""What the dcbm modules share: running dcbm-config, rendering a policy as
TOML, and reading dcbm-config's answers. All policy logic (validation,
conditions, the write plan, rollback) stays in dcbm-config; this only
calls it and reports what it said."""

from __future__ import annotations

import json
import re

# dcbm-config's defaults (dcbm-config --help).
DEFAULT_CONFIG = "/etc/dcbm.toml"
DEFAULT_DROPIN_DIRS = ["/etc/dcbm.d", "/usr/lib/dcbm.d"]

# Exit codes of dcbm-config (dcbm-config(8), "Exit codes").
EXIT_OK = 0
EXIT_BAD_POLICY = 3
EXIT_NO_MODULE_FOR_KERNEL = 11

HEADER = (
    "# Managed by Ansible (dcbm.offload.dcbm_policy): changes made here are\n"
    "# replaced on its next run.\n"
)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
# "dcbm-config: error: FILE:LINE:COLUMN: message", as dcbm-config reports
# a bad policy.
_LOCATION = re.compile(
    r"^(?:dcbm-config: error: )?(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$"
)


class PolicyShapeError(ValueError):
    """A policy given as a mapping that has no TOML form."""


def _key(k):
    if not isinstance(k, str):
        raise PolicyShapeError("key %r is not a string" % (k,))
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v, where):
    # bool before int: True is an int in Python.
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        # JSON's escapes (\" \\ \n \t \uXXXX ...) are TOML's basic-string escapes.
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    raise PolicyShapeError("%s: a %s has no TOML form" % (where, type(v).__name__))


def render_toml(policy):
    """The policy mapping as TOML: each top-level key a table, in the given
    order. dcbm-config checks the keys, types and ranges afterwards."""
    if not isinstance(policy, dict):
        raise PolicyShapeError("the policy must be a mapping of tables")
    out = [HEADER]

    def table(name, body):
        scalars = [(k, v) for k, v in body.items() if not isinstance(v, dict)]
        tables = [(k, v) for k, v in body.items() if isinstance(v, dict)]
        out.append("\n[%s]\n" % name)
        for k, v in scalars:
            out.append("%s = %s\n" % (_key(k), _value(v, "%s.%s" % (name, k))))
        for k, v in tables:
            table("%s.%s" % (name, _key(k)), v)

    for name, body in policy.items():
        if not isinstance(body, dict):
            raise PolicyShapeError(
                "%s: a top-level key must be a table (e.g. offload: {enabled: true})" % (name,)
            )
        table(_key(name), body)
    return "".join(out)


def parse_location(stderr, replace=None):
    """The first "file:line:column: message" of dcbm-config's error output,
    with the temporary candidate's path given back as the target's
    (`replace`: {temporary path: target path})."""
    for line in stderr.splitlines():
        for tmp, real in (replace or {}).items():
            line = line.replace(tmp, real)
        m = _LOCATION.match(line.strip())
        if m:
            return {
                "file": m.group("file"),
                "line": int(m.group("line")),
                "column": int(m.group("column")),
                "message": m.group("message"),
            }
    return None


def steps_text(steps, side):
    """One "attr = value" line per step of a plan: the value before the
    write (side "from") or after it ("to")."""
    return "".join("%s = %s\n" % (s.get("attr"), s.get(side)) for s in steps or [])


class DcbmConfig:
    """dcbm-config run with one policy file and one drop-in search path."""

    def __init__(self, module, config, dropin_dirs):
        self.module = module
        exe = module.params["executable"]
        # A bare name is looked up on the host's PATH; a missing program
        # fails the module, saying so.
        self.executable = exe if "/" in exe else module.get_bin_path(exe, required=True)
        self.config = config
        self.dropin_dirs = list(dropin_dirs)

    def _argv(self, args, config=None, dropin_dirs=None):
        return [
            self.executable,
            "--config",
            config or self.config,
            "--dropin-dir",
            ":".join(dropin_dirs if dropin_dirs is not None else self.dropin_dirs),
        ] + list(args)

    def run(self, args, config=None, dropin_dirs=None):
        """(exit code, stdout, stderr); never raises on a non-zero exit."""
        return self.module.run_command(
            self._argv(args, config, dropin_dirs),
            environ_update={"LC_ALL": "C"},
        )

    def run_json(self, args, config=None, dropin_dirs=None):
        """(exit code, parsed stdout or None, stderr)."""
        rc, out, err = self.run(args, config, dropin_dirs)
        try:
            data = json.loads(out) if out.strip() else None
        except ValueError:
            data = None
        return rc, data, err

    def status(self):
        """`status --json` without rates (no sampling pause)."""
        rc, data, err = self.run_json(["status", "--json", "--interval", "0"])
        if rc != EXIT_OK or not isinstance(data, dict):
            self.module.fail_json(
                msg="dcbm-config status failed (exit %d): %s" % (rc, err.strip()),
                rc=rc,
                stderr=err,
            )
        return data
