package serverful.bootstrap;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UnsupportedEncodingException;
import java.lang.reflect.Field;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Serverful's Java bootstrap: loads the handler named by {@code _HANDLER} from
 * {@code LAMBDA_TASK_ROOT} and serves invocations from the Lambda Runtime API at
 * {@code AWS_LAMBDA_RUNTIME_API}, one at a time, like AWS's Java runtime (handler forms, JSON
 * mapping, the {@code Context}, error bodies and log lines in its format).
 */
public final class Main {
    private Main() {
    }

    /** Where AWS's runtime puts the X-Ray trace header for the AWS SDK and X-Ray SDK. */
    private static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";
    /** Lambda's categories of errors, in the error-type header. */
    private static final String BAD_FUNCTION_CODE = "Runtime.BadFunctionCode";
    private static final String USER_EXCEPTION = "Runtime.UserException";

    public static void main(String[] args) throws UnsupportedEncodingException {
        // UTF-8 whatever the locale, as on Lambda.
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8"));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, "UTF-8"));
        TextLogger logger = new TextLogger(System.out, TextLogger.levelFromEnvironment());
        installLogger(logger);
        TrustStore.trustCaBundle();

        RuntimeApiClient client = new RuntimeApiClient(environment("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"));
        String taskRoot = environment("LAMBDA_TASK_ROOT", System.getProperty("user.dir"));
        // Layers are at /opt, as on Lambda; without a sandbox the server names their folder.
        ClassLoader loader = customerClassLoader(taskRoot, environment("_SERVERFUL_LAYERS", "/opt") + "/java");
        Thread.currentThread().setContextClassLoader(loader);

        Handlers.Handler handler;
        try {
            handler = Handlers.load(environment("_HANDLER", ""), loader);
        } catch (UserFault fault) {
            logger.log(fault.reportable());
            client.postInitError(fault.errorJson(), BAD_FUNCTION_CODE);
            System.exit(1);
            return;
        }

        ByteArrayOutputStream output = new ByteArrayOutputStream(1024);
        for (;;) {
            RuntimeApiClient.Invocation invocation;
            try {
                invocation = client.next();
            } catch (IOException e) {
                System.err.println("Serverful bootstrap: " + e);
                System.exit(1);
                return;
            }
            if (invocation.traceId != null) {
                System.setProperty(TRACE_PROPERTY, invocation.traceId);
            } else {
                System.clearProperty(TRACE_PROPERTY);
            }
            output.reset();
            Throwable failure = null;
            try {
                handler.call(invocation.payload, output, new InvocationContext(invocation));
            } catch (Throwable t) {
                failure = t;
            }
            // A handler that interrupted its own thread must not break the next poll.
            Thread.interrupted();
            if (failure == null) {
                flushOutput();
                client.postResponse(invocation.requestId, output.toByteArray());
                continue;
            }
            UserFault.filterStackTrace(failure);
            UserFault fault = UserFault.of(failure, false);
            logger.log(fault.reportable());
            flushOutput();
            if (failure instanceof UserFault) {
                client.postError(invocation.requestId, fault.errorJson(), BAD_FUNCTION_CODE);
            } else {
                client.postError(invocation.requestId, UserFault.errorJson(failure), USER_EXCEPTION);
            }
            // After an error the JVM cannot be trusted with (out of memory, a broken
            // stream, a fault marked fatal) the process ends, as on AWS.
            if (failure instanceof VirtualMachineError || failure instanceof IOError || fault.fatal) {
                System.exit(1);
            }
        }
    }

    private static String environment(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    /** Makes {@link LambdaRuntime#getLogger()} the function's logger, as AWS's runtime does. */
    private static void installLogger(LambdaLogger logger) {
        try {
            Field field = LambdaRuntime.class.getDeclaredField("logger");
            field.setAccessible(true);
            field.set(null, logger);
        } catch (ReflectiveOperationException e) {
            System.err.println("Serverful bootstrap: cannot install the Lambda logger: " + e);
        }
    }

    /** Output the handler printed goes out before its answer, so that it precedes END. */
    private static void flushOutput() {
        System.out.flush();
        System.err.flush();
    }

    /**
     * The class path of the function's code as Lambda builds it: the task root (classes at
     * its top), its {@code lib/*.jar}, jars at the task root, then layers' {@code /opt/java/lib/*.jar};
     * jars in each folder in name order. Its parent is the system class loader, so the
     * Lambda core classes are the bootstrap's even when the code bundles its own copy.
     */
    static ClassLoader customerClassLoader(String taskRoot, String layersRoot) {
        List<URL> urls = new ArrayList<>();
        try {
            urls.add(new File(taskRoot).toURI().toURL());
            addJars(new File(taskRoot, "lib"), urls);
            addJars(new File(taskRoot), urls);
            addJars(new File(layersRoot, "lib"), urls);
        } catch (MalformedURLException e) {
            throw new IllegalStateException("Serverful bootstrap: bad class path entry", e);
        }
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getSystemClassLoader());
    }

    private static void addJars(File folder, List<URL> urls) throws MalformedURLException {
        String[] names = folder.list();
        if (names == null) {
            return;
        }
        Arrays.sort(names);
        for (String name : names) {
            File file = new File(folder, name);
            if (name.length() > 4 && name.endsWith(".jar") && file.isFile()) {
                urls.add(file.toURI().toURL());
            }
        }
    }
}
