"""Builds an AWS Organization in the test server, as its management account would: organizational
units, member accounts, and member-role.yaml's roles deployed in them (as the StackSet would).

    organization.py ENDPOINT account NAME [--parent OU_ID] [--member-role JSON] [--audit-role JSON] [--count N]
    organization.py ENDPOINT ou NAME [--parent OU_ID]

Prints one line of JSON: {"account_id": ...} or {"ou_id": ...}. --member-role and --audit-role
deploy that role of member-role.yaml with the given template parameters (a JSON object).
"""

import argparse
import json
import os
import sys

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from template_policy import role_documents  # noqa: E402

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../member-role.yaml")


def session(endpoint: str, credentials: dict | None = None) -> dict:
    keys = credentials or {"AccessKeyId": "test", "SecretAccessKey": "test", "SessionToken": None}
    return dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=keys["AccessKeyId"],
                aws_secret_access_key=keys["SecretAccessKey"], aws_session_token=keys["SessionToken"])


def organizations(endpoint: str):
    client = boto3.client("organizations", **session(endpoint))
    try:
        client.describe_organization()
    except client.exceptions.AWSOrganizationsNotInUseException:
        client.create_organization(FeatureSet="ALL")
    return client


def root_id(client) -> str:
    return client.list_roots()["Roots"][0]["Id"]


def deploy_role(endpoint: str, account: str, logical_id: str, parameters: dict) -> None:
    """What the StackSet does in each account: the role, its trust, its inline policies."""
    role = role_documents(TEMPLATE, logical_id, parameters, account=account)
    if role is None:
        raise SystemExit(f"member-role.yaml makes no {logical_id} with {parameters}")
    admin = boto3.client("sts", **session(endpoint)).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="stackset")["Credentials"]
    iam = boto3.client("iam", **session(endpoint, admin))
    iam.create_role(RoleName=role["RoleName"],
                    AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]))
    for name, document in role["Policies"].items():
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName=name, PolicyDocument=json.dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoint")
    parser.add_argument("kind", choices=["account", "ou"])
    parser.add_argument("name")
    parser.add_argument("--parent", help="the OU (or root) to place it under; the root by default")
    parser.add_argument("--member-role", type=json.loads, help="deploy MemberRole with these parameters")
    parser.add_argument("--audit-role", type=json.loads, help="deploy AuditRole with these parameters")
    parser.add_argument("--count", type=int, help='make N accounts NAME-0 ... (prints {"account_ids": [...]})')
    args = parser.parse_args()

    client = organizations(args.endpoint)
    parent = args.parent or root_id(client)
    if args.kind == "ou":
        ou = client.create_organizational_unit(ParentId=parent, Name=args.name)["OrganizationalUnit"]
        print(json.dumps({"ou_id": ou["Id"]}))
        return
    names = [args.name] if args.count is None else [f"{args.name}-{n}" for n in range(args.count)]
    made = []
    for name in names:
        status = client.create_account(AccountName=name, Email=f"{name}@example.com")
        account = status["CreateAccountStatus"]["AccountId"]
        if args.parent:
            client.move_account(AccountId=account, SourceParentId=root_id(client), DestinationParentId=parent)
        if args.member_role is not None:
            deploy_role(args.endpoint, account, "MemberRole", args.member_role)
        if args.audit_role is not None:
            deploy_role(args.endpoint, account, "AuditRole", args.audit_role)
        made.append(account)
    print(json.dumps({"account_id": made[0]} if args.count is None else {"account_ids": made}))


if __name__ == "__main__":
    main()
