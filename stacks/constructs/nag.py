"""cdk-nag: the AwsSolutions rule pack as a validation plugin, and acknowledgements with reasons.

cdk-nag 3 checks through CDK's policy-validation hook: a finding that is not acknowledged fails
`cdk synth`. Each acknowledgement names one exact finding id (e.g. `AwsSolutions-IAM5[Resource::*]`)
and says why it is acceptable, next to the resource it concerns. `wildcard_resource_finding` spells a
resource the way the IAM5 rule reports it, so an acknowledgement follows the resource it is about
(bucket names, logical ids) instead of hard-coding its rendered form.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

MIN_REASON = 20


def add_nag_checks(app: IConstruct) -> None:
    """Run the AwsSolutions pack on every stack of the app at synth time."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on `scope` (and its children), with the reason."""
    if len(reason.strip()) < MIN_REASON:
        raise ValueError(f"acknowledging {finding} needs a real reason, not {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge the IAM5 finding of a policy resource that holds a `*` (an ARN pattern)."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{flatten(Stack.of(scope).resolve(resource))}]", reason)


def flatten(node: Any) -> str:
    """A resolved CloudFormation value as cdk-nag writes it in a finding id (its flattenCfnReference)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(flatten(item) for item in items)
    if "Fn::Sub" in node:
        return flatten(node["Fn::Sub"])
    if "Fn::GetAtt" in node:
        resource, attribute = node["Fn::GetAtt"]
        return f"<{flatten(resource)}.{flatten(attribute)}>"
    if "Fn::ImportValue" in node:
        return flatten(node["Fn::ImportValue"])
    if "Ref" in node:
        return f"<{flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"), ensure_ascii=False)
