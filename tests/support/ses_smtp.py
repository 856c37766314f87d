"""AWS's published derivation of an SES SMTP password from a secret access key, written from the
SES developer guide independently of the Rust code, to test it. Reads "KEY REGION" lines on stdin
and prints one password per line."""

import base64
import hashlib
import hmac
import sys


def sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret_access_key: str, region: str) -> str:
    signature = sign(("AWS4" + secret_access_key).encode("utf-8"), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        signature = sign(signature, part)
    return base64.b64encode(bytes([0x04]) + signature).decode("utf-8")


for line in sys.stdin:
    key, region = line.split()
    print(smtp_password(key, region))
