"""Drives SQS through boto3 as an application would, in whichever protocol the botocore
on PYTHONPATH speaks (JSON for current ones, query/XML for the pinned old one), and prints
what it saw as one JSON object for tests/it/sqs.rs to check. PREFIX names the queues."""

import json
import os
import threading
import time

import boto3
import botocore
from botocore.exceptions import ClientError

sqs = boto3.client("sqs")
prefix = os.environ["PREFIX"]
seen = {"botocore": botocore.__version__}


def code(call, **kwargs):
    """The error code a call fails with (None when it succeeds)."""
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


# Queues: create (idempotent), get, list with a prefix and pages, attributes.
url = sqs.create_queue(QueueName=f"{prefix}-main", Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
seen["url"] = url
seen["create_again"] = sqs.create_queue(QueueName=f"{prefix}-main", Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
seen["create_different"] = code(sqs.create_queue, QueueName=f"{prefix}-main", Attributes={"VisibilityTimeout": "41"})
seen["get_url"] = sqs.get_queue_url(QueueName=f"{prefix}-main")["QueueUrl"] == url
seen["missing_queue"] = code(sqs.get_queue_url, QueueName=f"{prefix}-nope")
seen["bad_name"] = code(sqs.create_queue, QueueName="bad name!")
seen["bad_attribute"] = code(sqs.create_queue, QueueName=f"{prefix}-x", Attributes={"VisibilityTimeout": "99999"})
seen["unknown_attribute"] = code(sqs.create_queue, QueueName=f"{prefix}-x", Attributes={"Colour": "blue"})
for name in ("a", "b", "c"):
    sqs.create_queue(QueueName=f"{prefix}-page-{name}")
first = sqs.list_queues(QueueNamePrefix=f"{prefix}-page", MaxResults=2)
second = sqs.list_queues(QueueNamePrefix=f"{prefix}-page", MaxResults=2, NextToken=first["NextToken"])
seen["pages"] = [len(first["QueueUrls"]), len(second["QueueUrls"]), "NextToken" in second]
sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "MaximumMessageSize": "1024"})
attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
seen["attributes"] = {key: attributes[key] for key in ("VisibilityTimeout", "MaximumMessageSize", "QueueArn")}
sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "262144"})

# Messages: attributes and their digests (botocore checks them), receive, delete.
sent = sqs.send_message(
    QueueUrl=url,
    MessageBody="héllo",
    MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    },
)
seen["md5_body"] = sent["MD5OfMessageBody"]
seen["md5_attributes"] = sent["MD5OfMessageAttributes"]
got = sqs.receive_message(
    QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
)["Messages"]
message = got[0]
seen["received"] = {
    "body": message["Body"],
    "md5": message["MD5OfBody"],
    "md5_attributes": message["MD5OfMessageAttributes"],
    "kind": message["MessageAttributes"]["kind"]["StringValue"],
    "blob": list(message["MessageAttributes"]["blob"]["BinaryValue"]),
    "receive_count": message["Attributes"]["ApproximateReceiveCount"],
}
only_kind = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
seen["in_flight_hidden"] = "Messages" not in only_kind
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
again = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["k.*", "kind"])["Messages"][0]
seen["filtered_attributes"] = sorted(again.get("MessageAttributes", {}))
seen["stale_delete"] = code(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
seen["after_delete"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
seen["bad_receipt"] = code(sqs.delete_message, QueueUrl=url, ReceiptHandle="not-a-handle")
seen["not_inflight"] = code(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5)

# Bad input.
seen["too_big"] = code(sqs.send_message, QueueUrl=url, MessageBody="x" * 262145)
seen["bad_characters"] = code(sqs.send_message, QueueUrl=url, MessageBody="bell\x07")
seen["too_many_messages"] = code(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
seen["too_long_wait"] = code(sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)
seen["reserved_attribute"] = code(sqs.send_message, QueueUrl=url, MessageBody="x", MessageAttributes={"AWS.x": {"DataType": "String", "StringValue": "v"}})

# Batches: per-entry failures, and the batch-wide errors.
batch = sqs.send_message_batch(
    QueueUrl=url,
    Entries=[
        {"Id": "good", "MessageBody": "one"},
        {"Id": "bad", "MessageBody": "two\x00"},
        {"Id": "delayed", "MessageBody": "three", "DelaySeconds": 900},
    ],
)
seen["batch"] = {
    "successful": sorted(entry["Id"] for entry in batch["Successful"]),
    "failed": [(entry["Id"], entry["Code"], entry["SenderFault"]) for entry in batch["Failed"]],
}
seen["batch_empty"] = code(sqs.send_message_batch, QueueUrl=url, Entries=[])
seen["batch_repeated"] = code(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])
seen["batch_too_many"] = code(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
seen["batch_bad_id"] = code(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "no spaces", "MessageBody": "x"}])
seen["batch_too_long"] = code(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 100000} for i in range(3)])
received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
deleted = sqs.delete_message_batch(
    QueueUrl=url,
    Entries=[{"Id": "m", "ReceiptHandle": received[0]["ReceiptHandle"]}, {"Id": "bogus", "ReceiptHandle": "bogus"}],
)
seen["delete_batch"] = [[e["Id"] for e in deleted["Successful"]], [(e["Id"], e["Code"]) for e in deleted["Failed"]]]
sqs.send_message(QueueUrl=url, MessageBody="again")
visible_again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
seen["not_in_flight"] = code(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=visible_again[0]["ReceiptHandle"], VisibilityTimeout=30)
held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
changed = sqs.change_message_visibility_batch(
    QueueUrl=url,
    Entries=[
        {"Id": "held", "ReceiptHandle": held[0]["ReceiptHandle"], "VisibilityTimeout": 600},
        {"Id": "junk", "ReceiptHandle": "junk", "VisibilityTimeout": 0},
    ],
)
seen["change_batch"] = [[e["Id"] for e in changed["Successful"]], [(e["Id"], e["Code"]) for e in changed["Failed"]]]
seen["counts"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])["Attributes"]

