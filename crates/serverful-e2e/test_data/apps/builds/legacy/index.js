// An old app on nodejs12.x: it uses the AWS SDK v2 that Lambda's Node.js runtimes up to
// 16 carried, without bundling it. The SDK v2 does not read AWS_ENDPOINT_URL, so the
// endpoint is passed as apps pointing at a local endpoint did.
const AWS = require('aws-sdk');

const documents = new AWS.DynamoDB.DocumentClient({
  endpoint: process.env.AWS_ENDPOINT_URL,
  region: process.env.AWS_REGION,
});

exports.handler = function (event, context, callback) {
  const id = event.pathParameters.id;
  const item = { id: id, note: 'written by the SDK v2', sdkVersion: AWS.VERSION };
  documents.put({ TableName: process.env.TABLE_NAME, Item: item }, function (error) {
    if (error) {
      return callback(error);
    }
    documents.get({ TableName: process.env.TABLE_NAME, Key: { id: id } }, function (error, data) {
      if (error) {
        return callback(error);
      }
      callback(null, {
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(data.Item),
      });
    });
  });
};
