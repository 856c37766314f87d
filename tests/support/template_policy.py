"""The rotation function's IAM policy, read from template.yaml as CloudFormation would resolve it.

Only what the template's policy uses is resolved: Fn::Sub over pseudo parameters and the
parameters' defaults. The optional KMS statement (an Fn::If on a customer managed key) is left out.
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
    values.update({"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION})

    def resolve(node):
        if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], node["Fn::Sub"])
        if isinstance(node, dict):
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    policies = template["Resources"]["RotationFunction"]["Properties"]["Policies"]
    documents = [p for p in policies if isinstance(p, dict) and "Statement" in p]
    statements = [statement for document in documents for statement in resolve(document)["Statement"]]
    return {"Version": "2012-10-17", "Statement": statements}


if __name__ == "__main__":
    print(json.dumps(function_policy(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"), indent=2))
