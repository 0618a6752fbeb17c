"""A CRUD API over one DynamoDB table: list, get, put and delete items by id."""

import base64
import json
import os
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def lambda_handler(event, context):
    method = event["requestContext"]["http"]["method"]
    item_id = (event.get("pathParameters") or {}).get("id")
    if item_id is None:
        items = table.scan()["Items"]
        return answer(200, {"items": sorted(items, key=lambda item: item["id"])})
    if method == "GET":
        item = table.get_item(Key={"id": item_id}).get("Item")
        if item is None:
            return answer(404, {"message": f"no item {item_id}"})
        return answer(200, item)
    if method == "PUT":
        body = event.get("body") or "{}"
        if event.get("isBase64Encoded"):
            # HTTP APIs base64-encode bodies whose content type is not a text type.
            body = base64.b64decode(body)
        try:
            fields = json.loads(body, parse_float=Decimal)
        except ValueError:
            return answer(400, {"message": "the body must be a JSON object"})
        if not isinstance(fields, dict):
            return answer(400, {"message": "the body must be a JSON object"})
        item = {**fields, "id": item_id}
        table.put_item(Item=item)
        return answer(200, item)
    if method == "DELETE":
        table.delete_item(Key={"id": item_id})
        return answer(204, None)
    return answer(405, {"message": f"{method} is not allowed"})


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": "" if body is None else json.dumps(body, default=_number),
    }


def _number(value):
    # DynamoDB numbers come back as Decimal.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
