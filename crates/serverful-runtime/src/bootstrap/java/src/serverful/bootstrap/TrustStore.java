package serverful.bootstrap;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/**
 * Makes the JVM trust the CA bundle other runtimes trust through {@code AWS_CA_BUNDLE}: the
 * system's roots and Serverful's own authority, which signs the certificates of the AWS host
 * names Serverful answers. Java reads no PEM bundle from the environment, so the bundle is
 * written once as a JKS trust store (named by its content, in the temporary folder) and
 * named in {@code javax.net.ssl.trustStore}, the property every TLS client of the JVM
 * (HttpsURLConnection, java.net.http, the AWS SDKs' HTTP clients) reads when it makes its
 * default trust managers. A trust store the function names itself wins.
 */
final class TrustStore {
    private TrustStore() {
    }

    private static final char[] PASSWORD = "changeit".toCharArray();

    static void trustCaBundle() {
        String bundle = System.getenv("AWS_CA_BUNDLE");
        if (bundle == null || bundle.isEmpty() || System.getProperty("javax.net.ssl.trustStore") != null) {
            return;
        }
        try {
            byte[] pem = Files.readAllBytes(Paths.get(bundle));
            Path store = Paths.get(System.getProperty("java.io.tmpdir"),
                    "serverful-truststore-" + digest(pem) + ".jks");
            if (!Files.isRegularFile(store)) {
                write(pem, store);
            }
            System.setProperty("javax.net.ssl.trustStore", store.toString());
            System.setProperty("javax.net.ssl.trustStoreType", "JKS");
            System.setProperty("javax.net.ssl.trustStorePassword", new String(PASSWORD));
        } catch (IOException | GeneralSecurityException e) {
            System.err.println("Serverful bootstrap: cannot trust the CA bundle " + bundle + ": " + e);
        }
    }

    private static void write(byte[] pem, Path store) throws IOException, GeneralSecurityException {
        KeyStore keys = KeyStore.getInstance("JKS");
        keys.load(null, null);
        int index = 0;
        try (InputStream in = new ByteArrayInputStream(pem)) {
            for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                keys.setCertificateEntry("bundle-" + index++, certificate);
            }
        }
        // Written beside and moved, so that instances starting together never read half a file.
        Path partial = Files.createTempFile(store.getParent(), ".serverful-truststore", ".partial");
        try (OutputStream out = Files.newOutputStream(partial)) {
            keys.store(out, PASSWORD);
        }
        Files.move(partial, store, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String digest(byte[] content) throws GeneralSecurityException {
        byte[] hash = MessageDigest.getInstance("SHA-256").digest(content);
        StringBuilder hex = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            hex.append(String.format("%02x", hash[i]));
        }
        return hex.toString();
    }
}
