// Code that builds AWS URLs itself: a plain https GET to an AWS host name, and the
// WebSocket management API at `https://{domainName}/{stage}` as AWS's samples build it.
// Both verify Serverful's certificate through NODE_EXTRA_CA_CERTS.
const https = require("https");
const {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} = require("@aws-sdk/client-apigatewaymanagementapi");

delete process.env.AWS_ENDPOINT_URL;

exports.get = async () => {
  const host = `sqs.${process.env.AWS_REGION}.amazonaws.com`;
  const result = await new Promise((resolve) => {
    https
      .get({ host, path: "/", timeout: 5000 }, (response) => {
        const authorized = response.socket.authorized;
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode, authorized, body }),
        );
      })
      .on("error", (error) => resolve({ error: error.code || error.message }));
  });
  return {
    statusCode: 200,
    body: JSON.stringify({ host, extraCerts: process.env.NODE_EXTRA_CA_CERTS, ...result }),
  };
};

exports.push = async (event) => {
  const { domainName, stage, connectionId } = event.requestContext;
  const endpoint = `https://${domainName}/${stage}`;
  const client = new ApiGatewayManagementApiClient({ endpoint });
  await client.send(
    new PostToConnectionCommand({
      ConnectionId: connectionId,
      Data: JSON.stringify({ endpoint, got: event.body }),
    }),
  );
  return { statusCode: 200 };
};
