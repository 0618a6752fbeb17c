package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** Serverful's copy of the Lambda core library's {@code ClientContext}: a mobile caller's context. */
public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}
