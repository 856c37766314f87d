"""Checks the fake GitHub API (github_api.py) by hand, as a client would use it, through
moto_server.py: `.venv/bin/python tests/support/github_api_selfcheck.py`. Prints one line per
check and exits non-zero at the first that fails. Not run by the Rust tests; run it after changing
the fake."""

import base64
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import boto3
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from nacl.public import PrivateKey, PublicKey, SealedBox

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        sys.exit(f"FAILED: {what}")
    CHECKS += 1
    print(f"ok   {what}")


def start_server(*extra):
    process = subprocess.Popen([sys.executable, os.path.join(HERE, "moto_server.py"), *extra],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return process, json.loads(process.stdout.readline())


class Client:
    def __init__(self, ready):
        self.ready, self.github = ready, ready["github"]
        self.address = urllib.parse.urlsplit(self.github["url"]).netloc

    def call(self, method, path, body=None, auth="pat", user_agent=True, connection=None):
        """(status, headers, JSON answer or None); auth is "pat", None, or a full header value."""
        headers = {"Accept": "application/vnd.github+json"}
        if user_agent:
            headers["User-Agent"] = "github-api-selfcheck"
        if auth == "pat":
            headers["Authorization"] = f"Bearer {self.github['token']}"
        elif auth:
            headers["Authorization"] = auth
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = connection or http.client.HTTPConnection(self.address, timeout=10)
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, response.headers, (json.loads(raw) if raw else None)

    def control(self, command):
        request = urllib.request.Request(self.ready["control"], data=json.dumps(command).encode(), method="POST")
        try:
            return urllib.request.urlopen(request).status
        except urllib.error.HTTPError as error:
            return error.code

    def state(self):
        return json.load(urllib.request.urlopen(self.ready["control"] + "/github"))

    def seal(self, path, value, key=None):
        status, _, answer = self.call("GET", path)
        assert status == 200, (status, answer)
        key = key or answer["key"]
        box = SealedBox(PublicKey(base64.b64decode(key))).encrypt(value.encode())
        return {"encrypted_value": base64.b64encode(box).decode(), "key_id": answer["key_id"]}

    def app_jwt(self, iat_offset=-60, exp_offset=600, iss=None, key=None):
        now = int(time.time())
        claims = {"iat": now + iat_offset, "exp": now + exp_offset,
                  "iss": iss if iss is not None else str(self.github["app_id"])}
        # Through PyJWS: PyJWT's encode refuses an int iss, which GitHub (and Rust clients) use.
        return jwt.PyJWS().encode(json.dumps(claims).encode(), key or self.github["private_key"],
                                  algorithm="RS256", headers={"typ": "JWT"})


def main():
    process, ready = start_server()
    try:
        run(Client(ready))
    finally:
        process.stdin.close()
        process.wait(10)
    # The environment or --function-env keep the function's own GitHub URL.
    process, ready = start_server("--function-env", "ROTATOR_GITHUB_API_URL=https://github.example.com/api/v3")
    try:
        env = function_env(ready)
        check(env["ROTATOR_GITHUB_API_URL"] == "https://github.example.com/api/v3",
              "--function-env ROTATOR_GITHUB_API_URL wins over the fake's")
    finally:
        process.stdin.close()
        process.wait(10)
    print(f"{CHECKS} passed, 0 failed")


def function_env(ready):
    client = boto3.client("lambda", endpoint_url=ready["endpoint"], region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    return client.get_function_configuration(FunctionName=ready["rotation_lambda_arn"])["Environment"]["Variables"]


def run(c):
    g = c.github
    check(set(c.ready) == {"endpoint", "rotation_lambda_arn", "keys", "control", "github"},
          f"ready line keys: {sorted(c.ready)}")
    check(set(g) == {"url", "token", "app_id", "installation_id", "private_key"}
          and isinstance(g["app_id"], int) and isinstance(g["installation_id"], int)
          and g["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
          and g["token"].startswith("github_pat_"), "ready line github: url, token, ints, PKCS#1 key")
    check(function_env(c.ready).get("ROTATOR_GITHUB_API_URL") == g["url"],
          "the function's environment has ROTATOR_GITHUB_API_URL = the fake's url")

    # Authentication and headers.
    status, headers, answer = c.call("GET", "/repos/acme/api", auth=None)
    check(status == 401 and answer["message"] == "Bad credentials", "no credentials: 401 Bad credentials")
    check(headers["X-RateLimit-Remaining"].isdigit() and int(headers["X-RateLimit-Reset"]) > time.time(),
          f"rate limit headers: remaining {headers['X-RateLimit-Remaining']}, reset {headers['X-RateLimit-Reset']}")
    status, _, _ = c.call("GET", "/repos/acme/api", auth="Bearer github_pat_wrong")
    check(status == 401, "a wrong token: 401")
    status, _, answer = c.call("GET", "/repos/acme/api", user_agent=False)
    check(status == 403 and "User-Agent" in answer["message"], "no User-Agent: 403, as GitHub documents")
    status, _, repo = c.call("GET", "/repos/acme/api", auth=f"token {g['token']}")
    status2, _, repo2 = c.call("GET", "/repos/Acme/API")
    check(status == status2 == 200 and repo["id"] == repo2["id"] and repo["full_name"] == "acme/api",
          f"GET repo (token scheme too): id {repo['id']} stable, case-insensitive")

    # Repository secrets: create, update, read, delete.
    base = "/repos/acme/api/actions/secrets"
    sealed = c.seal(f"{base}/public-key", "first-value-1")
    status, headers, answer = c.call("PUT", f"{base}/AWS_ACCESS_KEY_ID", sealed)
    check(status == 201 and answer is None, "first PUT: 201, empty body")
    status, _, first = c.call("GET", f"{base}/AWS_ACCESS_KEY_ID")
    check(status == 200 and set(first) == {"name", "created_at", "updated_at"}
          and first["created_at"] == first["updated_at"] and first["created_at"].endswith("Z"),
          f"GET secret: {first}")
    time.sleep(1.1)
    status, _, _ = c.call("PUT", f"{base}/AWS_ACCESS_KEY_ID", c.seal(f"{base}/public-key", "second-value-2"))
    check(status == 204, "second PUT: 204")
    _, _, second = c.call("GET", f"{base}/AWS_ACCESS_KEY_ID")
    check(second["created_at"] == first["created_at"] and second["updated_at"] > first["updated_at"],
          f"updated_at moved ({first['updated_at']} -> {second['updated_at']}), created_at kept")
    state = c.state()
    check(state["secrets"]["repo:acme/api"]["AWS_ACCESS_KEY_ID"]["value"] == "second-value-2",
          "the state holds the opened value")
    status, _, answer = c.call("GET", f"{base}/NOPE")
    check(status == 404 and answer["message"] == "Not Found", "GET absent: 404 Not Found")

    # Refusals: 422.
    stale = dict(sealed, key_id="1")
    check(c.call("PUT", f"{base}/X", stale)[0] == 422, "unknown key_id: 422")
    other = SealedBox(PrivateKey.generate().public_key).encrypt(b"v")
    wrong_box = dict(sealed, encrypted_value=base64.b64encode(other).decode())
    check(c.call("PUT", f"{base}/X", wrong_box)[0] == 422, "box sealed to another key: 422")
    check(c.call("PUT", f"{base}/X", dict(sealed, encrypted_value="not base64!"))[0] == 422, "not base64: 422")
    check(c.call("PUT", f"{base}/GITHUB_TOKEN", c.seal(f"{base}/public-key", "v"))[0] == 422, "GITHUB_ prefix: 422")
    check(c.call("PUT", f"{base}/1ABC", c.seal(f"{base}/public-key", "v"))[0] == 422, "leading digit: 422")
    check(c.call("PUT", f"{base}/X", {"key_id": sealed["key_id"]})[0] == 422, "no encrypted_value: 422")
    check("X" not in c.state()["secrets"]["repo:acme/api"], "nothing stored by refused PUTs")

    # Environment and organization secrets.
    env = "/repos/acme/api/environments/prod%20eu/secrets"
    status, _, _ = c.call("PUT", f"{env}/AWS_SECRET_ACCESS_KEY", c.seal(f"{env}/public-key", "env-value"))
    check(status == 201 and c.state()["secrets"]["env:acme/api:prod eu"]["AWS_SECRET_ACCESS_KEY"]["value"] == "env-value",
          "environment secret (URL-encoded name) stored under env:acme/api:prod eu")
    org = "/orgs/acme/actions/secrets"
    check(c.call("PUT", f"{org}/ORG_KEY", c.seal(f"{org}/public-key", "v"))[0] == 422, "org secret without visibility: 422")
    body = dict(c.seal(f"{org}/public-key", "org-value"), visibility="selected", selected_repository_ids=[repo["id"]])
    check(c.call("PUT", f"{org}/ORG_KEY", body)[0] == 201, "org secret, visibility selected: 201")
    status, _, answer = c.call("GET", f"{org}/ORG_KEY")
    check(status == 200 and answer["visibility"] == "selected" and "selected_repositories_url" in answer,
          f"GET org secret: {answer}")
    stored = c.state()["secrets"]["org:acme"]["ORG_KEY"]
    check(stored["selected_repository_ids"] == [repo["id"]] and stored["visibility"] == "selected",
          "state keeps visibility and selected ids")
    check(c.call("DELETE", f"{org}/ORG_KEY")[0] == 204, "DELETE: 204")
    check(c.call("DELETE", f"{org}/ORG_KEY")[0] == 404, "DELETE again: 404")
    check(c.call("GET", f"{org}/ORG_KEY")[0] == 404, "GET deleted: 404")

    # A GitHub App: JWT -> installation token.
    mint = f"/app/installations/{g['installation_id']}/access_tokens"
    status, _, answer = c.call("POST", mint, auth=f"Bearer {c.app_jwt()}")
    check(status == 201 and answer["token"].startswith("ghs_") and answer["expires_at"].endswith("Z"),
          f"mint with GitHub's recommended JWT (iat -60, exp +600): 201, expires_at {answer['expires_at']}")
    installation_token = answer["token"]
    status, _, _ = c.call("GET", f"{base}/public-key", auth=f"Bearer {installation_token}")
    check(status == 200, "installation token reads a public key")
    status, _, _ = c.call("POST", mint, auth=f"Bearer {c.app_jwt(iss=g['app_id'])}")
    check(status == 201, "iss as an int: 201")
    check(c.call("POST", f"/app/installations/{g['installation_id'] + 1}/access_tokens",
                 auth=f"Bearer {c.app_jwt()}")[0] == 404, "wrong installation: 404")
    check(c.call("POST", mint, auth=f"Bearer {c.app_jwt(iat_offset=0, exp_offset=1200)}")[0] == 401,
          "exp 20 minutes ahead: 401")
    check(c.call("POST", mint, auth=f"Bearer {c.app_jwt(iat_offset=-900, exp_offset=-300)}")[0] == 401,
          "expired JWT: 401")
    check(c.call("POST", mint, auth=f"Bearer {c.app_jwt(iss='42')}")[0] == 401, "wrong iss: 401")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    check(c.call("POST", mint, auth=f"Bearer {c.app_jwt(key=other_key)}")[0] == 401, "JWT signed by another key: 401")
    check(c.call("POST", mint)[0] == 401, "fine-grained token on access_tokens: 401")
    check(c.call("GET", "/repos/acme/api", auth=f"Bearer {c.app_jwt()}")[0] == 401, "JWT on a repo endpoint: 401")
    check(c.state()["tokens_minted"] == 2, "tokens_minted counts the two minted")

    # Faults.
    secret_path = f"{base}/AWS_SECRET_ACCESS_KEY"
    for kind, want in [("fail", 500), ("throttle_403", 403), ("throttle_429", 429), ("not_found", 404)]:
        check(c.control({"op": "github_fault", "method": "PUT", "path_contains": "/actions/secrets/AWS_SECRET_ACCESS_KEY",
                         "kind": kind, "times": 1, "retry_after": 7}) == 204, f"github_fault {kind} accepted")
        status, headers, answer = c.call("PUT", secret_path, c.seal(f"{base}/public-key", f"faulted-{kind}"))
        retry = headers.get("Retry-After")
        check(status == want and (retry == "7") == kind.startswith("throttle") and "X-RateLimit-Remaining" in headers,
              f"{kind}: {status} {answer['message'][:45]!r} Retry-After {retry}")
        check("AWS_SECRET_ACCESS_KEY" not in c.state()["secrets"]["repo:acme/api"], f"{kind}: nothing stored")
    c.control({"op": "github_fault", "path_contains": "AWS_SECRET_ACCESS_KEY", "kind": "lose_answer"})
    try:
        c.call("PUT", secret_path, c.seal(f"{base}/public-key", "lost-answer-value"))
        lost = False
    except (http.client.RemoteDisconnected, ConnectionError) as error:
        lost = type(error).__name__
    check(lost, f"lose_answer: connection closed without an answer ({lost})")
    check(c.state()["secrets"]["repo:acme/api"]["AWS_SECRET_ACCESS_KEY"]["value"] == "lost-answer-value",
          "lose_answer: the PUT took effect")
    check(c.call("PUT", secret_path, c.seal(f"{base}/public-key", "retry"))[0] == 204, "fault used up: next PUT 204")
    c.control({"op": "github_fault", "method": "PUT", "kind": "fail", "times": 2})
    check(c.call("GET", secret_path)[0] == 200, "a PUT-only fault leaves GETs alone")
    check([c.call("PUT", secret_path, c.seal(f"{base}/public-key", "x"))[0] for _ in range(3)] == [500, 500, 204],
          "times 2: two faults then normal")
    c.control({"op": "github_fault", "kind": "fail", "times": 5})
    c.control({"op": "github_clear_faults"})
    check(c.call("GET", secret_path)[0] == 200, "github_clear_faults")
    check(c.control({"op": "github_fault", "kind": "explode"}) == 400, "bad fault kind: 400")

    # Keep-alive: two answers on one connection.
    connection = http.client.HTTPConnection(c.address, timeout=10)
    check(c.call("GET", secret_path, connection=connection)[0] == c.call("GET", secret_path, connection=connection)[0] == 200,
          "HTTP/1.1 keep-alive: two requests on one connection")

    # Controls.
    c.control({"op": "github_overwrite", "scope": "repo:acme/api", "name": "AWS_ACCESS_KEY_ID", "value": "by-hand"})
    secret = c.state()["secrets"]["repo:acme/api"]["AWS_ACCESS_KEY_ID"]
    check(secret["value"] == "by-hand" and secret["created_at"] == first["created_at"], "github_overwrite")
    c.control({"op": "github_overwrite", "scope": "org:acme", "name": "NEW", "value": "v"})
    check(c.state()["secrets"]["org:acme"]["NEW"]["visibility"] == "private", "github_overwrite creates (org: private)")
    check(c.control({"op": "github_delete", "scope": "org:acme", "name": "NEW"}) == 204, "github_delete")
    check(c.call("GET", f"{org}/NEW")[0] == 404, "deleted by control: 404")
    check(c.control({"op": "github_delete", "scope": "org:acme", "name": "NEW"}) == 400, "github_delete absent: 400")
    old = c.seal(f"{base}/public-key", "old-key-value")
    check(c.control({"op": "github_rotate_public_key", "scope": "repo:acme/api"}) == 204, "github_rotate_public_key")
    check(c.call("PUT", secret_path, old)[0] == 422, "old key_id after rotation: 422")
    new = c.seal(f"{base}/public-key", "new-key-value")
    check(new["key_id"] != old["key_id"] and c.call("PUT", secret_path, new)[0] == 204, "new key works")

    state = c.state()
    kinds = {entry["authorization"] for entry in state["requests"]}
    check(kinds == {"none", "token", "bearer-jwt", "installation-token"}, f"authorization kinds logged: {sorted(kinds)}")
    faults = [entry["fault"] for entry in state["requests"] if entry["fault"]]
    check(faults.count("lose_answer") == 1 and faults.count("fail") == 2 + 1, f"faulted requests logged: {faults}")
    log = json.dumps(state["requests"])
    check(not any(v in log for v in ("first-value-1", "second-value-2", "lost-answer-value", "new-key-value")),
          "no plain value in the request log")
    check(g["token"] not in log and installation_token not in log, "no token in the request log")
    check(state["public_key_reads"] > 10, f"public_key_reads {state['public_key_reads']}")

    check(c.control({"op": "github_reset"}) == 204, "github_reset")
    state = c.state()
    check(state["secrets"] == {} and state["requests"] == [] and state["tokens_minted"] == 0, "reset forgets")
    check(c.seal(f"{base}/public-key", "v")["key_id"] == new["key_id"], "reset keeps key pairs")
    check(c.call("GET", secret_path, auth=f"Bearer {installation_token}")[0] == 404, "reset keeps tokens")

    # moto_server's other controls still work.
    check(c.control({"op": "root", "mfa": True}) == 204, "existing op root: 204")
    check(c.control({"op": "nonsense"}) == 400, "unknown op: 400")


if __name__ == "__main__":
    main()
