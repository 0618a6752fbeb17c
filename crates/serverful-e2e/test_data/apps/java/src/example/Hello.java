package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import greeting.Greeter;
import java.util.LinkedHashMap;
import java.util.Map;

/** A RequestHandler on untyped maps answering an HTTP API route (payload format 2.0). */
public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        @SuppressWarnings("unchecked")
        Map<String, Object> path = (Map<String, Object>) event.get("pathParameters");
        String name = (String) path.get("name");
        context.getLogger().log("hello from the logger for " + name);
        LambdaRuntime.getLogger().log("an info line", LogLevel.INFO);
        LambdaRuntime.getLogger().log("a debug line nobody sees", LogLevel.DEBUG);
        System.out.println("hello from stdout");

        StringBuilder body = new StringBuilder("{");
        field(body, "greeting", Greeter.greet(name)).append(',');
        field(body, "requestId", context.getAwsRequestId()).append(',');
        field(body, "functionName", context.getFunctionName()).append(',');
        field(body, "functionVersion", context.getFunctionVersion()).append(',');
        field(body, "logGroupName", context.getLogGroupName()).append(',');
        field(body, "invokedFunctionArn", context.getInvokedFunctionArn()).append(',');
        body.append("\"remainingTimeInMillis\":").append(context.getRemainingTimeInMillis()).append(',');
        body.append("\"memoryLimitInMB\":").append(context.getMemoryLimitInMB()).append(',');
        field(body, "traceHeader", System.getProperty("com.amazonaws.xray.traceHeader")).append(',');
        field(body, "xrayTraceId", context.getXrayTraceId()).append(',');
        field(body, "flavour", System.getProperty("example.flavour")).append(',');
        field(body, "executionEnv", System.getenv("AWS_EXECUTION_ENV")).append(',');
        body.append("\"versionIsNumber\":").append(event.get("version") instanceof String).append(',');
        body.append("\"timeEpochType\":");
        Map<?, ?> requestContext = (Map<?, ?>) event.get("requestContext");
        field(body, "", requestContext.get("timeEpoch").getClass().getSimpleName(), true);
        body.append('}');

        Map<String, Object> headers = new LinkedHashMap<>();
        headers.put("content-type", "application/json");
        headers.put("x-handler", "Hello");
        Map<String, Object> response = new LinkedHashMap<>();
        response.put("statusCode", 200);
        response.put("headers", headers);
        response.put("body", body.toString());
        return response;
    }

    private static StringBuilder field(StringBuilder out, String name, String value) {
        return field(out, name, value, false);
    }

    private static StringBuilder field(StringBuilder out, String name, String value, boolean bare) {
        if (!bare) {
            out.append('"').append(name).append("\":");
        }
        if (value == null) {
            return out.append("null");
        }
        return out.append('"').append(value.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
    }
}
