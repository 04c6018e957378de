"""Synthesizing the CDK app in tests, and reading what it produced (templates, ASL, IAM, nag report).

Bundling is skipped (`aws:cdk:bundling-stacks: []`): the Lambda asset then points at the sources and
no pip install runs; test_lambda_bundle.py builds the real bundle once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[3]
NODE = ROOT / "node_modules" / ".bin" / "node"
if NODE.exists():  # jsii on the project's Node 22, not the system's older one
    os.environ.setdefault("JSII_NODE", str(NODE))

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks.application import Application, build, cdk_json_context  # noqa: E402

STACKS = ("Storage", "Inference", "Training", "Monitoring")
FAKE_ACCOUNT = "123456789012"


@dataclass
class Synth:
    application: Application
    outdir: Path
    context: dict
    _templates: dict = field(default_factory=dict)

    def template_json(self, stack: str) -> dict:
        return json.loads((self.outdir / f"MultilingualProductInference{stack}.template.json").read_text())

    def template(self, stack: str) -> Template:
        if stack not in self._templates:
            self._templates[stack] = Template.from_json(self.template_json(stack))
        return self._templates[stack]

    @cached_property
    def validation_report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def state_machine_asl(self, stack: str, name: str) -> dict:
        """The ASL of the state machine called `name`, its CloudFormation references filled with
        plausible values (Lambda ARNs name the function's logical id)."""
        template = self.template_json(stack)
        for logical_id, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::StepFunctions::StateMachine" and props.get("StateMachineName") == name:
                return json.loads(resolve(props["DefinitionString"], template))
        raise KeyError(f"no state machine {name} in {stack}")

    def handler_of_function_arn(self, stack: str, arn: str) -> str:
        """`lambdas.<module>` of the function a (resolved) Task Resource ARN names."""
        template = self.template_json(stack)
        logical_id = arn.rsplit(":", 1)[-1]
        return template["Resources"][logical_id]["Properties"]["Handler"].rsplit(".", 1)[0]


def synthesize(outdir: Path, **overrides: Any) -> Synth:
    """Build and synthesize the app with cdk.json's context plus `overrides`, bundling skipped."""
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], **overrides}
    app = App(context=context, outdir=str(outdir))
    application = build(app)
    app.synth()
    return Synth(application, outdir, context)


# -- reading templates -----------------------------------------------------------------------------
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": FAKE_ACCOUNT,
          "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "stack"}


def resolve(node: Any, template: dict) -> Any:
    """A CloudFormation value with its intrinsic functions evaluated against plausible values."""
    if isinstance(node, list):
        return [resolve(item, template) for item in node]
    if not isinstance(node, dict):
        return node
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(str(resolve(item, template)) for item in items)
    if "Ref" in node:
        return PSEUDO.get(node["Ref"], node["Ref"])
    if "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        kind = template["Resources"].get(logical_id, {}).get("Type", "")
        if attribute == "Arn" and kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:us-east-1:{FAKE_ACCOUNT}:function:{logical_id}"
        if attribute == "Arn" and kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{FAKE_ACCOUNT}:role/{logical_id}"
        return f"{logical_id}.{attribute}"
    if "Fn::Sub" in node:
        text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
        for name, value in PSEUDO.items():
            text = text.replace("${" + name + "}", value)
        return text
    if "Fn::GetStackOutput" in node:
        return f"output-{node['Fn::GetStackOutput']['OutputName']}"
    if "Fn::Select" in node:
        index, items = node["Fn::Select"]
        return resolve(items, template)[index]
    if "Fn::Split" in node:
        delimiter, text = node["Fn::Split"]
        return str(resolve(text, template)).split(delimiter)
    return {key: resolve(value, template) for key, value in node.items()}


def resources(template: dict, kind: str) -> Iterator[tuple[str, dict]]:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == kind:
            yield logical_id, resource.get("Properties", {})


def policy_statements(template: dict) -> Iterator[tuple[str, dict]]:
    """Every IAM statement of the template: inline policies, role policies and managed policies."""
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, props in resources(template, kind):
            for statement in props["PolicyDocument"]["Statement"]:
                yield logical_id, statement
    for logical_id, props in resources(template, "AWS::IAM::Role"):
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def statements_of_role(template: dict, role_logical_prefix: str) -> list[dict]:
    """The statements of the policies attached to the role whose logical id starts with the prefix."""
    found = []
    for _, props in resources(template, "AWS::IAM::Policy"):
        roles = [r.get("Ref", "") for r in props.get("Roles", [])]
        if any(role.startswith(role_logical_prefix) for role in roles):
            found += props["PolicyDocument"]["Statement"]
    return found


def task_states(definition: dict) -> Iterator[tuple[str, dict]]:
    """Every Task state, those inside Map item processors included."""
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            yield name, state
        for inner in (state.get("ItemProcessor"), state.get("Iterator")):
            if inner:
                yield from task_states(inner)
