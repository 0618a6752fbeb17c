"""Answers pings, so that the app has a function."""


def handler(event, context):
    return {"statusCode": 200, "body": "pong"}
