"""An ordinary function beside the attackers: its code is what they try to read, and it
must keep answering while they attack. The marker below must never leave this file."""

import os

SECRET = "victim-secret-4815162342"


def handler(event, context):
    return {"statusCode": 200, "body": f"fine {os.getpid()}"}
