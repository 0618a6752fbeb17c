// POST /destination {"name": ..., "proposedBy": ...}: appends a destinationProposed event
// to the events table and answers 202 with the proposal's id. Whether the destination is
// accepted is decided later, by the validator following the table's stream.
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";

const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));

// A partition key holds at most 2048 bytes; longer names are refused here, before they
// become a stream name. (The validator decides what a good name is.)
const MAX_NAME_LENGTH = 500;

const badRequest = (message) => ({
  statusCode: 400,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ message }),
});

// Every event about one destination name goes to the same stream, so the stream
// delivers them in the order they were appended.
export const streamName = (name) => `destination:${name.trim().replace(/\s+/g, " ").toLowerCase()}`;

export const handler = async (event) => {
  let body;
  try {
    const text = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString() : event.body;
    body = JSON.parse(text ?? "");
  } catch {
    return badRequest('the body must be JSON: {"name": "...", "proposedBy": "..."}');
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return badRequest('the body must be a JSON object: {"name": "...", "proposedBy": "..."}');
  }
  for (const field of ["name", "proposedBy"]) {
    if (typeof body[field] !== "string" || body[field].trim() === "") {
      return badRequest(`"${field}" must be a non-empty string`);
    }
  }
  if (body.name.length > MAX_NAME_LENGTH) {
    return badRequest(`"name" must be at most ${MAX_NAME_LENGTH} characters`);
  }
  const now = new Date().toISOString();
  const proposal = {
    StreamName: streamName(body.name),
    // The time first, so a stream's events sort in time; the suffix keeps two events of
    // the same millisecond apart.
    EventTime: `${now}#${randomUUID()}`,
    Type: "destinationProposed",
    destinationId: randomUUID(),
    name: body.name.trim(),
    proposedBy: body.proposedBy.trim(),
    at: now,
  };
  await documents.send(
    new PutCommand({
      TableName: process.env.EVENTS_TABLE,
      Item: proposal,
      ConditionExpression: "attribute_not_exists(EventTime)",
    }),
  );
  return {
    statusCode: 202,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ destinationId: proposal.destinationId, status: "proposed" }),
  };
};
