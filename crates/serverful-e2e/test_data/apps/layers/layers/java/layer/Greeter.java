package layer;

/** A class shipped in a layer's java/lib jar, as Lambda puts /opt/java/lib on the class path. */
public final class Greeter {
    private Greeter() {}

    public static String greet(String name) {
        return "hello " + name + " from a layer jar";
    }
}
