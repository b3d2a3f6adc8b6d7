package dev.tidemark.claimcheck;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the objects pointers name: gs:// through the GCS JSON API (one GET with ?alt=media, an
 * optional bearer token), file:// from a directory. Integrity is the caller's: AES-GCM's tag
 * and the pointer's SHA-256 cover every byte.
 */
final class ObjectFetcher {
    /** The object is not in the store (deleted by GC after compaction, or never written). */
    static final class NotFound extends Fatal {
        private static final long serialVersionUID = 1L;

        NotFound(String msg) { super(msg); }
    }

    /** An answer that a retry would not change. */
    static class Fatal extends IOException {
        private static final long serialVersionUID = 1L;

        Fatal(String msg) { super(msg); }
    }

    private static final int ATTEMPTS = 3;
    private static final Pattern ACCESS_TOKEN = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern EXPIRES_IN = Pattern.compile("\"expires_in\"\\s*:\\s*(\\d+)");

    private final ClaimCheckConfig cfg;
    private final HttpClient http;
    private String token;
    private Instant tokenExpiry = Instant.MIN;

    ObjectFetcher(ClaimCheckConfig cfg) {
        this.cfg = cfg;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
    }

    /**
     * Returns the object at root/name (root is gs://bucket[/prefix] or file:///dir), at most
     * limit bytes.
     */
    byte[] get(String root, String name, int limit) throws IOException, InterruptedException {
        if (root.startsWith("file://")) {
            Path dir = cfg.fileDir != null ? cfg.fileDir : Path.of(root.substring("file://".length()));
            Path p = dir.resolve(name);
            try {
                if (Files.size(p) > limit) {
                    throw new Fatal(p + " is " + Files.size(p) + " bytes, over the " + limit + "-byte bound");
                }
                return Files.readAllBytes(p);
            } catch (NoSuchFileException e) {
                throw new NotFound("no such file " + p);
            }
        }
        String rest = root.substring("gs://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String object = slash < 0 ? name : rest.substring(slash + 1) + "/" + name;
        URI uri = URI.create(cfg.gcsEndpoint + "/storage/v1/b/" + escape(bucket) + "/o/" + escape(object) + "?alt=media");
        IOException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            if (attempt > 0) {
                Thread.sleep(200L << attempt);
            }
            try {
                HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(cfg.gcsTimeout).GET();
                String t = token();
                if (t != null) {
                    req.header("Authorization", "Bearer " + t);
                }
                HttpResponse<InputStream> resp = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream body = resp.body()) {
                    int code = resp.statusCode();
                    if (code == 200) {
                        long declared = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
                        if (declared > limit) {
                            throw new Fatal("the object is " + declared + " bytes, over the " + limit + "-byte bound");
                        }
                        byte[] b = body.readNBytes(limit + 1);
                        if (b.length > limit) {
                            throw new Fatal("the object is over the " + limit + "-byte bound");
                        }
                        if (declared >= 0 && b.length != declared) {
                            throw new IOException("read " + b.length + " bytes of a " + declared + "-byte object");
                        }
                        return b;
                    }
                    String text = new String(body.readNBytes(512), StandardCharsets.UTF_8).strip();
                    if (code == 404) {
                        throw new NotFound("GCS answered 404 for " + uri.getRawPath() + ": " + text);
                    }
                    if (code == 401 || code == 403) {
                        throw new Fatal("GCS answered " + code + " (check " + ClaimCheckConfig.GCS_AUTH
                                + "; the consumer needs storage.objects.get on gs://" + bucket + "): " + text);
                    }
                    if (code != 429 && code < 500) {
                        throw new Fatal("GCS answered " + code + ": " + text);
                    }
                    last = new IOException("GCS answered " + code + ": " + text);
                }
            } catch (Fatal e) {
                throw e;
            } catch (IOException e) {
                last = e; // a reset connection, a timeout: try again
            }
        }
        throw new IOException("GET " + uri + " failed " + ATTEMPTS + " times", last);
    }

    /** The bearer token for the configured auth, or null for anonymous access. */
    private synchronized String token() throws IOException, InterruptedException {
        switch (cfg.gcsAuth) {
            case "token-file":
                return Files.readString(cfg.gcsTokenFile).strip();
            case "metadata":
                if (token == null || Instant.now().isAfter(tokenExpiry)) {
                    String host = System.getenv().getOrDefault("GCE_METADATA_HOST", "metadata.google.internal");
                    HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + host
                            + "/computeMetadata/v1/instance/service-accounts/default/token"))
                            .header("Metadata-Flavor", "Google").timeout(Duration.ofSeconds(10)).GET().build();
                    HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                    Matcher m = ACCESS_TOKEN.matcher(resp.body());
                    if (resp.statusCode() != 200 || !m.find()) {
                        throw new IOException("no access token from the metadata server " + host + " (HTTP "
                                + resp.statusCode() + "); outside GCE/GKE set " + ClaimCheckConfig.GCS_AUTH
                                + "=token-file");
                    }
                    token = m.group(1);
                    Matcher e = EXPIRES_IN.matcher(resp.body());
                    long secs = e.find() ? Long.parseLong(e.group(1)) : 300;
                    tokenExpiry = Instant.now().plusSeconds(Math.max(secs - 60, 10));
                }
                return token;
            default:
                return null;
        }
    }

    /** Percent-encodes s as one URL path segment (a GCS object name keeps its '/' as %2F). */
    static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                    || c == '_' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit((c >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return b.toString();
    }
}
