package com.amazonaws.services.lambda.runtime;

/** Serverful's copy of the Lambda core library's {@code CognitoIdentity}. */
public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
