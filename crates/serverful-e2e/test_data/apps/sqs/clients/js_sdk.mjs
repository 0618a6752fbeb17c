// Sends, receives and deletes through the AWS SDK for JavaScript v3's SQS client (which
// checks the MD5 digests of what it sends and receives), and prints what it saw as JSON
// for tests/it/sqs.rs. The endpoint, keys and region come from the environment.
import { createRequire } from "node:module";

// ES modules ignore NODE_PATH: resolve the SDK through require, which honours it.
const require = createRequire(import.meta.url);
const sqs = require("@aws-sdk/client-sqs");

const client = new sqs.SQSClient({ maxAttempts: 1 });
const prefix = process.env.PREFIX;
const seen = {};

const errorName = async (command) => {
  try {
    await client.send(command);
    return null;
  } catch (error) {
    return error.name;
  }
};

const { QueueUrl } = await client.send(new sqs.CreateQueueCommand({ QueueName: `${prefix}-js` }));
seen.url = QueueUrl;
const sent = await client.send(new sqs.SendMessageCommand({
  QueueUrl,
  MessageBody: "from node",
  MessageAttributes: {
    kind: { DataType: "String", StringValue: "js" },
    raw: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
  },
  MessageSystemAttributes: {
    AWSTraceHeader: { DataType: "String", StringValue: "Root=1-5759e988-bd862e3fe1be46a994272793" },
  },
}));
seen.md5OfBody = sent.MD5OfMessageBody;
seen.md5OfSystemAttributes = sent.MD5OfMessageSystemAttributes;
const batch = await client.send(new sqs.SendMessageBatchCommand({
  QueueUrl,
  Entries: [
    { Id: "one", MessageBody: "batch one" },
    { Id: "two", MessageBody: "batch two", MessageAttributes: { n: { DataType: "Number", StringValue: "2" } } },
  ],
}));
seen.batchSuccessful = batch.Successful.map((entry) => entry.Id).sort();
const received = await client.send(new sqs.ReceiveMessageCommand({
  QueueUrl,
  MaxNumberOfMessages: 10,
  WaitTimeSeconds: 1,
  MessageAttributeNames: ["All"],
  MessageSystemAttributeNames: ["All"],
}));
seen.bodies = received.Messages.map((message) => message.Body).sort();
const first = received.Messages.find((message) => message.Body === "from node");
seen.kind = first.MessageAttributes.kind.StringValue;
seen.raw = Array.from(first.MessageAttributes.raw.BinaryValue);
seen.traceHeader = first.Attributes.AWSTraceHeader;
const deleted = await client.send(new sqs.DeleteMessageBatchCommand({
  QueueUrl,
  Entries: received.Messages.map((message, index) => ({ Id: `m${index}`, ReceiptHandle: message.ReceiptHandle })),
}));
seen.deleted = deleted.Successful.length;
const attributes = await client.send(new sqs.GetQueueAttributesCommand({
  QueueUrl,
  AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
}));
seen.attributes = attributes.Attributes;

const fifo = (await client.send(new sqs.CreateQueueCommand({
  QueueName: `${prefix}-js.fifo`,
  Attributes: { FifoQueue: "true" },
}))).QueueUrl;
for (const [body, id] of [["first", "d1"], ["second", "d2"], ["first again", "d1"]]) {
  await client.send(new sqs.SendMessageCommand({ QueueUrl: fifo, MessageBody: body, MessageGroupId: "g", MessageDeduplicationId: id }));
}
const ordered = await client.send(new sqs.ReceiveMessageCommand({ QueueUrl: fifo, MaxNumberOfMessages: 10 }));
seen.fifo = ordered.Messages.map((message) => message.Body);
seen.fifoWithoutDeduplicationId = await errorName(new sqs.SendMessageCommand({ QueueUrl: fifo, MessageBody: "x", MessageGroupId: "g" }));
seen.missingQueue = await errorName(new sqs.GetQueueUrlCommand({ QueueName: `${prefix}-absent` }));
seen.missingQueueSend = await errorName(new sqs.SendMessageCommand({ QueueUrl: `${QueueUrl}-absent`, MessageBody: "x" }));
seen.badReceipt = await errorName(new sqs.DeleteMessageCommand({ QueueUrl, ReceiptHandle: "nonsense" }));
seen.emptyBatch = await errorName(new sqs.SendMessageBatchCommand({ QueueUrl, Entries: [] }));
console.log(JSON.stringify(seen));
