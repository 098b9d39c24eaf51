# SPDX-License-Identifier: GPL-2.0-only
"""The collection's modules run as Ansible runs them (a module process fed
its arguments), against the real dcbm-config on a fake host: a sysfs tree
with the dcbm module's files and DMA channels (dcbm-config's --sysfs-root,
as its own tests do). Needs ansible-core and DCBM_CONFIG_BIN (the
dcbm-config binary).

    DCBM_CONFIG_BIN=target/debug/dcbm-config python3 -m unittest discover -s deploy/ansible/tests/unit
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("DCBM_CONFIG_BIN", "")

MODULE_DEFAULTS = {
    "offloading": "0",
    "nr_dma_chan": "1",
    "timeout_ms": "10000",
    "min_batch_bytes": "2097152",
    "min_folio_bytes": "2097152",
    "folios_migrated": "0",
    "folios_failures": "0",
    "folios_declined": "0",
    "bytes_migrated": "0",
}


class FakeHost:
    """A host under a temporary root: /proc and /sys as dcbm-config reads
    them, /etc for the policy, /run for its state."""

    def __init__(self, module=True, channels=4):
        self.root = tempfile.mkdtemp(prefix="dcbm-ansible-test-")
        self.put("proc/sys/kernel/random/boot_id", "0e1f2a3b-0000-4000-8000-000000000001")
        self.put("proc/sys/kernel/osrelease", "7.3.4-dcbm")
        self.put("sys/devices/system/node/has_memory", "0")
        self.put("sys/devices/system/node/has_cpu", "0")
        os.makedirs(self.path("sys/devices/system/node/node0"))
        os.makedirs(self.path("etc"))
        if module:
            for k, v in MODULE_DEFAULTS.items():
                self.put("sys/module/dcbm/" + k, v)
        for m in range(channels):
            ch = "sys/class/dma/dma0chan%d" % m
            for f in ("in_use", "memcpy_count", "bytes_transferred"):
                self.put(ch + "/" + f, "0")
            os.makedirs(self.path("sys/devices/dev/swdma.0"), exist_ok=True)
            os.symlink("../../../devices/dev/swdma.0", self.path(ch + "/device"))
        if channels:
            os.makedirs(self.path("sys/bus/drivers/swdma"))
            os.symlink("../../../bus/drivers/swdma", self.path("sys/devices/dev/swdma.0/driver"))
        self.tmp = tempfile.mkdtemp(prefix="dcbm-ansible-tmp-")

    def path(self, rel):
        return os.path.join(self.root, rel)

    def put(self, rel, value):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(value + "\n")

    def attr(self, name):
        with open(self.path("sys/module/dcbm/" + name)) as f:
            return f.read().strip()

    def read(self, rel):
        try:
            with open(self.path(rel)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def snapshot(self):
        """Every file under etc/, sys/module and run/, with its content."""
        out = {}
        for top in ("etc", "sys/module", "run"):
            for d, _, files in os.walk(self.path(top)):
                for f in files:
                    p = os.path.join(d, f)
                    with open(p, "rb") as fh:
                        out[os.path.relpath(p, self.root)] = fh.read()
        return out

    def run(self, module, args, check=False, diff=True):
        """Runs plugins/modules/MODULE as Ansible does; its JSON answer."""
        margs = dict(args)
        margs.setdefault("executable", BIN)
        if module == "dcbm_policy":
            margs.setdefault("path", self.path("etc/dcbm.toml"))
            margs.setdefault("dropin_dirs", [self.path("etc/dcbm.d"), self.path("usr/lib/dcbm.d")])
        margs.update(
            _ansible_check_mode=check,
            _ansible_diff=diff,
            _ansible_tmpdir=self.tmp,
            _ansible_keep_remote_files=True,
        )
        fd, argsfile = tempfile.mkstemp(dir=self.tmp, suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump({"ANSIBLE_MODULE_ARGS": margs}, f)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCBM_")}
        env.update(
            DCBM_SYSFS_ROOT=self.root,
            DCBM_STATE_DIR=self.path("run/dcbm"),
            DCBM_MODPROBE="echo 'modprobe: FATAL: Module dcbm not found' >&2; exit 1",
            PYTHONPATH=self.collections + os.pathsep + env.get("PYTHONPATH", ""),
        )
        p = subprocess.run(
            [sys.executable, os.path.join(COLLECTION, "plugins", "modules", module + ".py"), argsfile],
            env=env,
            capture_output=True,
            text=True,
        )
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise AssertionError("%s printed no JSON: %s %s" % (module, p.stdout, p.stderr))

    @property
    def collections(self):
        # ansible_collections/dcbm/offload -> this collection
        base = os.path.join(self.tmp, "collections")
        link = os.path.join(base, "ansible_collections", "dcbm", "offload")
        if not os.path.exists(link):
            os.makedirs(os.path.dirname(link))
            os.symlink(COLLECTION, link)
        return base

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


POLICY = {
    "offload": {"enabled": True, "channels": "auto", "timeout_ms": 5000},
    "conditions": {"require_provider": True, "drivers": ["swdma"]},
}


@unittest.skipUnless(BIN and os.access(BIN, os.X_OK), "DCBM_CONFIG_BIN (the dcbm-config binary) not set")
class PolicyModule(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost()
        self.addCleanup(self.host.cleanup)

    def test_first_run_writes_then_nothing_changes(self):
        r = self.host.run("dcbm_policy", {"policy": POLICY})
        self.assertFalse(r.get("failed"), r)
        self.assertTrue(r["changed"])
        self.assertTrue(r["file_changed"])
        self.assertEqual(self.host.attr("offloading"), "1")
        self.assertEqual(self.host.attr("nr_dma_chan"), "4")
        self.assertEqual(self.host.attr("timeout_ms"), "5000")
        written = {w["attr"]: (w["from"], w["to"]) for w in r["written"]}
        self.assertEqual(written["nr_dma_chan"], (1, 4))
        self.assertIn('drivers = ["swdma"]', self.host.read("etc/dcbm.toml"))
        self.assertEqual(os.stat(self.host.path("etc/dcbm.toml")).st_mode & 0o777, 0o644)
        # The diff: the file, then the sysfs writes.
        self.assertEqual(r["diff"][0]["before"], "")
        self.assertIn("timeout_ms = 5000", r["diff"][0]["after"])
        self.assertIn("nr_dma_chan = 4", r["diff"][1]["after"])
        again = self.host.run("dcbm_policy", {"policy": POLICY})
        self.assertFalse(again["changed"], again)
        self.assertEqual(again["written"], [])
        self.assertEqual(again["result"], "nothing-to-write")

    def test_check_mode_reports_and_writes_nothing(self):
        before = self.host.snapshot()
        r = self.host.run("dcbm_policy", {"policy": POLICY}, check=True)
        self.assertFalse(r.get("failed"), r)
        self.assertTrue(r["changed"])
        self.assertEqual(self.host.snapshot(), before)
        plan = {w["attr"]: w["to"] for w in r["written"]}
        self.assertEqual(plan.get("offloading"), 1)
        self.assertIn("offloading = 1", r["diff"][1]["after"])
        self.assertEqual(os.listdir(self.host.path("etc")), [], "no candidate left behind")

    def test_bad_policy_fails_at_its_location_and_changes_nothing(self):
        self.host.run("dcbm_policy", {"policy": POLICY})
        before = self.host.snapshot()
        bad = {"offload": {"enabled": True, "timeout_ms": "5"}}
        r = self.host.run("dcbm_policy", {"policy": bad})
        self.assertTrue(r.get("failed"), r)
        self.assertEqual(r["rc"], 3)
        loc = r["location"]
        self.assertEqual(loc["file"], self.host.path("etc/dcbm.toml"), "the target's name, not the candidate's")
        self.assertEqual(loc["line"], 6)
        self.assertIn("timeout_ms", loc["message"])
        self.assertNotIn("dcbm-candidate-", r["msg"])
        self.assertEqual(self.host.snapshot(), before)
        self.assertEqual(sorted(os.listdir(self.host.path("etc"))), ["dcbm.toml"])

    def test_a_value_without_toml_form_is_refused(self):
        r = self.host.run("dcbm_policy", {"policy": {"offload": {"enabled": None}}})
        self.assertTrue(r.get("failed"), r)
        self.assertIn("offload.enabled", r["msg"])
        self.assertIsNone(self.host.read("etc/dcbm.toml"))

    def test_dropin_overrides_key_by_key(self):
        self.host.run("dcbm_policy", {"policy": POLICY})
        r = self.host.run("dcbm_policy", {"dropin": "50-host", "policy": {"offload": {"channels": 2}}})
        self.assertFalse(r.get("failed"), r)
        self.assertTrue(r["changed"])
        self.assertEqual(r["file"], self.host.path("etc/dcbm.d/50-host.toml"))
        self.assertEqual(self.host.attr("nr_dma_chan"), "2")
        self.assertEqual(self.host.attr("timeout_ms"), "5000", "the main file's keys still hold")
        # A drop-in that conflicts once merged is refused, naming it.
        r = self.host.run("dcbm_policy", {"dropin": "60-bad", "policy": {"conditions": {"min_channels": 8}}})
        self.assertTrue(r.get("failed"), r)
        self.assertIsNone(self.host.read("etc/dcbm.d/60-bad.toml"))
        self.assertIn("60-bad.toml", r["msg"])
        self.assertEqual(self.host.attr("nr_dma_chan"), "2")

    def test_dropin_name_is_checked(self):
        r = self.host.run("dcbm_policy", {"dropin": "../x", "policy": {"offload": {"channels": 2}}})
        self.assertTrue(r.get("failed"), r)

    def test_apply_false_writes_the_file_only(self):
        r = self.host.run("dcbm_policy", {"policy": POLICY, "apply": False})
        self.assertTrue(r["changed"])
        self.assertEqual(self.host.attr("offloading"), "0")
        r = self.host.run("dcbm_policy", {})
        self.assertTrue(r["changed"])
        self.assertEqual(self.host.attr("offloading"), "1")

    def test_off_then_applied_again(self):
        self.host.run("dcbm_policy", {"policy": POLICY})
        r = self.host.run("dcbm_policy", {"state": "off"}, check=True)
        self.assertTrue(r["changed"])
        self.assertEqual(self.host.attr("offloading"), "1")
        r = self.host.run("dcbm_policy", {"state": "off"})
        self.assertTrue(r["changed"], r)
        self.assertEqual(self.host.attr("offloading"), "0")
        r = self.host.run("dcbm_policy", {"state": "off"})
        self.assertFalse(r["changed"], r)
        r = self.host.run("dcbm_policy", {"policy": POLICY})
        self.assertTrue(r["changed"], r)
        self.assertEqual(self.host.attr("offloading"), "1")

    def test_reverted(self):
        self.host.run("dcbm_policy", {"policy": POLICY})
        r = self.host.run("dcbm_policy", {"state": "reverted"})
        self.assertTrue(r["changed"], r)
        self.assertEqual(self.host.attr("offloading"), "0")
        self.assertEqual(self.host.attr("nr_dma_chan"), "1")


@unittest.skipUnless(BIN and os.access(BIN, os.X_OK), "DCBM_CONFIG_BIN (the dcbm-config binary) not set")
class HostWithoutProvider(unittest.TestCase):
    def setUp(self):
        self.host = FakeHost(channels=0)
        self.addCleanup(self.host.cleanup)

    def test_reported_not_failed(self):
        r = self.host.run("dcbm_policy", {"policy": POLICY})
        self.assertFalse(r.get("failed"), r)
        self.assertTrue(r["provider_missing"])
        self.assertEqual(self.host.attr("offloading"), "0")
        self.assertTrue(any("held off" in w for w in r.get("warnings", [])), r)

    def test_strict_fails(self):
        r = self.host.run("dcbm_policy", {"policy": POLICY, "strict": True})
        self.assertTrue(r.get("failed"), r)
        self.assertEqual(r["rc"], 5)
        self.assertIsNone(self.host.read("etc/dcbm.toml"), "the file is put back as it was")

    def test_facts(self):
        r = self.host.run("dcbm_facts", {})
        facts = r["ansible_facts"]["dcbm"]
        self.assertFalse(facts["has_provider"])
        self.assertTrue(facts["module_loaded"])
        self.assertEqual(facts["interface"], "v5")


@unittest.skipUnless(BIN and os.access(BIN, os.X_OK), "DCBM_CONFIG_BIN (the dcbm-config binary) not set")
class Facts(unittest.TestCase):
    def test_provider_and_module(self):
        host = FakeHost()
        self.addCleanup(host.cleanup)
        r = host.run("dcbm_facts", {})
        self.assertFalse(r["changed"])
        facts = r["ansible_facts"]["dcbm"]
        self.assertTrue(facts["has_provider"])
        self.assertEqual(len(facts["providers"]), 4)

    def test_no_module(self):
        host = FakeHost(module=False)
        self.addCleanup(host.cleanup)
        facts = host.run("dcbm_facts", {})["ansible_facts"]["dcbm"]
        self.assertFalse(facts["module_loaded"])
        self.assertIsNone(facts["interface"])


class RenderToml(unittest.TestCase):
    def setUp(self):
        sys.path.insert(0, os.path.join(COLLECTION, "plugins", "module_utils"))
        self.addCleanup(sys.path.pop, 0)
        import dcbm_config

        self.m = dcbm_config

    def test_scalars_lists_and_escapes(self):
        text = self.m.render_toml(
            {"offload": {"enabled": False, "channels": 4, "reasons": ["demotion", 'a"b\\c\n']}}
        )
        self.assertIn("[offload]\nenabled = false\nchannels = 4\n", text)
        self.assertIn('reasons = ["demotion", "a\\"b\\\\c\\n"]', text)

    def test_shapes_without_toml_form(self):
        for bad in ({"offload": 1}, [], {"offload": {"x": None}}, {"offload": {"x": {1: 2}}}):
            with self.assertRaises(self.m.PolicyShapeError):
                self.m.render_toml(bad)

    def test_location_maps_the_candidate_back(self):
        err = "note: something\ndcbm-config: error: /etc/.dcbm-ansible-x/dcbm.toml:3:14: bad value\n"
        loc = self.m.parse_location(err, {"/etc/.dcbm-ansible-x/dcbm.toml": "/etc/dcbm.toml"})
        self.assertEqual(
            (loc["file"], loc["line"], loc["column"], loc["message"]),
            ("/etc/dcbm.toml", 3, 14, "bad value"),
        )
        self.assertIsNone(self.m.parse_location("dcbm-config: error: no module\n"))


if __name__ == "__main__":
    unittest.main()
