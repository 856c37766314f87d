"""`make bench`: figures for the release build of the rotation function.

A benchmark, not a test: it prints what it measures and never fails on a figure.
  - the size of the deployment zip (and of the bootstrap binary in it);
  - start-to-ready: from process start to its first request for an event, median of N cold starts;
  - one full rotation through RotateSecret against moto: its time, the AWS calls the function made
    (by operation), and the function's peak memory (RSS);
  - the sweep (`{"Action": "sweep"}`) over 1,000 idle secrets, and over 100 secrets in their grace
    window, then past it: its calls and wall time;
  - delivery: what a rotation adds per SSM destination and per GitHub secret (AWS calls, GitHub
    requests, time), through the GitHub stand-in;
  - the audit (`{"Action": "audit"}`) of 1,000 users, half of them under rotation: calls and wall
    time; and the CLI checking a 10,000-user credential report from a file;
  - at fleet scale (bench_fleet.py): the organization's audit of 50 accounts x 100 users, and a
    sweep of 5,000 secrets through an IAM that is slow and throttled, split by its deadline.
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from moto.core.responses import BaseResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/support"))
import moto_server  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import bench_fleet  # noqa: E402

LAMBDA_ENV = {"AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
              "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_REGION": "us-east-1",
              "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def start_to_ready(binary: str, runs: int) -> list[float]:
    """Milliseconds from spawning the binary to its first GET of the next invocation."""
    asked = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.set()
            time.sleep(0.2)  # hold the request; the process is killed meanwhile

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(LAMBDA_ENV, PATH=os.environ.get("PATH", ""),
               AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_port}")
    times = []
    for _ in range(runs):
        asked.clear()
        started = time.perf_counter()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if asked.wait(10):
            times.append((time.perf_counter() - started) * 1000)
        process.kill()
        process.wait()
    server.shutdown()
    return times


ORIGINAL_CALL_ACTION = BaseResponse.call_action


def count_calls():
    """Counts moto's requests by operation while counting["on"]: only the function's own (it signs
    as "test" or with the key under test, this script as "bench")."""
    calls = collections.Counter()
    counting = {"on": False}

    def call_action(self):
        if counting["on"] and "Credential=bench/" not in (self.headers.get("Authorization") or ""):
            calls[f"{self.service_name}:{self._get_action()}"] += 1
        return ORIGINAL_CALL_ACTION(self)

    BaseResponse.call_action = call_action
    return calls, counting


def stop_counting():
    BaseResponse.call_action = ORIGINAL_CALL_ACTION


def rotation(binary: str) -> dict:
    """One cold and five warm rotations through RotateSecret, with the function's calls counted."""
    calls, counting = count_calls()
    stop, endpoint, function_arn, service, _ = moto_server.start(moto_server.parse_args(
        ["--function-binary", binary, "--function-env", "ROTATOR_USER_PATH_PREFIX=/rotated/"]))
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        iam, sm = boto3.client("iam", **session), boto3.client("secretsmanager", **session)
        times = []
        for run in range(6):
            user = f"bench-{uuid.uuid4().hex[:8]}"
            iam.create_user(UserName=user, Path="/rotated/")
            key = iam.create_access_key(UserName=user)["AccessKey"]
            arn = sm.create_secret(Name=f"iam-keys/{user}", SecretString=json.dumps(
                {"UserName": user, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}))["ARN"]
            counting["on"] = run == 1  # count one warm rotation
            started = time.perf_counter()
            sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn,
                             RotationRules={"AutomaticallyAfterDays": 90})
            times.append((time.perf_counter() - started) * 1000)
            counting["on"] = False
        with open(f"/proc/{service.process.pid}/status") as status:
            peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        return {"cold_ms": times[0], "warm_ms": statistics.median(times[1:]), "calls": calls, "peak_rss_kib": peak_kib}
    finally:
        stop_counting()
        stop()


