"""What holds across the whole app: cdk-nag AwsSolutions with nothing unacknowledged (and a reason
for each acknowledgement), least-privilege IAM, cfn-lint on the templates, asl-validator on every
state machine."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from stacks.application import build, cdk_json_context
from stacks.constructs.nag import MIN_REASON
from tests.integration.infrastructure.cdk_helpers import NODE, ROOT, STACKS, as_list, policy_statements

STATE_MACHINES = {"Inference": ("HybridPipeline", "CatalogueBatch"), "Training": ("NerTraining", "NovaFineTuning")}
# Rules acknowledged somewhere in the app; anything else must be fixed, not acknowledged.
ACKNOWLEDGEABLE = {"AwsSolutions-IAM5", "AwsSolutions-L1", "AwsSolutions-S1", "AwsSolutions-SM1",
                   "AwsSolutions-IAM4", "@aws-cdk/aws-ec2:noSubnetRouteTableId"}
# Actions that AWS does not scope to resources: only these may be granted on "*".
UNSCOPED_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                    "xray:GetSamplingTargets", "logs:CreateLogDelivery", "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
                    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData",
                    "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                    "sagemaker:ListTags"}  # read-only; CDK's SageMaker .sync task grants it on "*"


@pytest.fixture(params=["synth", "variant"])
def any_synth(request):
    return request.getfixturevalue(request.param)


# -- cdk-nag ---------------------------------------------------------------------------------------
def test_nag_finds_nothing_unacknowledged(any_synth):
    assert any_synth.validation_report["pluginReports"] == []


def acknowledgements(synth) -> list[tuple[str, str, str]]:
    found = []
    for stack in STACKS:
        metadata = json.loads((synth.outdir / f"MultilingualProductInference{stack}.metadata.json").read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found += [(path, finding, reason) for finding, reason in entry["data"].items()]
    return found


def test_every_acknowledgement_names_an_expected_rule_and_says_why(any_synth):
    found = acknowledgements(any_synth)
    assert found
    for path, finding, reason in found:
        rule = re.sub(r"^Annotation::", "", finding).split("[", 1)[0]
        assert rule in ACKNOWLEDGEABLE, (path, finding)
        assert len(reason.strip()) >= MIN_REASON, (path, finding)
    # IAM5 wildcard resources are acknowledged one by one, never as a whole rule.
    assert all("[" in finding for _, finding, _ in found if "IAM5" in finding)


def test_nag_runs_in_the_app_and_fails_the_synth(tmp_path):
    """A bucket without TLS enforcement added to the app is reported (S10) and stops the synth."""
    app = App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    build(app)
    s3.Bucket(Stack(app, "Careless"), "Open")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert "AwsSolutions-S10" in rules
    assert all(c["constructPath"].startswith("Careless/") for plugin in report["pluginReports"]
               for v in plugin["violations"] for c in v["violatingConstructs"])


# -- IAM -------------------------------------------------------------------------------------------
def test_no_wildcard_actions_anywhere(any_synth):
    for stack in STACKS:
        for policy, statement in policy_statements(any_synth.template_json(stack)):
            for action in as_list(statement["Action"]):
                assert "*" not in action, (stack, policy, action)


def test_only_unscoped_actions_are_granted_on_star(any_synth):
    for stack in STACKS:
        for policy, statement in policy_statements(any_synth.template_json(stack)):
            if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource", [])):
                extra = set(as_list(statement["Action"])) - UNSCOPED_ACTIONS
                assert not extra, (stack, policy, extra)


# -- cfn-lint --------------------------------------------------------------------------------------
def test_cfn_lint_passes_on_the_templates(any_synth):
    templates = sorted(str(p) for p in any_synth.outdir.glob("*.template.json"))
    assert len(templates) == len(STACKS)
    # W3005: CDK puts a role in a function's / state machine's DependsOn beside the GetAtt that already
    # orders them (so the role's policy exists first); redundant, harmless, and CDK's own choice.
    result = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), "--ignore-checks", "W3005", "--",
                             *templates], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- asl-validator ---------------------------------------------------------------------------------
@pytest.mark.parametrize("stack,name", [(s, n) for s, names in STATE_MACHINES.items() for n in names])
def test_asl_validator_accepts_every_state_machine(synth, tmp_path, stack, name):
    path = tmp_path / f"{name}.asl.json"
    path.write_text(json.dumps(synth.state_machine_asl(stack, name)))
    result = subprocess.run([str(NODE), str(ROOT / "node_modules" / ".bin" / "asl-validator"), "--json-path",
                             str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_definition(synth, tmp_path):
    asl = synth.state_machine_asl("Inference", "HybridPipeline")
    asl["States"]["NerStage"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(asl))
    result = subprocess.run([str(NODE), str(ROOT / "node_modules" / ".bin" / "asl-validator"), "--json-path",
                             str(path)], capture_output=True, text=True)
    assert result.returncode != 0
