"""The chat app's handlers: connections kept in a table, messages posted to all of them."""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
CONNECTIONS = os.environ["CONNECTIONS_TABLE"]
EVENTS = os.environ["EVENTS_TABLE"]
# The deploy test deploys a copy with another number, and sees which version answers.
VERSION = "1"


def on_connect(event, context):
    query = event.get("queryStringParameters") or {}
    if query.get("token") != "letmein":
        return {"statusCode": 401, "body": "wrong token"}
    connection_id = event["requestContext"]["connectionId"]
    dynamodb.put_item(
        TableName=CONNECTIONS,
        Item={
            "connectionId": {"S": connection_id},
            "name": {"S": query.get("name", "")},
        },
    )
    dynamodb.put_item(
        TableName=EVENTS,
        Item={"connectionId": {"S": connection_id}, "connect": {"S": json.dumps(event)}},
    )
    return {"statusCode": 200, "body": "Connected."}


def on_disconnect(event, context):
    connection_id = event["requestContext"]["connectionId"]
    dynamodb.delete_item(TableName=CONNECTIONS, Key={"connectionId": {"S": connection_id}})
    dynamodb.update_item(
        TableName=EVENTS,
        Key={"connectionId": {"S": connection_id}},
        UpdateExpression="SET #disconnect = :event",
        ExpressionAttributeNames={"#disconnect": "disconnect"},
        ExpressionAttributeValues={":event": {"S": json.dumps(event)}},
    )
    return {"statusCode": 200, "body": "Disconnected."}


def send_message(event, context):
    # As AWS's sample: the SDK's management client; its endpoint comes from
    # AWS_ENDPOINT_URL here.
    management = boto3.client("apigatewaymanagementapi")
    data = json.loads(event["body"])["data"]
    sender = event["requestContext"]["connectionId"]
    posted, gone = 0, []
    for item in dynamodb.scan(TableName=CONNECTIONS)["Items"]:
        connection_id = item["connectionId"]["S"]
        try:
            management.post_to_connection(
                ConnectionId=connection_id,
                Data=json.dumps({"from": sender, "data": data}).encode(),
            )
            posted += 1
        except management.exceptions.GoneException:
            gone.append(connection_id)
            dynamodb.delete_item(
                TableName=CONNECTIONS, Key={"connectionId": {"S": connection_id}}
            )
    return {"statusCode": 200, "body": json.dumps({"posted": posted, "gone": gone})}


def echo(event, context):
    if event["body"] == "fail":
        raise RuntimeError("asked to fail")
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "echo": event["body"],
                "routeKey": event["requestContext"]["routeKey"],
                "eventType": event["requestContext"]["eventType"],
                "version": VERSION,
            }
        ),
    }
