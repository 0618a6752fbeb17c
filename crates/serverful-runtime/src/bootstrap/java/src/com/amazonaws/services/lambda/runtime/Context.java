package com.amazonaws.services.lambda.runtime;

/**
 * Serverful's copy of the Lambda core library's {@code Context}: what a handler can learn
 * about the invocation it serves and the function it runs in. Same package, names and
 * signatures as AWS's, so that code compiled against AWS's jar links against this one.
 */
public interface Context {
    /** The invocation's request id. */
    String getAwsRequestId();

    /** {@code /aws/lambda/<function name>}. */
    String getLogGroupName();

    String getLogStreamName();

    String getFunctionName();

    /** {@code $LATEST}, or the version that was invoked. */
    String getFunctionVersion();

    String getInvokedFunctionArn();

    /** The Cognito identity of a mobile caller, or null. */
    CognitoIdentity getIdentity();

    /** The client context of a mobile caller, or null. */
    ClientContext getClientContext();

    /** Milliseconds left before the invocation times out; never negative. */
    int getRemainingTimeInMillis();

    /** The function's {@code MemorySize}. */
    int getMemoryLimitInMB();

    LambdaLogger getLogger();

    /** The tenant of a multi-tenant function; null when the function has none. */
    default String getTenantId() {
        return null;
    }

    /** The X-Ray trace header of the invocation, if any. */
    default String getXrayTraceId() {
        return null;
    }
}
