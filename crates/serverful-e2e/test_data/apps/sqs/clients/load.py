"""Send-and-receive load for the kill -9 test (tests/it/sqs.rs).

`load.py load QUEUE OUT_DIR`: sender threads send numbered messages and append each
acknowledged body to OUT_DIR/acked-N; consumer threads receive, append each body to
OUT_DIR/consumed-N and delete it. Every thread stops at its first failure (the server was
killed) or after 30 s.
`load.py drain QUEUE`: receives and deletes until the queue is empty, and prints the
bodies as a JSON list.
"""

import json
import os
import sys
import threading
import time

import boto3
from botocore.config import Config

config = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16)
mode, queue = sys.argv[1], sys.argv[2]
sqs = boto3.client("sqs", config=config)


def sender(url, out_dir, index, deadline):
    with open(os.path.join(out_dir, f"acked-{index}"), "a") as acked:
        number = 0
        while time.monotonic() < deadline:
            body = f"s{index}-{number}"
            try:
                sqs.send_message(QueueUrl=url, MessageBody=body)
            except Exception:
                return
            acked.write(body + "\n")
            acked.flush()
            number += 1


def consumer(url, out_dir, index, deadline):
    with open(os.path.join(out_dir, f"consumed-{index}"), "a") as consumed:
        while time.monotonic() < deadline:
            try:
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=2
                ).get("Messages", [])
                for message in messages:
                    consumed.write(message["Body"] + "\n")
                consumed.flush()
                if messages:
                    sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                            for n, m in enumerate(messages)
                        ],
                    )
            except Exception:
                return


if mode == "load":
    out_dir = sys.argv[3]
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    deadline = time.monotonic() + 30
    threads = [threading.Thread(target=sender, args=(url, out_dir, n, deadline)) for n in range(4)]
    threads += [threading.Thread(target=consumer, args=(url, out_dir, n, deadline)) for n in range(2)]
    print("started", flush=True)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
else:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    bodies = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            if all(counts[key] == "0" for key in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")):
                break
    print(json.dumps(bodies))
