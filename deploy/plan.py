"""Plan then apply: resources read what exists and return the actions that would change it.

Chalice's planner/executor split: reading never mutates, so a plan can be printed (`--dry-run`)
and nothing is touched until `execute` runs the planned actions in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from deploy.errors import aws_errors


@dataclass(frozen=True)
class Action:
    resource: str
    verb: str  # create, update, upload, delete, empty; "keep" is a note, not a change
    detail: str
    run: Callable[[], Any] | None = None

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"  {self.verb:<7} {self.resource}{detail}"


def keep(resource: str, detail: str) -> Action:
    return Action(resource, "keep", detail)


class Resource(Protocol):
    label: str

    def read(self) -> Any:
        """The resource as it is now, or None when it does not exist. Never mutates."""

    def diff(self, current: Any) -> list[Action]:
        """What deploy would do to make `current` what it should be."""

    def remove(self, current: Any) -> list[Action]:
        """What destroy would do to remove `current`."""


@dataclass
class Plan:
    actions: list[Action]

    @property
    def changes(self) -> list[Action]:
        return [action for action in self.actions if action.run is not None]

    def render(self, out: TextIO) -> None:
        if not self.changes:
            out.write("no changes\n")
        else:
            out.write(f"plan: {len(self.changes)} change(s)\n")
        for action in self.actions:
            out.write(action.line() + "\n")

    def execute(self, out: TextIO) -> None:
        for action in self.changes:
            out.write(f"{action.verb} {action.resource}\n")
            out.flush()
            with aws_errors(action.resource):
                action.run()


def build_plan(resources: Sequence[Resource], destroying: bool = False) -> Plan:
    """Read every resource in order; later resources may use what earlier reads found."""
    actions: list[Action] = []
    for resource in resources:
        with aws_errors(resource.label):
            current = resource.read()
            step = resource.remove if destroying else resource.diff
            actions.extend(step(current))
    return Plan(actions)
