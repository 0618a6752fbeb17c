package com.amazonaws.services.lambda.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Serverful's copy of the Lambda core library's {@code LambdaRuntime}: the function's
 * logger, reachable from anywhere. The bootstrap replaces {@code logger} with its own at
 * start, as AWS's runtime does; until then (code run outside Lambda) it prints to stdout.
 */
public final class LambdaRuntime {
    private LambdaRuntime() {
    }

    private static volatile LambdaLogger logger = new LambdaLogger() {
        @Override
        public void log(String message) {
            System.out.print(message);
        }

        @Override
        public void log(byte[] message) {
            try {
                System.out.write(message);
            } catch (IOException e) {
                System.out.print(new String(message, StandardCharsets.UTF_8));
            }
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}
