package com.amazonaws.services.lambda.runtime;

import com.amazonaws.services.lambda.runtime.logging.LogLevel;

/**
 * Serverful's copy of the Lambda core library's {@code LambdaLogger}: writes to the
 * function's log. Same signatures as AWS's.
 */
public interface LambdaLogger {
    /** Logs a message as one log entry. */
    void log(String message);

    /** Logs raw bytes as one log entry. */
    void log(byte[] message);

    /** Logs at a level; a logger that knows no levels logs the message as is. */
    default void log(String message, LogLevel logLevel) {
        log(message);
    }

    default void log(byte[] message, LogLevel logLevel) {
        log(message);
    }
}
