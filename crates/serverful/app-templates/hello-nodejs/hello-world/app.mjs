/**
 * Answers GET /hello and GET /hello/{name} with a greeting.
 */
export const lambdaHandler = async (event, context) => {
  const name = event.pathParameters?.name ?? 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: `Hello, ${name}!`, requestId: context.awsRequestId }),
  };
};
