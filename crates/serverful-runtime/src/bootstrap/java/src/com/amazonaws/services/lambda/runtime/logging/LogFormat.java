package com.amazonaws.services.lambda.runtime.logging;

/** Serverful's copy of the Lambda core library's {@code LogFormat}. */
public enum LogFormat {
    JSON,
    TEXT;

    /** The format named by {@code logFormat}, in any case. */
    public static LogFormat fromString(String logFormat) {
        for (LogFormat format : values()) {
            if (logFormat != null && format.name().equalsIgnoreCase(logFormat)) {
                return format;
            }
        }
        throw new IllegalArgumentException("Invalid log format: '" + logFormat + "' expected one of [JSON, TEXT]");
    }
}
