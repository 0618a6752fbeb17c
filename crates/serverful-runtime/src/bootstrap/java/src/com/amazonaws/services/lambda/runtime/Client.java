package com.amazonaws.services.lambda.runtime;

/** Serverful's copy of the Lambda core library's {@code Client}: the mobile app that called. */
public interface Client {
    String getInstallationId();

    String getAppTitle();

    String getAppVersionName();

    String getAppVersionCode();

    String getAppPackageName();
}
