import os
import uuid

# Tells processes apart even where every instance is pid 2 of its own pid namespace.
INSTANCE = uuid.uuid4().hex


def handler(event, context):
    if event["pathParameters"]["how"] == "exit":
        os._exit(1)
    return {"statusCode": 200, "body": f"{os.getpid()}-{INSTANCE}"}
