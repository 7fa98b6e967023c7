"""Molecule's strategy: mitogen's `mitogen_linear`, as `labtool up` runs playbooks, or the stock one with a warning.

Both scenarios name this directory in ANSIBLE_STRATEGY_PLUGINS (molecule.yml), so the
project needs no path into the virtualenv. Mitogen keeps one Python per machine instead
of one per task: converge and idempotence run several times faster on an emulated VM.
LABTOOL_MITOGEN=off (as for labtool) or mitogen failing to import gives Ansible's
stock linear strategy; pipelining is on in both scenarios either way.
"""

from __future__ import annotations

import os
from typing import Any

from ansible.utils.display import Display


def _strategy() -> Any:
    if os.environ.get("LABTOOL_MITOGEN", "").lower() not in ("off", "0", "false"):
        try:
            from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear

            return MitogenLinear
        except ImportError as exc:
            Display().warning(f"mitogen cannot load ({exc}): Molecule runs Ansible's stock strategy, which is slower")
    from ansible.plugins.strategy.linear import StrategyModule as Linear

    return Linear


StrategyModule = _strategy()
