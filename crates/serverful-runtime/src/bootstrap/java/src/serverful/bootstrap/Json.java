package serverful.bootstrap;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON text to a tree of plain values and back. A tree is made of {@code null},
 * {@link Boolean}, {@link String}, {@link Json.Number} (the number's text, so that no
 * precision is lost before its target type is known), {@code List<Object>} and
 * {@code LinkedHashMap<String, Object>}.
 *
 * <p>The reader is as lenient as the Jackson settings of AWS's Java runtime: single-quoted
 * strings, unquoted field names, {@code NaN} and {@code Infinity}, leading zeros, any
 * character escaped with a backslash, raw control characters in strings; what follows the
 * first value is ignored.
 */
final class Json {
    private Json() {
    }

    /** A JSON number, kept as written. */
    static final class Number extends java.lang.Number {
        private static final long serialVersionUID = 1L;
        final String text;

        Number(String text) {
            this.text = text;
        }

        boolean isIntegral() {
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c == '.' || c == 'e' || c == 'E' || c == 'N' || c == 'I') {
                    return false;
                }
            }
            return true;
        }

        BigDecimal bigDecimal() {
            return new BigDecimal(text);
        }

        BigInteger bigInteger() {
            return isIntegral() ? new BigInteger(stripPlus(text)) : bigDecimal().toBigInteger();
        }

        @Override
        public int intValue() {
            return isIntegral() ? bigInteger().intValue() : (int) doubleValue();
        }

        @Override
        public long longValue() {
            return isIntegral() ? bigInteger().longValue() : (long) doubleValue();
        }

        @Override
        public float floatValue() {
            return (float) doubleValue();
        }

        @Override
        public double doubleValue() {
            return Double.parseDouble(text);
        }

        /** The value as Jackson gives an untyped number: Integer, Long, BigInteger or Double. */
        Object untyped() {
            if (!isIntegral()) {
                return doubleValue();
            }
            BigInteger value = bigInteger();
            if (value.bitLength() < 32) {
                return value.intValue();
            }
            if (value.bitLength() < 64) {
                return value.longValue();
            }
            return value;
        }

        @Override
        public String toString() {
            return text;
        }

        private static String stripPlus(String text) {
            return text.startsWith("+") ? text.substring(1) : text;
        }
    }

    /** Why a text is not JSON, with the offset where reading stopped. */
    static final class ParseException extends IOException {
        private static final long serialVersionUID = 1L;

        ParseException(String message, int offset) {
            super(message + " at offset " + offset);
        }
    }

    /** Reads the first JSON value of {@code bytes} (UTF-8). */
    static Object parse(byte[] bytes) throws ParseException {
        return parse(new String(bytes, StandardCharsets.UTF_8));
    }

    static Object parse(String text) throws ParseException {
        Reader reader = new Reader(text);
        reader.skipSpace();
        if (reader.atEnd()) {
            throw new ParseException("No content to map due to end-of-input", reader.offset);
        }
        return reader.value(0);
    }

    /** Nesting deeper than this is refused rather than overflowing the stack. */
    private static final int MAX_DEPTH = 1000;

    private static final class Reader {
        private final String text;
        private int offset;

        Reader(String text) {
            this.text = text;
        }

        boolean atEnd() {
            return offset >= text.length();
        }

        void skipSpace() {
            while (offset < text.length()) {
                char c = text.charAt(offset);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                    offset++;
                } else {
                    return;
                }
            }
        }

        private ParseException error(String message) {
            return new ParseException(message, offset);
        }

        Object value(int depth) throws ParseException {
            if (depth > MAX_DEPTH) {
                throw error("JSON nested too deeply");
            }
            skipSpace();
            if (atEnd()) {
                throw error("Unexpected end of input");
            }
            char c = text.charAt(offset);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                case '\'':
                    return string();
                default:
                    break;
            }
            if (c == '-' || c == '+' || (c >= '0' && c <= '9') || c == '.') {
                return number();
            }
            String word = word();
            switch (word) {
                case "true":
                    return Boolean.TRUE;
                case "false":
                    return Boolean.FALSE;
                case "null":
                    return null;
                case "NaN":
                case "Infinity":
                    return new Number(word);
                default:
                    throw error(word.isEmpty()
                            ? "Unexpected character '" + c + "'"
                            : "Unrecognized token '" + word + "'");
            }
        }

        private String word() {
            int start = offset;
            while (offset < text.length()) {
                char c = text.charAt(offset);
                if (Character.isLetterOrDigit(c) || c == '_' || c == '$') {
                    offset++;
                } else {
                    break;
                }
            }
            return text.substring(start, offset);
        }

        private Map<String, Object> object(int depth) throws ParseException {
            offset++;
            Map<String, Object> object = new LinkedHashMap<>();
            skipSpace();
            if (!atEnd() && text.charAt(offset) == '}') {
                offset++;
                return object;
            }
            for (;;) {
                skipSpace();
                if (atEnd()) {
                    throw error("Unexpected end of input in an object");
                }
                char c = text.charAt(offset);
                String name;
                if (c == '"' || c == '\'') {
                    name = string();
                } else {
                    name = word();
                    if (name.isEmpty()) {
                        throw error("Expected a field name, found '" + c + "'");
                    }
                }
                skipSpace();
                expect(':');
                object.put(name, value(depth + 1));
                skipSpace();
                if (atEnd()) {
                    throw error("Unexpected end of input in an object");
                }
                c = text.charAt(offset++);
                if (c == '}') {
                    return object;
                }
                if (c != ',') {
                    offset--;
                    throw error("Expected ',' or '}' in an object, found '" + c + "'");
                }
            }
        }

        private List<Object> array(int depth) throws ParseException {
            offset++;
            List<Object> array = new ArrayList<>();
            skipSpace();
            if (!atEnd() && text.charAt(offset) == ']') {
                offset++;
                return array;
            }
            for (;;) {
                array.add(value(depth + 1));
                skipSpace();
                if (atEnd()) {
                    throw error("Unexpected end of input in an array");
                }
                char c = text.charAt(offset++);
                if (c == ']') {
                    return array;
                }
                if (c != ',') {
                    offset--;
                    throw error("Expected ',' or ']' in an array, found '" + c + "'");
                }
            }
        }

        private void expect(char wanted) throws ParseException {
            if (atEnd() || text.charAt(offset) != wanted) {
                throw error("Expected '" + wanted + "'");
            }
            offset++;
        }

        private String string() throws ParseException {
            char quote = text.charAt(offset++);
            StringBuilder out = new StringBuilder();
            for (;;) {
                if (atEnd()) {
                    throw error("Unexpected end of input in a string");
                }
                char c = text.charAt(offset++);
                if (c == quote) {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (atEnd()) {
                    throw error("Unexpected end of input in an escape");
                }
                char escaped = text.charAt(offset++);
                switch (escaped) {
                    case 'b':
                        out.append('\b');
                        break;
                    case 'f':
                        out.append('\f');
                        break;
                    case 'n':
                        out.append('\n');
                        break;
                    case 'r':
                        out.append('\r');
                        break;
                    case 't':
                        out.append('\t');
                        break;
                    case 'u':
                        if (offset + 4 > text.length()) {
                            throw error("Unexpected end of input in a \\u escape");
                        }
                        try {
                            out.append((char) Integer.parseInt(text.substring(offset, offset + 4), 16));
                        } catch (NumberFormatException e) {
                            throw error("Invalid \\u escape");
                        }
                        offset += 4;
                        break;
                    default:
                        // Any other escaped character stands for itself (`\"`, `\\`, `\/`, `\'`).
                        out.append(escaped);
                        break;
                }
            }
        }

        private Number number() throws ParseException {
            int start = offset;
            char sign = text.charAt(offset);
            if (sign == '-' || sign == '+') {
                offset++;
                if (text.startsWith("Infinity", offset)) {
                    offset += "Infinity".length();
                    return new Number(text.substring(start, offset));
                }
            }
            int digits = 0;
            while (offset < text.length()) {
                char c = text.charAt(offset);
                if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E'
                        || ((c == '-' || c == '+') && (text.charAt(offset - 1) == 'e' || text.charAt(offset - 1) == 'E'))) {
                    if (c >= '0' && c <= '9') {
                        digits++;
                    }
                    offset++;
                } else {
                    break;
                }
            }
            String literal = text.substring(start, offset);
            if (digits == 0) {
                throw error("Invalid number '" + literal + "'");
            }
            try {
                // Leading zeros are accepted, as by AWS's runtime; BigDecimal checks the rest.
                new BigDecimal(literal.startsWith("+") ? literal.substring(1) : literal);
            } catch (NumberFormatException e) {
                throw error("Invalid number '" + literal + "'");
            }
            return new Number(literal);
        }
    }

    /** Appends {@code value} (a string) as a JSON string literal. */
    static void quote(StringBuilder out, String value) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                case '\b':
                    out.append("\\b");
                    break;
                case '\f':
                    out.append("\\f");
                    break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }

    /** A tree (as {@link #parse} makes, or of plain strings, numbers and booleans) as JSON text. */
    static String write(Object tree) {
        StringBuilder out = new StringBuilder();
        writeTree(out, tree);
        return out.toString();
    }

    private static void writeTree(StringBuilder out, Object tree) {
        if (tree == null) {
            out.append("null");
        } else if (tree instanceof String) {
            quote(out, (String) tree);
        } else if (tree instanceof Boolean || tree instanceof java.lang.Number) {
            out.append(tree);
        } else if (tree instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) tree).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                quote(out, String.valueOf(entry.getKey()));
                out.append(':');
                writeTree(out, entry.getValue());
            }
            out.append('}');
        } else if (tree instanceof List) {
            out.append('[');
            boolean first = true;
            for (Object item : (List<?>) tree) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                writeTree(out, item);
            }
            out.append(']');
        } else {
            quote(out, tree.toString());
        }
    }
}
