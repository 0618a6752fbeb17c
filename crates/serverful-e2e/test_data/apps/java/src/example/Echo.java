package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** A RequestStreamHandler: reads the event's bytes and writes the response's. */
public class Echo implements RequestStreamHandler {
    @Override
    public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = input.read(buffer)) != -1) {
            event.write(buffer, 0, read);
        }
        String text = event.toString("UTF-8");
        if (text.contains("\"body\":\"big\"")) {
            // Over the 6 MB Lambda allows for a response: refused, and the next one still works.
            byte[] chunk = new byte[1024 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            for (int i = 0; i < 7; i++) {
                output.write(chunk);
            }
            return;
        }
        boolean sawRoute = text.contains("\"routeKey\":\"POST /echo\"");
        String body = "stream of " + event.size() + " bytes, route seen: " + sawRoute;
        String response = "{\"statusCode\":201,\"headers\":{\"content-type\":\"text/plain\"},\"body\":\"" + body + "\"}";
        output.write(response.getBytes(StandardCharsets.UTF_8));
    }
}
