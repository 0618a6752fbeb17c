package com.amazonaws.services.lambda.runtime.logging;

/**
 * Serverful's copy of the Lambda core library's {@code LogLevel}. {@code UNDEFINED} is the
 * level of messages logged without one; they are never filtered out.
 */
public enum LogLevel {
    UNDEFINED,
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    FATAL;

    /** The level named by {@code logLevel}, in any case. */
    public static LogLevel fromString(String logLevel) {
        for (LogLevel level : values()) {
            if (logLevel != null && level.name().equalsIgnoreCase(logLevel)) {
                return level;
            }
        }
        throw new IllegalArgumentException("Invalid log level: '" + logLevel
                + "' expected one of [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
    }
}
