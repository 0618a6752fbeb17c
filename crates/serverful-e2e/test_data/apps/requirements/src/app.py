import requests


def handler(event, context):
    return {"statusCode": 200, "body": requests.__version__}
