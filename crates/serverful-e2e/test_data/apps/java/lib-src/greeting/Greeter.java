package greeting;

/** Lives in lib/greeting.jar, on the function's class path as Lambda builds it. */
public final class Greeter {
    private Greeter() {
    }

    public static String greet(String name) {
        return "Hello, " + name + "!";
    }
}
