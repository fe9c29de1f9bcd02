"""The base of every scenario config model.

Unknown keys are refused and each field's docstring is its documentation. A model that names
other scenario entries (a TWAP's pool, a perp's oracle) lists them in `refs()`, so the scenario
checks every reference in one place (`sim.scenario.Scenario`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

Ref = tuple[tuple[str, ...], str | None, str]
"""(scenario fields that may hold the name, the name or None, the error message)."""


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=False)

    def refs(self) -> list[Ref]:
        """Names of other scenario entries this model uses; none by default."""
        return []

    def accounts_on(self, field: str, name: str) -> int:
        """Account slots this entry holds on venue `name` of scenario field `field` (a perp
        market's traders hold several, a keeper one); none by default."""
        return 0

    def check(self, sc) -> None:
        """Raise ValueError when this entry cannot run in scenario `sc` (after `refs`)."""
