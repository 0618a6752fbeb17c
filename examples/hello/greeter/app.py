"""Greets the name in the path: GET /hello/{name}?punctuation=!"""

import os


def handler(event, context):
    name = event["pathParameters"]["name"]
    punctuation = (event.get("queryStringParameters") or {}).get("punctuation", "!")
    greeting = os.environ.get("GREETING", "Hello")
    print(f"greeting {name}")
    return {
        "message": f"{greeting}, {name}{punctuation}",
        "requestId": context.aws_request_id,
    }
