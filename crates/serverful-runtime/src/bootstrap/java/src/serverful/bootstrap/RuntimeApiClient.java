package serverful.bootstrap;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The Lambda Runtime API at {@code AWS_LAMBDA_RUNTIME_API}, over one kept-alive HTTP/1.1
 * connection that carries the long poll on {@code /next} and the answers. A plain socket
 * with Nagle's algorithm off: the JDK's HTTP client costs a millisecond or more per
 * exchange on loopback, a large share of a warm invocation.
 */
final class RuntimeApiClient {
    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApiClient(String address) {
        int colon = address.lastIndexOf(':');
        this.host = colon < 0 ? address : address.substring(0, colon);
        this.port = colon < 0 ? 80 : Integer.parseInt(address.substring(colon + 1));
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

        Invocation(Response response) {
            this.requestId = response.header("lambda-runtime-aws-request-id");
            long deadline;
            try {
                deadline = Long.parseLong(response.header("lambda-runtime-deadline-ms"));
            } catch (NumberFormatException e) {
                deadline = System.currentTimeMillis();
            }
            this.deadlineMs = deadline;
            this.invokedFunctionArn = response.header("lambda-runtime-invoked-function-arn");
            this.traceId = response.header("lambda-runtime-trace-id");
            this.clientContext = response.header("lambda-runtime-client-context");
            this.cognitoIdentity = response.header("lambda-runtime-cognito-identity");
            this.tenantId = response.header("lambda-runtime-aws-tenant-id");
            this.payload = response.body;
        }
    }

    /** An HTTP response: status, headers by lower-case name, body. */
    static final class Response {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        String header(String name) {
            return headers.get(name);
        }
    }

    /** Waits for the next invocation. */
    Invocation next() throws IOException {
        Response response = request("GET", "invocation/next", null, null);
        if (response.status != 200) {
            throw new IOException("Runtime API /next answered " + response.status + ": "
                    + new String(response.body, StandardCharsets.UTF_8));
        }
        return new Invocation(response);
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
            Response response = request("POST", path, body, errorType);
            if (response.status != 202) {
                System.err.println("Runtime API /" + path + " answered " + response.status + ": "
                        + new String(response.body, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            System.err.println("Runtime API /" + path + " failed: " + e);
        }
    }

    /**
     * One exchange. A kept-alive connection the server has closed meanwhile (it does so after
     * refusing an oversized body) fails on first use; the request is then sent once more on
     * a new connection.
     */
    private Response request(String method, String path, byte[] body, String errorType) throws IOException {
        boolean reused = socket != null;
        try {
            return exchange(method, path, body, errorType);
        } catch (IOException e) {
            close();
            if (!reused) {
                throw e;
            }
            try {
                return exchange(method, path, body, errorType);
            } catch (IOException again) {
                close();
                throw again;
            }
        }
    }

    private Response exchange(String method, String path, byte[] body, String errorType) throws IOException {
        if (socket == null) {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port));
            in = new BufferedInputStream(socket.getInputStream(), 16384);
            out = new BufferedOutputStream(socket.getOutputStream(), 16384);
        }
        StringBuilder head = new StringBuilder(256);
        head.append(method).append(" /2018-06-01/runtime/").append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(host).append(':').append(port).append("\r\n");
        head.append("User-Agent: serverful-java-bootstrap\r\n");
        if (body != null) {
            head.append("Content-Type: application/json\r\n");
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        if (errorType != null) {
            head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
        }
        head.append("\r\n");
        out.write(head.toString().getBytes(StandardCharsets.UTF_8));
        if (body != null) {
            out.write(body);
        }
        out.flush();
        Response response = readResponse();
        if ("close".equalsIgnoreCase(response.header("connection"))) {
            close();
        }
        return response;
    }

    private Response readResponse() throws IOException {
        String statusLine = readLine();
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("Runtime API answered something that is not HTTP: " + statusLine);
        }
        int status;
        try {
            status = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("Runtime API answered a bad status line: " + statusLine);
        }
        Map<String, String> headers = new HashMap<>();
        for (String line = readLine(); !line.isEmpty(); line = readLine()) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        byte[] body;
        String encoding = headers.get("transfer-encoding");
        String length = headers.get("content-length");
        if (encoding != null && encoding.toLowerCase(Locale.ROOT).contains("chunked")) {
            body = readChunked();
        } else if (length != null) {
            body = readExactly(Integer.parseInt(length.trim()));
        } else {
            body = RuntimeApiClient.readAll(in);
            headers.put("connection", "close");
        }
        return new Response(status, headers, body);
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(64);
        for (;;) {
            int b = in.read();
            if (b == -1) {
                throw new EOFException("Runtime API closed the connection");
            }
            if (b == '\n') {
                break;
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return new String(line.toByteArray(), StandardCharsets.UTF_8);
    }

    private byte[] readExactly(int length) throws IOException {
        byte[] bytes = new byte[length];
        int offset = 0;
        while (offset < length) {
            int read = in.read(bytes, offset, length - offset);
            if (read == -1) {
                throw new EOFException("Runtime API closed the connection mid-body");
            }
            offset += read;
        }
        return bytes;
    }

    private byte[] readChunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (;;) {
            String size = readLine();
            int semicolon = size.indexOf(';');
            int length = Integer.parseInt((semicolon < 0 ? size : size.substring(0, semicolon)).trim(), 16);
            if (length == 0) {
                // Trailers, up to the blank line.
                while (!readLine().isEmpty()) {
                    // skipped
                }
                return body.toByteArray();
            }
            body.write(readExactly(length));
            readLine();
        }
    }

    private void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException e) {
                // Closing a broken connection cannot fail in a way that matters.
            }
        }
        socket = null;
        in = null;
        out = null;
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
