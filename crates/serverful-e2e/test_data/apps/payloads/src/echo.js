// Returns the value shapes the HTTP API 2.0 inference rules are about.
exports.handler = async (event) => {
  switch (event.pathParameters && event.pathParameters.shape) {
    case "object":
      return { hello: "world" };
    case "string":
      return "just a string";
    case "number":
      return 42;
    case "status":
      return { statusCode: 201, body: "created" };
    case "malformed":
      return { statusCode: "teapot" };
    case "throw":
      throw new TypeError("node was asked to throw");
    default:
      return { statusCode: 200, body: JSON.stringify(event) };
  }
};
