"""A monthly AWS Budgets cost budget that notifies the alarm topic (`--monthly-budget USD`)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from deploy.aws import Aws, absent_as_none
from deploy.names import Names
from deploy.plan import Action, keep

# (notification type, percent of the budget): spent 80 %, and forecast to pass 100 %.
NOTIFY_AT = (("ACTUAL", 80.0), ("FORECASTED", 100.0))


class Budget:
    """`usd` None leaves an existing budget as it is (a rerun without the option changes nothing)."""

    def __init__(self, aws: Aws, names: Names, usd: Decimal | None):
        self.aws = aws
        self.names = names
        self.usd = usd
        self.label = f"aws budget {names.budget}"

    @property
    def budgets(self) -> Any:
        return self.aws.client("budgets")

    def read(self) -> dict | None:
        found = absent_as_none(
            lambda: self.budgets.describe_budget(AccountId=self.names.account, BudgetName=self.names.budget),
            "NotFoundException",
        )
        return found and found["Budget"]

    def definition(self) -> dict:
        return {
            "BudgetName": self.names.budget,
            "BudgetLimit": {"Amount": str(self.usd), "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        }

    def notifications(self) -> list[dict]:
        subscriber = {"SubscriptionType": "SNS", "Address": self.names.alarm_topic_arn}
        return [
            {
                "Notification": {
                    "NotificationType": kind,
                    "ComparisonOperator": "GREATER_THAN",
                    "Threshold": percent,
                    "ThresholdType": "PERCENTAGE",
                },
                "Subscribers": [subscriber],
            }
            for kind, percent in NOTIFY_AT
        ]

    def diff(self, current: dict | None) -> list[Action]:
        if self.usd is None:
            return [keep(self.label, "as it is (--monthly-budget sets one)")] if current else []
        detail = f"{self.usd} USD a month, alerts {self.names.alarm_topic} at 80 % spent and 100 % forecast"
        if current is None:
            return [Action(self.label, "create", detail, self._create)]
        if Decimal(current["BudgetLimit"]["Amount"]) == self.usd:
            return []
        return [Action(self.label, "update", detail, self._update)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        run = partial(self.budgets.delete_budget, AccountId=self.names.account, BudgetName=self.names.budget)
        return [Action(self.label, "delete", "", run)]

    def _create(self) -> None:
        self.budgets.create_budget(
            AccountId=self.names.account,
            Budget=self.definition(),
            NotificationsWithSubscribers=self.notifications(),
        )

    def _update(self) -> None:
        self.budgets.update_budget(AccountId=self.names.account, NewBudget=self.definition())
