package serverful.bootstrap;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.PrintStream;

/**
 * The function's {@link LambdaLogger}, in Lambda's text log format: the message as given,
 * or prefixed with {@code [LEVEL] } when logged at a level, and dropped below
 * {@code AWS_LAMBDA_LOG_LEVEL}. Each call is one entry: on Lambda each becomes its own log
 * event, so one without a line break gets one here.
 */
final class TextLogger implements LambdaLogger {
    private final PrintStream out;
    private final LogLevel minimum;

    TextLogger(PrintStream out, LogLevel minimum) {
        this.out = out;
        this.minimum = minimum;
    }

    static LogLevel levelFromEnvironment() {
        String level = System.getenv("AWS_LAMBDA_LOG_LEVEL");
        if (level == null || level.isEmpty()) {
            return LogLevel.UNDEFINED;
        }
        try {
            return LogLevel.fromString(level);
        } catch (IllegalArgumentException e) {
            return LogLevel.UNDEFINED;
        }
    }

    private boolean enabled(LogLevel level) {
        return level == LogLevel.UNDEFINED || level.ordinal() >= minimum.ordinal();
    }

    @Override
    public void log(String message) {
        log(message, LogLevel.UNDEFINED);
    }

    @Override
    public void log(byte[] message) {
        log(message, LogLevel.UNDEFINED);
    }

    @Override
    public void log(String message, LogLevel level) {
        if (!enabled(level)) {
            return;
        }
        String text = message == null ? "null" : message;
        if (level != LogLevel.UNDEFINED) {
            text = "[" + level + "] " + text;
        }
        synchronized (out) {
            out.print(text.endsWith("\n") ? text : text + "\n");
            out.flush();
        }
    }

    @Override
    public void log(byte[] message, LogLevel level) {
        if (!enabled(level)) {
            return;
        }
        byte[] bytes = message == null ? "null".getBytes(java.nio.charset.StandardCharsets.UTF_8) : message;
        synchronized (out) {
            out.write(bytes, 0, bytes.length);
            if (bytes.length == 0 || bytes[bytes.length - 1] != '\n') {
                out.write('\n');
            }
            out.flush();
        }
    }
}
