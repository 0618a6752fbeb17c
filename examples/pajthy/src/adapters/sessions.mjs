// The session store on DynamoDB: a session is one item of SESSIONS_TABLE. Changes are
// read-modify-write with optimistic locking (a `version` attribute checked by a condition),
// so voters voting at the same moment never overwrite each other: the loser re-reads and
// applies its change again.
import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const table = () => process.env.SESSIONS_TABLE;
/** Sessions expire (the table's TTL) a day after their last change. */
const TIME_TO_LIVE_SECONDS = 24 * 60 * 60;
const MAX_ATTEMPTS = 20;

const expiresAt = () => Math.floor(Date.now() / 1000) + TIME_TO_LIVE_SECONDS;

/** The session `sessionId`, or null. */
export async function getSession(sessionId) {
  const { Item } = await documents.send(
    new GetCommand({ TableName: table(), Key: { sessionId }, ConsistentRead: true }),
  );
  if (!Item) return null;
  const { version: _version, expiresAt: _expiresAt, ...session } = Item;
  return session;
}

/** Stores a new session; false when its id is taken. */
export async function createSession(session) {
  try {
    await documents.send(
      new PutCommand({
        TableName: table(),
        Item: { ...session, version: 1, expiresAt: expiresAt() },
        ConditionExpression: "attribute_not_exists(sessionId)",
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Applies `change` (a core function of the session, answering { ok, session } or a
 * refusal) to the stored session and stores the result, retrying when another change got
 * there first. Answers the core's result, or a 404 refusal for an unknown session.
 */
export async function changeSession(sessionId, change) {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const { Item } = await documents.send(
      new GetCommand({ TableName: table(), Key: { sessionId }, ConsistentRead: true }),
    );
    if (!Item) return { ok: false, status: 404, message: "no such session" };
    const { version, expiresAt: _expiresAt, ...session } = Item;
    const result = change(session);
    if (!result.ok) return result;
    try {
      await documents.send(
        new PutCommand({
          TableName: table(),
          Item: { ...result.session, version: version + 1, expiresAt: expiresAt() },
          ConditionExpression: "version = :seen",
          ExpressionAttributeValues: { ":seen": version },
        }),
      );
      return result;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Someone else changed the session in between: apply the change to theirs.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
    }
  }
  throw new Error(`session ${sessionId} changed ${MAX_ATTEMPTS} times while this change was applied`);
}
