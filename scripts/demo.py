"""`make demo`: one rotation, start to finish, with a before/after table, the new key delivered to
an SSM parameter and a GitHub repository's Actions secrets (locally), then the old key's life after
it: kept Active for a grace period while a consumer still uses it, then retired by the sweep; an
audit of the account's keys against CIS; and the whole organization: a member account's key rotated
from here through its role, and every account audited, the findings imported into Security Hub.

By default everything runs on this machine: moto's server on 127.0.0.1 stands in for IAM, STS,
Secrets Manager and SSM, a stand-in for GitHub's API beside it opens the sealed secrets it receives,
and RotateSecret invokes the built Lambda binary through the Lambda Runtime API,
exactly as Secrets Manager invokes the deployed function. The policy runs in seconds here
(ROTATOR_DEACTIVATE_AFTER=3s, ROTATOR_QUIET_FOR=2s); the template's defaults are 24h and 24h.

With --real-aws it uses your AWS credentials instead (AWS_PROFILE, AWS_REGION, ...): it creates a
throw-away user under /rotated/ and a secret holding its key, rotates it with the command-line tool
(or with your deployed function, given --function-arn), checks the result, and deletes what it made.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lambda-binary", default=str(ROOT / "target/debug/iam-key-rotator"))
    parser.add_argument("--cli-binary", default=str(ROOT / "target/debug/iam-key-rotator-cli"))
    parser.add_argument("--real-aws", action="store_true", help="use your AWS account instead of moto")
    parser.add_argument("--function-arn", help="with --real-aws: rotate through this deployed function")
    args = parser.parse_args()

    moto = None
    env = dict(os.environ, ROTATOR_USER_PATH_PREFIX="/rotated/")
    if not args.real_aws:
        env.update(POLICY)
    if args.real_aws:
        session = boto3.session.Session()
        clients = {name: session.client(name) for name in ("iam", "secretsmanager")}
        function_arn = args.function_arn
    else:
        moto = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/support/moto_server.py"), "--function-binary", args.lambda_binary,
             "--function-env", "ROTATOR_USER_PATH_PREFIX=/rotated/",
             *[arg for name, value in DELIVERY.items() for arg in ("--function-env", f"{name}={value}")],
             *[arg for name, value in POLICY.items() for arg in ("--function-env", f"{name}={value}")],
             *[arg for name, value in MEMBERS.items() for arg in ("--function-env", f"{name}={value}")]],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready = json.loads(moto.stdout.readline())
        endpoint, function_arn = ready["endpoint"], ready["rotation_lambda_arn"]
        print(f"moto is serving IAM, STS, Secrets Manager, SSM, Organizations and Security Hub on {endpoint}, a GitHub stand-in on {ready['github']['url']}")
        env.update(AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        env.pop("AWS_PROFILE", None)
        local = dict(endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test")
        clients = {name: boto3.client(name, **local) for name in ("iam", "secretsmanager", "ssm")}
        # The function reads GitHub's credentials from Secrets Manager, never its environment.
        clients["secretsmanager"].create_secret(Name=DELIVERY["ROTATOR_GITHUB_CREDENTIALS"],
                                                SecretString=json.dumps({"Token": ready["github"]["token"]}))
    iam, sm = clients["iam"], clients["secretsmanager"]

    suffix = uuid.uuid4().hex[:8]
    user, secret_name = f"demo-{suffix}", f"iam-keys/demo-{suffix}"
    try:
        iam.create_user(UserName=user, Path="/rotated/")
        first = iam.create_access_key(UserName=user)["AccessKey"]
        value = {"UserName": user, "AccessKeyId": first["AccessKeyId"],
                 "SecretAccessKey": first["SecretAccessKey"], "Owner": "demo"}
        destinations = [{"Type": "ssm", "Name": f"/ci/{user}/aws"}, {"Type": "github", "Repository": f"acme/{user}"}]
        if moto:
            value["Destinations"] = destinations
        secret_arn = sm.create_secret(Name=secret_name, SecretString=json.dumps(value))["ARN"]
        print(f"made IAM user {user} (path /rotated/) with key {first['AccessKeyId']}, and secret {secret_name}")
        if moto:
            print(f"whose Destinations are the SSM parameter /ci/{user}/aws and the Actions secrets of acme/{user}")
        print()

        print("Before:")
        print(cli(args.cli_binary, env, "status", "--secret-id", secret_arn))
        if function_arn:
            print("RotateSecret: Secrets Manager calls the function for createSecret, setSecret, testSecret, finishSecret\n")
            sm.rotate_secret(SecretId=secret_arn, RotationLambdaARN=function_arn,
                             RotationRules={"AutomaticallyAfterDays": 90})
            wait_for_rotation(sm, secret_arn)
        else:
            print("iam-key-rotator-cli rotate: the four steps, run by the command-line tool\n")
            cli(args.cli_binary, env, "rotate", "--secret-id", secret_arn)
        print("After:")
        print(cli(args.cli_binary, env, "status", "--secret-id", secret_arn))
        if moto:
            delivered(clients["ssm"], ready["control"], user, sm, secret_arn)
            after_the_rotation(args.cli_binary, env, secret_arn, first, local)
            iam.create_user(UserName=f"by-hand-{suffix}")
            iam.create_access_key(UserName=f"by-hand-{suffix}")
            print(f"iam-key-rotator-cli audit: every key of the account against CIS; a user by-hand-{suffix}")
            print("has a key nothing rotates (the root row is the test server's: a well-kept root account)\n")
            print(cli(args.cli_binary, env, "audit"))
            organization(args.cli_binary, env, endpoint, ready["control"], function_arn, sm)

        # A deployed template keeps the old key Active for its grace period (24h by default).
        grace = bool(args.real_aws and function_arn)
        return check(iam, sm, user, secret_arn, first["AccessKeyId"], local if moto else None, grace)
    finally:
        if args.real_aws:
            clean_up(iam, sm, user, secret_arn if "secret_arn" in locals() else None)
        if moto:
            moto.stdin.close()
            moto.wait(10)


# Where the local demo's function may deliver keys: SSM parameters under /ci/, GitHub secrets of
# acme, with the credentials in a secret (the GitHub stand-in's token).
DELIVERY = {"ROTATOR_SSM_PREFIX": "/ci/", "ROTATOR_GITHUB_OWNERS": "acme",
            "ROTATOR_GITHUB_CREDENTIALS": "github/demo-credentials"}


def delivered(ssm, control: str, user: str, sm, secret_arn: str) -> None:
    """What each destination holds now: key ids only, and whether the secret part matches."""
    current = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    parameter = json.loads(ssm.get_parameter(Name=f"/ci/{user}/aws", WithDecryption=True)["Parameter"]["Value"])
    github = json.loads(urllib.request.urlopen(control + "/github").read())["secrets"][f"repo:acme/{user}"]
    same = lambda secret: "the same secret part" if secret == current["SecretAccessKey"] else "ANOTHER secret part"  # noqa: E731
    print("Delivered, and confirmed by testSecret before the new key was promoted:")
    print(f"  ssm:/ci/{user}/aws (SecureString)   {parameter['AccessKeyId']}, {same(parameter['SecretAccessKey'])}")
    print(f"  github:acme/{user} (sealed box)     AWS_ACCESS_KEY_ID={github['AWS_ACCESS_KEY_ID']['value']}, "
          f"AWS_SECRET_ACCESS_KEY {same(github['AWS_SECRET_ACCESS_KEY']['value'])}\n")


# The retirement policy of the local demo, in seconds instead of the template's hours. moto shows a
# key's use at once, AWS up to 4 hours late, which ROTATOR_LAST_USE_LAG
# adds to the quiet time; moto has no lag to wait out.
POLICY = {"ROTATOR_DEACTIVATE_AFTER": "3s", "ROTATOR_QUIET_FOR": "2s", "ROTATOR_LAST_USE_LAG": "0",
          "ROTATOR_SECRET_NAME_PREFIX": "iam-keys/"}


def after_the_rotation(cli_binary: str, env: dict, secret_arn: str, old: dict, local: dict) -> None:
    """A consumer that still holds the old key keeps it alive past the grace period; once it stops,
    the sweep (run here by the command-line tool; the template runs the function hourly) retires it."""
    consumer = boto3.client("sts", **dict(local, aws_access_key_id=old["AccessKeyId"],
                                          aws_secret_access_key=old["SecretAccessKey"]))
    print("The old key stays Active for its grace period (3s here). A consumer still signs with it...")
    time.sleep(3.2)
    consumer.get_caller_identity()
    print("\niam-key-rotator-cli sweep: past the grace period, but the old key is still in use")
    print(cli(cli_binary, env, "sweep", "--secret-id", secret_arn))
    print("...then the consumer moves to the new key. Once the old key has been quiet for 2s:\n")
    time.sleep(2.2)
    print("iam-key-rotator-cli sweep")
    print(cli(cli_binary, env, "sweep", "--secret-id", secret_arn))
    print(cli(cli_binary, env, "status", "--secret-id", secret_arn))


# The local demo's function reaches member accounts of the organization through their role.
MEMBERS = {"ROTATOR_MEMBER_ROLE": "iam-key-rotator-member", "ROTATOR_MEMBER_ACCOUNTS": "*"}
FUNCTION_ROLE = "arn:aws:iam::123456789012:role/rotation-function-role"  # the test server's


def organization(cli_binary: str, env: dict, endpoint: str, control: str, function_arn: str, sm) -> None:
    """A member account's user rotated from this account through the role member-role.yaml makes
    there, then the organization's audit, one account without the audit role, into Security Hub."""
    def account(name: str, *roles: str) -> str:
        out = subprocess.run([sys.executable, str(ROOT / "tests/support/organization.py"), endpoint,
                              "account", name, *roles], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["account_id"]

    payments = account("payments", "--member-role", json.dumps({"RotatorRoleArn": FUNCTION_ROLE}),
                       "--audit-role", json.dumps({"AuditPrincipalArn": "arn:aws:iam::123456789012:root"}))
    sandbox = account("sandbox")
    print(f"\nThe whole organization: member accounts payments ({payments}), with member-role.yaml's roles")
    print(f"as a StackSet deploys them, and sandbox ({sandbox}), without them.")
    local = dict(endpoint_url=endpoint, region_name="us-east-1")
    admin = boto3.client("sts", aws_access_key_id="test", aws_secret_access_key="test", **local).assume_role(
        RoleArn=f"arn:aws:iam::{payments}:role/OrganizationAccountAccessRole", RoleSessionName="demo")["Credentials"]
    there = dict(local, aws_access_key_id=admin["AccessKeyId"], aws_secret_access_key=admin["SecretAccessKey"],
                 aws_session_token=admin["SessionToken"])
    iam = boto3.client("iam", **there)
    iam.create_user(UserName="deployer", Path="/rotated/")
    first = iam.create_access_key(UserName="deployer")["AccessKey"]
    # As IAM would show a key made 100 days ago (the test server dates it; moto cannot).
    urllib.request.urlopen(urllib.request.Request(control, method="POST", data=json.dumps(
        {"op": "key", "account": payments, "key_id": first["AccessKeyId"], "created_days_ago": 100}).encode()))
    value = {"UserName": "deployer", "AccountId": payments, "AccessKeyId": first["AccessKeyId"],
             "SecretAccessKey": first["SecretAccessKey"]}
    secret_arn = sm.create_secret(Name="iam-keys/payments-deployer", SecretString=json.dumps(value))["ARN"]
    # The member role lets a session touch only the user bound to the secret it names.
    iam.tag_user(UserName="deployer", Tags=[{"Key": "iam-key-rotator:secret", "Value": secret_arn}])
    print(f"secret iam-keys/payments-deployer here names user deployer in {payments} (key {first['AccessKeyId']}, 100 days old)")
    print("RotateSecret: the function assumes iam-key-rotator-member there, the secret's ARN as session tag\n")
    sm.rotate_secret(SecretId=secret_arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90})
    current = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    signs_as = boto3.client("sts", aws_access_key_id=current["AccessKeyId"],
                            aws_secret_access_key=current["SecretAccessKey"], **local).get_caller_identity()["Arn"]
    for key in iam.list_access_keys(UserName="deployer")["AccessKeyMetadata"]:
        print(f"  {payments}  deployer  {key['AccessKeyId']}  {key['Status']}")
    print(f"the new key {current['AccessKeyId']} signs as {signs_as}\n")

    print("iam-key-rotator-cli audit --organization --security-hub: every account through its audit role;")
    print("sandbox has none, so it is listed unreachable and the audit is incomplete (exit 7)\n")
    print(cli(cli_binary, env, "audit", "--organization", "--security-hub", allowed=(0, 7)))
    hub = boto3.client("securityhub", aws_access_key_id="test", aws_secret_access_key="test", **local)
    findings = hub.get_findings(Filters={"GeneratorId": [{"Value": "iam-key-rotator/", "Comparison": "PREFIX"}]})
    accounts = sorted({f["AwsAccountId"] for f in findings["Findings"]})
    print(f"Security Hub holds {len(findings['Findings'])} iam-key-rotator findings, of accounts {', '.join(accounts)}\n")


