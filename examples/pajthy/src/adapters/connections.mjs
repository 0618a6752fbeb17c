// Subscriptions: which WebSocket connection follows which session, in CONNECTIONS_TABLE
// (one item per connection; the `bySession` index lists a session's subscribers).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const table = () => process.env.CONNECTIONS_TABLE;
/** API Gateway closes a connection after 2 hours at most. */
const TIME_TO_LIVE_SECONDS = 2 * 60 * 60;

export async function subscribe(connectionId, sessionId) {
  await documents.send(
    new PutCommand({
      TableName: table(),
      Item: { connectionId, sessionId, expiresAt: Math.floor(Date.now() / 1000) + TIME_TO_LIVE_SECONDS },
    }),
  );
}

export async function forget(connectionId) {
  await documents.send(new DeleteCommand({ TableName: table(), Key: { connectionId } }));
}

/** The ids of the connections subscribed to `sessionId`. */
export async function subscribers(sessionId) {
  const ids = [];
  let ExclusiveStartKey;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: table(),
        IndexName: "bySession",
        KeyConditionExpression: "sessionId = :session",
        ExpressionAttributeValues: { ":session": sessionId },
        ExclusiveStartKey,
      }),
    );
    ids.push(...page.Items.map((item) => item.connectionId));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return ids;
}
