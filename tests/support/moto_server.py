"""Runs moto's server on 127.0.0.1 for the tests, the demo and the benchmark, until stdin closes.

Prints one line of JSON once ready: {"endpoint": ..., "rotation_lambda_arn": ..., "keys": ...,
"control": ..., "github": {"url", "token", "app_id", "installation_id", "private_key"}}.

It registers a Lambda function so that RotateSecret behaves as on AWS: it creates the empty
AWSPENDING version and calls the function once per step. Without --function-binary moto never runs
the function (no Docker here). With it, this script plays the Lambda service: it starts that
binary with AWS_LAMBDA_RUNTIME_API pointing at a Runtime API served here, and hands it every
invocation of the function, so a rotation runs end to end through the real runtime interface.

It also starts a fake of GitHub's REST API for Actions secrets (github_api.py) and points the
function at it (ROTATOR_GITHUB_API_URL), unless the environment or --function-env names another.
"""

import argparse
import io
import json
import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.server import ThreadedMotoServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import github_api  # noqa: E402

REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
PATCHED = False
# Set while RotateSecret runs without invoking the function (see behave_as_aws).
QUIET = threading.local()
FUNCTION_NAME = "iam-key-rotator"


class StepFailed(JsonRESTError):
    """What RotateSecret answers when the function fails a step: Secrets Manager stops there."""

    def __init__(self, message: str):
        super().__init__("InvalidRequestException", message)


class LambdaService:
    """Runs the function binary as Lambda would and serves it the Runtime API."""

    def __init__(self, binary, env, log_path, invocations_path, timeout_s):
        self.binary, self.env, self.timeout_s = binary, env, timeout_s
        self.log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.invocations_path = invocations_path
        self.pending = queue.Queue()
        self.running = {}
        self.process = None
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                match = re.fullmatch(r"/2018-06-01/runtime/invocation/next", self.path)
                if not match:
                    return self.send_error(404)
                call = service.pending.get()
                service.running[call["id"]] = call
                if callable(call["deadline_ms"]):
                    call["deadline_ms"] = call["deadline_ms"]()
                    # Past the deadline (and a margin) the call ends unanswered, as Lambda's does.
                    timer = threading.Timer(service.timeout_s + 5, call["done"].set)
                    timer.daemon = True
                    timer.start()
                body = call["body"].encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", call["id"])
                self.send_header("Lambda-Runtime-Deadline-Ms", str(call["deadline_ms"]))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", call["arn"])
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                if match and match.group(1) in service.running:
                    call = service.running.pop(match.group(1))
                    call["outcome"] = match.group(2)
                    call["answer"] = body.decode(errors="replace")
                    call["done"].set()
                elif self.path != "/2018-06-01/runtime/init/error":
                    return self.send_error(404)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ensure_running(self):
        if self.process is None or self.process.poll() is not None:
            env = dict(self.env)
            env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.server.server_port}"
            self.process = subprocess.Popen([self.binary], env=env, stdin=subprocess.DEVNULL,
                                            stdout=self.log, stderr=self.log)

    def invoke(self, arn, body, later=False):
        """One invocation; with `later` (InvocationType Event) it is queued behind the ones under
        way and answered at once, as Lambda does."""
        self.ensure_running()
        event = json.loads(body) if isinstance(body, str) else body
        call = {"id": str(uuid.uuid4()), "body": json.dumps(event), "arn": arn,
                "deadline_ms": None, "done": threading.Event(), "outcome": "timeout", "answer": ""}
        if later:
            def run_later():
                try:
                    self.run_and_record(call, event)
                except StepFailed:
                    pass  # recorded; nobody waits for an Event invocation's answer
            threading.Thread(target=run_later, daemon=True).start()
            return b""
        return self.run_and_record(call, event)

    def run_and_record(self, call, event):
        started = time.monotonic()
        # Lambda's timeout counts from when the function takes the event, which the queue may delay.
        call["deadline_ms"] = lambda: int(time.time() * 1000) + self.timeout_s * 1000
        self.pending.put(call)
        # The Runtime API's timer ends the call once the function took it; this bounds one never taken.
        call["done"].wait(self.timeout_s * 10 + 5)
        record = {"step": event.get("Step"), "secret_id": event.get("SecretId"),
                  "token": event.get("ClientRequestToken"), "outcome": call["outcome"],
                  "ms": round((time.monotonic() - started) * 1000, 1)}
        if event.get("Action"):
            record["action"], record["event"] = event["Action"], event
            if call["outcome"] == "response":
                record["answer"] = json.loads(call["answer"] or "null")
        if call["outcome"] != "response":
            try:
                error = json.loads(call["answer"])
            except ValueError:
                error = {"errorType": "Timeout", "errorMessage": "no answer before the deadline"}
            record.update(errorType=error.get("errorType"), errorMessage=error.get("errorMessage"))
        if self.invocations_path:
            with open(self.invocations_path, "a") as out:
                out.write(json.dumps(record) + "\n")
        if call["outcome"] != "response":
            raise StepFailed(f"{record['step']} failed: {record.get('errorType')}: {record.get('errorMessage')}")
        return call["answer"].encode()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)
        self.server.shutdown()


