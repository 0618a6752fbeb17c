import json

calls = 0


def handler(event, context):
    """Answers with the event it received, and how many events this instance has had, so
    tests can check what API Gateway sent and that it sent nothing else."""
    global calls
    calls += 1
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"event": event, "calls": calls}),
    }
