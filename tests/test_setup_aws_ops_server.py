"""The operations options through the command itself against moto's server on loopback: deploy
with alarms, budget, replication and compaction, rerun "no changes", cost reads the deployment,
destroy --delete-data leaves nothing."""

from __future__ import annotations

import pytest

from tests.test_setup_aws_ops import REPLICA_REGION, tiny_duckdb_wheel
from tests.test_setup_aws_server import endpoint, setup_aws_py  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.wire]


def test_operations_deploy_twice_restore_cost_destroy_through_the_endpoint(endpoint, tmp_path):  # noqa: F811
    argv = ["deploy", "--skip-collector", "--alarm-email", "ops@example.com", "--monthly-budget", "40",
            "--replicate-to", REPLICA_REGION, "--duckdb-wheel", tiny_duckdb_wheel(tmp_path)]
    first = setup_aws_py(endpoint, *argv)
    assert first.returncode == 0, first.stderr
    assert "create cloudwatch alarm logdig-no-events" in first.stdout
    assert "create lambda function logdig-compact" in first.stdout
    assert "alarms: sns topic logdig-alarms; dashboard: logdig" in first.stdout

    second = setup_aws_py(endpoint, *argv)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("no changes\n")

    cost = setup_aws_py(endpoint, "cost")  # restore's and cost's plans: in-process tests
    assert cost.returncode == 0, cost.stderr
    assert "Replication" in cost.stdout

    gone = setup_aws_py(endpoint, "destroy", "--delete-data")
    assert gone.returncode == 0, gone.stderr
    assert setup_aws_py(endpoint, "destroy").stdout.startswith("no changes\n")
