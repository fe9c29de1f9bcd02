"""The oracle-priced perp in the exact world: refused, in one line.

No contract implements the venue yet (its integer model is `sim.venues.oracle_perp.twin`), so
there is nothing on chain for the exact world to replay: `check` refuses every scenario with
`oracle_perps`, before anything is built. The part exists so the venue package has the same
parts as every other and the chain backend's refusal names the field.
"""

from __future__ import annotations

from typing import Any

from sim.errors import ConfigError
from sim.venues.base import ExactPart


class OraclePerpPart(ExactPart):
    """Refuses `oracle_perps` (see the module docstring)."""

    name = "oracle_perp"
    scenario_fields = ("oracle_perps",)

    @classmethod
    def check(cls, sc: Any) -> None:
        names = ", ".join(v.name for v in sc.oracle_perps)
        raise ConfigError(
            f"oracle_perps ({names}): no contract models the oracle-priced perp yet; run the "
            "scenario on the fast engine (--backend fast)"
        )


__all__ = ["OraclePerpPart"]
