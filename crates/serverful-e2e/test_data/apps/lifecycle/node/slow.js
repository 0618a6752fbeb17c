// Sleeps for the number of milliseconds in the path, then answers with its process id.
exports.handler = async (event) => {
  const ms = Number(event.pathParameters.ms);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { statusCode: 200, body: JSON.stringify({ slept: ms, pid: process.pid }) };
};
