import json


def hello(event, context):
    name = event["pathParameters"]["name"]
    return {"statusCode": 200, "body": json.dumps({"hello": name})}


def fail(event, context):
    raise ValueError("this function always fails")


def project(event, context):
    print(f"projected {len(event['Records'])} records")
    return {}
