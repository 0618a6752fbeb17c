"""The WebSocket edge-case app's handlers (tests/it/websocket.rs)."""

import json

import boto3


def on_connect(event, context):
    query = event.get("queryStringParameters") or {}
    if "fail" in query:
        raise RuntimeError("refusing by failing")
    return {"statusCode": int(query.get("status", "200"))}


def ping(event, context):
    """Two-way: answers how much it got."""
    return {"statusCode": 200, "body": json.dumps({"pong": len(event["body"])})}


def poke(event, context):
    """Two-way: posts to the connection the message names, with this stack's own keys
    (AWS_ENDPOINT_URL reaches the management API), and answers what happened."""
    target = json.loads(event["body"])["target"]
    management = boto3.client("apigatewaymanagementapi")
    try:
        management.post_to_connection(ConnectionId=target, Data=b"poked")
        answer = {"status": 200}
    except management.exceptions.ClientError as error:
        answer = {
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"].get("Message", ""),
        }
    return {"statusCode": 200, "body": json.dumps(answer)}
