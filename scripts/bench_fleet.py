"""`make bench`'s figures at fleet scale (called by bench.py):

  - the organization's audit (`audit --organization`) of 50 member accounts with 100 users each,
    through each account's audit role: wall time and calls (goal: under 5 s on moto);
  - a sweep of 5,000 secrets, 200 of them with a previous key to retire, through a proxy that adds
    50 ms to each IAM call and throttles IAM above 10 calls a second: the chain of runs the deadline
    splits it into, each run's time against its deadline, and every secret looked at once; and the
    same for 500 secrets with IAM throttled above 3 calls a second, to see throttling absorbed.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/support"))
import moto_server  # noqa: E402
import organization  # noqa: E402

MANAGEMENT = "123456789012"


def organization_audit(cli_binary: str, calls, counting, accounts: int = 50, users: int = 100) -> dict:
    """The CLI auditing an organization of `accounts` members with `users` users each."""
    from moto.iam.models import iam_backends

    stop, endpoint, _, _, _ = moto_server.start(moto_server.parse_args([]))
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        org = boto3.client("organizations", **session)
        org.create_organization(FeatureSet="ALL")
        trust = {"AuditPrincipalArn": f"arn:aws:iam::{MANAGEMENT}:root"}
        unit = org.create_organizational_unit(ParentId=org.list_roots()["Roots"][0]["Id"], Name="workloads")
        for n in range(accounts):
            status = org.create_account(AccountName=f"team-{n:02}", Email=f"team-{n:02}@example.com")
            account = status["CreateAccountStatus"]["AccountId"]
            org.move_account(AccountId=account, SourceParentId=org.list_roots()["Roots"][0]["Id"],
                             DestinationParentId=unit["OrganizationalUnit"]["Id"])
            organization.deploy_role(endpoint, account, "AuditRole", trust)
            iam = iam_backends[account]["global"]
            for u in range(users):
                name = f"user-{u:03}"
                iam.create_user(region_name="us-east-1", user_name=name)
                iam.create_access_key(user_name=name)
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test",
                   AWS_SECRET_ACCESS_KEY="test", ROTATOR_SECRET_NAME_PREFIX="iam-keys/")
        calls.clear()
        counting["on"] = True
        started = time.perf_counter()
        done = subprocess.run([cli_binary, "audit", "--organization", "--output", "json"],
                              env=env, capture_output=True, text=True)
        elapsed = (time.perf_counter() - started) * 1000
        counting["on"] = False
        report = json.loads(done.stdout) if done.stdout.startswith("{") else {}
        summary = report.get("summary", {})
        return {"label": f"audit --organization: {accounts} accounts x {users} users", "ms": elapsed,
                "calls": dict(calls),
                "detail": f"{summary.get('accounts')} accounts, {summary.get('users')} users, "
                          f"{len(report.get('findings', []))} findings, {len(report.get('unreachable', []))} unreachable"
                          + ("" if done.returncode in (0, 7) else f"; exit {done.returncode}: {done.stderr.strip()[-300:]}")}
    finally:
        counting["on"] = False
        stop()


def sweep_chain(binary: str, secrets: int = 5000, with_work: int = 200, timeout: int = 60,
                rate: float = 10) -> dict:
    """A sweep of `secrets` secrets, `with_work` of them holding a previous key past its grace
    period, by the function behind a throttling proxy, until its chain of runs ends."""
    invocations = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-sweep-{os.getpid()}.jsonl"
    invocations.unlink(missing_ok=True)
    stop, endpoint, function_arn, _, _ = moto_server.start(moto_server.parse_args(
        ["--function-binary", binary, "--invocations", str(invocations), "--timeout", str(timeout),
         "--iam-latency-ms", "50", "--iam-rate", str(rate),
         "--function-env", "ROTATOR_USER_PATH_PREFIX=/rotated/",
         "--function-env", "ROTATOR_SECRET_NAME_PREFIX=iam-keys/",
         "--function-env", "ROTATOR_DEACTIVATE_AFTER=1h", "--function-env", "ROTATOR_QUIET_FOR=1h",
         "--function-env", "ROTATOR_LAST_USE_LAG=0"]))
    from moto.secretsmanager.models import secretsmanager_backends
    backend = secretsmanager_backends[MANAGEMENT]["us-east-1"]
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        iam, sm = boto3.client("iam", **session), boto3.client("secretsmanager", **session)
        names = []
        for n in range(secrets):
            name = f"iam-keys/fleet-{n:05}"
            user = f"fleet-{n:05}"
            if n % (secrets // with_work) == 0:
                # Rotated two days ago: its previous key is past a 1-hour grace period and quiet.
                iam.create_user(UserName=user, Path="/rotated/")
                old = iam.create_access_key(UserName=user)["AccessKey"]
                new = iam.create_access_key(UserName=user)["AccessKey"]
                sm.create_secret(Name=name, SecretString=json.dumps({"UserName": user, "AccessKeyId": old["AccessKeyId"],
                                                                     "SecretAccessKey": old["SecretAccessKey"]}))
                sm.put_secret_value(SecretId=name, SecretString=json.dumps(
                    {"UserName": user, "AccessKeyId": new["AccessKeyId"], "SecretAccessKey": new["SecretAccessKey"]}))
                secret = backend.secrets[name]
                for version in secret.versions.values():
                    version["createdate"] -= 2 * 86400
                secret.last_rotation_date = int(time.time()) - 2 * 86400
            else:
                sm.create_secret(Name=name, SecretString=json.dumps({"UserName": user}))
            names.append(name)
        # What RotateSecret leaves once the function rotated a secret, set in-process for speed.
        for name in names:
            secret = backend.secrets[name]
            secret.rotation_requested, secret.rotation_enabled = True, True
            secret.rotation_lambda_arn, secret.auto_rotate_after_days = function_arn, 90
            secret.next_rotation_date = int(time.time()) + 80 * 86400
        lam = boto3.client("lambda", **session)
        started = time.perf_counter()
        lam.invoke(FunctionName=function_arn, Payload=json.dumps({"Action": "sweep"}))
        runs = []
        while time.perf_counter() - started < 1800:
            runs = [r for r in map(json.loads, invocations.read_text().splitlines()) if r.get("action") == "sweep"]
            if runs and (runs[-1]["outcome"] != "response" or not runs[-1]["answer"].get("next")):
                break
            time.sleep(0.5)
        elapsed = (time.perf_counter() - started) * 1000
        proxy = json.loads(urllib.request.urlopen(stop.control + "/proxy").read())
        keys = [k for n in names[:: secrets // with_work]
                for k in iam.list_access_keys(UserName=n.split("/")[1])["AccessKeyMetadata"]]
        return {"runs": runs, "ms": elapsed, "timeout": timeout, "secrets": secrets, "with_work": with_work, "rate": rate,
                "deactivated": sum(1 for k in keys if k["Status"] == "Inactive"), "proxy": proxy}
    finally:
        stop()
