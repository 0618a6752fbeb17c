import json
import os


def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "name": os.environ["NAME"],
                "function": context.function_name,
                "domainName": event["requestContext"]["domainName"],
                "rawPath": event["rawPath"],
            }
        ),
    }
