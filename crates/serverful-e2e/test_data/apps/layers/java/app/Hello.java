package app;

import java.util.Map;

/**
 * Calls a class that only the layer's jar holds. It is found by name, so that this class
 * compiles without the layer.
 */
public class Hello {
    public static Map<String, Object> handle(Map<String, Object> event) throws Exception {
        Class<?> greeter = Class.forName("layer.Greeter", true, Thread.currentThread().getContextClassLoader());
        Object greeting = greeter.getMethod("greet", String.class).invoke(null, "java");
        String jar = greeter.getProtectionDomain().getCodeSource().getLocation().getPath();
        String body = "{\"greeting\":\"" + greeting + "\",\"jar\":\"" + jar + "\"}";
        return Map.of("statusCode", 200, "body", body);
    }
}
