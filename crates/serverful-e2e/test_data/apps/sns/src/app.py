import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["NOTIFICATIONS_TABLE"])


def handler(event, context):
    for record in event["Records"]:
        table.put_item(
            Item={"id": record["Sns"]["MessageId"], "body": json.dumps(event)}
        )
    return {"stored": len(event["Records"])}


def publish(event, context):
    """Publishes to event["TopicArn"] with the stack's keys; answers SNS's error, if any."""
    try:
        answer = boto3.client("sns").publish(TopicArn=event["TopicArn"], Message="from a function")
        return {"MessageId": answer["MessageId"]}
    except boto3.exceptions.botocore.exceptions.ClientError as error:
        return {
            "Code": error.response["Error"]["Code"],
            "Message": error.response["Error"]["Message"],
            "Status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
