// Takes the orders queue in batches. A good order ({"item": non-empty string, "quantity":
// a whole number from 1 to 1000}) is stored and published to the order events topic with
// a `size` attribute (big from 100 on), which the notifier's filter policy reads. A bad
// one is reported in `batchItemFailures`: only it goes back to the queue, and after three
// tries the queue moves it to the dead-letter queue.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { SNSClient, PublishCommand } from "@aws-sdk/client-sns";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const sns = new SNSClient({});

const good = (order) =>
  typeof order?.item === "string" &&
  order.item.trim() !== "" &&
  Number.isInteger(order.quantity) &&
  order.quantity >= 1 &&
  order.quantity <= 1000;

export const handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    let order;
    try {
      order = JSON.parse(record.body);
    } catch {
      order = undefined;
    }
    if (!good(order)) {
      console.log(`bad order in message ${record.messageId} (try ${record.attributes.ApproximateReceiveCount})`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    const stored = { ...order, status: "stored", messageId: record.messageId };
    await documents.send(new PutCommand({ TableName: process.env.ORDERS_TABLE, Item: stored }));
    await sns.send(
      new PublishCommand({
        TopicArn: process.env.ORDER_EVENTS_TOPIC,
        Subject: "order stored",
        Message: JSON.stringify(stored),
        MessageAttributes: {
          size: { DataType: "String", StringValue: order.quantity >= 100 ? "big" : "small" },
        },
      }),
    );
  }
  return { batchItemFailures };
};
