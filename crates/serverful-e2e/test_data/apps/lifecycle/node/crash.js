// Exits the process in the middle of a request when asked to.
exports.handler = async (event) => {
  if (event.pathParameters.how === "exit") {
    process.exit(3);
  }
  return { statusCode: 200, body: JSON.stringify({ pid: process.pid }) };
};
