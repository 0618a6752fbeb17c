"""Tries one thing with the credentials the function's stack gave it and reports what
happened, as JSON: the operation is the path's last segment, its arguments the query's.

- `whoami`: which keys the function holds (the access key id, whether a session token).
- `get`/`put`/`scan` `?table=`: DynamoDB on that table (the function's own by default).
- `list`: ListTables.
- `invoke` `?function=`: Lambda Invoke of that function.
- `admin` `?port=`: GET /v1/stacks on the admin API at 127.0.0.1 and at the sandbox's
  default gateway (the host), without the admin token (the function has none).

Invoked directly (no path), it answers its own name.
"""

import json
import os
import socket
import urllib.error
import urllib.request

import boto3
import botocore.exceptions

OWN_TABLE = os.environ["ITEMS_TABLE"]


def refused(error):
    """An AWS error as the client saw it: code, message and HTTP status."""
    response = error.response
    return {
        "ok": False,
        "code": response.get("Error", {}).get("Code"),
        "message": response.get("Error", {}).get("Message"),
        "status": response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
    }


def aws(call):
    try:
        return {"ok": True, "result": call()}
    except botocore.exceptions.ClientError as error:
        return refused(error)


def default_gateway():
    with open("/proc/net/route") as routes:
        next(routes)
        for line in routes:
            fields = line.split()
            if fields[1] == "00000000":
                return socket.inet_ntop(socket.AF_INET, bytes.fromhex(fields[2])[::-1])
    return None


def admin_get(host, port):
    request = urllib.request.Request(f"http://{host}:{port}/v1/stacks")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return {"reached": True, "status": response.status, "body": response.read(300).decode()}
    except urllib.error.HTTPError as error:
        return {"reached": True, "status": error.code, "body": error.read(300).decode()}
    except (OSError, urllib.error.URLError) as error:
        return {"reached": False, "error": str(error)}


def handler(event, context):
    op = (event.get("pathParameters") or {}).get("op")
    if op is None:
        return {"pong": context.function_name}
    query = event.get("queryStringParameters") or {}
    table = query.get("table", OWN_TABLE)
    dynamodb = boto3.client("dynamodb")
    if op == "whoami":
        report = {
            "access_key_id": os.environ.get("AWS_ACCESS_KEY_ID"),
            "has_session_token": bool(os.environ.get("AWS_SESSION_TOKEN")),
            "own_table": OWN_TABLE,
        }
    elif op == "get":
        report = aws(lambda: dynamodb.get_item(TableName=table, Key={"id": {"S": "probe"}}).get("Item"))
    elif op == "put":
        item = {"id": {"S": "probe"}, "by": {"S": context.function_name}}
        report = aws(lambda: dynamodb.put_item(TableName=table, Item=item) and "written")
    elif op == "scan":
        report = aws(lambda: dynamodb.scan(TableName=table)["Items"])
    elif op == "list":
        report = aws(lambda: dynamodb.list_tables()["TableNames"])
    elif op == "invoke":
        client = boto3.client("lambda")
        report = aws(
            lambda: json.loads(
                client.invoke(FunctionName=query["function"], Payload=b"{}")["Payload"].read()
            )
        )
    elif op == "admin":
        hosts = ["127.0.0.1"] + [host for host in [default_gateway()] if host]
        report = {host: admin_get(host, query["port"]) for host in hosts}
    else:
        return {"statusCode": 404, "body": json.dumps({"unknown": op})}
    return {"statusCode": 200, "body": json.dumps(report)}
