package serverful.bootstrap;

import java.lang.reflect.AccessibleObject;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.URI;
import java.net.URL;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Calendar;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Values of Java types to and from JSON trees ({@link Json}), following the Jackson settings
 * of AWS's Java runtime: bean properties by getters and setters with standard bean naming
 * ({@code getURL} is {@code URL}, {@code getName} is {@code name}, {@code isActive} for a
 * {@code boolean}), public fields, records, enums by name, nulls left out of objects,
 * unknown properties ignored, a single value accepted where a list is expected and a
 * one-element list where a single value is. Property names that match no property exactly
 * are matched ignoring case, so that the capitalised names of AWS's own events ({@code
 * Records}, {@code Sns}) reach the beans of the {@code aws-lambda-java-events} library.
 */
final class Mapper {
    private Mapper() {
    }

    /** A value that does not fit its type, or a type that cannot be made. */
    static final class MappingException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MappingException(String message) {
            super(message);
        }

        MappingException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Type variables bound to the types they stand for. */
    private static final Map<TypeVariable<?>, Type> NO_BINDINGS = Collections.emptyMap();

    // ---------------------------------------------------------------- reading

    /** The value of type {@code type} that {@code tree} describes. */
    static Object read(Object tree, Type type) {
        return read(tree, type, NO_BINDINGS);
    }

