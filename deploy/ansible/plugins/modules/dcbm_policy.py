#!/usr/bin/python
# SPDX-License-Identifier: GPL-2.0-only
"""Ansible module: apply a dcbm policy through dcbm-config."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dcbm_policy
short_description: Apply a dcbm offload policy through dcbm-config
version_added: "0.1.0"
description:
  - Writes the dcbm policy (C(/etc/dcbm.toml), or a drop-in in
    C(/etc/dcbm.d/)) atomically, after C(dcbm-config validate) accepted it
    together with the files it merges with, then runs
    C(dcbm-config apply --json), which writes to C(/sys/module/dcbm/) only
    what differs and rolls back on a failed write.
  - C(changed) is true only when the file or a sysfs value was written;
    the attributes written are returned and shown by C(--diff).
  - In check mode the candidate is validated and C(dcbm-config apply
    --dry-run --json) reports the plan; nothing is written.
  - A bad policy fails with dcbm-config's C(file:line:column) (the target
    file's, not the temporary candidate's) and changes nothing.
  - All policy logic is dcbm-config's; see C(man dcbm.toml) for the keys.
options:
  policy:
    description:
      - "The policy as a mapping of tables, e.g.
        C({offload: {enabled: true, channels: auto}, conditions: {drivers: [ptdma]}})."
      - Rendered as TOML. Mutually exclusive with O(content) and O(src).
    type: dict
  content:
    description:
      - The policy as TOML text, written as given.
    type: str
  src:
    description:
      - Path, on the managed host, of a TOML policy to install.
    type: path
  dropin:
    description:
      - Write the drop-in C(<first of dropin_dirs>/NAME.toml) instead of the
        main file. Letters, digits, C(_), C(-) and C(.), not starting with C(.).
    type: str
  path:
    description:
      - The main policy file (dcbm-config's C(--config)).
    type: path
    default: /etc/dcbm.toml
  dropin_dirs:
    description:
      - The drop-in directories, highest priority first (C(--dropin-dir)).
    type: list
    elements: path
    default: [/etc/dcbm.d, /usr/lib/dcbm.d]
  state:
    description:
      - V(applied) writes the policy given (if any) and applies it.
        Without O(policy), O(content) or O(src) the installed policy is
        applied as it is.
      - V(off) runs C(dcbm-config off) (offload off until the next apply,
        revert or reboot; the policy is not changed).
      - V(reverted) runs C(dcbm-config revert).
    type: str
    choices: [applied, "off", reverted]
    default: applied
  apply:
    description:
      - Run C(dcbm-config apply) after writing the file. V(false) only
        validates and writes it, for a play that writes several files and
        applies once, with the last.
    type: bool
    default: true
  strict:
    description:
      - Fail when a condition of the policy holds offload off
        (C(apply --strict), exit 5 or 9). Otherwise that is reported in
        RV(conditions_failed) and RV(provider_missing), and a warning.
    type: bool
    default: false
extends_documentation_fragment:
  - dcbm.offload.dcbm_config
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Needs dcbm-config 0.1 or later on the managed host (the dcbm-config
    package). Run as root (C(become)); the policy files must be owned by root.
  - A host on which dcbm has no module for the running kernel (DKMS skipped
    it) keeps the new policy, which takes effect when a module appears;
    the module warns and does not fail.
author:
  - dcbm developers
"""

EXAMPLES = r"""
- name: Offload THP migrations to any PTDMA channel
  dcbm.offload.dcbm_policy:
    policy:
      offload: {enabled: true, channels: auto, timeout_ms: 10000}
      conditions: {require_provider: true, drivers: [ptdma]}
  become: true

- name: One host's override as a drop-in
  dcbm.offload.dcbm_policy:
    dropin: 50-ansible-host
    policy:
      offload: {channels: 4}
  become: true

- name: Switch offload off on a host under investigation
  dcbm.offload.dcbm_policy:
    state: "off"
  become: true
"""