def cli(binary: str, env: dict, *args: str, allowed=(0,)) -> str:
    done = subprocess.run([binary, *args], env=env, capture_output=True, text=True)
    if done.returncode not in allowed:
        sys.exit(f"{binary} {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def wait_for_rotation(sm, secret_arn: str) -> None:
    """On AWS, RotateSecret returns before the steps end: wait until AWSPENDING is gone."""
    for _ in range(60):
        stages = sm.describe_secret(SecretId=secret_arn).get("VersionIdsToStages", {})
        if not any("AWSPENDING" in labels and "AWSCURRENT" not in labels for labels in stages.values()):
            return
        time.sleep(5)
    sys.exit("the rotation did not finish within 5 minutes; look at the function's logs")


def check(iam, sm, user, secret_arn, old_key, local, grace=False) -> int:
    """The new key is current, active and signs as the user; the old one is inactive; nothing lost."""
    current = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    new_key = current["AccessKeyId"]
    problems = []
    if new_key == old_key:
        problems.append("AWSCURRENT still holds the old key")
    if keys.get(new_key) != "Active":
        problems.append(f"the new key {new_key} is {keys.get(new_key, 'missing')}")
    if keys.get(old_key) != "Inactive" and not (grace and keys.get(old_key) == "Active"):
        problems.append(f"the old key {old_key} is {keys.get(old_key, 'missing')}, not Inactive")
    if current.get("Owner") != "demo":
        problems.append("the secret lost its Owner field")

    signing = dict(aws_access_key_id=new_key, aws_secret_access_key=current["SecretAccessKey"])
    sts = boto3.client("sts", **(dict(local, **signing) if local else signing))
    expected = iam.get_user(UserName=user)["User"]["Arn"]
    arn = sts.get_caller_identity()["Arn"]
    if arn != expected:
        problems.append(f"the new key signs as {arn}, not {expected}")

    if problems:
        print("FAILED:\n  - " + "\n  - ".join(problems))
        return 1
    print(f"OK: the new key {new_key} works (STS says {arn}), the old key {old_key} is Inactive,")
    print("    and the secret kept its other fields.")
    return 0


def clean_up(iam, sm, user, secret_arn) -> None:
    for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)
    if secret_arn:
        sm.delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)
    print(f"deleted the demo user {user} and its secret")


if __name__ == "__main__":
    sys.exit(main())
