// Counts the words in the posted body: POST /count with any text.
// The count of requests this instance has served shows that instances stay warm.
let served = 0;

exports.handler = async (event, context) => {
  served += 1;
  const body = event.isBase64Encoded
    ? Buffer.from(event.body || "", "base64").toString("utf8")
    : event.body || "";
  const words = body.split(/\s+/).filter((word) => word.length > 0).length;
  console.log(`counted ${words} words`);
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ words, served, function: context.functionName }),
  };
};
