package serverful.bootstrap;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the handler {@code _HANDLER} names, as AWS's Java runtime does: {@code Class} (a
 * {@link RequestHandler} or {@link RequestStreamHandler}) or {@code Class::method} (any
 * public method taking an event, a Context, or the streams), made once with the class's
 * public no-argument constructor unless the method is static.
 *
 * <p>Problems follow AWS's rules: a handler string without a class, a class that is not
 * found and a method that does not fit are reported on every invocation; an exception while
 * the class initialises or its constructor runs is an init error.
 */
final class Handlers {
    private Handlers() {
    }

    /** A loaded handler: reads the event's bytes, writes the result's. */
    interface Handler {
        void call(byte[] input, ByteArrayOutputStream output, Context context) throws Throwable;
    }

    private static final byte[] JSON_NULL = "null".getBytes(StandardCharsets.UTF_8);

    /** A handler that could not be loaded: it reports its fault at each invocation. */
    static final class Faulty implements Handler {
        final UserFault fault;

        Faulty(UserFault fault) {
            this.fault = fault;
        }

        @Override
        public void call(byte[] input, ByteArrayOutputStream output, Context context) {
            throw fault;
        }
    }

    /**
     * The handler for {@code handler}, loaded through {@code loader}.
     *
     * @throws UserFault a fatal fault: the function's init fails
     */
    static Handler load(String handler, ClassLoader loader) {
        int colon = handler.lastIndexOf("::");
        String className = colon < 0 ? handler : handler.substring(0, colon);
        String methodName = colon < 0 ? null : handler.substring(colon + 2);
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            return new Faulty(UserFault.of("Invalid handler: `" + handler + "'"));
        }
        Class<?> type;
        try {
            type = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return new Faulty(new UserFault("Class not found: " + className, e.getClass().getName(),
                    UserFault.trace(e), false));
        } catch (NoClassDefFoundError e) {
            return new Faulty(initError(e, className));
        } catch (Throwable t) {
            throw initError(t, className);
        }
        Handler loaded = methodName == null ? forClass(type) : forMethod(type, methodName);
        if (loaded instanceof Faulty && ((Faulty) loaded).fault.fatal) {
            throw ((Faulty) loaded).fault;
        }
        return loaded;
    }

    private static UserFault initError(Throwable t, String className) {
        return new UserFault("Error loading class " + className + (t.getMessage() == null ? "" : ": " + t.getMessage()),
                t.getClass().getName(), UserFault.trace(t), true);
    }

    // ------------------------------------------------------------ Class

    private static Handler forClass(Class<?> type) {
        if (RequestStreamHandler.class.isAssignableFrom(type)) {
            try {
                final RequestStreamHandler instance = (RequestStreamHandler) instantiate(type);
                return new Handler() {
                    @Override
                    public void call(byte[] input, ByteArrayOutputStream output, Context context) throws Throwable {
                        instance.handleRequest(new ByteArrayInputStream(input), output, context);
                    }
                };
            } catch (UserFault fault) {
                return new Faulty(fault);
            } catch (Throwable t) {
                return new Faulty(UserFault.of(t, false));
            }
        }
        if (RequestHandler.class.isAssignableFrom(type)) {
            Type[] arguments = interfaceArguments(type, RequestHandler.class);
            if (arguments == null) {
                return new Faulty(UserFault.of("Class " + type.getName()
                        + " does not implement RequestHandler with concrete type parameters"));
            }
            for (Type argument : arguments) {
                if (argument instanceof TypeVariable && unbounded((TypeVariable<?>) argument)) {
                    return new Faulty(UserFault.of("Class " + type.getName()
                            + " does not implement RequestHandler with concrete type parameters: parameter "
                            + argument + " has no upper bound."));
                }
            }
            try {
                @SuppressWarnings("unchecked")
                final RequestHandler<Object, Object> instance = (RequestHandler<Object, Object>) instantiate(type);
                return pojo(arguments[0], arguments[1], new Invoke() {
                    @Override
                    public Object invoke(Object input, Context context) {
                        return instance.handleRequest(input, context);
                    }
                });
            } catch (UserFault fault) {
                return new Faulty(fault);
            } catch (Throwable t) {
                return new Faulty(UserFault.of(t, false));
            }
        }
        return new Faulty(UserFault.of("Class does not implement an appropriate handler interface: " + type.getName()));
    }

    private static boolean unbounded(TypeVariable<?> variable) {
        for (Type bound : variable.getBounds()) {
            if (bound != Object.class) {
                return false;
            }
        }
        return true;
    }

    /**
     * The type arguments {@code type} gives {@code target} (an interface it implements
     * somewhere up its hierarchy), with type variables resolved where the hierarchy binds
     * them; null when it implements it raw.
     */
    static Type[] interfaceArguments(Class<?> type, Class<?> target) {
        return interfaceArguments(type, target, new HashMap<TypeVariable<?>, Type>());
    }

    private static Type[] interfaceArguments(Class<?> type, Class<?> target, Map<TypeVariable<?>, Type> bindings) {
        List<Type> parents = new ArrayList<>(Arrays.asList(type.getGenericInterfaces()));
        if (type.getGenericSuperclass() != null) {
            parents.add(type.getGenericSuperclass());
        }
        for (Type parent : parents) {
            Class<?> raw;
            Map<TypeVariable<?>, Type> inner = new HashMap<>();
            if (parent instanceof ParameterizedType) {
                raw = (Class<?>) ((ParameterizedType) parent).getRawType();
                Type[] arguments = ((ParameterizedType) parent).getActualTypeArguments();
                TypeVariable<?>[] parameters = raw.getTypeParameters();
                Type[] resolved = new Type[arguments.length];
                for (int i = 0; i < arguments.length; i++) {
                    Type argument = arguments[i];
                    resolved[i] = argument instanceof TypeVariable && bindings.containsKey(argument)
                            ? bindings.get(argument)
                            : argument;
                    if (i < parameters.length) {
                        inner.put(parameters[i], resolved[i]);
                    }
                }
                if (raw == target) {
                    return resolved;
                }
            } else if (parent instanceof Class) {
                raw = (Class<?>) parent;
                if (raw == target) {
                    return null;
                }
            } else {
                continue;
            }
            if (target.isAssignableFrom(raw)) {
                return interfaceArguments(raw, target, inner);
            }
        }
        return null;
    }

    // ------------------------------------------------------------ Class::method

    /** Longer signatures first, a trailing Context counting one more; bridges last. */
    private static final Comparator<Method> PRIORITY = new Comparator<Method>() {
        @Override
        public int compare(Method left, Method right) {
            if (left.isBridge() != right.isBridge()) {
                return left.isBridge() ? 1 : -1;
            }
            return Integer.compare(weight(right), weight(left));
        }

        private int weight(Method method) {
            Class<?>[] parameters = method.getParameterTypes();
            int weight = parameters.length;
            if (parameters.length > 0 && parameters[parameters.length - 1] == Context.class) {
                weight++;
            }
            return weight;
        }
    };

    private static Handler forMethod(Class<?> type, String name) {
        Method[] all;
        try {
            all = type.getMethods();
        } catch (NoClassDefFoundError e) {
            return new Faulty(new UserFault("Error loading method " + name + " on class " + type.getName(),
                    e.getClass().getName(), UserFault.trace(e), false));
        }
        List<Method> candidates = new ArrayList<>();
        for (Method method : all) {
            if (method.getName().equals(name)) {
                candidates.add(method);
            }
        }
        candidates.sort(PRIORITY);
        for (Method method : candidates) {
            Handler handler = forOverload(type, method);
            if (handler != null) {
                return handler;
            }
        }
        return new Faulty(UserFault.of("No public method named " + name
                + " with appropriate method signature found on class " + type.getName()));
    }

    /** The handler for one overload, or null when its parameters are not a handler's. */
    private static Handler forOverload(Class<?> type, Method method) {
        Type[] parameters = method.getGenericParameterTypes();
        Type result = method.getGenericReturnType();
        switch (parameters.length) {
            case 0:
                return pojoMethod(type, method, null, result, false);
            case 1:
                if (parameters[0] == InputStream.class) {
                    return streamMethod(type, method, true, false, false);
                }
                if (parameters[0] == OutputStream.class) {
                    return streamMethod(type, method, false, true, false);
                }
                if (parameters[0] == Context.class) {
                    return pojoMethod(type, method, null, result, true);
                }
                return pojoMethod(type, method, parameters[0], result, false);
            case 2:
                if (parameters[0] == OutputStream.class && parameters[1] == Context.class) {
                    return streamMethod(type, method, false, true, true);
                }
                if (parameters[0] == InputStream.class && parameters[1] == OutputStream.class) {
                    return streamMethod(type, method, true, true, false);
                }
                if (parameters[0] == InputStream.class && parameters[1] == Context.class) {
                    return streamMethod(type, method, true, false, true);
                }
                if (parameters[0] != Context.class && parameters[0] != InputStream.class
                        && parameters[0] != OutputStream.class && parameters[1] == Context.class) {
                    return pojoMethod(type, method, parameters[0], result, true);
                }
                System.err.println("Ignoring overload " + method + ": two parameters must be (event, Context), "
                        + "(InputStream, OutputStream), (InputStream, Context) or (OutputStream, Context)");
                return null;
            case 3:
                if (parameters[0] == InputStream.class && parameters[1] == OutputStream.class
                        && parameters[2] == Context.class) {
                    return streamMethod(type, method, true, true, true);
                }
                System.err.println("Ignoring overload " + method
                        + ": three parameters must be (InputStream, OutputStream, Context)");
                return null;
            default:
                System.err.println("Ignoring overload " + method + ": a handler takes at most 3 parameters");
                return null;
        }
    }

    /** The object a non-static handler method runs on, made once. */
    private static Object receiver(Class<?> type, Method method) throws Exception {
        return Modifier.isStatic(method.getModifiers()) ? null : instantiate(type);
    }

    private static Handler pojoMethod(Class<?> type, final Method method, final Type input, Type result,
            final boolean needsContext) {
        try {
            final Object receiver = receiver(type, method);
            method.setAccessible(true);
            return pojo(input, result, new Invoke() {
                @Override
                public Object invoke(Object event, Context context) throws Throwable {
                    List<Object> arguments = new ArrayList<>(2);
                    if (input != null) {
                        arguments.add(event);
                    }
                    if (needsContext) {
                        arguments.add(context);
                    }
                    try {
                        return method.invoke(receiver, arguments.toArray());
                    } catch (InvocationTargetException e) {
                        throw e.getCause() != null ? e.getCause() : e;
                    }
                }
            });
        } catch (UserFault fault) {
            return new Faulty(fault);
        } catch (Throwable t) {
            return new Faulty(UserFault.of(t, false));
        }
    }

    private static Handler streamMethod(Class<?> type, final Method method, final boolean needsInput,
            final boolean needsOutput, final boolean needsContext) {
        try {
            if (method.getReturnType() != void.class && method.getReturnType() != Void.class) {
                System.err.println("Will ignore return type " + method.getReturnType() + " on byte stream handler");
            }
            final Object receiver = receiver(type, method);
            method.setAccessible(true);
            return new Handler() {
                @Override
                public void call(byte[] input, ByteArrayOutputStream output, Context context) throws Throwable {
                    List<Object> arguments = new ArrayList<>(3);
                    if (needsInput) {
                        arguments.add(new ByteArrayInputStream(input));
                    }
                    if (needsOutput) {
                        arguments.add(output);
                    }
                    if (needsContext) {
                        arguments.add(context);
                    }
                    try {
                        method.invoke(receiver, arguments.toArray());
                    } catch (InvocationTargetException e) {
                        throw e.getCause() != null ? e.getCause() : e;
                    }
                    if (!needsOutput) {
                        output.write(JSON_NULL);
                    }
                }
            };
        } catch (UserFault fault) {
            return new Faulty(fault);
        } catch (Throwable t) {
            return new Faulty(UserFault.of(t, false));
        }
    }

    /** Calls the user's code with the event as its input type. */
    private interface Invoke {
        Object invoke(Object input, Context context) throws Throwable;
    }

    /**
     * A handler whose event is read from JSON as {@code input} (none when null) and whose
     * result is written as JSON ({@code null} for a void method).
     */
    private static Handler pojo(final Type input, final Type result, final Invoke invoke) {
        final boolean isVoid = result == void.class || result == Void.class;
        return new Handler() {
            @Override
            public void call(byte[] bytes, ByteArrayOutputStream output, Context context) throws Throwable {
                Object event = null;
                if (input != null) {
                    try {
                        event = Mapper.read(Json.parse(bytes), input);
                    } catch (Throwable t) {
                        throw new RuntimeException("An error occurred during JSON parsing", UserFault.filterStackTrace(t));
                    }
                }
                Object answer = invoke.invoke(event, context);
                if (isVoid) {
                    output.write(JSON_NULL);
                    return;
                }
                byte[] json;
                try {
                    json = Mapper.write(answer).getBytes(StandardCharsets.UTF_8);
                } catch (Throwable t) {
                    throw new RuntimeException("An error occurred during JSON serialization of response", t);
                }
                output.write(json);
            }
        };
    }

    // ------------------------------------------------------------ instances

    /**
     * A handler class's one instance, made with its public no-argument constructor. An
     * exception the constructor throws is a fatal fault: the init fails.
     */
    private static Object instantiate(Class<?> type) throws Exception {
        Constructor<?> constructor;
        try {
            constructor = type.getConstructor();
        } catch (NoSuchMethodException e) {
            if (type.getEnclosingClass() != null && !Modifier.isStatic(type.getModifiers())) {
                throw new Exception("Class " + type.getName()
                        + " cannot be instantiated because it is a non-static inner class");
            }
            throw new Exception("Class " + type.getName() + " has no public zero-argument constructor", e);
        }
        try {
            return constructor.newInstance();
        } catch (InvocationTargetException e) {
            throw UserFault.of(e.getCause() == null ? e : e.getCause(), true);
        }
    }
}
