// Pushes messages to WebSocket connections through the API Gateway Management API
// (PostToConnection). A connection that answers 410 GoneException is dead (its client went
// away and $disconnect, which AWS delivers on a best-effort basis, did not remove it): its
// subscription is deleted.
import { ApiGatewayManagementApiClient, GoneException, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { forget, subscribers } from "./connections.mjs";

/**
 * The management endpoint, as AWS's samples find it: AWS_ENDPOINT_URL when it is set (a
 * local emulator such as Serverful sets it for every function), else the WebSocket API's
 * own `https://{domainName}/{stage}` from the event of a WebSocket route, else
 * PUSH_ENDPOINT (the template builds it from the API id for the REST handlers, whose events
 * do not name the WebSocket API).
 */
export function managementEndpoint(requestContext) {
  if (process.env.AWS_ENDPOINT_URL) return process.env.AWS_ENDPOINT_URL;
  if (requestContext?.domainName && requestContext?.stage) {
    return `https://${requestContext.domainName}/${requestContext.stage}`;
  }
  return process.env.PUSH_ENDPOINT;
}

const clients = new Map();
function client(endpoint) {
  if (!clients.has(endpoint)) clients.set(endpoint, new ApiGatewayManagementApiClient({ endpoint }));
  return clients.get(endpoint);
}

/** Sends `message` (JSON) to one connection; false when it is gone (and forgotten). */
export async function pushTo(connectionId, message, requestContext) {
  try {
    await client(managementEndpoint(requestContext)).send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(message) }),
    );
    return true;
  } catch (error) {
    if (error instanceof GoneException || error?.$metadata?.httpStatusCode === 410) {
      console.log(`connection ${connectionId} is gone (410): removing its subscription`);
      await forget(connectionId);
      return false;
    }
    throw error;
  }
}

/** Sends `message` to every subscriber of `sessionId`: { delivered, gone }. */
export async function pushToSession(sessionId, message, requestContext) {
  const ids = await subscribers(sessionId);
  const results = await Promise.allSettled(ids.map((id) => pushTo(id, message, requestContext)));
  let delivered = 0;
  let gone = 0;
  for (const [index, result] of results.entries()) {
    if (result.status === "rejected") {
      console.error(`push to ${ids[index]} failed: ${result.reason}`);
    } else if (result.value) {
      delivered += 1;
    } else {
      gone += 1;
    }
  }
  console.log(`session ${sessionId}: pushed to ${delivered} connection(s), ${gone} gone`);
  return { delivered, gone };
}