# Long polling: a send wakes a waiting receive at once; an empty poll waits its time.
def send_later():
    time.sleep(0.5)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")

threading.Thread(target=send_later).start()
started = time.monotonic()
woken = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
seen["long_poll"] = {"body": woken[0]["Body"] if woken else None, "fast": time.monotonic() - started < 3}
started = time.monotonic()
empty = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
waited = time.monotonic() - started
seen["empty_poll"] = {"messages": "Messages" in empty, "waited_enough": 0.9 <= waited < 3}

# Tags, permissions, purge.
sqs.tag_queue(QueueUrl=url, Tags={"team": "orders", "env": "dev"})
sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
seen["tags"] = sqs.list_queue_tags(QueueUrl=url).get("Tags")
sqs.add_permission(QueueUrl=url, Label="share", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
seen["policy_sids"] = [statement["Sid"] for statement in policy["Statement"]]
seen["permission_again"] = code(sqs.add_permission, QueueUrl=url, Label="share", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
sqs.remove_permission(QueueUrl=url, Label="share")
sqs.purge_queue(QueueUrl=url)
seen["purge_again"] = code(sqs.purge_queue, QueueUrl=url)

# FIFO: order per group, one batch in flight per group, deduplication.
fifo = sqs.create_queue(QueueName=f"{prefix}-orders.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
seen["fifo_no_group"] = code(sqs.send_message, QueueUrl=fifo, MessageBody="x")
seen["fifo_bad_name"] = code(sqs.create_queue, QueueName=f"{prefix}-nofifo", Attributes={"FifoQueue": "true"})
first_a = sqs.send_message(QueueUrl=fifo, MessageBody="a1", MessageGroupId="a")
sqs.send_message(QueueUrl=fifo, MessageBody="b1", MessageGroupId="b")
sqs.send_message(QueueUrl=fifo, MessageBody="a2", MessageGroupId="a")
duplicate = sqs.send_message(QueueUrl=fifo, MessageBody="a1", MessageGroupId="a")
seen["fifo_duplicate_same_id"] = duplicate["MessageId"] == first_a["MessageId"]
seen["fifo_sequence"] = "SequenceNumber" in first_a
one = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
rest = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
seen["fifo_first"] = [m["Body"] for m in one]
seen["fifo_while_a_in_flight"] = [m["Body"] for m in rest]
seen["fifo_group_attribute"] = one[0]["Attributes"]["MessageGroupId"]
sqs.delete_message(QueueUrl=fifo, ReceiptHandle=one[0]["ReceiptHandle"])
seen["fifo_after_delete"] = [m["Body"] for m in sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]]

# Dead-letter queues: redrive after maxReceiveCount, sources, and moving back.
dlq = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
source = sqs.create_queue(
    QueueName=f"{prefix}-work",
    Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})},
)["QueueUrl"]
seen["redrive_to_nowhere"] = code(
    sqs.create_queue,
    QueueName=f"{prefix}-lost",
    Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn + "-nope", "maxReceiveCount": 2})},
)
sqs.send_message(QueueUrl=source, MessageBody="poison")
receives = [len(sqs.receive_message(QueueUrl=source, VisibilityTimeout=0).get("Messages", [])) for _ in range(3)]
seen["receives_before_dead_letter"] = receives
dead = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
seen["dead_letter"] = [dead[0]["Body"], dead[0]["Attributes"].get("DeadLetterQueueSourceArn", "").rsplit(":", 1)[-1]]
seen["dead_letter_sources"] = [u.rsplit("/", 1)[-1] for u in sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]]
task = sqs.start_message_move_task(SourceArn=dlq_arn)
seen["task_handle"] = bool(task["TaskHandle"])
status = None
for _ in range(100):
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    status = tasks[0]["Status"]
    if status == "COMPLETED":
        seen["moved"] = tasks[0]["ApproximateNumberOfMessagesMoved"]
        break
    time.sleep(0.05)
seen["task_status"] = status
seen["cancel_finished"] = code(sqs.cancel_message_move_task, TaskHandle=task["TaskHandle"])
back = sqs.receive_message(QueueUrl=source).get("Messages", [])
seen["moved_back"] = [m["Body"] for m in back]
seen["move_from_non_dlq"] = code(sqs.start_message_move_task, SourceArn=dlq_arn.replace("-dlq", "-work"))

# Deleting, and recreating too soon.
sqs.delete_queue(QueueUrl=url)
seen["deleted_queue"] = code(sqs.send_message, QueueUrl=url, MessageBody="x")
seen["recreate_soon"] = code(sqs.create_queue, QueueName=f"{prefix}-main")

print(json.dumps(seen))
