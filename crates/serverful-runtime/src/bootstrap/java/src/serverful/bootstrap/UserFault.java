package serverful.bootstrap;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A failure of the function rather than of its handler's logic (a handler that cannot be
 * found or made), or the description of an exception the handler threw, as AWS's Java
 * runtime reports both: a message, the exception's class and its printed stack trace. A
 * fatal fault ends the process after it is reported.
 */
final class UserFault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** Stack frames from here on belong to the bootstrap and are cut from traces. */
    private static final String BOOTSTRAP_PACKAGE = UserFault.class.getPackage().getName();

    final String msg;
    /** The exception's class name, or null for a fault with a message only. */
    final String exception;
    /** The exception's printed stack trace, or null. */
    final String trace;
    final boolean fatal;

    UserFault(String msg, String exception, String trace, boolean fatal) {
        super(msg, null, false, false);
        this.msg = msg;
        this.exception = exception;
        this.trace = trace;
        this.fatal = fatal;
    }

    /** A fault with a message only (no exception, no trace). */
    static UserFault of(String msg) {
        return new UserFault(msg, null, null, false);
    }

    static UserFault of(Throwable t, boolean fatal) {
        if (t instanceof UserFault) {
            return (UserFault) t;
        }
        return new UserFault(messageOf(t), t.getClass().getName(), trace(t), fatal);
    }

    /** The error message Lambda shows for {@code t}: its message, else its class name. */
    static String messageOf(Throwable t) {
        String message = t.getLocalizedMessage();
        return message == null ? t.getClass().getName() : message;
    }

    static String trace(Throwable t) {
        filterStackTrace(t);
        StringWriter out = new StringWriter();
        t.printStackTrace(new PrintWriter(out));
        return out.toString();
    }

    /** Cuts the bootstrap's own frames from {@code t}'s trace, its causes' and suppressed ones'. */
    static <T extends Throwable> T filterStackTrace(T t) {
        filter(t, Collections.newSetFromMap(new IdentityHashMap<Throwable, Boolean>()));
        return t;
    }

    private static void filter(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] trace = t.getStackTrace();
        for (int i = 0; i < trace.length; i++) {
            if (trace[i].getClassName().startsWith(BOOTSTRAP_PACKAGE + ".")) {
                StackTraceElement[] kept = new StackTraceElement[i];
                System.arraycopy(trace, 0, kept, 0, i);
                t.setStackTrace(kept);
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable suppressed : t.getSuppressed()) {
            filter(suppressed, seen);
        }
    }

    /** The text AWS's runtime logs for a fault: message, exception class, trace. */
    String reportable() {
        if (exception != null || trace != null) {
            return msg + ": " + (exception == null ? "" : exception) + "\n" + (trace == null ? "" : trace) + "\n";
        }
        return msg + "\n";
    }

    /** The fault as the Runtime API's error JSON: message and type, no trace. */
    String errorJson() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("errorMessage", msg);
        if (exception != null) {
            body.put("errorType", exception);
        }
        return Json.write(body);
    }

    /** An exception as the Runtime API's error JSON: message, class and stack frames. */
    static String errorJson(Throwable t) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("errorMessage", messageOf(t));
        body.put("errorType", t.getClass().getName());
        java.util.List<Object> frames = new java.util.ArrayList<>();
        for (StackTraceElement frame : t.getStackTrace()) {
            frames.add(frame.toString());
        }
        body.put("stackTrace", frames);
        return Json.write(body);
    }
}