    private static Object read(Object tree, Type type, Map<TypeVariable<?>, Type> bindings) {
        if (type instanceof TypeVariable) {
            Type bound = bindings.get(type);
            return read(tree, bound != null ? bound : ((TypeVariable<?>) type).getBounds()[0], bindings);
        }
        if (type instanceof WildcardType) {
            return read(tree, ((WildcardType) type).getUpperBounds()[0], bindings);
        }
        if (type instanceof GenericArrayType) {
            Type component = ((GenericArrayType) type).getGenericComponentType();
            return readArray(tree, component, rawClass(component, bindings), bindings);
        }
        Class<?> raw;
        Type[] arguments;
        if (type instanceof ParameterizedType) {
            raw = (Class<?>) ((ParameterizedType) type).getRawType();
            arguments = ((ParameterizedType) type).getActualTypeArguments();
        } else if (type instanceof Class) {
            raw = (Class<?>) type;
            arguments = null;
        } else {
            throw new MappingException("Cannot map JSON to " + type);
        }

        if (tree == null) {
            if (raw == Optional.class) {
                return Optional.empty();
            }
            return raw.isPrimitive() ? primitiveZero(raw) : null;
        }
        if (raw == Object.class || raw == java.io.Serializable.class) {
            return untyped(tree);
        }
        if (raw == Optional.class) {
            return Optional.ofNullable(read(tree, argument(arguments, 0), bindings));
        }
        if (raw.isArray()) {
            return readArray(tree, raw.getComponentType(), raw.getComponentType(), bindings);
        }
        if (Collection.class.isAssignableFrom(raw) || raw == Iterable.class) {
            return readCollection(tree, raw, argument(arguments, 0), bindings);
        }
        if (Map.class.isAssignableFrom(raw)) {
            return readMap(tree, raw, argument(arguments, 0), argument(arguments, 1), bindings);
        }
        // A one-element list stands for its element where a single value is expected.
        if (tree instanceof List && ((List<?>) tree).size() == 1) {
            return read(((List<?>) tree).get(0), type, bindings);
        }
        Object scalar = readScalar(tree, raw);
        if (scalar != NOT_SCALAR) {
            return scalar;
        }
        // An empty string or an empty list stands for no object.
        if ((tree instanceof String && ((String) tree).isEmpty())
                || (tree instanceof List && ((List<?>) tree).isEmpty())) {
            return null;
        }
        if (!(tree instanceof Map)) {
            throw new MappingException("Cannot deserialize value of type `" + raw.getName() + "` from "
                    + describe(tree));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> object = (Map<String, Object>) tree;
        Map<TypeVariable<?>, Type> own = bindingsOf(raw, arguments, bindings);
        if (Records.isRecord(raw)) {
            return readRecord(object, raw, own);
        }
        return readBean(object, raw, own);
    }

    private static Type argument(Type[] arguments, int index) {
        return arguments != null && arguments.length > index ? arguments[index] : Object.class;
    }

    /** A tree as Jackson reads JSON into {@code Object}: maps, lists, strings, numbers, booleans. */
    static Object untyped(Object tree) {
        if (tree instanceof Json.Number) {
            return ((Json.Number) tree).untyped();
        }
        if (tree instanceof Map) {
            Map<String, Object> copy = new LinkedHashMap<>();
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) tree).entrySet()) {
                copy.put(String.valueOf(entry.getKey()), untyped(entry.getValue()));
            }
            return copy;
        }
        if (tree instanceof List) {
            List<Object> copy = new ArrayList<>();
            for (Object item : (List<?>) tree) {
                copy.add(untyped(item));
            }
            return copy;
        }
        return tree;
    }

    private static String describe(Object tree) {
        if (tree instanceof Map) {
            return "Object value";
        }
        if (tree instanceof List) {
            return "Array value";
        }
        if (tree instanceof String) {
            return "String value (\"" + tree + "\")";
        }
        if (tree instanceof Boolean) {
            return "Boolean value (" + tree + ")";
        }
        return "Number value (" + tree + ")";
    }

    private static Class<?> rawClass(Type type, Map<TypeVariable<?>, Type> bindings) {
        if (type instanceof Class) {
            return (Class<?>) type;
        }
        if (type instanceof ParameterizedType) {
            return (Class<?>) ((ParameterizedType) type).getRawType();
        }
        if (type instanceof GenericArrayType) {
            Class<?> component = rawClass(((GenericArrayType) type).getGenericComponentType(), bindings);
            return Array.newInstance(component, 0).getClass();
        }
        if (type instanceof TypeVariable) {
            Type bound = bindings.get(type);
            return rawClass(bound != null ? bound : ((TypeVariable<?>) type).getBounds()[0], bindings);
        }
        if (type instanceof WildcardType) {
            return rawClass(((WildcardType) type).getUpperBounds()[0], bindings);
        }
        return Object.class;
    }

    private static Object readArray(Object tree, Type component, Class<?> componentClass,
            Map<TypeVariable<?>, Type> bindings) {
        if (tree instanceof String && componentClass == byte.class) {
            return Base64.getMimeDecoder().decode((String) tree);
        }
        if (tree instanceof String && componentClass == char.class) {
            return ((String) tree).toCharArray();
        }
        if (tree instanceof String && ((String) tree).isEmpty()) {
            return null;
        }
        List<?> items = tree instanceof List ? (List<?>) tree : Collections.singletonList(tree);
        Object array = Array.newInstance(componentClass, items.size());
        for (int i = 0; i < items.size(); i++) {
            Array.set(array, i, read(items.get(i), component, bindings));
        }
        return array;
    }

    @SuppressWarnings("unchecked")
    private static Object readCollection(Object tree, Class<?> raw, Type element,
            Map<TypeVariable<?>, Type> bindings) {
        if (tree instanceof String && ((String) tree).isEmpty()) {
            return null;
        }
        Collection<Object> collection;
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (SortedSet.class.isAssignableFrom(raw) || NavigableSet.class.isAssignableFrom(raw)) {
                collection = new TreeSet<>();
            } else if (Set.class.isAssignableFrom(raw)) {
                collection = new LinkedHashSet<>();
            } else if (Queue.class.isAssignableFrom(raw) && !List.class.isAssignableFrom(raw)) {
                collection = new ArrayDeque<>();
            } else {
                collection = new ArrayList<>();
            }
        } else {
            collection = (Collection<Object>) construct(raw);
        }
        List<?> items = tree instanceof List ? (List<?>) tree : Collections.singletonList(tree);
        for (Object item : items) {
            collection.add(read(item, element, bindings));
        }
        return collection;
    }

    @SuppressWarnings("unchecked")
    private static Object readMap(Object tree, Class<?> raw, Type keyType, Type valueType,
            Map<TypeVariable<?>, Type> bindings) {
        if ((tree instanceof String && ((String) tree).isEmpty())
                || (tree instanceof List && ((List<?>) tree).isEmpty())) {
            return null;
        }
        if (!(tree instanceof Map)) {
            throw new MappingException("Cannot deserialize value of type `" + raw.getName() + "` from "
                    + describe(tree));
        }
        Map<Object, Object> map;
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (SortedMap.class.isAssignableFrom(raw) || NavigableMap.class.isAssignableFrom(raw)) {
                map = new TreeMap<>();
            } else if (java.util.concurrent.ConcurrentMap.class.isAssignableFrom(raw)) {
                map = new ConcurrentHashMap<>();
            } else {
                map = new LinkedHashMap<>();
            }
        } else {
            map = (Map<Object, Object>) construct(raw);
        }
        Class<?> keyClass = rawClass(keyType, bindings);
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) tree).entrySet()) {
            Object key = readScalar(entry.getKey(), keyClass);
            if (key == NOT_SCALAR) {
                key = entry.getKey();
            }
            map.put(key, read(entry.getValue(), valueType, bindings));
        }
        return map;
    }

    /** Marks a type {@link #readScalar} does not handle. */
    private static final Object NOT_SCALAR = new Object();

    private static Object primitiveZero(Class<?> type) {
        if (type == boolean.class) {
            return false;
        }
        if (type == char.class) {
            return '\0';
        }
        return readNumber(BigDecimal.ZERO, type);
    }

    /**
     * Strings, numbers, booleans, characters, enums, dates and the like from a scalar tree;
     * {@link #NOT_SCALAR} for other types.
     */
    private static Object readScalar(Object tree, Class<?> type) {
        if (type == String.class || type == CharSequence.class) {
            if (tree instanceof Map || tree instanceof List) {
                throw new MappingException("Cannot deserialize value of type `java.lang.String` from "
                        + describe(tree));
            }
            return tree.toString();
        }
        Class<?> boxed = boxed(type);
        if (boxed == Boolean.class) {
            if (tree instanceof Boolean) {
                return tree;
            }
            if (tree instanceof Json.Number) {
                return ((Json.Number) tree).doubleValue() != 0;
            }
            if (tree instanceof String) {
                String text = ((String) tree).trim();
                if (text.isEmpty()) {
                    return type.isPrimitive() ? Boolean.FALSE : null;
                }
                if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
                    return Boolean.valueOf(text);
                }
            }
            throw new MappingException("Cannot deserialize value of type `" + type.getName() + "` from "
                    + describe(tree));
        }
        if (boxed == Character.class) {
            if (tree instanceof String && ((String) tree).length() == 1) {
                return ((String) tree).charAt(0);
            }
            if (tree instanceof Json.Number) {
                return (char) ((Json.Number) tree).intValue();
            }
            if (tree instanceof String && ((String) tree).isEmpty()) {
                return type.isPrimitive() ? '\0' : null;
            }
            throw new MappingException("Cannot deserialize value of type `" + type.getName() + "` from "
                    + describe(tree));
        }
        if (java.lang.Number.class.isAssignableFrom(boxed)) {
            if (tree instanceof Json.Number) {
                Json.Number number = (Json.Number) tree;
                if (boxed == java.lang.Number.class) {
                    return number.untyped();
                }
                if (boxed == Double.class || boxed == Float.class) {
                    double value = number.doubleValue();
                    return boxed == Double.class ? (Object) value : (Object) (float) value;
                }
                return readNumber(number.bigDecimal(), boxed);
            }
            if (tree instanceof String) {
                String text = ((String) tree).trim();
                if (text.isEmpty()) {
                    return type.isPrimitive() ? primitiveZero(type) : null;
                }
                if (boxed == Double.class || boxed == Float.class) {
                    try {
                        double value = Double.parseDouble(text);
                        return boxed == Double.class ? (Object) value : (Object) (float) value;
                    } catch (NumberFormatException e) {
                        throw new MappingException("Cannot deserialize value of type `" + type.getName()
                                + "` from String \"" + text + "\": not a valid number");
                    }
                }
                try {
                    BigDecimal value = new BigDecimal(text);
                    return boxed == java.lang.Number.class ? new Json.Number(text).untyped() : readNumber(value, boxed);
                } catch (NumberFormatException e) {
                    throw new MappingException("Cannot deserialize value of type `" + type.getName()
                            + "` from String \"" + text + "\": not a valid number");
                }
            }
            if (tree instanceof Boolean && (boxed == Integer.class || boxed == Long.class)) {
                return readNumber(((Boolean) tree) ? BigDecimal.ONE : BigDecimal.ZERO, boxed);
            }
            throw new MappingException("Cannot deserialize value of type `" + type.getName() + "` from "
                    + describe(tree));
        }
        if (type.isEnum()) {
            return readEnum(tree, type);
        }
        if (tree instanceof Map || tree instanceof List) {
            return NOT_SCALAR;
        }
        String text = tree.toString();
        if (type == UUID.class) {
            return text.isEmpty() ? null : UUID.fromString(text);
        }
        if (type == URI.class) {
            return URI.create(text);
        }
        if (type == URL.class) {
            try {
                return new URL(text);
            } catch (java.net.MalformedURLException e) {
                throw new MappingException("Cannot deserialize value of type `java.net.URL` from \"" + text + "\"", e);
            }
        }
        if (type == Locale.class) {
            return Locale.forLanguageTag(text.replace('_', '-'));
        }
        if (type == Date.class) {
            if (tree instanceof Json.Number) {
                return new Date(((Json.Number) tree).longValue());
            }
            return text.isEmpty() ? null : Date.from(parseInstant(text));
        }
        if (type == java.time.Instant.class) {
            if (tree instanceof Json.Number) {
                BigDecimal seconds = ((Json.Number) tree).bigDecimal();
                return java.time.Instant.ofEpochSecond(seconds.longValue(),
                        seconds.remainder(BigDecimal.ONE).movePointRight(9).longValue());
            }
            return text.isEmpty() ? null : parseInstant(text);
        }
        if (type.getName().startsWith("java.time.")) {
            if (text.isEmpty()) {
                return null;
            }
            return parseTime(type, text);
        }
        if (type == Class.class) {
            throw new MappingException("Cannot deserialize a java.lang.Class");
        }
        return NOT_SCALAR;
    }

    private static java.time.Instant parseInstant(String text) {
        try {
            return java.time.Instant.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
            try {
                return java.time.OffsetDateTime.parse(text).toInstant();
            } catch (java.time.format.DateTimeParseException again) {
                throw new MappingException("Cannot deserialize a date from \"" + text + "\"", e);
            }
        }
    }

    /** A {@code java.time} value from its ISO-8601 text, through the type's own parser. */
    private static Object parseTime(Class<?> type, String text) {
        try {
            if (type == java.time.ZoneId.class) {
                return java.time.ZoneId.of(text);
            }
            Method parse = type.getMethod("parse", CharSequence.class);
            return parse.invoke(null, text);
        } catch (NoSuchMethodException | IllegalAccessException e) {
            throw new MappingException("Cannot deserialize value of type `" + type.getName() + "`", e);
        } catch (InvocationTargetException e) {
            throw new MappingException("Cannot deserialize value of type `" + type.getName() + "` from \""
                    + text + "\"", e.getCause());
        }
    }

    private static Object readEnum(Object tree, Class<?> type) {
        Object[] constants = type.getEnumConstants();
        if (tree instanceof Json.Number) {
            int ordinal = ((Json.Number) tree).intValue();
            return ordinal >= 0 && ordinal < constants.length ? constants[ordinal] : null;
        }
        if (tree instanceof String) {
            for (Object constant : constants) {
                if (((Enum<?>) constant).name().equals(tree)) {
                    return constant;
                }
            }
            // An unknown name reads as null, as with AWS's settings.
            return null;
        }
        throw new MappingException("Cannot deserialize value of type `" + type.getName() + "` from "
                + describe(tree));
    }

    private static Class<?> boxed(Class<?> type) {
        if (!type.isPrimitive()) {
            return type;
        }
        if (type == int.class) {
            return Integer.class;
        }
        if (type == long.class) {
            return Long.class;
        }
        if (type == boolean.class) {
            return Boolean.class;
        }
        if (type == double.class) {
            return Double.class;
        }
        if (type == float.class) {
            return Float.class;
        }
        if (type == short.class) {
            return Short.class;
        }
        if (type == byte.class) {
            return Byte.class;
        }
        if (type == char.class) {
            return Character.class;
        }
        return Void.class;
    }

    /** {@code value} as the integral or decimal type {@code boxed}, refusing what does not fit. */
    private static Object readNumber(BigDecimal value, Class<?> boxed) {
        if (boxed == BigDecimal.class) {
            return value;
        }
        if (boxed == Double.class) {
            return value.doubleValue();
        }
        if (boxed == Float.class) {
            return value.floatValue();
        }
        // A fraction is dropped where an integer is expected, as Jackson does by default.
        BigInteger integer = value.toBigInteger();
        if (boxed == BigInteger.class) {
            return integer;
        }
        if (boxed == Long.class || boxed == java.util.concurrent.atomic.AtomicLong.class) {
            checkRange(integer, 64, "long");
            long result = integer.longValue();
            return boxed == Long.class ? (Object) result : new java.util.concurrent.atomic.AtomicLong(result);
        }
        if (boxed == Integer.class || boxed == java.util.concurrent.atomic.AtomicInteger.class) {
            checkRange(integer, 32, "int");
            int result = integer.intValue();
            return boxed == Integer.class ? (Object) result : new java.util.concurrent.atomic.AtomicInteger(result);
        }
        if (boxed == Short.class) {
            checkRange(integer, 16, "short");
            return integer.shortValue();
        }
        if (boxed == Byte.class) {
            // Jackson accepts 0..255 for a byte, as an unsigned value.
            if (integer.signum() >= 0 && integer.bitLength() <= 8) {
                return (byte) integer.intValue();
            }
            checkRange(integer, 8, "byte");
            return integer.byteValue();
        }
        throw new MappingException("Cannot deserialize a number into `" + boxed.getName() + "`");
    }

    private static void checkRange(BigInteger value, int bits, String name) {
        if (value.bitLength() >= bits) {
            throw new MappingException("Numeric value (" + value + ") out of range of " + name);
        }
    }

    private static Object construct(Class<?> type) {
        if (type.getEnclosingClass() != null && !Modifier.isStatic(type.getModifiers())) {
            throw new MappingException("Cannot construct instance of `" + type.getName()
                    + "`: a non-static inner class cannot be created from JSON; make it static");
        }
        if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
            throw new MappingException("Cannot construct instance of `" + type.getName()
                    + "`: abstract types need to be mapped to concrete types");
        }
        Constructor<?> constructor;
        try {
            constructor = type.getDeclaredConstructor();
        } catch (NoSuchMethodException e) {
            throw new MappingException("Cannot construct instance of `" + type.getName()
                    + "` (no Creators, like default constructor, exist)");
        }
        accessible(constructor);
        try {
            return constructor.newInstance();
        } catch (InvocationTargetException e) {
            throw new MappingException("Cannot construct instance of `" + type.getName() + "`", e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new MappingException("Cannot construct instance of `" + type.getName() + "`", e);
        }
    }

    private static void accessible(AccessibleObject member) {
        try {
            member.setAccessible(true);
        } catch (RuntimeException e) {
            // A member of a JDK module stays as it is; public ones still work.
        }
    }

    /** The bindings of {@code type}'s own type parameters and those of its superclasses. */
    private static Map<TypeVariable<?>, Type> bindingsOf(Class<?> type, Type[] arguments,
            Map<TypeVariable<?>, Type> outer) {
        Map<TypeVariable<?>, Type> bindings = new HashMap<>(outer);
        TypeVariable<?>[] parameters = type.getTypeParameters();
        if (arguments != null) {
            for (int i = 0; i < parameters.length && i < arguments.length; i++) {
                bindings.put(parameters[i], resolve(arguments[i], outer));
            }
        }
        for (Class<?> current = type; current != null && current != Object.class; current = current.getSuperclass()) {
            Type parent = current.getGenericSuperclass();
            if (parent instanceof ParameterizedType) {
                Class<?> parentClass = (Class<?>) ((ParameterizedType) parent).getRawType();
                Type[] parentArguments = ((ParameterizedType) parent).getActualTypeArguments();
                TypeVariable<?>[] parentParameters = parentClass.getTypeParameters();
                for (int i = 0; i < parentParameters.length && i < parentArguments.length; i++) {
                    bindings.put(parentParameters[i], resolve(parentArguments[i], bindings));
                }
            }
        }
        return bindings;
    }

    private static Type resolve(Type type, Map<TypeVariable<?>, Type> bindings) {
        if (type instanceof TypeVariable && bindings.containsKey(type)) {
            return bindings.get(type);
        }
        return type;
    }

    /** How a bean's property is set. */
    private static final class Setter {
        final Method method;
        final Field field;

        Setter(Method method, Field field) {
            this.method = method;
            this.field = field;
        }

        Type type() {
            return method != null ? method.getGenericParameterTypes()[0] : field.getGenericType();
        }

        void set(Object bean, Object value) {
            try {
                if (method != null) {
                    method.invoke(bean, value);
                } else {
                    field.set(bean, value);
                }
            } catch (InvocationTargetException e) {
                throw new MappingException("Failed to set property `" + name() + "`", e.getCause());
            } catch (IllegalAccessException e) {
                throw new MappingException("Failed to set property `" + name() + "`", e);
            }
        }

        String name() {
            return method != null ? method.getName() : field.getName();
        }
    }

    /** A bean class's settable properties, exact names and lower-cased names. */
    private static final class Setters {
        final Map<String, Setter> exact = new HashMap<>();
        final Map<String, Setter> folded = new HashMap<>();

        Setter find(String name) {
            Setter setter = exact.get(name);
            return setter != null ? setter : folded.get(name.toLowerCase(Locale.ROOT));
        }
    }

    private static final Map<Class<?>, Setters> SETTERS = new ConcurrentHashMap<>();

    private static Setters settersOf(Class<?> type) {
        Setters cached = SETTERS.get(type);
        if (cached != null) {
            return cached;
        }
        Setters setters = new Setters();
        // Subclasses first, so that their setters win over those they override.
        for (Class<?> current = type; current != null && current != Object.class; current = current.getSuperclass()) {
            for (Method method : current.getDeclaredMethods()) {
                String name = method.getName();
                if (Modifier.isStatic(method.getModifiers()) || method.isBridge() || method.isSynthetic()
                        || method.getParameterCount() != 1 || name.length() <= 3 || !name.startsWith("set")) {
                    continue;
                }
                String property = beanName(name.substring(3));
                if (!setters.exact.containsKey(property)) {
                    accessible(method);
                    setters.exact.put(property, new Setter(method, null));
                }
            }
        }
        for (Field field : type.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) || Modifier.isTransient(field.getModifiers())
                    || Modifier.isFinal(field.getModifiers())) {
                continue;
            }
            if (!setters.exact.containsKey(field.getName())) {
                accessible(field);
                setters.exact.put(field.getName(), new Setter(null, field));
            }
        }
        for (Map.Entry<String, Setter> entry : setters.exact.entrySet()) {
            String folded = entry.getKey().toLowerCase(Locale.ROOT);
            if (!setters.folded.containsKey(folded)) {
                setters.folded.put(folded, entry.getValue());
            }
        }
        SETTERS.put(type, setters);
        return setters;
    }

    private static Object readBean(Map<String, Object> object, Class<?> type, Map<TypeVariable<?>, Type> bindings) {
        Object bean = construct(type);
        Setters setters = settersOf(type);
        for (Map.Entry<String, Object> entry : object.entrySet()) {
            Setter setter = setters.find(entry.getKey());
            if (setter == null) {
                // Unknown properties are ignored, as with AWS's settings.
                continue;
            }
            Object value;
            try {
                value = read(entry.getValue(), setter.type(), bindings);
            } catch (MappingException e) {
                throw new MappingException(e.getMessage() + " (through reference chain: " + type.getName() + "[\""
                        + entry.getKey() + "\"])", e.getCause());
            }
            setter.set(bean, value);
        }
        return bean;
    }

    private static Object readRecord(Map<String, Object> object, Class<?> type, Map<TypeVariable<?>, Type> bindings) {
        Records.Component[] components = Records.components(type);
        Class<?>[] types = new Class<?>[components.length];
        Object[] values = new Object[components.length];
        Map<String, Object> folded = new HashMap<>();
        for (Map.Entry<String, Object> entry : object.entrySet()) {
            folded.put(entry.getKey().toLowerCase(Locale.ROOT), entry.getValue());
        }
        for (int i = 0; i < components.length; i++) {
            Records.Component component = components[i];
            types[i] = component.type;
            Object tree = object.containsKey(component.name)
                    ? object.get(component.name)
                    : folded.get(component.name.toLowerCase(Locale.ROOT));
            try {
                values[i] = read(tree, component.genericType, bindings);
            } catch (MappingException e) {
                throw new MappingException(e.getMessage() + " (through reference chain: " + type.getName() + "[\""
                        + component.name + "\"])", e.getCause());
            }
        }
        try {
            Constructor<?> constructor = type.getDeclaredConstructor(types);
            accessible(constructor);
            return constructor.newInstance(values);
        } catch (InvocationTargetException e) {
            throw new MappingException("Cannot construct instance of `" + type.getName() + "`", e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new MappingException("Cannot construct instance of `" + type.getName() + "`", e);
        }
    }

    /**
     * A property name from what follows {@code get}, {@code set} or {@code is}, by the
     * JavaBeans rule AWS's runtime uses: {@code Name} is {@code name}, {@code URL} stays
     * {@code URL}.
     */
    static String beanName(String suffix) {
        if (suffix.length() > 1 && Character.isUpperCase(suffix.charAt(0)) && Character.isUpperCase(suffix.charAt(1))) {
            return suffix;
        }
        return Character.toLowerCase(suffix.charAt(0)) + suffix.substring(1);
    }

    // ---------------------------------------------------------------- writing

    /** Nesting deeper than this (a reference cycle, most likely) fails instead of overflowing. */
    private static final int MAX_DEPTH = 500;

    /** {@code value} as JSON text. */
    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value, int depth) {
        if (depth > MAX_DEPTH) {
            throw new MappingException("Direct self-reference or nesting deeper than " + MAX_DEPTH + " levels");
        }
        if (value == null) {
            out.append("null");
        } else if (value instanceof Json.Number) {
            out.append(((Json.Number) value).text);
        } else if (value instanceof CharSequence || value instanceof Character) {
            Json.quote(out, value.toString());
        } else if (value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Double || value instanceof Float) {
            double number = ((java.lang.Number) value).doubleValue();
            if (Double.isNaN(number) || Double.isInfinite(number)) {
                Json.quote(out, value.toString());
            } else {
                out.append(value);
            }
        } else if (value instanceof java.lang.Number) {
            out.append(value);
        } else if (value instanceof Enum) {
            Json.quote(out, ((Enum<?>) value).name());
        } else if (value instanceof Optional) {
            write(out, ((Optional<?>) value).orElse(null), depth + 1);
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                // Null values are left out, as with AWS's settings.
                if (entry.getValue() == null) {
                    continue;
                }
                if (!first) {
                    out.append(',');
                }
                first = false;
                Object key = entry.getKey();
                Json.quote(out, key instanceof Enum ? ((Enum<?>) key).name() : String.valueOf(key));
                out.append(':');
                write(out, entry.getValue(), depth + 1);
            }
            out.append('}');
        } else if (value instanceof byte[]) {
            Json.quote(out, Base64.getEncoder().encodeToString((byte[]) value));
        } else if (value instanceof char[]) {
            Json.quote(out, new String((char[]) value));
        } else if (value.getClass().isArray()) {
            out.append('[');
            int length = Array.getLength(value);
            for (int i = 0; i < length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                write(out, Array.get(value, i), depth + 1);
            }
            out.append(']');
        } else if (value instanceof Date) {
            out.append(((Date) value).getTime());
        } else if (value instanceof Calendar) {
            out.append(((Calendar) value).getTimeInMillis());
        } else if (isPlainText(value)) {
            Json.quote(out, value instanceof Class ? ((Class<?>) value).getName() : value.toString());
        } else if (value instanceof Iterable) {
            out.append('[');
            boolean first = true;
            for (Object item : (Iterable<?>) value) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                write(out, item, depth + 1);
            }
            out.append(']');
        } else if (Records.isRecord(value.getClass())) {
            writeRecord(out, value, depth);
        } else {
            writeBean(out, value, depth);
        }
    }

    /** Types written as their text: identifiers, addresses, time values, paths. */
    private static boolean isPlainText(Object value) {
        return value instanceof UUID || value instanceof URI || value instanceof URL || value instanceof Locale
                || value instanceof java.io.File || value instanceof java.nio.file.Path || value instanceof Class
                || value instanceof java.util.TimeZone || value instanceof java.nio.charset.Charset
                || value instanceof java.util.Currency || value instanceof java.util.regex.Pattern
                || value.getClass().getName().startsWith("java.time.");
    }

    private static void writeRecord(StringBuilder out, Object value, int depth) {
        out.append('{');
        boolean first = true;
        for (Records.Component component : Records.components(value.getClass())) {
            Object property;
            try {
                accessible(component.accessor);
                property = component.accessor.invoke(value);
            } catch (InvocationTargetException e) {
                throw new MappingException("Failed to read record component `" + component.name + "`", e.getCause());
            } catch (IllegalAccessException e) {
                throw new MappingException("Failed to read record component `" + component.name + "`", e);
            }
            if (property == null) {
                continue;
            }
            if (!first) {
                out.append(',');
            }
            first = false;
            Json.quote(out, component.name);
            out.append(':');
            write(out, property, depth + 1);
        }
        out.append('}');
    }

    /** How a bean's property is read. */
    private static final class Getter {
        final String name;
        final Method method;
        final Field field;

        Getter(String name, Method method, Field field) {
            this.name = name;
            this.method = method;
            this.field = field;
        }

        Object get(Object bean) {
            try {
                return method != null ? method.invoke(bean) : field.get(bean);
            } catch (InvocationTargetException e) {
                throw new MappingException("Failed to read property `" + name + "` of " + bean.getClass().getName(),
                        e.getCause());
            } catch (IllegalAccessException e) {
                throw new MappingException("Failed to read property `" + name + "` of " + bean.getClass().getName(), e);
            }
        }
    }

    private static final Map<Class<?>, List<Getter>> GETTERS = new ConcurrentHashMap<>();

    /**
     * A class's readable properties: public getters (and {@code isX} for {@code boolean}),
     * then public fields without a getter; in the order of the class's declared fields
     * (superclass first), as Jackson orders them, then the rest by name.
     */
    private static List<Getter> gettersOf(Class<?> type) {
        List<Getter> cached = GETTERS.get(type);
        if (cached != null) {
            return cached;
        }
        Map<String, Getter> byName = new HashMap<>();
        Map<String, Getter> isGetters = new HashMap<>();
        for (Method method : type.getMethods()) {
            String name = method.getName();
            if (Modifier.isStatic(method.getModifiers()) || method.getParameterCount() != 0
                    || method.getReturnType() == void.class || method.isBridge() || method.getDeclaringClass() == Object.class) {
                continue;
            }
            if (name.startsWith("get") && name.length() > 3) {
                String property = beanName(name.substring(3));
                accessible(method);
                byName.put(property, new Getter(property, method, null));
            } else if (name.startsWith("is") && name.length() > 2 && method.getReturnType() == boolean.class) {
                String property = beanName(name.substring(2));
                accessible(method);
                isGetters.put(property, new Getter(property, method, null));
            }
        }
        for (Map.Entry<String, Getter> entry : isGetters.entrySet()) {
            if (!byName.containsKey(entry.getKey())) {
                byName.put(entry.getKey(), entry.getValue());
            }
        }
        for (Field field : type.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) || Modifier.isTransient(field.getModifiers())) {
                continue;
            }
            if (!byName.containsKey(field.getName())) {
                accessible(field);
                byName.put(field.getName(), new Getter(field.getName(), null, field));
            }
        }
        List<Class<?>> lineage = new ArrayList<>();
        for (Class<?> current = type; current != null && current != Object.class; current = current.getSuperclass()) {
            lineage.add(0, current);
        }
        List<Getter> ordered = new ArrayList<>();
        for (Class<?> current : lineage) {
            for (Field field : current.getDeclaredFields()) {
                Getter getter = byName.remove(field.getName());
                if (getter != null) {
                    ordered.add(getter);
                }
            }
        }
        List<String> rest = new ArrayList<>(byName.keySet());
        Collections.sort(rest);
        for (String name : rest) {
            ordered.add(byName.get(name));
        }
        GETTERS.put(type, ordered);
        return ordered;
    }

    private static void writeBean(StringBuilder out, Object value, int depth) {
        out.append('{');
        boolean first = true;
        for (Getter getter : gettersOf(value.getClass())) {
            Object property = getter.get(value);
            // Null properties are left out, as with AWS's settings.
            if (property == null) {
                continue;
            }
            if (!first) {
                out.append(',');
            }
            first = false;
            Json.quote(out, getter.name);
            out.append(':');
            write(out, property, depth + 1);
        }
        out.append('}');
    }

    /**
     * Records, seen through reflection so that the bootstrap also compiles for (and runs on)
     * Java versions that have none.
     */
    static final class Records {
        private Records() {
        }

        static final class Component {
            final String name;
            final Class<?> type;
            final Type genericType;
            final Method accessor;

            Component(String name, Class<?> type, Type genericType, Method accessor) {
                this.name = name;
                this.type = type;
                this.genericType = genericType;
                this.accessor = accessor;
            }
        }

        private static final Method IS_RECORD = classMethod("isRecord");
        private static final Method GET_RECORD_COMPONENTS = classMethod("getRecordComponents");
        private static final Map<Class<?>, Component[]> COMPONENTS = new ConcurrentHashMap<>();

        private static Method classMethod(String name) {
            try {
                return Class.class.getMethod(name);
            } catch (NoSuchMethodException e) {
                return null;
            }
        }

        static boolean isRecord(Class<?> type) {
            if (IS_RECORD == null) {
                return false;
            }
            try {
                return (Boolean) IS_RECORD.invoke(type);
            } catch (ReflectiveOperationException e) {
                return false;
            }
        }

        static Component[] components(Class<?> type) {
            Component[] cached = COMPONENTS.get(type);
            if (cached != null) {
                return cached;
            }
            try {
                Object[] raw = (Object[]) GET_RECORD_COMPONENTS.invoke(type);
                Component[] components = new Component[raw.length];
                for (int i = 0; i < raw.length; i++) {
                    Class<?> componentClass = raw[i].getClass();
                    components[i] = new Component(
                            (String) componentClass.getMethod("getName").invoke(raw[i]),
                            (Class<?>) componentClass.getMethod("getType").invoke(raw[i]),
                            (Type) componentClass.getMethod("getGenericType").invoke(raw[i]),
                            (Method) componentClass.getMethod("getAccessor").invoke(raw[i]));
                }
                COMPONENTS.put(type, components);
                return components;
            } catch (ReflectiveOperationException e) {
                throw new MappingException("Cannot read the components of record " + type.getName(), e);
            }
        }
    }
}
