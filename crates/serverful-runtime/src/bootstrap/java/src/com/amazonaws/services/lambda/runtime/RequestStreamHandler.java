package com.amazonaws.services.lambda.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Serverful's copy of the Lambda core library's {@code RequestStreamHandler}: a handler that
 * reads the event's bytes and writes the result's bytes itself.
 */
public interface RequestStreamHandler {
    void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
}
