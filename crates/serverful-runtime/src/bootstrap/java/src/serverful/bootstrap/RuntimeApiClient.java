package serverful.bootstrap;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;

/**
 * The Lambda Runtime API at {@code AWS_LAMBDA_RUNTIME_API}, over the JDK's HTTP client,
 * whose kept-alive connections carry the long poll on {@code /next} and the answers.
 */
final class RuntimeApiClient {
    private final String base;

    RuntimeApiClient(String address) {
        this.base = "http://" + address + "/2018-06-01/runtime/";
    }

    /** One invocation as {@code /next} hands it over. */
    static final class Invocation {
        final String requestId;
        final long deadlineMs;
        final String invokedFunctionArn;
        final String traceId;
        final String clientContext;
        final String cognitoIdentity;
        final String tenantId;
        final byte[] payload;

        Invocation(HttpURLConnection connection, byte[] payload) {
            this.requestId = connection.getHeaderField("Lambda-Runtime-Aws-Request-Id");
            long deadline;
            try {
                deadline = Long.parseLong(connection.getHeaderField("Lambda-Runtime-Deadline-Ms"));
            } catch (NumberFormatException e) {
                deadline = System.currentTimeMillis();
            }
            this.deadlineMs = deadline;
            this.invokedFunctionArn = connection.getHeaderField("Lambda-Runtime-Invoked-Function-Arn");
            this.traceId = connection.getHeaderField("Lambda-Runtime-Trace-Id");
            this.clientContext = connection.getHeaderField("Lambda-Runtime-Client-Context");
            this.cognitoIdentity = connection.getHeaderField("Lambda-Runtime-Cognito-Identity");
            this.tenantId = connection.getHeaderField("Lambda-Runtime-Aws-Tenant-Id");
            this.payload = payload;
        }
    }

    private HttpURLConnection open(String path) throws IOException {
        // No proxy: the Runtime API is local, whatever proxy the function configures.
        HttpURLConnection connection = (HttpURLConnection) new URL(base + path).openConnection(Proxy.NO_PROXY);
        connection.setUseCaches(false);
        return connection;
    }

    /** Waits for the next invocation. */
    Invocation next() throws IOException {
        HttpURLConnection connection = open("invocation/next");
        connection.setRequestMethod("GET");
        int status = connection.getResponseCode();
        byte[] body = readBody(connection, status);
        if (status != 200) {
            throw new IOException("Runtime API /next answered " + status + ": "
                    + new String(body, StandardCharsets.UTF_8));
        }
        return new Invocation(connection, body);
    }

    /** Posts an invocation's result. */
    void postResponse(String requestId, byte[] body) {
        post("invocation/" + requestId + "/response", body, null);
    }

    /** Posts an invocation's error, with Lambda's error category in the error-type header. */
    void postError(String requestId, String body, String errorType) {
        post("invocation/" + requestId + "/error", body.getBytes(StandardCharsets.UTF_8), errorType);
    }

    /** Reports a failed init. */
    void postInitError(String body, String errorType) {
        post("init/error", body.getBytes(StandardCharsets.UTF_8), errorType);
    }

    /**
     * Posts an answer. A failure (the Runtime API refuses a response over 6 MB and closes the
     * connection, so the write breaks) is reported on stderr and the loop goes on: the
     * invocation has been settled by the Runtime API either way.
     */
    private void post(String path, byte[] body, String errorType) {
        try {
            HttpURLConnection connection = open(path);
            connection.setRequestMethod("POST");
            connection.setDoOutput(true);
            connection.setFixedLengthStreamingMode(body.length);
            connection.setRequestProperty("Content-Type", "application/json");
            if (errorType != null) {
                connection.setRequestProperty("Lambda-Runtime-Function-Error-Type", errorType);
            }
            try (OutputStream out = connection.getOutputStream()) {
                out.write(body);
            }
            int status = connection.getResponseCode();
            byte[] answer = readBody(connection, status);
            if (status != 202) {
                System.err.println("Runtime API /" + path + " answered " + status + ": "
                        + new String(answer, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            System.err.println("Runtime API /" + path + " failed: " + e);
        }
    }

    /** Reads a response body to its end, which lets the JDK keep the connection alive. */
    private static byte[] readBody(HttpURLConnection connection, int status) throws IOException {
        InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
        if (in == null) {
            return new byte[0];
        }
        try (InputStream body = in) {
            return readAll(body);
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[16384];
        int read;
        while ((read = in.read(buffer)) != -1) {
            out.write(buffer, 0, read);
        }
        return out.toByteArray();
    }
}