def behave_as_aws() -> None:
    """Makes moto's Secrets Manager do what AWS does where rotation depends on it (see
    shared/reference/aws-facts.md): real version dates, immutable version values, AWS's check for
    an unfinished rotation, and AWS's configuration test for RotateImmediately=false."""
    from moto.secretsmanager.exceptions import InvalidRequestException, ResourceExistsException
    from moto.secretsmanager.models import SecretsManagerBackend

    # ListSecretVersionIds: moto answers "now" for every version; AWS the version's creation.
    original_list = SecretsManagerBackend.list_secret_version_ids

    def list_secret_version_ids(self, secret_id):
        answer = json.loads(original_list(self, secret_id))
        versions = self.secrets[secret_id].versions
        for version in answer["Versions"]:
            version["CreatedDate"] = versions[version["VersionId"]]["createdate"]
        return json.dumps(answer)

    SecretsManagerBackend.list_secret_version_ids = list_secret_version_ids

    # PutSecretValue: moto overwrites an AWSPENDING version's value; AWS refuses another value.
    original_check = SecretsManagerBackend._check_with_existing_secrets_and_versions

    def check_existing(self, secret_name, client_request_token, secret_string, secret_binary, *args, **kwargs):
        secret = self.secrets.get(secret_name) if secret_name in self.secrets.keys() else None
        version = secret.versions.get(client_request_token) if secret is not None and client_request_token else None
        if version is not None and ("secret_string" in version or "secret_binary" in version):
            if version.get("secret_string") == secret_string and version.get("secret_binary") == secret_binary:
                return secret
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {client_request_token} because that value is already in use for a version of secret {secret.arn}.")
        return original_check(self, secret_name, client_request_token, secret_string, secret_binary, *args, **kwargs)

    SecretsManagerBackend._check_with_existing_secrets_and_versions = check_existing

    # RotateSecret: AWS refuses while AWSPENDING is on a version that is not AWSCURRENT, and
    # accepts AWSPENDING left on AWSCURRENT (moto does the opposite). With RotateImmediately=false
    # AWS calls only testSecret, on a new AWSPENDING version holding no value, and removes that
    # version afterwards (moto copies the current value into it and keeps it).
    original_rotate = SecretsManagerBackend.rotate_secret
    quiet = QUIET

    def rotate_secret(self, secret_id, client_request_token=None, rotation_lambda_arn=None,
                      rotation_rules=None, rotate_immediately=True):
        secret = self.secrets[secret_id] if self._is_valid_identifier(secret_id) else None
        if secret is not None:
            for version in secret.versions.values():
                stages = version["version_stages"]
                if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
                    raise InvalidRequestException(
                        "A previous rotation isn't complete. That rotation will be reattempted.")
            for version in secret.versions.values():
                if "AWSPENDING" in version["version_stages"]:
                    version["version_stages"].remove("AWSPENDING")
        if rotate_immediately or secret is None:
            return original_rotate(self, secret_id, client_request_token, rotation_lambda_arn,
                                   rotation_rules, rotate_immediately)
        quiet.on = True
        try:
            answer = original_rotate(self, secret_id, client_request_token, rotation_lambda_arn,
                                     rotation_rules, rotate_immediately)
        finally:
            quiet.on = False
        token = next(v for v, version in secret.versions.items() if "AWSPENDING" in version["version_stages"])
        secret.versions[token].pop("secret_string", None)
        secret.versions[token].pop("secret_binary", None)
        try:
            if secret.rotation_lambda_arn:
                from moto.awslambda.utils import get_backend
                get_backend(self.account_id, self.region_name).invoke(
                    secret.rotation_lambda_arn, qualifier=None,
                    body=json.dumps({"Step": "testSecret", "SecretId": secret.arn, "ClientRequestToken": token}),
                    headers={}, response_headers={})
        finally:
            del secret.versions[token]
        return answer

    SecretsManagerBackend.rotate_secret = rotate_secret

    # GetSecretValue without a version or label: moto answers the version its own rotation last
    # made current, so after UpdateSecretVersionStage moved AWSCURRENT (as a CLI rotation does) it
    # still answers the old value. AWS answers AWSCURRENT, wherever it is.
    original_move = SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id=None,
                                    move_to_version_id=None):
        answer = original_move(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage


ROOT_ROW = {"access_key": False, "mfa": True, "last_used_days_ago": None}


def credential_report_as_aws() -> None:
    """moto's credential report has no root row and a fixed 2015 GeneratedTime; AWS's has both a
    root row and the real time. The root row here starts as a well-kept account's (no key, MFA on,
    not used lately); tests change it, and backdate users' keys and passwords, through /control."""
    import datetime
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse

    original_report = IAMBackend.get_credential_report

    def get_credential_report(self):
        report = original_report(self)
        header, _, rows = report.partition("\n")
        fmt = "%Y-%m-%dT%H:%M:%S+00:00"
        now = datetime.datetime.now(datetime.timezone.utc)
        used = ("N/A" if ROOT_ROW["last_used_days_ago"] is None
                else (now - datetime.timedelta(days=ROOT_ROW["last_used_days_ago"])).strftime(fmt))
        created = (now - datetime.timedelta(days=1000)).strftime(fmt)
        # "inactive": a root key that exists but is switched off (CIS 1.4 still fails on it).
        key = ([("false" if ROOT_ROW["access_key"] == "inactive" else "true"), created, "N/A", "N/A", "N/A"]
               if ROOT_ROW["access_key"] else ["false", "N/A", "N/A", "N/A", "N/A"])
        root = [ "<root_account>", f"arn:aws:iam::{self.account_id}:root", created, "not_supported", used,
                 "not_supported", "not_supported", "true" if ROOT_ROW["mfa"] else "false", *key,
                 "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"]
        return f"{header}\n{','.join(root)}\n{rows}"

    IAMBackend.get_credential_report = get_credential_report
    original_get = IamResponse.get_credential_report

    def get_report_now(self):
        result = original_get(self)
        result.result["GeneratedTime"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return result

    IamResponse.get_credential_report = get_report_now


# Per key id: how many seconds a use takes to show in GetAccessKeyLastUsed, and what it shows meanwhile.
LAST_USE_DELAY: dict = {}
LAST_USE_SHOWN: dict = {}


def last_use_as_aws() -> None:
    """AWS shows a key's use in GetAccessKeyLastUsed hours late ("usually within four hours");
    moto shows it at once. For a key given a delay through /control, a use shows only once it is
    that old; until then the answer is the last use that was old enough, or none."""
    import datetime
    from moto.iam.models import IAMBackend

    original = IAMBackend.get_access_key_last_used

    def get_access_key_last_used(self, access_key_id):
        answer = original(self, access_key_id)
        delay = LAST_USE_DELAY.get(access_key_id)
        used = answer.get("last_used")
        if delay is None or used is None:
            return answer
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        if used.timestamp <= now - datetime.timedelta(seconds=delay):
            LAST_USE_SHOWN[access_key_id] = used
        return {**answer, "last_used": LAST_USE_SHOWN.get(access_key_id)}

    IAMBackend.get_access_key_last_used = get_access_key_last_used


# The audit's controls (see audit_control): secrets BatchGetSecretValue cannot read, by name, and
# the credential report AWS keeps serving while it is under 4 hours old.
UNREADABLE_SECRETS = {}
STALE_REPORT = {}


def audit_sees_as_aws() -> None:
    """Where the audit depends on AWS behaviour moto never shows: BatchGetSecretValue answers an
    `Errors` entry for a secret it cannot read (a customer managed KMS key that refuses to
    decrypt, access denied) beside the values it could read; and IAM serves the same credential
    report, GeneratedTime and rows as of then, until it makes a new one at most every 4 hours
    (moto rebuilds it on every call). Installed after credential_report_as_aws, which it wraps."""
    import datetime
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse
    from moto.secretsmanager.models import SecretsManagerBackend

    original_batch = SecretsManagerBackend.batch_get_secret_value

    def batch_get_secret_value(self, *args, **kwargs):
        values, errors, next_token = original_batch(self, *args, **kwargs)
        readable = []
        for value in values:
            error = UNREADABLE_SECRETS.get(value["Name"])
            if error is None:
                readable.append(value)
            else:
                errors.append({"SecretId": value["ARN"], **error})
        return readable, errors, next_token

    SecretsManagerBackend.batch_get_secret_value = batch_get_secret_value

    fresh_report = IAMBackend.get_credential_report

    def get_credential_report(self):
        return STALE_REPORT["content"] if STALE_REPORT else fresh_report(self)

    IAMBackend.get_credential_report = get_credential_report
    fresh_answer = IamResponse.get_credential_report

    def get_report_as_of_then(self):
        result = fresh_answer(self)
        if STALE_REPORT:
            result.result["GeneratedTime"] = STALE_REPORT["generated"].strftime("%Y-%m-%dT%H:%M:%SZ")
        return result

    IamResponse.get_credential_report = get_report_as_of_then

    # AWS answers COMPLETE without making a new report while the one it has is under 4 hours old.
    fresh_generate = IamResponse.generate_credential_report

    def generate_credential_report(self):
        if STALE_REPORT:
            from moto.core.responses import ActionResult
            return ActionResult({"State": "COMPLETE"})
        return fresh_generate(self)

    IamResponse.generate_credential_report = generate_credential_report
    audit_sees_as_aws.fresh_report = fresh_report


def audit_control(command: dict) -> bool:
    """The audit's /control ops; False for an op that is not one of them.

    {"op": "unreadable_secret", "secret": NAME, "code": "DecryptionFailure"} makes
    BatchGetSecretValue answer an Errors entry for that secret ("code": null reads it again);
    {"op": "stale_report", "on": true} freezes the credential report as it is now (later keys,
    deletions and dates do not show in it, and GeneratedTime stays now), "on": false thaws it."""
    import datetime
    from moto.iam.models import iam_backends

    op = command["op"]
    if op == "unreadable_secret":
        code = command.get("code")
        if code is None:
            UNREADABLE_SECRETS.pop(command["secret"], None)
        else:
            # AWS's own wording for these codes.
            messages = {
                "DecryptionFailure": "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
                "AccessDeniedException": "Access to KMS is not allowed",
            }
            UNREADABLE_SECRETS[command["secret"]] = {
                "ErrorCode": code, "Message": command.get("message") or messages.get(code, code)}
        return True
    if op == "stale_report":
        STALE_REPORT.clear()
        if command.get("on"):
            backend = iam_backends[DEFAULT_ACCOUNT]["global"]
            backend.generate_report()
            STALE_REPORT.update(content=audit_sees_as_aws.fresh_report(backend),
                                generated=datetime.datetime.now(datetime.timezone.utc))
        return True
    return False


LISTING_SNAPSHOT = {}  # backend id -> {secret name: ListSecrets entry}, while a snapshot is served
LISTING_OPS = ("listing_snapshot", "listing_live")


def listing_as_of_a_moment_ago() -> None:
    """AWS's ListSecrets "might not reflect changes from the last five minutes"; moto's is always
    fresh. With {"op": "listing_snapshot"} ListSecrets answers with every secret as it was then
    (labels, tags, dates; a secret made since is not listed) until {"op": "listing_live"}. The
    other calls (DescribeSecret, GetSecretValue, ...) stay fresh, as on AWS."""
    import copy
    from moto.secretsmanager.models import SecretsManagerBackend, _matches

    original_list = SecretsManagerBackend.list_secrets

    def list_secrets(self, filters, max_results=100, next_token=None, include_planned_deletion=False):
        snapshot = LISTING_SNAPSHOT.get(id(self))
        if snapshot is None:
            return original_list(self, filters, max_results, next_token, include_planned_deletion)
        listed = [copy.deepcopy(snapshot[name]) for name, secret in self.secrets.items()
                  if name in snapshot and _matches(secret, filters)
                  and (include_planned_deletion or not getattr(secret, "deleted_date", None))]
        return self._get_secret_values_page_and_next_token(listed, max_results, next_token)

    SecretsManagerBackend.list_secrets = list_secrets


def listing_control(command: dict) -> None:
    import copy
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[DEFAULT_ACCOUNT][command.get("region", REGION)]
    if command["op"] == "listing_snapshot":
        LISTING_SNAPSHOT[id(backend)] = {name: copy.deepcopy(secret.to_dict())
                                         for name, secret in backend.secrets.items()}
    else:
        LISTING_SNAPSHOT.pop(id(backend), None)


class Control(BaseHTTPRequestHandler):
    """POST /control with {"op": ...}: what AWS has but moto cannot be told through its API.
    Ops named github_* go to this server's fake GitHub (self.server.github), and
    GET /control/github answers its state; GET /control/sessions lists the AssumeRole sessions
    granted to roles whose trust was checked (trust_as_aws)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/control/github":
            state = self.server.github.state()
        elif self.path == "/control/sessions":
            state = ASSUMED_SESSIONS
        elif self.path == "/control/proxy":
            state = getattr(self.server, "proxy", ({},))[0]
        else:
            return self.send_error(404)
        body = json.dumps(state).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        import datetime
        from moto.iam.models import AccessKeyLastUsed, iam_backends

        command = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        # A member account's IAM when the command names one (an organization's tests).
        backend = iam_backends[command.get("account", DEFAULT_ACCOUNT)]["global"]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        ago = lambda days: None if days is None else now - datetime.timedelta(days=days)  # noqa: E731
        op = command["op"]
        if op == "key":
            for user in backend.users.values():
                for key in user.access_keys:
                    if key.access_key_id == command["key_id"]:
                        if "created_days_ago" in command:
                            key.create_date = ago(command["created_days_ago"])
                        if "last_used_days_ago" in command:
                            when = ago(command["last_used_days_ago"])
                            key.last_used = None if when is None else AccessKeyLastUsed(when, "s3", "us-east-1")
        elif op == "user":
            user = backend.users[command["user"]]
            if "created_days_ago" in command:
                user.create_date = ago(command["created_days_ago"])
            if "password_last_used_days_ago" in command:
                user.password_last_used = ago(command["password_last_used_days_ago"])
            if "mfa" in command:
                user.mfa_devices = {"arn:aws:iam::mfa/test": object()} if command["mfa"] else {}
        elif op == "version_created":
            # AWS dates a version when RotateSecret (or PutSecretValue) made it; a test backdates
            # one to play a rotation begun long ago, which no attempt can still be running.
            from moto.secretsmanager.models import secretsmanager_backends
            secrets = secretsmanager_backends[DEFAULT_ACCOUNT][command.get("region", REGION)].secrets
            version = secrets[command["secret"]].versions[command["version"]]
            version["createdate"] = int(time.time()) - int(command["seconds_ago"])
        elif op == "rotated_by":
            # What RotateSecret leaves on a secret once rotated by a function, without running it
            # (many secrets at once, for tests at scale): rotation on, the function, a schedule.
            from moto.secretsmanager.models import secretsmanager_backends
            secrets = secretsmanager_backends[DEFAULT_ACCOUNT][command.get("region", REGION)].secrets
            for name in command["secrets"]:
                secret = secrets[name]
                secret.rotation_requested, secret.rotation_enabled = True, True
                secret.rotation_lambda_arn, secret.auto_rotate_after_days = command["function"], 90
                secret.next_rotation_date = int(time.time()) + 80 * 86400
        elif op == "last_use_delay":
            LAST_USE_DELAY[command["key_id"]] = command["seconds"]
        elif op == "root":
            ROOT_ROW.update({k: v for k, v in command.items() if k != "op"})
        elif audit_control(command):
            pass
        elif op in LISTING_OPS:
            listing_control(command)
        elif op.startswith("github_"):
            try:
                self.server.github.control(command)
            except (KeyError, ValueError) as error:
                return self.send_error(400, f"{op}: {error}")
        else:
            return self.send_error(400, f"unknown op {op}")
        self.send_response(204)
        self.end_headers()


def enforce_auth(session: dict, template_parameters: dict) -> dict:
    """Turns on moto's authentication, with two principals: an administrator for the tests' own
    set-up, and the rotation function holding exactly template.yaml's policy. Returns their keys."""
    from moto import settings
    from moto.core.responses import ActionAuthenticatorMixin
    from moto.iam.responses import IamResponse
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.ssm.responses import SimpleSystemManagerResponse

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from template_policy import function_policy

    # moto checks IAM and Secrets Manager actions against the resource "*", which no ARN-scoped
    # statement matches. Name the resource AWS would: the user, or the secret.
    def iam_resource(self):
        name = self._get_param("UserName")
        key_id = self._get_param("AccessKeyId")
        if not name and key_id:
            name = next((user.name for user in self.backend.users.values()
                         if any(k.access_key_id == key_id for k in user.access_keys)), None)
        if not name:
            return original_iam_resource(self)
        user = self.backend.users.get(name)
        return user.arn if user else f"arn:aws:iam::{self.current_account}:user/{name}"

    def secret_resource(self):
        secret_id = self._get_param("SecretId")
        if not secret_id:
            return "*"
        secret = self.backend.secrets.get(secret_id) if self.backend._is_valid_identifier(secret_id) else None
        if secret is not None:
            return secret.arn
        return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"

    # SSM: the parameter's ARN (a name /ci/x is the ARN's "parameter/ci/x").
    def parameter_resource(self):
        name = self._get_param("Name")
        if not name:
            return "*"
        return f"arn:aws:ssm:{self.region}:{self.current_account}:parameter/{name.lstrip('/')}"

    SimpleSystemManagerResponse._determine_resource = parameter_resource
    original_iam_resource = IamResponse._determine_resource
    IamResponse._determine_resource = iam_resource
    SecretsManagerResponse._determine_resource = secret_resource

    iam = boto3.client("iam", **session)
    keys = {}
    for name, policy in [
        ("moto-admin", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ("rotation-function", function_policy(os.path.join(os.path.dirname(__file__), "../../template.yaml"),
                                              template_parameters)),
    ]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = [key["AccessKeyId"], key["SecretAccessKey"]]
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return keys


FUNCTION_ROLE = "rotation-function-role"
ASFF_REQUIRED = ("AwsAccountId", "CreatedAt", "Description", "GeneratorId", "Id", "ProductArn", "Resources",
                 "SchemaVersion", "Severity", "Title", "Types", "UpdatedAt")


def security_hub_as_aws() -> None:
    """moto's Security Hub ignores GetFindings' filters and imports a finding whatever it lacks;
    AWS filters, and refuses a finding without ASFF's required fields or with another account's
    product. The filters the audit sends (string EQUALS and PREFIX) are applied here."""
    from moto.securityhub.models import SecurityHubBackend

    original_get = SecurityHubBackend.get_findings
    original_import = SecurityHubBackend.batch_import_findings
    lock = threading.Lock()

    def field(data, name):
        if name == "ComplianceStatus":
            return (data.get("Compliance") or {}).get("Status")
        return data.get(name)

    def matches(data, filters):
        for name, conditions in (filters or {}).items():
            if not any(isinstance(field(data, name), str) and (
                    (c["Comparison"] == "EQUALS" and field(data, name) == c["Value"])
                    or (c["Comparison"] == "PREFIX" and field(data, name).startswith(c["Value"])))
                    for c in conditions):
                return False
        return True

    def get_findings(self, filters=None, sort_criteria=None, max_results=None, next_token=None):
        with lock:
            everything = self.findings
            self.findings = [f for f in everything if matches(f.data, filters)]
            try:
                return original_get(self, filters=filters, sort_criteria=sort_criteria,
                                    max_results=max_results, next_token=next_token)
            finally:
                self.findings = everything

    def batch_import_findings(self, findings):
        product = f"arn:aws:securityhub:{self.region_name}:{self.account_id}:product/{self.account_id}/default"
        refused, accepted = [], []
        for finding in findings:
            missing = [f for f in ASFF_REQUIRED if not finding.get(f)]
            if missing:
                refused.append({"Id": finding.get("Id", ""), "ErrorCode": "InvalidInput",
                                "ErrorMessage": f"Finding is missing {', '.join(missing)}"})
            elif finding["ProductArn"] != product:
                refused.append({"Id": finding["Id"], "ErrorCode": "AccessDeniedException",
                                "ErrorMessage": f"not authorized to import findings of {finding['ProductArn']}"})
            else:
                accepted.append(finding)
        with lock:
            failed, succeeded, failures = original_import(self, findings=accepted)
        return failed + len(refused), succeeded, failures + refused

    SecurityHubBackend.get_findings = get_findings
    SecurityHubBackend.batch_import_findings = batch_import_findings


def trust_as_aws() -> None:
    """Makes AssumeRole check the role's trust policy, as AWS does and moto does not: the role must
    exist, a statement must let the caller assume it (its account root, or, for the default
    credentials the function runs with here, the function's role), with the ExternalId it names,
    and session tags need a statement allowing sts:TagSession whose conditions they meet."""
    import fnmatch

    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import sts_backends
    from moto.sts.responses import TokenResponse

    original = TokenResponse.assume_role

    def principals_of(statement):
        principal = statement.get("Principal", {})
        names = principal.get("AWS", []) if isinstance(principal, dict) else [principal]
        return [names] if isinstance(names, str) else names

    def allows(statement, action, caller):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        return (statement.get("Effect") == "Allow" and action in actions
                and any(p in caller for p in principals_of(statement)))

    def assume_role(self):
        role_arn = self._get_param("RoleArn") or ""
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        name = role_arn.rsplit("/", 1)[-1]
        caller_account = self.current_account
        caller = {caller_account, f"arn:aws:iam::{caller_account}:root"}
        # moto reads the default credentials ("test") as AKIAEXAMPLE: the function's role here.
        if self.get_access_key() in ("test", "AKIAEXAMPLE", None) and caller_account == DEFAULT_ACCOUNT:
            caller.add(f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/{FUNCTION_ROLE}")
        # A session of a role is that role to a trust policy naming it (an operator's CLI, say).
        session = sts_backends[caller_account]["aws"].get_assumed_role_from_access_key(self.get_access_key())
        if session is not None:
            caller.add(session.role_arn)
        shown = max(caller, key=len)  # the function's role when it is the caller, else the account root
        denied = STSClientError(
            "AccessDenied",
            f"User: {shown} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
        role = next((r for r in iam_backends[account]["global"].roles.values() if r.name == name), None) \
            if account else None
        if role is None:
            if name == "OrganizationAccountAccessRole":
                return original(self)  # Organizations makes it with each account, trusting the management account
            raise denied
        statements = json.loads(role.assume_role_policy_document).get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        external_id = self._get_param("ExternalId")

        def condition_met(statement):
            wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
            return wanted is None or wanted == external_id

        if not any(allows(st, "sts:AssumeRole", caller) and condition_met(st) for st in statements):
            raise denied
        tags = {tag["Key"]: tag["Value"] for tag in self._get_param("Tags") or []}

        def tags_allowed(statement):
            conditions = statement.get("Condition", {})
            for key, pattern in conditions.get("StringLike", {}).items():
                if key.startswith("aws:RequestTag/") and not fnmatch.fnmatchcase(
                        tags.get(key.split("/", 1)[1], ""), pattern):
                    return False
            allowed_keys = conditions.get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
            if allowed_keys is not None:
                allowed_keys = [allowed_keys] if isinstance(allowed_keys, str) else allowed_keys
                if any(k not in allowed_keys for k in tags):
                    return False
            return True

        if tags and not any(allows(st, "sts:TagSession", caller) and tags_allowed(st) for st in statements):
            raise STSClientError(
                "AccessDenied", f"not authorized to perform: sts:TagSession on resource: {role_arn}")
        ASSUMED_SESSIONS.append({"role": role_arn, "tags": tags, "external_id": external_id})
        return original(self)

    TokenResponse.assume_role = assume_role


def organizations_as_aws() -> None:
    """Describes accounts as AWS does since it retired an account's Status on 9 September 2026:
    with State only (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED). moto still gives both."""
    from moto.organizations.models import FakeAccount

    original = FakeAccount.describe

    def describe(self):
        described = original(self)
        described.pop("Status", None)
        return described

    FakeAccount.describe = describe


ASSUMED_SESSIONS = []  # every session AssumeRole granted to a role it checked, for GET /control/sessions


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--function-binary", help="the rotation function's bootstrap binary")
    parser.add_argument("--function-log", help="append the function's output to this file")
    parser.add_argument("--invocations", help="append one JSON line per invocation to this file")
    parser.add_argument("--function-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the function")
    parser.add_argument("--timeout", type=int, default=60, help="the function's timeout in seconds")
    parser.add_argument("--enforce-auth", action="store_true",
                        help="check every request's signature and IAM policy, as AWS does")
    parser.add_argument("--template-parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="with --enforce-auth: a template parameter the function's policy is read with")
    parser.add_argument("--iam-latency-ms", type=int, default=0,
                        help="the function reaches AWS through a proxy adding this to every IAM call")
    parser.add_argument("--iam-rate", type=float, default=0,
                        help="with --iam-latency-ms: IAM calls beyond this many a second are throttled")
    return parser.parse_args(argv)


def start(args):
    """Starts moto and, with --function-binary, the Lambda service; returns (stop, endpoint, arn, service)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    global PATCHED
    if not PATCHED:  # a process may start more than one server (the benchmark does)
        behave_as_aws()
        credential_report_as_aws()
        last_use_as_aws()
        audit_sees_as_aws()
        listing_as_of_a_moment_ago()
        trust_as_aws()
        security_hub_as_aws()
        organizations_as_aws()
        PATCHED = True
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    # Each server its own GitHub: the benchmark starts several in one process.
    control.github = github_api.start()
    threading.Thread(target=control.serve_forever, daemon=True).start()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port  # the port the OS picked for port 0
    endpoint = f"http://127.0.0.1:{port}"

    # No Docker here: without a bridge, Lambda invocations become no-ops instead of container runs.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config", method="POST",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()

    # moto's state lives in this process: a second server here starts from an empty account too.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    urllib.request.urlopen(request).read()
    session = dict(endpoint_url=endpoint, region_name=REGION,
                   aws_access_key_id="test", aws_secret_access_key="test")
    role = boto3.client("iam", **session).create_role(
        RoleName=FUNCTION_ROLE, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("bootstrap", "")
    # The function's configured environment is what it runs with, as on AWS: the CLI reads it back
    # (GetFunctionConfiguration) to act with the deployed policy.
    settings = {name: value for name, value in os.environ.items()
                if name.startswith(("ROTATOR_", "RUST_LOG", "AWS_LAMBDA_LOG"))}
    settings.update(item.split("=", 1) for item in args.function_env)
    settings.setdefault("ROTATOR_GITHUB_API_URL", control.github.url)
    function_arn = boto3.client("lambda", **session).create_function(
        FunctionName=FUNCTION_NAME, Runtime="provided.al2023", Role=role,
        Handler="bootstrap", Code={"ZipFile": package.getvalue()},
        Environment={"Variables": settings})["FunctionArn"]

    service = None
    if args.function_binary:
        env = {name: value for name, value in os.environ.items()
               if name in ("PATH", "HOME", "RUST_BACKTRACE")}
        env.update(settings)
        function_endpoint = endpoint
        if args.iam_latency_ms or args.iam_rate:
            import throttling_proxy
            function_endpoint, counts, stop_proxy = throttling_proxy.start(
                endpoint, args.iam_latency_ms / 1000, args.iam_rate or 1e9)
            control.proxy = (counts, stop_proxy)
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": function_endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        })
        service = LambdaService(args.function_binary, env, args.function_log, args.invocations, args.timeout)
        # With use_docker off, moto hands every invocation to its "simple" backend: catch ours there.
        original_invoke = LambdaSimpleBackend.invoke

        def invoke(self, function_name, qualifier, body, headers, response_headers):
            if getattr(QUIET, "on", False):
                return b""
            if function_name in (FUNCTION_NAME, function_arn):
                later = (headers or {}).get("X-Amz-Invocation-Type") == "Event"
                return service.invoke(function_arn, body, later)
            return original_invoke(self, function_name, qualifier, body, headers, response_headers)

        LambdaSimpleBackend.invoke = invoke

    keys = (enforce_auth(session, dict(item.split("=", 1) for item in args.template_parameter))
            if args.enforce_auth else {})

    def stop():
        if service:
            service.stop()
        control.shutdown()
        control.github.stop()
        if getattr(control, "proxy", None):
            control.proxy[1]()
        server.stop()

    stop.control = f"http://127.0.0.1:{control.server_port}/control"
    stop.github = control.github.info()
    return stop, endpoint, function_arn, service, keys


def main() -> None:
    stop, endpoint, function_arn, _, keys = start(parse_args())
    print(json.dumps({"endpoint": endpoint, "rotation_lambda_arn": function_arn, "keys": keys,
                      "control": stop.control, "github": stop.github}), flush=True)
    sys.stdin.read()  # returns when the parent closes the pipe or exits
    stop()


if __name__ == "__main__":
    main()