def delivery_figures(binary: str) -> list:
    """Warm rotations delivering to none, one SSM, one GitHub repository, then 3 SSM parameters and
    2 GitHub scopes: the AWS calls and GitHub requests of each, and its time."""
    calls, counting = count_calls()
    stop, endpoint, function_arn, _, _ = moto_server.start(moto_server.parse_args(
        ["--function-binary", binary, "--function-env", "ROTATOR_USER_PATH_PREFIX=/rotated/",
         "--function-env", "ROTATOR_SSM_PREFIX=/bench/", "--function-env", "ROTATOR_GITHUB_OWNERS=acme",
         "--function-env", "ROTATOR_GITHUB_CREDENTIALS=github/bench"]))
    github_state = stop.control + "/github"
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        iam, sm = boto3.client("iam", **session), boto3.client("secretsmanager", **session)
        sm.create_secret(Name="github/bench", SecretString=json.dumps({"Token": stop.github["token"]}))
        ssm = lambda n: [{"Type": "ssm", "Name": f"/bench/{uuid.uuid4().hex[:8]}/{i}"} for i in range(n)]  # noqa: E731
        repo = lambda: {"Type": "github", "Repository": f"acme/{uuid.uuid4().hex[:8]}"}  # noqa: E731
        cases = [("no destination (baseline)", lambda: []), ("1 SSM parameter", lambda: ssm(1)),
                 ("1 GitHub repository (2 secrets)", lambda: [repo()]),
                 ("3 SSM + repository + its environment", lambda: ssm(3) + [
                     dict(r := repo()), dict(r, Environment="prod")])]
        figures = []
        # The first is a warm-up: the function's cold start, GitHub's token, moto's SSM loading.
        warm_up = ("warm-up", lambda: ssm(1) + [repo()])
        for run, (label, destinations) in enumerate([warm_up] + cases):
            user = f"bench-{uuid.uuid4().hex[:8]}"
            iam.create_user(UserName=user, Path="/rotated/")
            key = iam.create_access_key(UserName=user)["AccessKey"]
            arn = sm.create_secret(Name=f"iam-keys/{user}", SecretString=json.dumps(
                {"UserName": user, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"],
                 "Destinations": destinations()}))["ARN"]
            before = len(json.loads(urllib.request.urlopen(github_state).read())["requests"])
            calls.clear()
            counting["on"] = True
            started = time.perf_counter()
            sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn,
                             RotationRules={"AutomaticallyAfterDays": 90})
            ms = (time.perf_counter() - started) * 1000
            counting["on"] = False
            requests = json.loads(urllib.request.urlopen(github_state).read())["requests"][before:]
            github = collections.Counter(
                f"{r['method']} {'public-key' if r['path'].endswith('/public-key') else 'secret'}"
                for r in requests)
            if run > 0:
                figures.append({"label": label, "ms": ms, "calls": collections.Counter(calls),
                                "github": github})
        return figures
    finally:
        stop_counting()
        stop()


def sweep_figures(binary: str) -> list:
    """The sweep over many secrets, through the function: calls by operation and wall time."""
    calls, counting = count_calls()
    stop, endpoint, function_arn, _, _ = moto_server.start(moto_server.parse_args(
        ["--function-binary", binary, "--function-env", "ROTATOR_USER_PATH_PREFIX=/rotated/",
         "--function-env", "ROTATOR_SECRET_NAME_PREFIX=iam-keys/",
         "--function-env", "ROTATOR_DEACTIVATE_AFTER=1h", "--function-env", "ROTATOR_QUIET_FOR=1h",
         "--function-env", "ROTATOR_LAST_USE_LAG=0"]))
    from moto.secretsmanager.models import secretsmanager_backends
    backend = secretsmanager_backends["123456789012"]["us-east-1"]
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        iam, sm = boto3.client("iam", **session), boto3.client("secretsmanager", **session)
        lam = boto3.client("lambda", **session)

        def sweep(label):
            calls.clear()
            counting["on"] = True
            started = time.perf_counter()
            answer = json.loads(lam.invoke(FunctionName=function_arn,
                                           Payload=json.dumps({"Action": "sweep"}))["Payload"].read())
            elapsed = (time.perf_counter() - started) * 1000
            counting["on"] = False
            return {"label": label, "ms": elapsed, "calls": dict(calls), "secrets": answer.get("secrets"),
                    "actions": len(answer.get("actions", []))}

        # 1,000 idle secrets: under rotation by this function, nothing for the policy to do (half
        # never rotated yet, half rotated long ago with their previous key done).
        for n in range(1000):
            arn = sm.create_secret(Name=f"iam-keys/idle-{n:04}",
                                   SecretString=json.dumps({"UserName": f"idle-{n}"}))["ARN"]
            secret = backend.secrets[arn]
            secret.rotation_requested, secret.rotation_enabled = True, True
            secret.rotation_lambda_arn, secret.auto_rotate_after_days = function_arn, 90
            secret.next_rotation_date = int(time.time()) + 80 * 86400
            if n % 2:
                previous = next(iter(secret.versions))
                sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"UserName": f"idle-{n}", "v": 2}))
                sm.tag_resource(SecretId=arn, Tags=[{"Key": "iam-key-rotator:previous-key", "Value": f"{previous} done"}])
        figures = [sweep("1,000 idle secrets")]

        # 100 secrets just rotated by the function, their previous keys in a 1-hour grace period.
        rotated = []
        for n in range(100):
            user = f"grace-{n:03}"
            iam.create_user(UserName=user, Path="/rotated/")
            key = iam.create_access_key(UserName=user)["AccessKey"]
            arn = sm.create_secret(Name=f"iam-keys/{user}", SecretString=json.dumps(
                {"UserName": user, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}))["ARN"]
            sm.rotate_secret(SecretId=arn, RotationLambdaARN=function_arn, RotationRules={"AutomaticallyAfterDays": 90})
            rotated.append(arn)
        figures.append(sweep("1,100 secrets, 100 in their grace period"))
        # The same, a day later: the 100 previous keys are quiet and get deactivated.
        for arn in rotated:
            secret = backend.secrets[arn]
            secret.last_rotation_date = int(time.time()) - 86400
            for version in secret.versions.values():
                version["createdate"] -= 86400
        figures.append(sweep("1,100 secrets, 100 past their grace period"))
        return figures
    finally:
        stop_counting()
        stop()