RETURN = r"""
file:
  description: The policy file written or checked (none for O(state=off) or V(reverted)).
  returned: when state is applied
  type: str
file_changed:
  description: Whether the policy file was (or, in check mode, would be) replaced.
  returned: when state is applied
  type: bool
result:
  description: dcbm-config's C(result) (C(applied), C(nothing-to-write), C(planned), C(held-off)...).
  returned: when state is applied
  type: str
written:
  description: The sysfs writes made, each C({attr, from, to}); the plan in check mode.
  returned: when state is applied
  type: list
  elements: dict
conditions_failed:
  description: The policy's conditions that held offload off, each C({condition, detail}).
  returned: when state is applied
  type: list
  elements: dict
provider_missing:
  description: No usable DMA memcpy channel while the policy wants one.
  returned: when state is applied
  type: bool
apply:
  description: dcbm-config's whole C(apply --json) answer.
  returned: when state is applied
  type: dict
location:
  description: Where a bad policy is wrong, C({file, line, column, message}).
  returned: on a bad policy
  type: dict
rc:
  description: dcbm-config's exit code.
  returned: always
  type: int
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dcbm.offload.plugins.module_utils.dcbm_config import (
    EXIT_BAD_POLICY,
    EXIT_NO_MODULE_FOR_KERNEL,
    EXIT_OK,
    DcbmConfig,
    PolicyShapeError,
    parse_location,
    render_toml,
    steps_text,
)

_DROPIN_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class Candidate:
    """The new policy file in a private place, validated there with the
    files it merges with, before it replaces anything."""

    def __init__(self, module, dc, target, data, dropin):
        self.module = module
        self.dc = dc
        self.target = target
        self.dropin = dropin
        # dcbm-config checks that a policy file and its directory are owned
        # by root and writable by no one else: a fresh 0700 directory, in
        # the module's own temporary one (so check mode writes nothing
        # where the policy lives).
        self.dir = tempfile.mkdtemp(prefix="dcbm-candidate-", dir=module.tmpdir)
        self.path = os.path.join(self.dir, os.path.basename(target))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(self.path, 0o644)

    def args(self):
        """dcbm-config's --config and --dropin-dir as they will be once the
        candidate is in place: a drop-in in a directory ahead of the others
        masks the installed one of the same name."""
        if self.dropin:
            return self.dc.config, [self.dir] + self.dc.dropin_dirs
        return self.path, self.dc.dropin_dirs

    def run_json(self, args):
        config, dirs = self.args()
        return self.dc.run_json(args, config=config, dropin_dirs=dirs)

    def validate(self):
        config, dirs = self.args()
        rc, out, err = self.dc.run(["validate"], config=config, dropin_dirs=dirs)
        if rc != EXIT_OK:
            self.fail_policy(rc, err)

    def fail_policy(self, rc, err):
        # The candidate's path is the target's to the reader.
        err = err.replace(self.path, self.target)
        self.discard()
        self.module.fail_json(
            msg="dcbm-config rejected the policy for %s (exit %d): %s"
            % (self.target, rc, err.strip()),
            rc=rc,
            stderr=err,
            location=parse_location(err),
        )

    def install(self):
        new_file = not os.path.exists(self.target)
        self.module.atomic_move(self.path, self.target)
        if new_file:
            # Whatever the umask: dcbm-config refuses a policy that others
            # can write.
            os.chmod(self.target, 0o644)
        self.discard()

    def discard(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def restore(module, target, old):
    """Puts the policy file back as it was (after a failed apply)."""
    if old is None:
        os.unlink(target)
        return
    fd, tmp = tempfile.mkstemp(prefix=".dcbm-ansible-", dir=os.path.dirname(target))
    with os.fdopen(fd, "wb") as f:
        f.write(old)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, target)


def policy_bytes(module):
    p = module.params
    if p["policy"] is not None:
        try:
            return render_toml(p["policy"]).encode()
        except PolicyShapeError as e:
            module.fail_json(msg="policy: %s" % e, rc=EXIT_BAD_POLICY)
    if p["content"] is not None:
        return p["content"].encode()
    if p["src"] is not None:
        data = _read(p["src"])
        if data is None:
            module.fail_json(msg="src %s does not exist on the host" % p["src"], rc=EXIT_BAD_POLICY)
        return data
    return None


def diffs(target, old, new, steps):
    out = []
    if new is not None and old != new:
        out.append(
            {
                "before_header": target if old is not None else "%s (absent)" % target,
                "after_header": target,
                "before": (old or b"").decode(errors="replace"),
                "after": new.decode(errors="replace"),
            }
        )
    if steps:
        out.append(
            {
                "before_header": "dcbm module (sysfs)",
                "after_header": "dcbm module (sysfs)",
                "before": steps_text(steps, "from"),
                "after": steps_text(steps, "to"),
            }
        )
    return out


def apply(module, dc):
    p = module.params
    if p["dropin"] is not None:
        if not _DROPIN_NAME.match(p["dropin"]):
            module.fail_json(msg="dropin %r: letters, digits, _ - and ., not starting with ." % p["dropin"])
        target = os.path.join(dc.dropin_dirs[0], p["dropin"] + ".toml")
    else:
        target = dc.config
    new = policy_bytes(module)
    old = _read(target)
    file_changed = new is not None and new != old
    if new is None and old is None:
        module.fail_json(msg="no policy given and %s does not exist" % target, rc=EXIT_BAD_POLICY)

    apply_args = ["apply", "--json"] + (["--strict"] if p["strict"] else [])
    cand = None
    if file_changed:
        if p["dropin"] is not None and not os.path.isdir(dc.dropin_dirs[0]) and not module.check_mode:
            os.makedirs(dc.dropin_dirs[0], mode=0o755)
        cand = Candidate(module, dc, target, new, p["dropin"] is not None)
        cand.validate()

    if not p["apply"]:
        if cand and not module.check_mode:
            cand.install()
        elif cand:
            cand.discard()
        module.exit_json(
            changed=file_changed, file=target, file_changed=file_changed, rc=EXIT_OK,
            diff=diffs(target, old, new, []),
        )
    if module.check_mode:
        args = apply_args + ["--dry-run"]
        rc, data, err = cand.run_json(args) if cand else dc.run_json(args)
        if cand:
            if rc == EXIT_BAD_POLICY:
                cand.fail_policy(rc, err)
            cand.discard()
        steps = (data or {}).get("plan") or []
    else:
        if cand:
            cand.install()
        rc, data, err = dc.run_json(apply_args)
        steps = (data or {}).get("written") or []
    data = data or {}

    result = dict(
        changed=file_changed or bool(steps),
        file=target,
        file_changed=file_changed,
        result=data.get("result"),
        written=steps,
        conditions_failed=data.get("conditions_failed") or [],
        provider_missing=bool(data.get("provider_missing")),
        apply=data,
        rc=rc,
        diff=diffs(target, old, new, steps),
    )
    if rc == EXIT_NO_MODULE_FOR_KERNEL:
        module.warn(
            "no dcbm module for the running kernel (DKMS skipped it or has not built it): "
            "the policy is installed and takes effect when the module appears. %s" % err.strip()
        )
        module.exit_json(**result)
    if rc != EXIT_OK:
        # Put the file back: the host is left as it was (dcbm-config has
        # already rolled its own writes back).
        if file_changed and not module.check_mode:
            restore(module, target, old)
            result["file_changed"] = False
            result["changed"] = False
        why = data.get("error") or err.strip()
        result.pop("diff")
        module.fail_json(
            msg="dcbm-config apply failed (exit %d): %s" % (rc, why),
            stderr=err,
            location=parse_location(err),
            **result
        )
    if result["provider_missing"] or result["conditions_failed"]:
        why = "; ".join(
            "%s: %s" % (c.get("condition"), c.get("detail")) for c in result["conditions_failed"]
        )
        module.warn("offload held off on this host: %s" % (why or "no usable DMA memcpy channel"))
    module.exit_json(**result)


def switch_off(module, dc):
    before = dc.status()
    live = before.get("module") or {}
    changed = before.get("switched_off") is None or bool(live.get("offloading"))
    if module.check_mode or not changed:
        module.exit_json(changed=changed, rc=0)
    rc, out, err = dc.run(["off"])
    if rc != EXIT_OK:
        module.fail_json(msg="dcbm-config off failed (exit %d): %s" % (rc, err.strip()), rc=rc, stderr=err)
    module.exit_json(changed=True, rc=rc, stdout=out)


def revert(module, dc):
    before = dc.status()
    if module.check_mode:
        # Whether anything would be restored is dcbm-config's to say; an
        # off in force would end at least.
        module.exit_json(changed=before.get("switched_off") is not None, rc=0)
    rc, out, err = dc.run(["revert"])
    if rc != EXIT_OK:
        module.fail_json(msg="dcbm-config revert failed (exit %d): %s" % (rc, err.strip()), rc=rc, stderr=err)
    # dcbm-config says "reverted N setting(s)" when it wrote.
    changed = before.get("switched_off") is not None or bool(
        re.search(r"^reverted [0-9]+ setting", out, re.MULTILINE)
    )
    module.exit_json(changed=changed, rc=rc, stdout=out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            policy=dict(type="dict"),
            content=dict(type="str"),
            src=dict(type="path"),
            dropin=dict(type="str"),
            path=dict(type="path", default="/etc/dcbm.toml"),
            dropin_dirs=dict(type="list", elements="path", default=["/etc/dcbm.d", "/usr/lib/dcbm.d"]),
            state=dict(type="str", choices=["applied", "off", "reverted"], default="applied"),
            apply=dict(type="bool", default=True),
            strict=dict(type="bool", default=False),
            executable=dict(type="path", default="dcbm-config"),
        ),
        mutually_exclusive=[("policy", "content", "src")],
        supports_check_mode=True,
    )
    p = module.params
    dc = DcbmConfig(module, p["path"], p["dropin_dirs"])
    if p["state"] == "off":
        switch_off(module, dc)
    elif p["state"] == "reverted":
        revert(module, dc)
    else:
        apply(module, dc)


if __name__ == "__main__":
    main()
