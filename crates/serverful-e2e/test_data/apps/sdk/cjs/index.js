const { SQSClient } = require("@aws-sdk/client-sqs");

exports.handler = async () => ({ statusCode: 200, body: typeof new SQSClient({}).send });
