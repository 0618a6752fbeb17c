"""Reaches DynamoDB by AWS's own host name, as SDKs that ignore AWS_ENDPOINT_URL do."""

import json
import os
import socket

# As if the SDK did not know the variable: boto3 then calls
# https://dynamodb.{region}.amazonaws.com and verifies it against AWS_CA_BUNDLE.
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402


def resolve(name):
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(name, 443, socket.AF_INET)})
    except OSError as error:
        return "unresolved: " + type(error).__name__


def handler(event, context):
    client = boto3.client("dynamodb")
    table = os.environ["TABLE"]
    client.put_item(TableName=table, Item={"id": {"S": "by-host-name"}, "via": {"S": client.meta.endpoint_url}})
    item = client.get_item(TableName=table, Key={"id": {"S": "by-host-name"}})["Item"]
    region = os.environ["AWS_REGION"]
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "endpoint": client.meta.endpoint_url,
                "item": item,
                "bundle": os.environ.get("AWS_CA_BUNDLE"),
                "ssl_cert_file": os.environ.get("SSL_CERT_FILE"),
                "requests_ca_bundle": os.environ.get("REQUESTS_CA_BUNDLE"),
                "dynamodb": resolve(f"dynamodb.{region}.amazonaws.com"),
                "other_region": resolve("dynamodb.ap-southeast-2.amazonaws.com"),
                "other_host": resolve("serverful-test.invalid"),
                "localhost": resolve("localhost"),
            }
        ),
    }


def s3_handler(event, context):
    """Writes and reads an object through S3's AWS host names (virtual-hosted style, as
    boto3 addresses buckets by default)."""
    client = boto3.client("s3")
    bucket = os.environ["BUCKET"]
    client.put_object(Bucket=bucket, Key="by-host-name.txt", Body=b"hello over https")
    body = client.get_object(Bucket=bucket, Key="by-host-name.txt")["Body"].read().decode()
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "endpoint": client.meta.endpoint_url,
                "body": body,
                "bucket_host": resolve(f"{bucket}.s3.amazonaws.com"),
            }
        ),
    }
