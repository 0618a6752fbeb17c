"""POST /orders {"item": "...", "quantity": N}: queues the order and answers 202 with its
id. The body is checked only for being a JSON object: what makes an order good is the
worker's business (a bad one ends in the dead-letter queue)."""

import json
import os
import uuid

import boto3

QUEUE_URL = os.environ["ORDERS_QUEUE_URL"]
sqs = boto3.client("sqs")


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    try:
        order = json.loads(event.get("body") or "")
    except ValueError:
        return answer(400, {"message": 'the body must be JSON: {"item": "...", "quantity": 1}'})
    if not isinstance(order, dict):
        return answer(400, {"message": 'the body must be a JSON object: {"item": "...", "quantity": 1}'})
    order["orderId"] = str(uuid.uuid4())
    sqs.send_message(
        QueueUrl=QUEUE_URL,
        MessageBody=json.dumps(order),
        MessageAttributes={"source": {"DataType": "String", "StringValue": "api"}},
    )
    return answer(202, {"orderId": order["orderId"], "status": "queued"})
