package dev.tidemark.claimcheck;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The deserializer's settings, read from the Kafka consumer's (or Streams/Flink job's) config
 * properties. Every key starts with {@code tidemark.claimcheck.}; none is required for records
 * that are only compressed, and against the stack's GCS emulator none is required at all
 * ({@code STORAGE_EMULATOR_HOST} is honoured as Google's clients do).
 */
public final class ClaimCheckConfig {
    /** The job's value deserializer, which receives the resolved Confluent-framed Avro bytes. */
    public static final String INNER_DESERIALIZER = "tidemark.claimcheck.inner.deserializer";
    /** GCS JSON API endpoint; default http://$STORAGE_EMULATOR_HOST if set, else https://storage.googleapis.com. */
    public static final String GCS_ENDPOINT = "tidemark.claimcheck.gcs.endpoint";
    /** anonymous, metadata (GCE/GKE metadata server, workload identity) or token-file. */
    public static final String GCS_AUTH = "tidemark.claimcheck.gcs.auth";
    /** With gcs.auth=token-file: a file holding an OAuth2 access token, re-read as it changes. */
    public static final String GCS_TOKEN_FILE = "tidemark.claimcheck.gcs.token.file";
    /** One object download's timeout, milliseconds (default 120000). */
    public static final String GCS_TIMEOUT_MS = "tidemark.claimcheck.gcs.timeout.ms";
    /** Read file:// objects from this directory instead of the URI's (the store mounted elsewhere). */
    public static final String FILE_DIR = "tidemark.claimcheck.file.dir";
    /** The largest resolved value accepted, bytes (default 1 GiB, as Tidemark's Go decoder). */
    public static final String MAX_BYTES = "tidemark.claimcheck.max.bytes";

    static final String DEFAULT_GCS_ENDPOINT = "https://storage.googleapis.com";
    static final long DEFAULT_MAX_BYTES = 1L << 30;

    final String gcsEndpoint;
    final String gcsAuth;
    final Path gcsTokenFile;
    final Duration gcsTimeout;
    final Path fileDir;
    final int maxBytes;

    private ClaimCheckConfig(Map<String, ?> c, Map<String, String> env) {
        String emulator = env.get("STORAGE_EMULATOR_HOST");
        String endpoint = string(c, GCS_ENDPOINT, null);
        if (endpoint == null) {
            endpoint = emulator != null && !emulator.isEmpty()
                    ? (emulator.contains("://") ? emulator : "http://" + emulator)
                    : DEFAULT_GCS_ENDPOINT;
        }
        gcsEndpoint = endpoint.replaceAll("/+$", "");
        String auth = string(c, GCS_AUTH, gcsEndpoint.equals(DEFAULT_GCS_ENDPOINT) ? "metadata" : "anonymous");
        if (!auth.equals("anonymous") && !auth.equals("metadata") && !auth.equals("token-file")) {
            throw new IllegalArgumentException(GCS_AUTH + " is " + auth + ": want anonymous, metadata or token-file");
        }
        gcsAuth = auth;
        String tokenFile = string(c, GCS_TOKEN_FILE, null);
        if (auth.equals("token-file") && tokenFile == null) {
            throw new IllegalArgumentException(GCS_AUTH + "=token-file needs " + GCS_TOKEN_FILE);
        }
        gcsTokenFile = tokenFile == null ? null : Path.of(tokenFile);
        gcsTimeout = Duration.ofMillis(number(c, GCS_TIMEOUT_MS, 120_000));
        String dir = string(c, FILE_DIR, null);
        fileDir = dir == null ? null : Path.of(dir);
        long max = number(c, MAX_BYTES, DEFAULT_MAX_BYTES);
        if (max <= 0 || max > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException(MAX_BYTES + " is " + max + ": want 1 to " + (Integer.MAX_VALUE - 64));
        }
        maxBytes = (int) max;
    }

    /** Reads the settings from a consumer's config map. */
    public static ClaimCheckConfig from(Map<String, ?> configs) {
        return new ClaimCheckConfig(configs, System.getenv());
    }

    static ClaimCheckConfig from(Map<String, ?> configs, Map<String, String> env) {
        return new ClaimCheckConfig(configs, env);
    }

    private static String string(Map<String, ?> c, String key, String def) {
        Object v = c.get(key);
        if (v == null || v.toString().isBlank()) {
            return def;
        }
        return v.toString().trim();
    }

    private static long number(Map<String, ?> c, String key, long def) {
        Object v = c.get(key);
        if (v == null || v.toString().isBlank()) {
            return def;
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        try {
            return Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " is " + v + ": want a whole number", e);
        }
    }
}
