"""The WebSocket authorization app's handlers (tests/it/websocket.rs)."""

import json
import time


def authorize(event, context):
    """A REQUEST authorizer: the `Auth` header says what to answer; the event it got is
    sent back to the connection through the `context` (as JSON) for the test to check."""
    auth = event["headers"].get("Auth", "")
    room = event["queryStringParameters"]["room"]
    if auth == "throw":
        raise Exception("Unauthorized")
    if auth == "boom":
        raise RuntimeError("the authorizer broke")
    if auth == "slow":
        time.sleep(5)
    if auth == "malformed":
        return {"principalId": "x", "policy": "none"}
    effect = "Deny" if auth == "deny" else "Allow"
    resource = event["methodArn"]
    if auth == "elsewhere":
        resource = resource.rsplit("/", 1)[0] + "/whoami"
    seen = {
        "type": event["type"],
        "methodArn": event["methodArn"],
        "routeKey": event["requestContext"]["routeKey"],
        "eventType": event["requestContext"]["eventType"],
        "connectionId": event["requestContext"]["connectionId"],
        "hasBody": "body" in event,
    }
    return {
        "principalId": "user-" + auth,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ],
        },
        "context": {"room": room, "level": 3, "admin": False, "seen": json.dumps(seen)},
    }


def on_connect(event, context):
    return {"statusCode": 200}


def whoami(event, context):
    request_context = event["requestContext"]
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "connectionId": request_context["connectionId"],
                "stage": request_context["stage"],
                "authorizer": request_context.get("authorizer"),
                "identity": request_context.get("identity"),
            }
        ),
    }
