#!/usr/bin/python
# SPDX-License-Identifier: GPL-2.0-only
"""Ansible module: dcbm's state on the host, as facts."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dcbm_facts
short_description: Gather dcbm facts (DMA providers, the module, engine health, counters)
version_added: "0.1.0"
description:
  - Runs C(dcbm-config status --json) and returns it as the fact
    C(ansible_facts.dcbm), with C(has_provider) and C(interface) on top
    so that a play can branch on whether a host has a DMA memcpy engine.
  - Changes nothing; works without the dcbm module loaded.
options: {}
extends_documentation_fragment:
  - dcbm.offload.dcbm_config
attributes:
  check_mode:
    support: full
  facts:
    support: full
author:
  - dcbm developers
"""

EXAMPLES = r"""
- name: Read dcbm's state
  dcbm.offload.dcbm_facts:

- name: Only where a DMA engine exists
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ ansible_facts.dcbm.providers | length }} channels"
  when: ansible_facts.dcbm.has_provider
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    dcbm:
      description:
        - dcbm-config's C(status --json) (C(module_loaded), C(module) with
          C(interface), C(offloading), knobs and C(channels); C(health);
          C(counters); C(reasons), what each migration reason sent to the
          engines; C(providers), one entry per DMA memcpy channel with
          its driver and C(held_by); C(switched_off)), plus C(has_provider)
          (a memcpy channel exists) and C(interface) (C(v5), C(v6) or null
          when the module is not loaded).
      type: dict
      returned: always
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dcbm.offload.plugins.module_utils.dcbm_config import (
    DEFAULT_CONFIG,
    DEFAULT_DROPIN_DIRS,
    DcbmConfig,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(executable=dict(type="path", default="dcbm-config")),
        supports_check_mode=True,
    )
    status = DcbmConfig(module, DEFAULT_CONFIG, DEFAULT_DROPIN_DIRS).status()
    status["has_provider"] = bool(status.get("providers"))
    status["interface"] = (status.get("module") or {}).get("interface")
    module.exit_json(changed=False, ansible_facts={"dcbm": status})


if __name__ == "__main__":
    main()
