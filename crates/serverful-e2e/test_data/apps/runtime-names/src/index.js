exports.handler = async () => ({
  statusCode: 200,
  body: JSON.stringify({ executionEnv: process.env.AWS_EXECUTION_ENV, node: process.version }),
});
