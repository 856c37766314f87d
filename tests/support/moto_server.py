"""Runs moto's server on 127.0.0.1 for the tests and the demo, until its standard input closes.

Prints one line of JSON once ready: {"endpoint": ..., "rotation_lambda_arn": ...}.
The Lambda function it registers is a stand-in so that RotateSecret behaves as on AWS
(creates the empty AWSPENDING version and leaves the labels alone); moto never runs it.
"""

import io
import json
import sys
import urllib.request
import zipfile

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port  # the port the OS picked for port 0
    endpoint = f"http://127.0.0.1:{port}"

    # No Docker here: Lambda invocations become no-ops instead of container runs.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).read()

    session = dict(endpoint_url=endpoint, region_name=REGION,
                   aws_access_key_id="test", aws_secret_access_key="test")
    role = boto3.client("iam", **session).create_role(
        RoleName="rotation-function-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("bootstrap", "")
    function = boto3.client("lambda", **session).create_function(
        FunctionName="iam-key-rotator", Runtime="provided.al2023", Role=role,
        Handler="bootstrap", Code={"ZipFile": package.getvalue()})

    print(json.dumps({"endpoint": endpoint, "rotation_lambda_arn": function["FunctionArn"]}), flush=True)
    sys.stdin.read()  # returns when the parent closes the pipe or exits
    server.stop()


if __name__ == "__main__":
    main()
