# SPDX-License-Identifier: GPL-2.0-only
"""The options every module of the collection has."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  executable:
    description:
      - The dcbm-config program (a name looked up on the host's PATH, or a path).
    type: path
    default: dcbm-config
"""
