// Records each tick of its schedule: the Scheduled Event's time (the tick it was fired
// for) and when the function ran.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  if (event["detail-type"] !== "Scheduled Event") {
    throw new Error(`not a Scheduled Event: ${JSON.stringify(event)}`);
  }
  const tick = {
    ticker: "node",
    at: event.time,
    ranAt: new Date().toISOString(),
    rule: event.resources[0],
  };
  await documents.send(new PutCommand({ TableName: process.env.TICKS_TABLE, Item: tick }));
  console.log(`tick ${tick.at}`);
  return tick;
};
