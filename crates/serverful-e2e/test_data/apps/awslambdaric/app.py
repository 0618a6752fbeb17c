import json


def handler(event, context):
    if event["pathParameters"]["name"] == "fail":
        raise RuntimeError("awslambdaric was asked to fail")
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "client": "awslambdaric",
                "name": event["pathParameters"]["name"],
                "requestId": context.aws_request_id,
                "functionName": context.function_name,
            }
        ),
    }