REPORT_HEADER = ("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
                 "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
                 "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
                 "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
                 "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
                 "cert_1_last_rotated,cert_2_active,cert_2_last_rotated")


def audit_figures(binary: str, cli_binary: str) -> list:
    """The audit through the function over 1,000 users, and the CLI over a 10,000-user report."""
    calls, counting = count_calls()
    stop, endpoint, function_arn, _, _ = moto_server.start(moto_server.parse_args(
        ["--function-binary", binary, "--function-env", "ROTATOR_SECRET_NAME_PREFIX=iam-keys/"]))
    try:
        session = dict(endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
        iam, sm = boto3.client("iam", **session), boto3.client("secretsmanager", **session)
        lam = boto3.client("lambda", **session)
        for n in range(1000):
            user = f"audited-{n:04}"
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            if n % 2:
                sm.create_secret(Name=f"iam-keys/{user}", SecretString=json.dumps(
                    {"UserName": user, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}))
        counting["on"] = True
        started = time.perf_counter()
        answer = json.loads(lam.invoke(FunctionName=function_arn,
                                       Payload=json.dumps({"Action": "audit"}))["Payload"].read())
        elapsed = (time.perf_counter() - started) * 1000
        counting["on"] = False
        figures = [{"label": "audit of 1,000 users (500 under rotation)", "ms": elapsed,
                    "calls": dict(calls), "detail": f"{answer.get('users')} users, "
                    f"{answer.get('managed_keys')} keys under rotation"}]

        report = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-credential-report.csv"
        with open(report, "w") as out:
            out.write(REPORT_HEADER + "\n")
            for n in range(10_000):
                out.write(f"user-{n},arn:aws:iam::123456789012:user/user-{n},2024-01-01T00:00:00+00:00,"
                          f"{'true' if n % 3 == 0 else 'false'},2026-10-01T00:00:00+00:00,N/A,N/A,{'true' if n % 5 else 'false'},"
                          f"true,2026-0{1 + n % 9}-01T00:00:00+00:00,2026-11-01T00:00:00+00:00,us-east-1,s3,"
                          f"{'true' if n % 7 == 0 else 'false'},2026-05-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n")
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY="bench", ROTATOR_SECRET_NAME_PREFIX="iam-keys/")
        started = time.perf_counter()
        done = subprocess.run([cli_binary, "audit", "--report-file", str(report), "--output", "json"],
                              env=env, capture_output=True, text=True)
        elapsed = (time.perf_counter() - started) * 1000
        findings = len(json.loads(done.stdout)["findings"]) if done.returncode == 0 else done.stderr.strip()
        figures.append({"label": "CLI checking a 10,000-user report", "ms": elapsed, "calls": {},
                        "detail": f"{findings} findings (includes reading the secrets from moto)"})
        return figures
    finally:
        stop_counting()
        stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / "target/bench-bootstrap-x86_64"),
                        help="a Lambda release build for this machine's CPU (the zip's is arm64)")
    parser.add_argument("--package", default=str(ROOT / "target/lambda/iam-key-rotator/bootstrap.zip"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cli-binary", default=str(ROOT / "target/release/iam-key-rotator-cli"))
    args = parser.parse_args()

    print("iam-key-rotator benchmark (targets: zip <= 5 MB, start-to-ready < 30 ms, peak RSS < 32 MB)\n")
    if os.path.exists(args.package):
        print(f"deployment zip          {os.path.getsize(args.package) / 1e6:6.2f} MB   {args.package}")
    else:
        print(f"deployment zip             n/a    (no {args.package}; run `make package`)")
    print(f"bootstrap binary        {os.path.getsize(args.binary) / 1e6:6.2f} MB   {args.binary}")

    ready = start_to_ready(args.binary, args.runs)
    print(f"start to ready          {statistics.median(ready):6.1f} ms   median of {len(ready)} cold starts "
          f"(min {min(ready):.1f}, max {max(ready):.1f})")

    result = rotation(args.binary)
    print(f"peak RSS of the function{result['peak_rss_kib'] / 1024:6.1f} MB   over 6 full rotations")
    print(f"full rotation           {result['cold_ms']:6.0f} ms   first, including the cold start")
    print(f"full rotation           {result['warm_ms']:6.0f} ms   median of 5 more, warm, against moto")
    total = sum(result["calls"].values())
    print(f"\nAWS calls in one full rotation: {total}")
    for operation, count in sorted(result["calls"].items()):
        print(f"  {count:3d}  {operation}")

    print("\nThe sweep (goal: no more than the ListSecrets pages plus a handful for idle secrets):")
    for figure in sweep_figures(args.binary):
        total = sum(figure["calls"].values())
        detail = ", ".join(f"{op.split(':')[1]} {n}" for op, n in sorted(figure["calls"].items()))
        print(f"  {figure['label']:<42} {figure['ms']:7.0f} ms  {total:5d} calls ({detail}); "
              f"{figure['actions']} actions")

    print("\nDelivery (goal: at most 3 AWS calls per SSM destination; 2 GitHub requests per secret "
          "plus one public-key read per repository and invocation):")
    figures = delivery_figures(args.binary)
    base = figures[0]
    for figure in figures:
        total = sum(figure["calls"].values())
        ops = set(figure["calls"]) | set(base["calls"])
        extra = {op: figure["calls"].get(op, 0) - base["calls"].get(op, 0) for op in ops}
        added = ", ".join(f"{op.split(':')[1]} {n:+d}" for op, n in sorted(extra.items()) if n) or "none"
        github = ", ".join(f"{kind} {n}" for kind, n in sorted(figure["github"].items())) or "none"
        print(f"  {figure['label']:<40} {figure['ms']:6.0f} ms ({figure['ms'] - base['ms']:+5.0f})  "
              f"{total:3d} AWS calls (against the baseline: {added}); GitHub: {github}")

    print("\nAt fleet scale (goals: the organization's audit under 5 s on moto; every secret swept, "
          "each run within its deadline):")
    calls, counting = count_calls()
    try:
        figure = bench_fleet.organization_audit(args.cli_binary, calls, counting)
    finally:
        stop_counting()
    total = sum(figure["calls"].values())
    detail = ", ".join(f"{op.split(':')[1]} {n}" for op, n in sorted(figure["calls"].items()))
    print(f"  {figure['label']:<42} {figure['ms']:7.0f} ms  {total:5d} calls ({detail}); {figure['detail']}")
    for chain in (bench_fleet.sweep_chain(args.binary),
                  bench_fleet.sweep_chain(args.binary, secrets=500, with_work=25, timeout=30, rate=3)):
        runs = chain["runs"]
        visited = sum((r.get("answer") or {}).get("secrets", 0) for r in runs)
        print(f"  sweep of {chain['secrets']:,} secrets ({chain['with_work']} with a previous key to retire), IAM +50 ms "
              f"and throttled above {chain['rate']:g}/s: {len(runs)} runs, {chain['ms'] / 1000:.0f} s in all; "
              f"{visited:,} secrets looked at, {chain['deactivated']} keys deactivated; IAM calls {chain['proxy']}")
        for r in runs:
            answer = r.get("answer") or {}
            print(f"    run {r['ms'] / 1000:5.1f} s of a {chain['timeout']} s timeout ({r['outcome']}): "
                  f"{answer.get('secrets')} secrets, {answer.get('left', 0)} left, "
                  f"{len(answer.get('actions', []))} actions, {len(answer.get('errors', []))} errors")

    print("\nThe audit (goal: under a second for 1,000 users):")
    for figure in audit_figures(args.binary, args.cli_binary):
        total = sum(figure["calls"].values())
        detail = ", ".join(f"{op.split(':')[1]} {n}" for op, n in sorted(figure["calls"].items()))
        calls = f"{total:5d} calls ({detail}); " if total else ""
        print(f"  {figure['label']:<42} {figure['ms']:7.0f} ms  {calls}{figure['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
