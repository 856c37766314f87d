"""Makes the project's templates into what CloudFormation itself would deploy, for a stand-in (moto)
that cannot: `translate` runs AWS's SAM translator over template.yaml, as `sam deploy` would, and
CloudFormation's own decisions on conditions are taken here, so nothing conditional is left.

`resolve_conditions(template, parameters)` drops resources and outputs whose Condition is false,
replaces each Fn::If with its chosen branch, and removes AWS::NoValue wherever it lands (a key, or
a list item: moto keeps a None in a list, a role's Policies for one). Ref, Fn::Sub and Fn::GetAtt
are left to the deployment. `check_rules` applies the template's Rules, which moto ignores.
"""

import copy
import json
from pathlib import Path

import boto3
from cfnlint.decode import decode
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

PSEUDO = {"AWS::AccountId": "123456789012", "AWS::Region": "us-east-1", "AWS::Partition": "aws",
          "AWS::URLSuffix": "amazonaws.com"}
NO_VALUE = object()


def load(path: Path) -> dict:
    """A template (YAML short forms too) as plain JSON values."""
    template, problems = decode(str(path))
    if problems:
        raise SystemExit(f"cannot read {path}: {problems}")
    return json.loads(json.dumps(template))  # cfn-lint's nodes, as plain dicts and strings


def translate(path: Path, given: dict, code_uri: str) -> dict:
    """A SAM template as plain CloudFormation, as `sam package` and `sam deploy` would hand it over."""
    template = load(path)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri  # the S3 location `sam package` writes for `.`
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=PSEUDO["AWS::Region"]))
    # An empty managed-policy map: the policies are inline, and looking the map up would ask IAM.
    return translator.translate(template, dict(given), get_managed_policy_map=lambda: {})


def parameter_values(template: dict, given: dict) -> dict:
    """Every parameter's value as CloudFormation sees it: the given one, else the default (as a string)."""
    values = {name: str(spec["Default"]) for name, spec in template.get("Parameters", {}).items()
              if "Default" in spec}
    values.update(given)
    missing = set(template.get("Parameters", {})) - set(values)
    if missing:
        raise ValueError(f"no value for parameters {sorted(missing)}")
    return {**values, **PSEUDO}


class Conditions:
    def __init__(self, template: dict, values: dict):
        self.definitions = template.get("Conditions", {})
        self.values = values

    def value(self, node):
        """A condition function's operand: a literal or a parameter's Ref (all these templates use)."""
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return self.values[node["Ref"]]
        if isinstance(node, (dict, list)):
            raise ValueError(f"cannot compare {node} in a condition")
        return str(node)

    def holds(self, node) -> bool:
        if isinstance(node, str):  # a condition's name
            return self.holds(self.definitions[node])
        (function, args), = node.items()
        if function == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if function == "Fn::Not":
            return not self.holds(args[0])
        if function == "Fn::And":
            return all(self.holds(arg) for arg in args)
        if function == "Fn::Or":
            return any(self.holds(arg) for arg in args)
        if function == "Condition":
            return self.holds(self.definitions[args])
        raise ValueError(f"unknown condition function {function}")

    def resolve(self, node):
        """`node` with every Fn::If decided and every AWS::NoValue removed (NO_VALUE if it is one)."""
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] == "AWS::NoValue":
                return NO_VALUE
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                return self.resolve(when_true if self.holds(name) else when_false)
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not NO_VALUE}
        if isinstance(node, list):
            return [item for item in map(self.resolve, node) if item is not NO_VALUE]
        return node


def resolve_conditions(template: dict, given: dict) -> dict:
    """A copy of `template` as CloudFormation would deploy it with the `given` parameter values."""
    conditions = Conditions(template, parameter_values(template, given))
    result = copy.deepcopy(template)
    for section in ("Resources", "Outputs"):
        kept = {}
        for logical_id, body in result.get(section, {}).items():
            if "Condition" in body and not conditions.holds(body["Condition"]):
                continue
            body.pop("Condition", None)
            kept[logical_id] = conditions.resolve(body)
        result[section] = kept
    result.pop("Rules", None)  # applied by check_rules, unknown to moto
    return result


def check_rules(template: dict, given: dict) -> list[str]:
    """The AssertDescriptions of the template's Rules that these values break (CloudFormation refuses the stack)."""
    conditions = Conditions(template, parameter_values(template, given))
    broken = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not conditions.holds(rule["RuleCondition"]):
            continue
        broken += [a["AssertDescription"] for a in rule["Assertions"] if not conditions.holds(a["Assert"])]
    return broken


def substitute_refs(node, values: dict):
    """`node` with each Ref to a parameter (or pseudo parameter) in `values` replaced by its value;
    Refs to resources are left as they are."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]
        return {key: substitute_refs(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute_refs(item, values) for item in node]
    return node
