"""Echoes the API Gateway event it gets, and answers in the shapes tests ask for."""

import base64
import json


def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    if path.endswith("/throw"):
        raise ValueError("asked to throw")
    if path.endswith("/binary-response"):
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    response = {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-single": "one"},
        "multiValueHeaders": {"x-multi": ["a", "b"]},
        "body": json.dumps({"event": event, "remainingMs": context.get_remaining_time_in_millis()}),
    }
    if event.get("version") == "2.0":
        del response["multiValueHeaders"]
        response["cookies"] = ["session=abc; Path=/", "theme=dark"]
    return response
