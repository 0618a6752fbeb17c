package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;

/** Its constructor throws, so the function's init fails. */
public class Broken implements RequestHandler<String, String> {
    public Broken() {
        throw new IllegalArgumentException("no configuration for the broken function");
    }

    @Override
    public String handleRequest(String input, Context context) {
        return input;
    }
}
