"""A local stand-in for the parts of GitHub's REST API that deliver GitHub Actions secrets.

moto_server.py starts it beside moto, in the same process, so that the rotation function can hand
rotated keys to GitHub Actions secrets in the tests without reaching github.com. It serves what a
client of "Actions secrets" needs, as GitHub documents it:

- authentication with a fine-grained token, or with a GitHub App: an RS256 JWT signed with the
  app's private key buys an installation token (POST /app/installations/{id}/access_tokens);
- GET /repos/{owner}/{repo};
- for a repository, one of its environments, or an organization: the public key to seal secrets
  with (GET .../secrets/public-key), and PUT, GET, DELETE of one secret.

Like GitHub it only ever holds what it could open: a secret arrives as a libsodium sealed box made
with the scope's public key, and is refused unless the scope's private key opens it. Unlike GitHub
it shows the opened values, and a log of every request, to the tests (state()), and takes
orders from them (control()): faults on the next matching requests, a person's edit by hand, a
new key pair. moto_server.py hands it POST /control ops named github_* and GET /control/github.
"""

import base64
import binascii
import json
import re
import secrets
import string
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

# GitHub refuses an app JWT whose exp is more than 10 minutes ahead, and its docs tell apps to
# backdate iat by 60 s against clock drift: so a well-made JWT spans up to 660 s.
JWT_MAX_LIFETIME_S = 600
CLOCK_SKEW_S = 60
INSTALLATION_TOKEN_LIFETIME_S = 3600
# GitHub's primary limit for a token, and the hour it counts over. The fake only reports it.
RATE_LIMIT = 5000
RATE_WINDOW_S = 3600
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FAULT_KINDS = ("fail", "throttle_403", "throttle_429", "lose_answer", "not_found")
VISIBILITIES = ("all", "private", "selected")
DOCS = "https://docs.github.com/rest"
SECONDARY_LIMIT = ("You have exceeded a secondary rate limit. Please wait a few minutes before you "
                   "try again. If you reach out to GitHub Support for help, please include the request ID.")

