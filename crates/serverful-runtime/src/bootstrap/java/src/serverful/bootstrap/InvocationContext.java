package serverful.bootstrap;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.util.LinkedHashMap;
import java.util.Map;

/** The {@link Context} of one invocation, from the Runtime API's headers and Lambda's environment. */
final class InvocationContext implements Context {
    private static final String FUNCTION_NAME = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    private static final String FUNCTION_VERSION = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    private static final String LOG_GROUP_NAME = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    private static final String LOG_STREAM_NAME = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    private static final int MEMORY_LIMIT = memoryLimit();

    private final RuntimeApiClient.Invocation invocation;
    private final CognitoIdentity identity;
    private final ClientContext clientContext;

    InvocationContext(RuntimeApiClient.Invocation invocation) {
        this.invocation = invocation;
        this.identity = identity(invocation.cognitoIdentity);
        this.clientContext = clientContext(invocation.clientContext);
    }

    private static int memoryLimit() {
        try {
            return Integer.parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
        } catch (NumberFormatException e) {
            return 128;
        }
    }

    @Override
    public String getAwsRequestId() {
        return invocation.requestId;
    }

    @Override
    public String getLogGroupName() {
        return LOG_GROUP_NAME;
    }

    @Override
    public String getLogStreamName() {
        return LOG_STREAM_NAME;
    }

    @Override
    public String getFunctionName() {
        return FUNCTION_NAME;
    }

    @Override
    public String getFunctionVersion() {
        return FUNCTION_VERSION;
    }

    @Override
    public String getInvokedFunctionArn() {
        return invocation.invokedFunctionArn;
    }

    @Override
    public CognitoIdentity getIdentity() {
        return identity;
    }

    @Override
    public ClientContext getClientContext() {
        return clientContext;
    }

    @Override
    public int getRemainingTimeInMillis() {
        long left = invocation.deadlineMs - System.currentTimeMillis();
        return left > 0 ? (int) Math.min(left, Integer.MAX_VALUE) : 0;
    }

    @Override
    public int getMemoryLimitInMB() {
        return MEMORY_LIMIT;
    }

    @Override
    public LambdaLogger getLogger() {
        return LambdaRuntime.getLogger();
    }

    @Override
    public String getTenantId() {
        return invocation.tenantId;
    }

    @Override
    public String getXrayTraceId() {
        return invocation.traceId;
    }

    @Override
    public String toString() {
        return "LambdaContext[awsRequestId=" + getAwsRequestId() + ", functionName=" + FUNCTION_NAME + "]";
    }

    /** A JSON object header's fields; empty when the header is absent or not an object. */
    private static Map<?, ?> object(String header) {
        if (header == null || header.isEmpty()) {
            return null;
        }
        try {
            Object tree = Json.parse(header);
            return tree instanceof Map ? (Map<?, ?>) tree : null;
        } catch (Json.ParseException e) {
            return null;
        }
    }

    private static String text(Map<?, ?> object, String key) {
        Object value = object == null ? null : object.get(key);
        return value == null ? null : value.toString();
    }

    private static Map<String, String> texts(Object value) {
        if (!(value instanceof Map)) {
            return null;
        }
        Map<String, String> texts = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
            texts.put(String.valueOf(entry.getKey()), entry.getValue() == null ? null : entry.getValue().toString());
        }
        return texts;
    }

    private static CognitoIdentity identity(String header) {
        final Map<?, ?> object = object(header);
        if (object == null) {
            return null;
        }
        final String id = text(object, "cognitoIdentityId");
        final String pool = text(object, "cognitoIdentityPoolId");
        return new CognitoIdentity() {
            @Override
            public String getIdentityId() {
                return id;
            }

            @Override
            public String getIdentityPoolId() {
                return pool;
            }
        };
    }

    private static ClientContext clientContext(String header) {
        Map<?, ?> object = object(header);
        if (object == null) {
            return null;
        }
        final Map<?, ?> client = object.get("client") instanceof Map ? (Map<?, ?>) object.get("client") : null;
        final Map<String, String> custom = texts(object.get("custom"));
        final Map<String, String> environment = texts(object.get("env"));
        final Client app = client == null ? null : new Client() {
            @Override
            public String getInstallationId() {
                return text(client, "installation_id");
            }

            @Override
            public String getAppTitle() {
                return text(client, "app_title");
            }

            @Override
            public String getAppVersionName() {
                return text(client, "app_version_name");
            }

            @Override
            public String getAppVersionCode() {
                return text(client, "app_version_code");
            }

            @Override
            public String getAppPackageName() {
                return text(client, "app_package_name");
            }
        };
        return new ClientContext() {
            @Override
            public Client getClient() {
                return app;
            }

            @Override
            public Map<String, String> getCustom() {
                return custom;
            }

            @Override
            public Map<String, String> getEnvironment() {
                return environment;
            }
        };
    }
}
