// Answers with a body of the asked size, in megabytes.
exports.handler = async (event) => {
  const size = Number(event.pathParameters.megabytes) * 1024 * 1024;
  return { statusCode: 200, body: "x".repeat(size) };
};
