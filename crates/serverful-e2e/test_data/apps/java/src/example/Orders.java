package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A plain method taking an API Gateway event as a POJO and returning a POJO, which the
 * HTTP API's payload 2.0 rules turn into a JSON body. Not static: the class is made once,
 * so the count goes up from one request to the next.
 */
public class Orders {
    private int served;

    public Receipt create(OrderEvent event, Context context) {
        served++;
        Receipt receipt = new Receipt();
        receipt.customer = event.getPathParameters().get("customer");
        receipt.setMethod(event.getRequestContext().getHttp().getMethod());
        receipt.setBodyLength(event.getBody() == null ? 0 : event.getBody().length());
        receipt.setEncoded(event.getIsBase64Encoded());
        receipt.setServed(served);
        receipt.setTotal(new BigDecimal("12.50").multiply(BigDecimal.valueOf(2)));
        receipt.setStatus(Status.ACCEPTED);
        receipt.setLines(Arrays.asList(new Line("book", 2), new Line("pen", 1)));
        receipt.setRequestId(context.getAwsRequestId());
        return receipt;
    }

    public enum Status { ACCEPTED, REJECTED }

    /** A record, written with its components in order. */
    public record Line(String item, int quantity) {
    }

    /** The parts of the HTTP API event this handler reads; the rest is ignored. */
    public static class OrderEvent {
        private Map<String, String> pathParameters;
        private RequestContext requestContext;
        private String body;
        private boolean isBase64Encoded;

        public Map<String, String> getPathParameters() { return pathParameters; }
        public void setPathParameters(Map<String, String> value) { pathParameters = value; }
        public RequestContext getRequestContext() { return requestContext; }
        public void setRequestContext(RequestContext value) { requestContext = value; }
        public String getBody() { return body; }
        public void setBody(String value) { body = value; }
        public boolean getIsBase64Encoded() { return isBase64Encoded; }
        public void setIsBase64Encoded(boolean value) { isBase64Encoded = value; }
    }

    public static class RequestContext {
        private Http http;

        public Http getHttp() { return http; }
        public void setHttp(Http value) { http = value; }
    }

    public static class Http {
        private String method;

        public String getMethod() { return method; }
        public void setMethod(String value) { method = value; }
    }

    public static class Receipt {
        public String customer;
        private String method;
        private int bodyLength;
        private boolean encoded;
        private int served;
        private BigDecimal total;
        private Status status;
        private List<Line> lines;
        private String note;
        private String requestId;

        public String getMethod() { return method; }
        public void setMethod(String value) { method = value; }
        public int getBodyLength() { return bodyLength; }
        public void setBodyLength(int value) { bodyLength = value; }
        public boolean isEncoded() { return encoded; }
        public void setEncoded(boolean value) { encoded = value; }
        public int getServed() { return served; }
        public void setServed(int value) { served = value; }
        public BigDecimal getTotal() { return total; }
        public void setTotal(BigDecimal value) { total = value; }
        public Status getStatus() { return status; }
        public void setStatus(Status value) { status = value; }
        public List<Line> getLines() { return lines; }
        public void setLines(List<Line> value) { lines = value; }
        /** Null, so left out of the JSON. */
        public String getNote() { return note; }
        public String getRequestId() { return requestId; }
        public void setRequestId(String value) { requestId = value; }
    }
}
