// Told of big orders only (its subscription's filter policy): marks each order notified.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  for (const record of event.Records) {
    const order = JSON.parse(record.Sns.Message);
    await documents.send(
      new UpdateCommand({
        TableName: process.env.ORDERS_TABLE,
        Key: { orderId: order.orderId },
        UpdateExpression: "SET notified = :at",
        ExpressionAttributeValues: { ":at": record.Sns.Timestamp },
      }),
    );
  }
};
