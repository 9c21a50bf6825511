"""The EventBridge rule that runs the batcher, its target, and its permission to invoke."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from deploy.aws import Aws, absent_as_none
from deploy.names import Names
from deploy.plan import Action

TARGET_ID = "drain"
NOT_FOUND = "ResourceNotFoundException"


class Schedule:
    def __init__(self, aws: Aws, names: Names, expression: str, rule: str = "", function: str = "",
                 description: str = "Runs the LogDig batcher"):
        self.aws = aws
        self.names = names
        self.expression = expression
        self.rule = rule or names.rule  # the batcher's by default; compaction has its own
        self.function = function or names.function
        self.description = description
        self.label = f"eventbridge rule {self.rule}"
        self.statement_id = f"{self.rule}-invoke"

    @property
    def events(self) -> Any:
        return self.aws.client("events")

    def read(self) -> dict | None:
        rule = absent_as_none(partial(self.events.describe_rule, Name=self.rule), NOT_FOUND)
        if rule is None:
            return None
        targets = self.events.list_targets_by_rule(Rule=self.rule)["Targets"]
        return {
            "expression": rule.get("ScheduleExpression"),
            "state": rule.get("State"),
            "targets": {t["Id"]: t["Arn"] for t in targets},
            "permitted": self._permitted(),
        }

    def _permitted(self) -> bool:
        """Whether the Lambda's resource policy lets this rule (and only it) invoke it."""
        policy = absent_as_none(
            partial(self.aws.client("lambda").get_policy, FunctionName=self.function),
            NOT_FOUND,
        )
        if policy is None:
            return False
        statements = json.loads(policy["Policy"]).get("Statement", [])
        return any(s.get("Sid") == self.statement_id for s in statements)

    def diff(self, current: dict | None) -> list[Action]:
        current = current or {"expression": None, "state": None, "targets": {}, "permitted": False}
        actions = []
        if (current["expression"], current["state"]) != (self.expression, "ENABLED"):
            verb = "create" if current["expression"] is None else "update"
            actions.append(Action(self.label, verb, self.expression, self._put_rule))
        if not current["permitted"]:
            actions.append(
                Action(
                    f"lambda permission {self.statement_id}",
                    "create",
                    f"events.amazonaws.com may invoke {self.function} from this rule only",
                    self._permit,
                )
            )
        if current["targets"] != {TARGET_ID: self.names.lambda_arn(self.function)}:
            actions.append(Action(self.label, "update", f"target {self.function}", self._target))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        ids = list(current["targets"])

        def delete() -> None:
            if ids:
                self.events.remove_targets(Rule=self.rule, Ids=ids)
            self.events.delete_rule(Name=self.rule)

        return [Action(self.label, "delete", "and its targets", delete)]

    def _put_rule(self) -> None:
        self.events.put_rule(
            Name=self.rule,
            ScheduleExpression=self.expression,
            State="ENABLED",
            Description=self.description,
        )

    def _permit(self) -> None:
        self.aws.client("lambda").add_permission(
            FunctionName=self.function,
            StatementId=self.statement_id,
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=self.names.rule_arn_of(self.rule),
        )

    def _target(self) -> None:
        self.events.put_targets(
            Rule=self.rule, Targets=[{"Id": TARGET_ID, "Arn": self.names.lambda_arn(self.function)}]
        )
