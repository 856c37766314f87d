"""The rotation function's IAM policy, read from template.yaml as CloudFormation would resolve it.

Only what the template's policy uses is resolved: Fn::Sub and Ref over pseudo parameters and the
parameters (their defaults, or the values given), and each optional statement (an Fn::If) by its
condition, as CloudFormation decides it: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition.
"""

import json
import re
import sys
from pathlib import Path

from cfnlint.decode import decode

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"


def function_policy(template_path: str, overrides: dict | None = None) -> dict:
    template, problems = decode(template_path)
    if problems:
        raise SystemExit(f"cannot read {template_path}: {problems}")
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    values.update(overrides or {})
    values.update({"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
                   "AWS::URLSuffix": "amazonaws.com"})

    conditions = template.get("Conditions", {})

    def holds(node):
        if isinstance(node, dict) and len(node) == 1:
            (name, arg), = node.items()
            if name == "Fn::Equals":
                return resolve(arg[0]) == resolve(arg[1])
            if name == "Fn::Not":
                return not holds(arg[0])
            if name == "Fn::And":
                return all(holds(a) for a in arg)
            if name == "Fn::Or":
                return any(holds(a) for a in arg)
            if name == "Condition":
                return holds(conditions[arg])
        raise SystemExit(f"cannot decide the condition {node}")

    def resolve(node):
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]
        if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], node["Fn::Sub"])
        if isinstance(node, dict):
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    policies = template["Resources"]["RotationFunction"]["Properties"]["Policies"]
    documents = []
    for p in policies:
        if isinstance(p, dict) and "Fn::If" in p:
            name, when_true, when_false = p["Fn::If"]
            p = when_true if holds(conditions[name]) else when_false
        if isinstance(p, dict) and "Statement" in p:
            documents.append(p)
    statements = [statement for document in documents for statement in resolve(document)["Statement"]]
    return {"Version": "2012-10-17", "Statement": statements}


if __name__ == "__main__":
    print(json.dumps(function_policy(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"), indent=2))
