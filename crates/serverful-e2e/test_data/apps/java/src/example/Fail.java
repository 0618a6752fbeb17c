package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.Map;

/** Handlers that fail. */
public class Fail {
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        throw new IllegalStateException("the order book is closed");
    }

    /** Four parameters: no handler signature. */
    public String misfit(String a, String b, String c, String d) {
        return a + b + c + d;
    }
}