# What a path names. The public-key routes come before the secret routes: "public-key" is not a
# valid secret name, but it would match [^/]+.
ROUTES = [
    ("mint", re.compile(r"/app/installations/(?P<installation>[^/]+)/access_tokens")),
    ("repo", re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)")),
    ("public_key", re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/secrets/public-key")),
    ("public_key", re.compile(
        r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/environments/(?P<env>[^/]+)/secrets/public-key")),
    ("public_key", re.compile(r"/orgs/(?P<org>[^/]+)/actions/secrets/public-key")),
    ("secret", re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/secrets/(?P<name>[^/]+)")),
    ("secret", re.compile(
        r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/environments/(?P<env>[^/]+)/secrets/(?P<name>[^/]+)")),
    ("secret", re.compile(r"/orgs/(?P<org>[^/]+)/actions/secrets/(?P<name>[^/]+)")),
]


def iso(t: float) -> str:
    """GitHub's timestamps: ISO 8601, UTC, whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def random_text(length: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def scope_name(owner=None, repo=None, env=None, org=None) -> str:
    """The state's name for where a secret lives. GitHub's owner, repository, organization and
    environment names ignore case, so the fake lowercases them: Acme/API and acme/api are one."""
    if org is not None:
        return f"org:{org.lower()}"
    if env is not None:
        return f"env:{owner.lower()}/{repo.lower()}:{env.lower()}"
    return f"repo:{owner.lower()}/{repo.lower()}"


def normal_scope(scope: str) -> str:
    """A scope named in a control op, in the state's spelling."""
    kind, _, rest = scope.partition(":")
    if kind not in ("repo", "env", "org") or not rest:
        raise ValueError(f"bad scope {scope!r}: want repo:OWNER/REPO, env:OWNER/REPO:ENV or org:ORG")
    return f"{kind}:{rest.lower()}"


def repo_id(full_name: str) -> int:
    """A repository's id: the same number for the same name in every run, as GitHub's never changes."""
    return binascii.crc32(full_name.lower().encode()) % 900_000_000 + 100_000_000


class Answer(Exception):
    """An error answer, raised from deep in a request's handling: (status, GitHub's message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class FakeGitHub:
    """The fake's state, and its HTTP server once start() ran. Every method takes the lock:
    requests come on the server's threads, controls on moto_server's."""

    def __init__(self):
        self.lock = threading.Lock()
        self.app_id = 100_000 + secrets.randbelow(900_000)
        self.installation_id = 10_000_000 + secrets.randbelow(90_000_000)
        # A fine-grained personal access token has this shape: github_pat_<22>_<59>.
        self.token = f"github_pat_{random_text(22)}_{random_text(59)}"
        app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # GitHub hands an app's private key out as PKCS#1 PEM ("BEGIN RSA PRIVATE KEY").
        self.private_key_pem = app_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()).decode()
        self.public_key_pem = app_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.installation_tokens = {}  # token -> expiry (epoch seconds)
        self.key_pairs = {}  # scope -> {"key_id": str, "private": PrivateKey}
        self.server = None
        self.url = None
        self.rate_window_start = time.time()
        self.rate_used = 0
        self.reset()

    def reset(self):
        """Forgets what tests did (secrets, faults, the log, the counts); keeps keys and tokens,
        which GitHub would not change between two tests."""
        self.secrets = {}  # scope -> {NAME: {"value", "created_at", "updated_at", ...}}
        self.faults = []
        self.requests = []
        self.tokens_minted = 0
        self.public_key_reads = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, host="127.0.0.1", port=0):
        fake = self

        class Handler(GitHubHandler):
            github = fake

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def info(self) -> dict:
        """What a test needs to act as a client: moto_server prints it in its ready line."""
        return {"url": self.url, "token": self.token, "app_id": self.app_id,
                "installation_id": self.installation_id, "private_key": self.private_key_pem}

    # -- what the tests see and do -------------------------------------------------------------

    def state(self) -> dict:
        with self.lock:
            return json.loads(json.dumps({
                "secrets": self.secrets, "requests": self.requests,
                "tokens_minted": self.tokens_minted, "public_key_reads": self.public_key_reads}))

    def control(self, command: dict) -> None:
        """Carries out one github_* op; raises ValueError for a bad one."""
        op = command["op"]
        with self.lock:
            if op == "github_fault":
                kind = command.get("kind")
                if kind not in FAULT_KINDS:
                    raise ValueError(f"bad fault kind {kind!r}: want one of {', '.join(FAULT_KINDS)}")
                self.faults.append({
                    "method": (command.get("method") or "").upper() or None,
                    "path_contains": command.get("path_contains"),
                    "kind": kind, "times": int(command.get("times", 1)),
                    "retry_after": int(command.get("retry_after", 1))})
            elif op == "github_clear_faults":
                self.faults = []
            elif op == "github_overwrite":
                # Someone changed the secret in GitHub's settings page: GitHub keeps no history.
                scope, name = normal_scope(command["scope"]), command["name"].upper()
                now = iso(time.time())
                old = self.secrets.setdefault(scope, {}).get(name)
                secret = {"value": command["value"], "created_at": old["created_at"] if old else now,
                          "updated_at": now}
                if scope.startswith("org:"):
                    secret["visibility"] = command.get("visibility") or (old or {}).get("visibility", "private")
                    if secret["visibility"] == "selected":
                        secret["selected_repository_ids"] = command.get(
                            "selected_repository_ids", (old or {}).get("selected_repository_ids", []))
                self.secrets[scope][name] = secret
            elif op == "github_delete":
                scope, name = normal_scope(command["scope"]), command["name"].upper()
                if self.secrets.get(scope, {}).pop(name, None) is None:
                    raise ValueError(f"no secret {name} in {scope}")
            elif op == "github_rotate_public_key":
                self.new_key_pair(normal_scope(command["scope"]))
            elif op == "github_reset":
                self.reset()
            else:
                raise ValueError(f"unknown op {op}")

    # -- the API ---------------------------------------------------------------------------------

    def new_key_pair(self, scope: str) -> dict:
        # GitHub's key ids are long decimal strings, e.g. "3380204578043523366".
        pair = {"key_id": str(10 ** 18 + secrets.randbelow(9 * 10 ** 18)), "private": PrivateKey.generate()}
        self.key_pairs[scope] = pair
        return pair

    def rate_headers(self) -> dict:
        """GitHub's rate limit headers. The fake counts, but never refuses for the primary limit:
        only a github_fault throttles."""
        now = time.time()
        if now >= self.rate_window_start + RATE_WINDOW_S:
            self.rate_window_start, self.rate_used = now, 0
        self.rate_used += 1
        return {"X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": str(max(RATE_LIMIT - self.rate_used, 0)),
                "X-RateLimit-Used": str(self.rate_used),
                "X-RateLimit-Reset": str(int(self.rate_window_start + RATE_WINDOW_S)),
                "X-RateLimit-Resource": "core"}

    def take_fault(self, method: str, path: str):
        for fault in self.faults:
            if fault["method"] not in (None, method):
                continue
            if fault["path_contains"] and fault["path_contains"] not in path:
                continue
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def handle(self, method, path, headers, body: bytes):
        """One API request: (status, extra headers, JSON body or None, whether to answer at all)."""
        with self.lock:
            rate = self.rate_headers()
            credentials = headers.get("Authorization") or ""
            entry = {"method": method, "path": path, "status": None,
                     "body": body.decode("utf-8", errors="replace"),
                     "authorization": self.kind_of_credentials(credentials), "fault": None}
            # The log keeps every request, faulted ones too: tests count calls, and look for a
            # plain secret anywhere outside a sealed box.
            self.requests.append(entry)
            fault = self.take_fault(method, path)
            extra = dict(rate)
            if fault and fault["kind"] != "lose_answer":
                entry["fault"] = fault["kind"]
                if fault["kind"] == "fail":
                    status, answer = 500, {"message": "Server Error"}
                elif fault["kind"] == "not_found":
                    status, answer = 404, {"message": "Not Found", "documentation_url": DOCS}
                else:
                    status = 403 if fault["kind"] == "throttle_403" else 429
                    answer = {"message": SECONDARY_LIMIT, "documentation_url":
                              "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}
                    extra["Retry-After"] = str(fault["retry_after"])
                entry["status"] = status
                return status, extra, answer, True
            try:
                if not headers.get("User-Agent"):
                    # GitHub documents that it rejects requests without a User-Agent.
                    raise Answer(403, "Request forbidden by administrative rules. "
                                      "Please make sure your request has a User-Agent header "
                                      "(https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent).")
                status, answer = self.route(method, path, credentials, body)
            except Answer as error:
                status, answer = error.status, {"message": error.message, "documentation_url": DOCS}
            entry["status"] = status
            if fault:  # lose_answer: it took effect, but the client never hears so
                entry["fault"] = fault["kind"]
                return status, extra, answer, False
            return status, extra, answer, True

    def kind_of_credentials(self, credentials: str) -> str:
        """How a request authenticated, for the log: never the credential itself."""
        scheme, _, value = credentials.strip().partition(" ")
        value = value.strip()
        if scheme.lower() not in ("bearer", "token") or not value:
            return "none"
        if value.count(".") == 2:
            return "bearer-jwt"
        if value in self.installation_tokens or value.startswith("ghs_"):
            return "installation-token"
        return "token"

    def check_token(self, credentials: str):
        """The API's endpoints take the fine-grained token, or an unexpired installation token."""
        scheme, _, value = credentials.strip().partition(" ")
        value = value.strip()
        if scheme.lower() in ("bearer", "token"):
            if secrets.compare_digest(value, self.token):
                return
            expiry = self.installation_tokens.get(value)
            if expiry is not None and expiry > time.time():
                return
        raise Answer(401, "Bad credentials")

    def route(self, method, path, credentials, body):
        bare = path.split("?", 1)[0]
        for kind, pattern in ROUTES:
            match = pattern.fullmatch(bare)
            if match:
                params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                break
        else:
            kind = None
        if kind == "mint":
            if method != "POST":
                raise Answer(404, "Not Found")
            return self.mint_installation_token(credentials, params["installation"])
        self.check_token(credentials)
        if kind == "repo" and method == "GET":
            full_name = f"{params['owner']}/{params['repo']}"
            return 200, {"id": repo_id(full_name), "name": params["repo"], "full_name": full_name,
                         "owner": {"login": params["owner"]}, "private": True}
        if kind == "public_key" and method == "GET":
            scope = scope_name(params.get("owner"), params.get("repo"), params.get("env"), params.get("org"))
            pair = self.key_pairs.get(scope) or self.new_key_pair(scope)
            self.public_key_reads += 1
            return 200, {"key_id": pair["key_id"],
                         "key": base64.b64encode(bytes(pair["private"].public_key)).decode()}
        if kind == "secret":
            scope = scope_name(params.get("owner"), params.get("repo"), params.get("env"), params.get("org"))
            if method == "PUT":
                return self.put_secret(scope, params["name"], body)
            if method == "GET":
                secret = self.secrets.get(scope, {}).get(params["name"].upper())
                if secret is None:
                    raise Answer(404, "Not Found")
                answer = {"name": params["name"].upper(), "created_at": secret["created_at"],
                          "updated_at": secret["updated_at"]}
                if "visibility" in secret:
                    answer["visibility"] = secret["visibility"]
                    if secret["visibility"] == "selected":
                        answer["selected_repositories_url"] = (
                            f"{self.url}/orgs/{params['org']}/actions/secrets/{answer['name']}/repositories")
                return 200, answer
            if method == "DELETE":
                if self.secrets.get(scope, {}).pop(params["name"].upper(), None) is None:
                    raise Answer(404, "Not Found")
                return 204, None
        raise Answer(404, "Not Found")

    def mint_installation_token(self, credentials, installation):
        scheme, _, token = credentials.strip().partition(" ")
        if scheme.lower() != "bearer" or token.strip().count(".") != 2:
            raise Answer(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(token.strip(), self.public_key_pem, algorithms=["RS256"],
                                leeway=CLOCK_SKEW_S, options={"require": ["iat", "exp", "iss"]})
        except jwt.ExpiredSignatureError:
            raise Answer(401, "'Expiration time' claim ('exp') must be a numeric value representing "
                              "the future time at which the assertion expires")
        except jwt.ImmatureSignatureError:
            raise Answer(401, "'Issued at' claim ('iat') must be an Integer representing the time "
                              "that the assertion was issued")
        except jwt.InvalidTokenError as error:
            raise Answer(401, f"A JSON web token could not be decoded ({error})")
        now = time.time()
        if (claims["exp"] - claims["iat"] > JWT_MAX_LIFETIME_S + CLOCK_SKEW_S
                or claims["exp"] > now + JWT_MAX_LIFETIME_S + CLOCK_SKEW_S):
            raise Answer(401, "'Expiration time' claim ('exp') is too far in the future")
        if str(claims["iss"]) != str(self.app_id):
            raise Answer(401, "'Issuer' claim ('iss') must be an Integer")
        if installation != str(self.installation_id):
            raise Answer(404, "Not Found")
        token = f"ghs_{random_text(36)}"
        expires = int(now) + INSTALLATION_TOKEN_LIFETIME_S
        self.installation_tokens[token] = expires
        self.tokens_minted += 1
        return 201, {"token": token, "expires_at": iso(expires),
                     "permissions": {"secrets": "write", "organization_secrets": "write",
                                     "environments": "write", "metadata": "read"},
                     "repository_selection": "all"}

    def put_secret(self, scope, name, body):
        try:
            request = json.loads(body or b"null")
        except ValueError:
            raise Answer(400, "Problems parsing JSON")
        if not isinstance(request, dict):
            raise Answer(400, "Problems parsing JSON")
        if not SECRET_NAME.fullmatch(name) or name.upper().startswith("GITHUB_"):
            raise Answer(422, "Secret names can only contain alphanumeric characters ([a-z], [A-Z], "
                              "[0-9]) or underscores (_), must not start with a number, and must "
                              "not start with the GITHUB_ prefix.")
        for field in ("encrypted_value", "key_id"):
            if not isinstance(request.get(field), str):
                raise Answer(422, f"Invalid request.\n\n\"{field}\" wasn't supplied.")
        pair = self.key_pairs.get(scope)
        if pair is None or request["key_id"] != pair["key_id"]:
            # A key id GitHub no longer (or never) gave for this scope: the value was sealed
            # for a key it cannot open with.
            raise Answer(422, "Invalid request.\n\nBad key_id: it is not the current public key's.")
        try:
            value = SealedBox(pair["private"]).decrypt(base64.b64decode(request["encrypted_value"], validate=True))
        except (CryptoError, binascii.Error, ValueError):
            raise Answer(422, "Invalid request.\n\nencrypted_value could not be decrypted with the key of key_id.")
        secret = {"value": value.decode("utf-8", errors="replace")}
        if scope.startswith("org:"):
            visibility = request.get("visibility")
            if visibility not in VISIBILITIES:
                raise Answer(422, "Invalid request.\n\n\"visibility\" wasn't supplied or is not one of "
                                  "all, private, selected.")
            secret["visibility"] = visibility
            ids = request.get("selected_repository_ids")
            if ids is not None and (visibility != "selected" or not isinstance(ids, list)
                                    or not all(isinstance(i, int) for i in ids)):
                raise Answer(422, "Invalid request.\n\n\"selected_repository_ids\" must be a list of "
                                  "integers, given only with visibility \"selected\".")
        old = self.secrets.setdefault(scope, {}).get(name.upper())
        now = iso(time.time())
        secret["created_at"] = old["created_at"] if old else now
        secret["updated_at"] = now
        if secret.get("visibility") == "selected":
            # Left out, GitHub keeps the repositories the secret had.
            secret["selected_repository_ids"] = (request.get("selected_repository_ids")
                                                 if request.get("selected_repository_ids") is not None
                                                 else (old or {}).get("selected_repository_ids", []))
        self.secrets[scope][name.upper()] = secret
        return (204 if old else 201), None


class GitHubHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as api.github.com: a client's pooled connections get exercised,
    and a lost answer is a connection closed under a request, not merely a short one."""

    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    github: FakeGitHub = None

    def log_message(self, *args):
        pass

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def serve(self):
        body = self.read_body()
        status, headers, answer, respond = self.github.handle(self.command, self.path, self.headers, body)
        if not respond:
            # lose_answer: close the connection without a byte of answer.
            self.close_connection = True
            return
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        if status != 204:  # a 204 has no body, and so no length
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = serve


def start(host="127.0.0.1", port=0) -> FakeGitHub:
    """Starts a fake GitHub on a port of its own, in daemon threads; stop() ends it."""
    return FakeGitHub().start(host, port)
