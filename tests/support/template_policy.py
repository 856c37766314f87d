"""IAM policies read from the project's templates as CloudFormation would resolve them: the rotation
function's policy in template.yaml, and a role's trust and inline policies in member-role.yaml.

Only what the templates' policies use is resolved: Ref over pseudo parameters and the parameters
(their defaults, or the values given), Fn::Sub (both forms, `${!x}` kept literal), Fn::Select,
Fn::Split, and Fn::If by its condition, as CloudFormation decides it (Fn::Equals, Fn::Not, Fn::And,
Fn::Or, Condition), an AWS::NoValue branch dropping its key or list item.
"""

import json
import re
import sys

from cfnlint.decode import decode

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
NO_VALUE = object()


class Resolver:
    def __init__(self, template_path: str, overrides: dict | None = None, account: str = ACCOUNT):
        template, problems = decode(template_path)
        if problems:
            raise SystemExit(f"cannot read {template_path}: {problems}")
        self.template = template
        self.values = {name: str(spec.get("Default", ""))
                       for name, spec in template.get("Parameters", {}).items()}
        self.values.update(overrides or {})
        self.values.update({"AWS::AccountId": account, "AWS::Region": REGION,
                            "AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com"})
        self.conditions = template.get("Conditions", {})

    def holds(self, node) -> bool:
        if isinstance(node, str):
            return self.holds(self.conditions[node])
        if isinstance(node, dict) and len(node) == 1:
            (name, arg), = node.items()
            if name == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if name == "Fn::Not":
                return not self.holds(arg[0])
            if name == "Fn::And":
                return all(self.holds(a) for a in arg)
            if name == "Fn::Or":
                return any(self.holds(a) for a in arg)
            if name == "Condition":
                return self.holds(self.conditions[arg])
        raise SystemExit(f"cannot decide the condition {node}")

    def substitute(self, text: str, extra: dict) -> str:
        def one(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            return str(self.values.get(name, match.group(0)))
        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (name, arg), = node.items()
            if name == "Ref":
                # A resource's Ref is the deployment's business: left as it is.
                return NO_VALUE if arg == "AWS::NoValue" else self.values.get(arg, node)
            if name == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.holds(condition) else when_false)
            if name == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self.substitute(text, {k: self.resolve(v) for k, v in extra.items()})
            if name == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if name == "Fn::Split":
                return self.resolve(arg[1]).split(arg[0])
        if isinstance(node, dict):
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not NO_VALUE}
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item is not NO_VALUE]
        return node

    def resource(self, logical_id: str):
        """A resource's properties, or None when its Condition does not hold."""
        resource = self.template["Resources"][logical_id]
        if "Condition" in resource and not self.holds(resource["Condition"]):
            return None
        return self.resolve(resource.get("Properties", {}))


def function_policy(template_path: str, overrides: dict | None = None) -> dict:
    """template.yaml's rotation function policy, as one document."""
    properties = Resolver(template_path, overrides).resource("RotationFunction")
    statements = [statement for document in properties["Policies"] for statement in document["Statement"]]
    return {"Version": "2012-10-17", "Statement": statements}


def role_documents(template_path: str, logical_id: str, overrides: dict | None = None,
                   account: str = ACCOUNT) -> dict | None:
    """An AWS::IAM::Role's RoleName, trust policy and inline policies, as deployed in `account`;
    None when the template would not make it."""
    properties = Resolver(template_path, overrides, account).resource(logical_id)
    if properties is None:
        return None
    return {
        "RoleName": properties["RoleName"],
        "AssumeRolePolicyDocument": properties["AssumeRolePolicyDocument"],
        "Policies": {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies", [])},
    }


if __name__ == "__main__":
    print(json.dumps(function_policy(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"), indent=2))
