package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.net.URL;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.net.ssl.HttpsURLConnection;

/**
 * Reaches DynamoDB on its AWS host name over HTTPS with the JDK's own client, as SDKs that
 * ignore AWS_ENDPOINT_URL do: inside the sandbox Serverful answers it, with a certificate
 * the JVM must trust.
 */
public class Https implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        Map<String, Object> response = new LinkedHashMap<>();
        response.put("statusCode", 200);
        String body;
        try {
            HttpsURLConnection connection = (HttpsURLConnection)
                    new URL("https://dynamodb.us-east-1.amazonaws.com/").openConnection();
            connection.setConnectTimeout(5000);
            connection.setReadTimeout(5000);
            int status = connection.getResponseCode();
            String issuer = connection.getServerCertificates()[0] instanceof java.security.cert.X509Certificate
                    ? ((java.security.cert.X509Certificate) connection.getServerCertificates()[0])
                            .getIssuerX500Principal().getName()
                    : "";
            body = "{\"status\":" + status + ",\"issuer\":\"" + issuer.replace("\"", "'") + "\"}";
        } catch (Exception e) {
            body = "{\"error\":\"" + e.toString().replace("\\", "/").replace("\"", "'") + "\"}";
        }
        response.put("body", body);
        return response;
    }
}
