package com.amazonaws.services.lambda.runtime;

/**
 * Serverful's copy of the Lambda core library's {@code LambdaRuntimeInternal}: a flag that
 * Lambda's log4j appender sets. Kept so that code calling it links.
 */
public final class LambdaRuntimeInternal {
    private LambdaRuntimeInternal() {
    }

    private static boolean useLog4jAppender;

    public static void setUseLog4jAppender(boolean useLog4j) {
        useLog4jAppender = useLog4j;
    }

    public static boolean getUseLog4jAppender() {
        return useLog4jAppender;
    }
}
