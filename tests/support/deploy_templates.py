"""Proves, offline, that template.yaml and member-role.yaml deploy as written and make what the README
promises: each is deployed into moto's CloudFormation (in-process) for several parameter sets, read
back, checked, deleted, and what is left checked; then each role's policy is put through moto's IAM
policy evaluator for a table of allowed and denied calls.

    .venv/bin/python tests/support/deploy_templates.py      # exit 0, or 1 naming each failed check

template.yaml goes through AWS's SAM translator first, as `sam deploy` would; both then have their
conditions decided as CloudFormation would, which moto cannot (both in cfn_resolve.py). What moto
does not create, or gets wrong, is listed and must stay exactly as listed: no gap passes silently.
"""

import ast
import json
import logging
import os
import re
import sys
import warnings
import zipfile
from io import BytesIO
from pathlib import Path

import boto3
from moto import mock_aws
from moto.iam.access_control import IAMPolicy, PermissionResult

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_resolve import check_rules, load, parameter_values, resolve_conditions, substitute_refs, translate  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
CODE_BUCKET, CODE_KEY = "some-bucket", "key.zip"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROTATOR_ROLE = "arn:aws:iam::123456789012:role/central-RotationFunctionRole-ABC"
AUDIT_PRINCIPAL = "arn:aws:iam::123456789012:role/central-AuditFunctionRole-ABC"
OPERATOR_ROLE = "arn:aws:iam::123456789012:role/ops/key-operators"  # in the central account, always
EXTERNAL_ID = "rotator-external-id"
CENTRAL, MEMBER = "iam-key-rotator", "iam-key-rotator-member-roles"
SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:iam-keys/*"
ROTATED_USERS = f"arn:aws:iam::{ACCOUNT}:user/rotated/*"
SECRET_ACTIONS = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds",
                  "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
KEY_ACTIONS = ["iam:ListAccessKeys", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey",
               "iam:GetAccessKeyLastUsed"]
TAG_KEYS_OWN = {"ForAllValues:StringLike": {"aws:TagKeys": "iam-key-rotator:*"}}
VIA_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}

# What moto's CloudFormation does not create (it warns "not supported" and goes on): listed per
# parameter set, so that a resource moto starts or stops skipping fails the run until looked at.
ALARMS = ["CurrentKeyBrokenAlarm", "RotationStuckAlarm", "RotationOverdueAlarm", "DeliveryStaleAlarm", "SweepErrorsAlarm",
          "PreviousKeyInUseAlarm"]
CENTRAL_SETS = [  # (name, parameters, logical ids moto skips)
    ("defaults", {}, ALARMS + ["AlertTopicPolicy"]),
    ("audit+example+alerts+kms", {"EnableAudit": "true", "CreateExample": "true", "AlertEmail": "ops@example.com",
                                  "KmsKeyArn": KMS_KEY},
     ALARMS + ["AlertTopicPolicy", "AuditHighSeverityAlarm", "AuditFailedAlarm", "AlertEmailSubscription", "ExampleSecret",
               "ExampleRotationSchedule"]),
    ("no-user-tag", {"UserTagKey": ""}, ALARMS + ["AlertTopicPolicy"]),
    ("members", {"MemberRoleName": "iam-key-rotator-member", "MemberOrganizationId": "o-abcdefghij",
                 "MemberAccountIds": "111122223333,444455556666"},
     ALARMS + ["AlertTopicPolicy"]),
    ("organization-audit+security-hub", {"EnableAudit": "true", "AuditOrganization": "true", "AuditSecurityHub": "true"},
     ALARMS + ["AlertTopicPolicy", "AuditHighSeverityAlarm", "AuditFailedAlarm", "AuditAccountUnreachableAlarm",
               "SecurityHubNotImportedAlarm"]),
]
MEMBER_SETS = [
    ("rotator-only", {"RotatorRoleArn": ROTATOR_ROLE}),
    ("audit-role", {"RotatorRoleArn": ROTATOR_ROLE, "AuditPrincipalArn": AUDIT_PRINCIPAL}),
    ("external-id", {"RotatorRoleArn": ROTATOR_ROLE, "ExternalId": EXTERNAL_ID}),
    ("operator", {"RotatorRoleArn": ROTATOR_ROLE, "ExternalId": EXTERNAL_ID, "OperatorRoleName": "ops/key-operators"}),
    ("bind-off", {"RotatorRoleArn": ROTATOR_ROLE, "BindUsersToSecrets": "false"}),
]
# template.yaml's environment: variable -> parameter, always set / set only when the parameter is not empty.
ENV_ALWAYS = {"ROTATOR_TEST_BUDGET_SECONDS": "TestBudgetSeconds", "ROTATOR_USER_PATH_PREFIX": "RotatedUserPath",
              "ROTATOR_DEACTIVATE_AFTER": "DeactivateAfter", "ROTATOR_QUIET_FOR": "QuietFor",
              "ROTATOR_LAST_USE_LAG": "LastUseLag", "ROTATOR_DELETE_AFTER": "DeleteAfter",
              "ROTATOR_SECRET_NAME_PREFIX": "SecretNamePrefix", "ROTATOR_GITHUB_API_URL": "GitHubApiUrl"}
ENV_WHEN_SET = {  # variable: (parameter, the parameters that must all be non-empty for it to be set)
    "ROTATOR_USER_TAG": ("UserTagKey", ["UserTagKey"]), "ROTATOR_SSM_PREFIX": ("SsmPrefix", ["SsmPrefix"]),
    "ROTATOR_GITHUB_OWNERS": ("GitHubOwners", ["GitHubOwners"]),
    "ROTATOR_GITHUB_CREDENTIALS": ("GitHubCredentialsSecretArn", ["GitHubOwners"]),
    "ROTATOR_MEMBER_ROLE": ("MemberRoleName", ["MemberRoleName"]),
    "ROTATOR_MEMBER_ACCOUNTS": ("MemberAccountIds", ["MemberRoleName"]),
    "ROTATOR_MEMBER_EXTERNAL_ID": ("MemberExternalId", ["MemberRoleName", "MemberExternalId"])}


class Checks:
    """Counts passed checks, keeps failed ones, and the moto gaps seen, per parameter set (`scope`)."""

    def __init__(self):
        self.scope, self.passed, self.failed, self.gaps = "", 0, [], {}

    def expect(self, what, got, want):
        if got == want:
            self.passed += 1
        else:
            self.failed.append(f"{self.scope}: {what}: got {got!r}, want {want!r}")

    def gap(self, what, moto_still_wrong: bool):
        """A property moto drops or mangles; the template's side of it is checked instead. Fails once
        moto gets it right, so the check moves back to what moto made."""
        if moto_still_wrong:
            self.gaps.setdefault(what, []).append(self.scope)
        else:
            self.failed.append(f"{self.scope}: moto now gets right: {what}; check moto's value, drop the gap")


def aws(service: str):
    return boto3.client(service, region_name=REGION)


def deploy(stack: str, template: dict, params: dict):
    """Creates the stack; returns its status, {logical id: physical id}, and the types moto called unsupported."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        aws("cloudformation").create_stack(
            StackName=stack, TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    status = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    summaries = aws("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    # moto lists a skipped resource as a row with no logical id.
    made = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in summaries if r["LogicalResourceId"]}
    unsupported = set(re.findall(r"Tried to parse (\S+) but", " ".join(str(w.message) for w in seen)))
    return status, made, unsupported


def check_skips(c: Checks, template: dict, made: dict, unsupported: set, known: list) -> list:
    skipped = sorted(set(template["Resources"]) - set(made))
    c.expect("resources moto skipped", skipped, sorted(known))
    c.expect("types moto reported unsupported", unsupported,
             {template["Resources"][r]["Type"] for r in skipped})
    return skipped


def outputs(stack: str) -> dict:
    stack = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


# Policies template.yaml attaches to a role as resources of their own (AWS::IAM::Policy).
STANDALONE_POLICIES = {"sweep-goes-on", "audit-goes-on"}


def role_policies(c: Checks, role: str) -> list:
    """All statements of a role's inline policies, as moto read them back."""
    statements = []
    for name in aws("iam").list_role_policies(RoleName=role)["PolicyNames"]:
        document = aws("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if name not in STANDALONE_POLICIES:  # an AWS::IAM::Policy resource's document is stored as JSON
            c.gap("IAM role inline policies from CloudFormation are stored as Python repr, not JSON",
                  isinstance(document, str) and document.startswith("{'"))
        statements += (ast.literal_eval(document) if isinstance(document, str) else document)["Statement"]
    return statements


def shape(statements: list, where: str = "Resource") -> dict:
    """{Sid: (actions, resource or principal, condition)}: what a statement allows, in comparable form."""
    def listed(value):
        return value if isinstance(value, list) else [value]
    return {s["Sid"]: (listed(s["Action"]), s.get(where), s.get("Condition")) for s in statements}


def check_statements(c: Checks, what: str, got: dict, want: dict):
    c.expect(f"{what} statements", sorted(got), sorted(want))
    for sid in set(got) & set(want):
        c.expect(f"{what} {sid}", got[sid], want[sid])


def check_rotation_role(c: Checks, p: dict, template: dict, made: dict, roles: dict) -> str:
    """Only what the README's permission table lists, scoped as it says; returns the role's ARN."""
    iam, members = aws("iam"), bool(p["MemberRoleName"])
    role = iam.get_role(RoleName=made["RotationFunctionRole"])["Role"]
    c.expect("rotation role trust", role["AssumeRolePolicyDocument"]["Statement"],
             [{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}])
    want = {"RotateOnlyTheseSecrets": (SECRET_ACTIONS, SECRETS, None),
            "NoteTheSweepsProgressOnTheseSecrets": (["secretsmanager:TagResource"], SECRETS, TAG_KEYS_OWN),
            "ListSecretsCannotBeScopedByAws": (["secretsmanager:ListSecrets"], "*", None),
            "ManageKeysOnlyOfUsersUnderThePath": (["iam:GetUser"] + KEY_ACTIONS, ROTATED_USERS, None),
            # A sweep its deadline stops invokes this function again, and no other.
            "InvokeOnlyItself": (["lambda:InvokeFunction"],
                                 f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{made['RotationFunction']}", None)}
    if p["KmsKeyArn"]:
        want["UseTheSecretsKey"] = (["kms:Decrypt", "kms:GenerateDataKey"], KMS_KEY, VIA_SECRETS_MANAGER)
    if members:
        want["AssumeOnlyTheMemberRole"] = (["sts:AssumeRole", "sts:TagSession"], "arn:aws:iam::*:role/iam-key-rotator-member",
                                           {"StringEquals": {"aws:ResourceOrgID": "o-abcdefghij"}})
    statements = role_policies(c, role["RoleName"])
    check_statements(c, "rotation role", shape(statements), want)
    roles.setdefault("central+members" if members else "central", statements)  # "central": the defaults' role
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    c.gap("IAM::Role ManagedPolicyArns (AWSLambdaBasicExecutionRole) not attached", attached == [])
    c.expect("rotation role managed policies (template)",
             template["Resources"]["RotationFunctionRole"]["Properties"]["ManagedPolicyArns"],
             ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
    return role["Arn"]


def schedule(made: dict, rule_id: str, function_id: str):
    """A schedule rule's expression, its targets as (is the function, Input), and its ARN."""
    events, function = aws("events"), aws("lambda").get_function_configuration(FunctionName=made[function_id])
    rule = events.describe_rule(Name=made[rule_id])
    targets = events.list_targets_by_rule(Rule=made[rule_id])["Targets"]
    return rule["ScheduleExpression"], [(t["Arn"] == function["FunctionArn"], json.loads(t["Input"])) for t in targets], rule["Arn"]


def check_rotation_function(c: Checks, p: dict, template: dict, made: dict, role_arn: str):
    """Its settings, the environment the template maps from the parameters, its schedules and logs."""
    lam = aws("lambda")
    function = lam.get_function_configuration(FunctionName=made["RotationFunction"])
    c.expect("rotation function", {k: function[k] for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role")},
             {"Runtime": "provided.al2023", "Handler": "bootstrap", "MemorySize": 128, "Timeout": 120, "Role": role_arn})
    env = function["Environment"]["Variables"]
    c.gap("Lambda environment values from Number parameters stay numbers", isinstance(env["ROTATOR_TEST_BUDGET_SECONDS"], int))
    want_env = {var: p[param] for var, param in ENV_ALWAYS.items()}
    want_env.update({var: p[param] for var, (param, needs) in ENV_WHEN_SET.items() if all(p[n] for n in needs)})
    c.expect("rotation function environment", {k: str(v) for k, v in env.items()}, want_env)
    c.gap("Lambda Architectures (moto makes every function x86_64)", function["Architectures"] == ["x86_64"])
    c.gap("Lambda LoggingConfig", "LoggingConfig" not in function)
    sent = substitute_refs(template["Resources"]["RotationFunction"]["Properties"], p)
    c.expect("rotation function architecture and logging (template)", (sent["Architectures"], sent["LoggingConfig"]),
             (["arm64"], {"LogGroup": {"Ref": "RotationLogs"}, "LogFormat": "JSON",
                          "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}))

    sweep, deep = schedule(made, "RotationFunctionSweep", "RotationFunction"), schedule(made, "RotationFunctionDeepSweep", "RotationFunction")
    c.expect("sweep rule", sweep[:2], ("rate(1 hour)", [(True, {"Action": "sweep"})]))
    c.expect("deep sweep rule", deep[:2], ("rate(1 day)", [(True, {"Action": "sweep", "Deep": True})]))
    policy = json.loads(lam.get_policy(FunctionName=made["RotationFunction"])["Policy"])["Statement"]
    invokers = sorted(((s["Principal"]["Service"], s.get("Condition")) for s in policy), key=str)
    c.expect("who may invoke the rotation function", invokers, sorted([
        ("events.amazonaws.com", {"ArnLike": {"AWS:SourceArn": sweep[2]}}),
        ("events.amazonaws.com", {"ArnLike": {"AWS:SourceArn": deep[2]}}),
        ("secretsmanager.amazonaws.com", {"StringEquals": {"AWS:SourceAccount": ACCOUNT}})], key=str))
    events = aws("events")
    alerts = events.list_targets_by_rule(Rule=made["RotationEventsToAlerts"])["Targets"]
    c.expect("rotation events rule targets the alert topic", [t["Arn"] for t in alerts], [made["AlertTopic"]])
    pattern = json.loads(events.describe_rule(Name=made["RotationEventsToAlerts"])["EventPattern"])
    c.expect("rotation events rule's secrets", pattern["detail"]["additionalEventData"]["SecretId"], [{"prefix": SECRETS[:-1]}])

    groups = {g["logGroupName"]: g.get("retentionInDays") for g in aws("logs").describe_log_groups()["logGroups"]}
    want_groups = {f"/aws/lambda/{CENTRAL}-rotation": 90}
    if p["EnableAudit"] == "true":
        want_groups[f"/aws/lambda/{CENTRAL}-audit"] = 90
    c.expect("log groups and their retention", groups, want_groups)


def check_audit(c: Checks, p: dict, made: dict, roles: dict):
    """A second function, same binary, on its own schedule, with a read-only role of its own."""
    function = aws("lambda").get_function_configuration(FunctionName=made["AuditFunction"])
    organization, security_hub = p["AuditOrganization"] == "true", p["AuditSecurityHub"] == "true"
    env = {"ROTATOR_SECRET_NAME_PREFIX": "iam-keys/"}
    if organization:
        env["ROTATOR_AUDIT_ROLE"] = p["AuditRoleName"]
    c.expect("audit function", (function["MemorySize"], function["Timeout"], function["Environment"]["Variables"]),
             (256, 300, env))
    c.expect("audit function role", function["Role"], aws("iam").get_role(RoleName=made["AuditFunctionRole"])["Role"]["Arn"])
    c.expect("audit rule", schedule(made, "AuditFunctionAudit", "AuditFunction")[:2],
             ("rate(7 days)", [(True, {"Action": "audit", "Organization": organization, "SecurityHub": security_hub})]))
    want = {"ReadTheCredentialReportWhichAwsCannotScope": (
                ["iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails",
                 "secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"], "*", None),
            "TellWhichSlotHoldsARotatedKey": (["iam:ListAccessKeys"], f"arn:aws:iam::{ACCOUNT}:user/*", None),
            "ReadOnlyTheRotatedSecrets": (["secretsmanager:GetSecretValue"], SECRETS, None)}
    if p["KmsKeyArn"]:
        want["DecryptTheSecretsThroughSecretsManagerOnly"] = (["kms:Decrypt"], KMS_KEY, VIA_SECRETS_MANAGER)
    if organization:
        want["ReadTheOrganizationsTree"] = (["organizations:ListRoots", "organizations:ListChildren",
                                             "organizations:ListAccountsForParent",
                                             "organizations:DescribeOrganizationalUnit"], "*", None)
        want["AssumeOnlyTheAuditRole"] = (["sts:AssumeRole"], "arn:aws:iam::*:role/iam-key-rotator-audit", None)
        # An audit of the organization its deadline stops invokes this function again, and no other.
        want["InvokeOnlyItself"] = (["lambda:InvokeFunction"],
                                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{made['AuditFunction']}", None)
    if security_hub:
        want["ImportIntoThisAccountsOwnProduct"] = (
            ["securityhub:BatchImportFindings"], f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default", None)
        want["FindItsEarlierFindings"] = (
            ["securityhub:GetFindings"], f"arn:aws:securityhub:{REGION}:{ACCOUNT}:hub/default", None)
    statements = role_policies(c, made["AuditFunctionRole"])
    check_statements(c, "audit role", shape(statements), want)
    roles.setdefault("audit+organization" if organization else "audit", statements)


def check_example(c: Checks, p: dict, template: dict, made: dict):
    """The user is made under the rotated path, tagged for its secret, and kept when the stack goes."""
    user = aws("iam").get_user(UserName=made["ExampleUser"])["User"]
    c.expect("example user", (user["UserName"], user["Path"]), (f"{CENTRAL}-example", "/rotated/"))
    c.gap("IAM::User Tags (and the example secret the tag names is skipped)",
          aws("iam").list_user_tags(UserName=user["UserName"])["Tags"] == [])
    sent = substitute_refs(template["Resources"]["ExampleUser"], p)
    c.expect("example user tag and deletion policy (template)", (sent["Properties"].get("Tags"), sent["DeletionPolicy"]),
             ([{"Key": "iam-key-rotator:secret", "Value": {"Ref": "ExampleSecret"}}], "Retain"))
    c.expect("example secret (template)", substitute_refs(template["Resources"]["ExampleSecret"]["Properties"], p),
             {"Name": {"Fn::Sub": "${SecretNamePrefix}example"}, "KmsKeyId": KMS_KEY,
              "Description": "Access key of the example user, rotated by iam-key-rotator.",
              "SecretString": {"Fn::Sub": '{"UserName": "${AWS::StackName}-example"}'}})


def check_central(c: Checks, p: dict, template: dict, made: dict, roles: dict):
    role_arn = check_rotation_role(c, p, template, made, roles)
    check_rotation_function(c, p, template, made, role_arn)
    if p["EnableAudit"] == "true":
        check_audit(c, p, made, roles)
    if p["CreateExample"] == "true":
        check_example(c, p, template, made)
    got = outputs(CENTRAL)
    want_outputs = ["AlertTopicArn", "AttachToASecret", "RotationFunctionArn", "RotationFunctionRoleArn"]
    if p["EnableAudit"] == "true":
        want_outputs.append("AuditFunctionRoleArn")
    c.expect("outputs", sorted(got), sorted(want_outputs))
    if p["CreateExample"] == "true":
        c.gap("Outputs naming a skipped resource are dropped (ExampleSecretArn)", "ExampleSecretArn" not in got)
    c.expect("output RotationFunctionRoleArn (member-role.yaml's RotatorRoleArn)", got.get("RotationFunctionRoleArn"), role_arn)


def leftovers() -> dict:
    return {"IAM users": sorted(u["UserName"] for u in aws("iam").list_users()["Users"]),
            "IAM roles": sorted(r["RoleName"] for r in aws("iam").list_roles()["Roles"]),
            "secrets": [s["Name"] for s in aws("secretsmanager").list_secrets()["SecretList"]],
            "log groups": [g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"]],
            "functions": [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]],
            "rules": [r["Name"] for r in aws("events").list_rules()["Rules"]],
            "topics": [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]}


def delete(c: Checks, stack: str, kept: dict):
    stack_id = aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    aws("cloudformation").delete_stack(StackName=stack)
    # As on AWS, a deleted stack is found by its id only.
    status = aws("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    c.expect("stack deleted", status, "DELETE_COMPLETE")
    want = {kind: [] for kind in leftovers()}
    want.update(kept)
    c.expect("what the deletion left", leftovers(), want)


def run_central(c: Checks, name: str, given: dict, known_skips: list, roles: dict) -> str:
    c.scope = f"template.yaml [{name}]"
    c.expect("template rules", check_rules(load(ROOT / "template.yaml"), given), [])
    translated = translate(ROOT / "template.yaml", given, f"s3://{CODE_BUCKET}/{CODE_KEY}")
    template = resolve_conditions(translated, given)
    p = parameter_values(translated, given)
    with mock_aws():
        code = BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n")  # moto reads the code from S3, as Lambda does
        aws("s3").create_bucket(Bucket=CODE_BUCKET)
        aws("s3").put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code.getvalue())
        status, made, unsupported = deploy(CENTRAL, template, given)
        c.expect("stack status", status, "CREATE_COMPLETE")
        skipped = check_skips(c, template, made, unsupported, known_skips)
        check_central(c, p, template, made, roles)
        kept = [f"{CENTRAL}-example"] if p["CreateExample"] == "true" else []
        delete(c, CENTRAL, {"IAM users": kept})
    return f"{len(made)} created, {len(skipped)} skipped ({', '.join(skipped)}); left after delete: {kept or 'nothing'}"


def check_member_role(c: Checks, given: dict, made: dict, roles: dict) -> str:
    """Only the central rotation role (and the operator role, when set) may assume it (with the
    external id, when set), for keys of users under the path (bound to the session's secret, unless
    BindUsersToSecrets is false)."""
    role = aws("iam").get_role(RoleName=made["MemberRole"])["Role"]
    c.expect("member role", (role["RoleName"], role["MaxSessionDuration"]), ("iam-key-rotator-member", 3600))
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    external = {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}} if "ExternalId" in given else None
    trusted = [ROTATOR_ROLE, OPERATOR_ROLE] if "OperatorRoleName" in given else ROTATOR_ROLE
    check_statements(c, "member role trust", shape(trust, "Principal"), {
        "OnlyTheCentralRotationFunctionOrItsOperator": (["sts:AssumeRole"], {"AWS": trusted}, external),
        "SessionsNameTheSecretTheyAreFor": (["sts:TagSession"], {"AWS": trusted}, {
            "StringLike": {"aws:RequestTag/iam-key-rotator-secret": f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:*"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["iam-key-rotator-secret"]}})})
    c.expect("member role policies", aws("iam").list_role_policies(RoleName=role["RoleName"])["PolicyNames"],
             ["rotate-keys-of-users-under-the-path"])
    bound = None if given.get("BindUsersToSecrets") == "false" else {
        "StringEquals": {"iam:ResourceTag/iam-key-rotator:secret": "${aws:PrincipalTag/iam-key-rotator-secret}"}}
    statements = role_policies(c, role["RoleName"])
    check_statements(c, "member role", shape(statements), {
        "ReadUsersUnderThePath": (["iam:GetUser"], ROTATED_USERS, None),
        "ManageKeysOnlyOfUsersUnderThePath": (KEY_ACTIONS, ROTATED_USERS, bound)})
    roles.setdefault("member", statements)  # the first set's: users bound to secrets
    if "ExternalId" in given:
        roles["member trust (operator)" if "OperatorRoleName" in given
              else "member trust (ExternalId)"] = trust
    return role["Arn"]


def check_member_audit_role(c: Checks, made: dict, roles: dict) -> str:
    """Only the audit principal may assume it, to read the credential report and users' keys and tags."""
    role = aws("iam").get_role(RoleName=made["AuditRole"])["Role"]
    c.expect("audit role", (role["RoleName"], role["MaxSessionDuration"]), ("iam-key-rotator-audit", 3600))
    check_statements(c, "audit role trust", shape(role["AssumeRolePolicyDocument"]["Statement"], "Principal"),
                     {"OnlyTheAuditPrincipal": (["sts:AssumeRole"], {"AWS": AUDIT_PRINCIPAL}, None)})
    statements = role_policies(c, role["RoleName"])
    check_statements(c, "audit role", shape(statements), {
        "ReadTheReportAndExemptionsWhichAwsCannotScope": (
            ["iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails"], "*", None),
        "TellWhichSlotHoldsARotatedKey": (["iam:ListAccessKeys"], f"arn:aws:iam::{ACCOUNT}:user/*", None)})
    roles["member audit"] = statements
    return role["Arn"]


def run_member(c: Checks, name: str, given: dict, roles: dict) -> str:
    c.scope = f"member-role.yaml [{name}]"
    template = resolve_conditions(load(ROOT / "member-role.yaml"), given)
    with mock_aws():
        status, made, unsupported = deploy(MEMBER, template, given)
        c.expect("stack status", status, "CREATE_COMPLETE")
        skipped = check_skips(c, template, made, unsupported, [])
        with_audit = "AuditPrincipalArn" in given
        c.expect("roles", sorted(made), ["AuditRole", "MemberRole"] if with_audit else ["MemberRole"])
        wanted_outputs = {"MemberRoleArn": check_member_role(c, given, made, roles)}
        if with_audit and "AuditRole" in made:
            wanted_outputs["AuditRoleArn"] = check_member_audit_role(c, made, roles)
        c.expect("outputs", outputs(MEMBER), wanted_outputs)
        delete(c, MEMBER, {})
    return f"{len(made)} created ({', '.join(sorted(made))}), {len(skipped)} skipped; left after delete: nothing"


def user(path): return f"arn:aws:iam::{ACCOUNT}:user/{path}"
def secret(name): return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"


MEMBER_ROLE_ARN = "arn:aws:iam::210987654321:role/iam-key-rotator-member"
OTHER_ROLE_ARN = "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole"
AUDIT_ROLE_ARN = "arn:aws:iam::210987654321:role/iam-key-rotator-audit"
OWN_PRODUCT = f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
IN_ORG, OTHER_ORG = {"aws:ResourceOrgID": "o-abcdefghij"}, {"aws:ResourceOrgID": "o-zzzzzzzzzz"}
# (role, action, resource, principal, request context, allowed?)
CALLS = [
    ("central", "iam:CreateAccessKey", user("rotated/ci-bot"), None, None, True),
    ("central", "iam:CreateAccessKey", user("ci-bot"), None, None, False),
    ("central", "iam:DeleteUser", user("rotated/ci-bot"), None, None, False),
    ("central", "secretsmanager:PutSecretValue", secret("iam-keys/x"), None, None, True),
    ("central", "secretsmanager:PutSecretValue", secret("other/x"), None, None, False),
    ("central", "secretsmanager:TagResource", secret("iam-keys/x"), None, None, True),
    ("central", "secretsmanager:ListSecrets", "*", None, None, True),
    ("central", "sts:AssumeRole", MEMBER_ROLE_ARN, None, IN_ORG, False),
    ("central+members", "sts:AssumeRole", MEMBER_ROLE_ARN, None, IN_ORG, True),
    ("central+members", "sts:AssumeRole", MEMBER_ROLE_ARN, None, OTHER_ORG, False),
    ("central+members", "sts:AssumeRole", OTHER_ROLE_ARN, None, IN_ORG, False),
    ("audit", "iam:GetCredentialReport", "*", None, None, True),
    ("audit", "secretsmanager:GetSecretValue", secret("iam-keys/x"), None, None, True),
    ("audit", "secretsmanager:GetSecretValue", secret("other/x"), None, None, False),
    ("audit", "secretsmanager:PutSecretValue", secret("iam-keys/x"), None, None, False),
    ("audit", "iam:CreateAccessKey", user("rotated/ci-bot"), None, None, False),
    ("audit", "kms:Decrypt", KMS_KEY, None, {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}, True),
    ("audit", "kms:Decrypt", KMS_KEY, None, {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}, False),
    ("member", "iam:CreateAccessKey", user("rotated/ci-bot"), None, None, True),
    ("member", "iam:CreateAccessKey", user("ci-bot"), None, None, False),
    ("member", "iam:DeleteUser", user("rotated/ci-bot"), None, None, False),
    ("member trust (ExternalId)", "sts:AssumeRole", "*", ROTATOR_ROLE, {"sts:ExternalId": EXTERNAL_ID}, True),
    ("member trust (ExternalId)", "sts:AssumeRole", "*", ROTATOR_ROLE, {"sts:ExternalId": "guessed"}, False),
    ("member trust (ExternalId)", "sts:AssumeRole", "*", AUDIT_PRINCIPAL, {"sts:ExternalId": EXTERNAL_ID}, False),
    ("member trust (ExternalId)", "sts:AssumeRole", "*", OPERATOR_ROLE, {"sts:ExternalId": EXTERNAL_ID}, False),
    ("member trust (operator)", "sts:AssumeRole", "*", OPERATOR_ROLE, {"sts:ExternalId": EXTERNAL_ID}, True),
    ("member trust (operator)", "sts:AssumeRole", "*", OPERATOR_ROLE, {"sts:ExternalId": "guessed"}, False),
    ("member trust (operator)", "sts:AssumeRole", "*", ROTATOR_ROLE, {"sts:ExternalId": EXTERNAL_ID}, True),
    ("member trust (operator)", "sts:AssumeRole", "*", AUDIT_PRINCIPAL, {"sts:ExternalId": EXTERNAL_ID}, False),
    ("member audit", "iam:GetCredentialReport", "*", None, None, True),
    ("member audit", "iam:GetAccountAuthorizationDetails", "*", None, None, True),
    ("member audit", "iam:GetUser", user("ci-bot"), None, None, False),
    ("audit", "sts:AssumeRole", AUDIT_ROLE_ARN, None, None, False),
    ("audit+organization", "sts:AssumeRole", AUDIT_ROLE_ARN, None, None, True),
    ("audit+organization", "sts:AssumeRole", MEMBER_ROLE_ARN, None, None, False),
    ("audit+organization", "securityhub:BatchImportFindings", OWN_PRODUCT, None, None, True),
    ("audit+organization", "securityhub:BatchImportFindings",
     "arn:aws:securityhub:us-east-1:210987654321:product/210987654321/default", None, None, False),
    ("member audit", "iam:CreateAccessKey", user("rotated/ci-bot"), None, None, False),
]


def evaluate(statements, action, resource, principal, context) -> bool:
    # moto's IAMPolicy: Allow/Deny by Action and Resource (or Principal, for a trust policy); of the
    # conditions only StringEquals, on the keys given (see unchecked). A failed condition is an
    # explicit DENIED there, where AWS merely skips the statement: here both count as "deny".
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return IAMPolicy(document).is_action_permitted(action, resource, principal, context) == PermissionResult.PERMITTED


def unchecked(statements, action, resource, principal, context) -> list:
    """Conditions moto skipped on the statements that allowed this call: it evaluates only
    StringEquals, and only on keys the request context gives."""
    skipped = []
    for statement in statements:
        if "Condition" in statement and evaluate([statement], action, resource, principal, context):
            skipped += [f"{op} {key}" for op, keys in statement["Condition"].items()
                        for key in keys if op != "StringEquals" or key not in (context or {})]
    return skipped


def short(arn: str) -> str:
    """service:resource, with the account only when it is not this one: the table stays readable."""
    if not arn.startswith("arn:"):
        return arn
    _, _, service, _, account, rest = arn.split(":", 5)
    return f"{service}:{rest}" + ("" if account == ACCOUNT else f" @{account}")


def permission_table(c: Checks, roles: dict) -> list:
    c.scope = "allowed/denied table"
    lines = [f"{'role':26} {'call':30} {'on':53} {'context':52} want  moto"]
    for role in sorted({call[0] for call in CALLS} - set(roles)):
        c.failed.append(f"{c.scope}: no {role} role was read back, so its calls are not evaluated")
    for role, action, resource, principal, context, allowed in (call for call in CALLS if call[0] in roles):
        got = evaluate(roles[role], action, resource, principal, context)
        c.expect(f"{role}: {action} on {principal or resource} {context or ''}", got, allowed)
        note = unchecked(roles[role], action, resource, principal, context) if got else []
        shown = f"as {short(principal)}" if principal else short(resource)
        context = ", ".join(f"{k}={v}" for k, v in (context or {}).items())
        lines.append(f"{role:26} {action:30} {shown:53} {context:52} {'allow' if allowed else 'deny':5} "
                     f"{'allow' if got else 'deny'}{'  †' + '; '.join(note) if note else ''}")
    lines.append("† moto's evaluator (moto/iam/access_control.py IAMPolicy) ignored these conditions: it checks only\n"
                 "  StringEquals on the keys a row's context gives and treats every other operator (StringLike,\n"
                 "  ForAllValues:*) and any missing key as met; policy variables are not substituted. So the\n"
                 "  TagResource tag-key limit and the member role's user binding are not proved by this table.")
    return lines


def main() -> int:
    logging.getLogger("moto").setLevel(logging.ERROR)  # its "no CloudFormation support" lines: counted, not shown
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # "unpublished metrics": nothing is published offline
    warnings.simplefilter("ignore")
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    c, roles, summary = Checks(), {}, []
    runs = [(f"template.yaml [{name}]", lambda n=name, g=given, k=known: run_central(c, n, g, k, roles))
            for name, given, known in CENTRAL_SETS]
    runs += [(f"member-role.yaml [{name}]", lambda n=name, g=given: run_member(c, n, g, roles)) for name, given in MEMBER_SETS]
    for title, run in runs:
        passed, failed = c.passed, len(c.failed)
        try:
            made = run()
        except Exception as error:  # a stack that cannot be made (or translated) is a failed check too
            c.failed.append(f"{title}: {type(error).__name__}: {error}")
            made = "not deployed"
        summary.append(f"{title}\n    {made}\n    {c.passed - passed} checks passed, {len(c.failed) - failed} failed")
    table = permission_table(c, roles)
    print("\n".join(summary))
    print("\nmoto gaps (checked on the template handed to moto instead):")
    print("\n".join(f"  - {gap}  [{len(set(scopes))} stacks]" for gap, scopes in c.gaps.items()))
    print("\n" + "\n".join(table))
    print(f"\n{c.passed} checks passed, {len(c.failed)} failed")
    for failure in c.failed:
        print(f"FAILED {failure}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
