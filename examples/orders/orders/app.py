"""GET /orders: every stored order, and who was notified of it."""

import json
import os

import boto3

TABLE = os.environ["ORDERS_TABLE"]
db = boto3.resource("dynamodb").Table(TABLE)


def handler(event, context):
    items = []
    scan = {"ConsistentRead": True}
    while True:
        page = db.scan(**scan)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    items.sort(key=lambda item: item["orderId"])
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"orders": items}, default=str),
    }
