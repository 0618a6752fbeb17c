// Code that builds AWS URLs itself: a plain https GET to an AWS host name, and the
// WebSocket management API at `https://{domainName}/{stage}` as AWS's samples build it.
// Both verify Serverful's certificate through NODE_EXTRA_CA_CERTS.
const https = require("https");
const {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} = require("@aws-sdk/client-apigatewaymanagementapi");

delete process.env.AWS_ENDPOINT_URL;

const get = (host, path) =>
  new Promise((resolve) => {
    https
      .get({ host, path, timeout: 5000 }, (response) => {
        const authorized = response.socket.authorized;
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode, authorized, body }),
        );
      })
      .on("timeout", function () {
        this.destroy(new Error("timed out"));
      })
      .on("error", (error) => resolve({ error: error.code || error.message }));
  });

exports.get = async () => {
  const region = process.env.AWS_REGION;
  const host = `sqs.${region}.amazonaws.com`;
  const result = await get(host, "/");
  const api = await get(`${process.env.HTTP_API_ID}.execute-api.${region}.amazonaws.com`, "/hello");
  return {
    statusCode: 200,
    body: JSON.stringify({ host, extraCerts: process.env.NODE_EXTRA_CA_CERTS, ...result, api }),
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
