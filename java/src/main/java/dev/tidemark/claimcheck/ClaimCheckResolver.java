package dev.tidemark.claimcheck;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Resolves a Tidemark record's value (docs/claim-check.md), as Tidemark's Go {@code
 * serde.Decoder.Resolve} does: a plain value is returned as it is; a compressed wrapper is
 * inflated; a pointer's object is fetched, opened with the key in the record's header
 * (AES-256-GCM, the object's name as additional data), inflated and checked against the
 * pointer's size and SHA-256. The result is the record's Confluent-framed Avro value.
 *
 * <p>Reading needs no secret: the key travels in the record, so whoever may read the topic may
 * read its objects (largerecord/doc.go has the threat model). Safe for concurrent use. Flink
 * jobs, which see the whole {@code ConsumerRecord}, can call {@link #resolve} with the record's
 * partition and offset so that errors name them.
 */
public final class ClaimCheckResolver {
    public static final String HEADER_CLAIM_CHECK = "tidemark.claimcheck";
    public static final String HEADER_OBJECT = "tidemark.claimcheck.object";
    public static final String HEADER_SIZE = "tidemark.claimcheck.size";
    public static final String HEADER_SHA256 = "tidemark.claimcheck.sha256";
    public static final String HEADER_KEY = "tidemark.claimcheck.key";
    public static final String HEADER_EVENT_ID = "tidemark.id";
    public static final String COMPRESSED = "compressed";
    public static final String OFFLOADED = "offloaded";

    private static final String CODEC_ZSTD = "zstd";
    private static final byte[] SEAL_MAGIC = "TMC2".getBytes(StandardCharsets.US_ASCII);
    private static final int NONCE_SIZE = 12;
    private static final int TAG_SIZE = 16;
    private static final int KEY_SIZE = 32;

    private final ClaimCheckConfig cfg;
    private final ObjectFetcher fetcher;

    public ClaimCheckResolver(ClaimCheckConfig cfg) {
        this.cfg = cfg;
        this.fetcher = new ObjectFetcher(cfg);
    }

    /** The record's claim-check form: "" (a plain record), "compressed" or "offloaded". */
    public static String form(Headers headers) {
        String f = header(headers, HEADER_CLAIM_CHECK);
        return f == null ? "" : f;
    }

    /**
     * Returns the value the record stands for: value itself for a plain record (or a tombstone),
     * the resolved bytes for a claim-checked one. partition and offset are only for errors (-1
     * where unknown).
     *
     * @throws ClaimCheckException the record cannot be resolved
     */
    public byte[] resolve(String topic, int partition, long offset, Headers headers, byte[] value) {
        String form = form(headers);
        if (value == null || form.isEmpty()) {
            return value;
        }
        String id = header(headers, HEADER_EVENT_ID);
        String object = null;
        try {
            switch (form) {
                case COMPRESSED: {
                    AvroReader r = new AvroReader(value);
                    String codec = r.string();
                    long size = r.varlong();
                    byte[] data = r.bytes();
                    r.end("io.tidemark.claimcheck.Compressed");
                    return inflate(codec, size, data);
                }
                case OFFLOADED: {
                    AvroReader r = new AvroReader(value);
                    String uri = r.string();
                    long size = r.varlong();
                    String sha = r.string();
                    String codec = r.string();
                    r.end("io.tidemark.claimcheck.Pointer");
                    object = uri;
                    return offloaded(headers, uri, size, sha, codec);
                }
                default:
                    throw new Malformed("header " + HEADER_CLAIM_CHECK + " \"" + form + "\" (a newer Tidemark?)");
            }
        } catch (ClaimCheckException e) {
            throw e;
        } catch (Malformed | IOException | GeneralSecurityException e) {
            throw new ClaimCheckException(topic, partition, offset, id, object, e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClaimCheckException(topic, partition, offset, id, object, "interrupted", e);
        }
    }

    private byte[] offloaded(Headers headers, String uri, long size, String sha, String codec)
            throws Malformed, IOException, GeneralSecurityException, InterruptedException {
        String h = header(headers, HEADER_OBJECT);
        if (!uri.equals(h)) {
            throw new Malformed("header " + HEADER_OBJECT + " \"" + h + "\" differs from the pointer's object");
        }
        if (!sha.equals(header(headers, HEADER_SHA256)) || !Long.toString(size).equals(header(headers, HEADER_SIZE))) {
            throw new Malformed("headers " + HEADER_SIZE + " and " + HEADER_SHA256 + " differ from the pointer's");
        }
        byte[] key;
        try {
            String k = header(headers, HEADER_KEY);
            key = k == null ? null : Base64.getDecoder().decode(k);
        } catch (IllegalArgumentException e) {
            key = null;
        }
        if (key == null || key.length != KEY_SIZE) {
            throw new Malformed("header " + HEADER_KEY + " is not a base64 32-byte key");
        }
        // The store's root and the object's name: its last four path segments
        // (largerecord.ObjectName), which are also the encryption's additional data.
        String[] parts = uri.split("/", -1);
        if (parts.length < 4 + 3 || !(uri.startsWith("gs://") || uri.startsWith("file:///"))) {
            throw new Malformed("object URI \"" + uri + "\"");
        }
        int cut = parts.length - 4;
        String root = String.join("/", java.util.Arrays.copyOfRange(parts, 0, cut));
        String name = String.join("/", java.util.Arrays.copyOfRange(parts, cut, parts.length));
        if (size < 0 || size > cfg.maxBytes) {
            throw new Malformed("a claim-checked value of " + size + " bytes (the bound, "
                    + ClaimCheckConfig.MAX_BYTES + ", is " + cfg.maxBytes + ")");
        }
        byte[] sealed;
        try {
            sealed = fetcher.get(root, name, objectBound((int) size));
        } catch (ObjectFetcher.NotFound e) {
            throw new IOException("object not found (its record outlived it: was it deleted by "
                    + "tidemark largerecord gc, or the bucket changed?): " + e.getMessage(), e);
        }
        byte[] plain = unseal(key, name, sealed);
        byte[] v = inflate(codec, size, plain);
        byte[] sum = MessageDigest.getInstance("SHA-256").digest(v);
        String got = HexFormat.of().formatHex(sum);
        if (!got.equals(sha)) {
            throw new Malformed("hash mismatch: SHA-256 " + got + ", the pointer says " + sha);
        }
        return v;
    }

    /** A sealed object of a size-byte value: its zstd frame (at most a little over size) and the seal. */
    private static int objectBound(int size) {
        long b = (long) size + size / 128 + (64 << 10) + SEAL_MAGIC.length + NONCE_SIZE + TAG_SIZE;
        return (int) Math.min(b, Integer.MAX_VALUE - 8);
    }

    /** largerecord.Unseal: "TMC2" || nonce || AES-256-GCM(plaintext) || tag, the name as additional data. */
    static byte[] unseal(byte[] key, String name, byte[] object) throws Malformed, GeneralSecurityException {
        if (object.length < SEAL_MAGIC.length + NONCE_SIZE + TAG_SIZE) {
            throw new Malformed("corrupt object: " + object.length + " bytes, shorter than magic, nonce and tag");
        }
        for (int i = 0; i < SEAL_MAGIC.length; i++) {
            if (object[i] != SEAL_MAGIC[i]) {
                throw new Malformed("corrupt object: it does not start with TMC2 (another scheme, or not Tidemark's)");
            }
        }
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        gcm.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"),
                new GCMParameterSpec(TAG_SIZE * 8, object, SEAL_MAGIC.length, NONCE_SIZE));
        gcm.updateAAD(name.getBytes(StandardCharsets.UTF_8));
        int off = SEAL_MAGIC.length + NONCE_SIZE;
        try {
            return gcm.doFinal(object, off, object.length - off);
        } catch (AEADBadTagException e) {
            throw new Malformed("wrong key: the object does not open with the record's key (or it was renamed or altered)");
        }
    }

    /** Inflates one or more zstd frames to exactly size bytes, refusing anything larger. */
    private byte[] inflate(String codec, long size, byte[] data) throws Malformed {
        if (size < 0 || size > cfg.maxBytes) {
            throw new Malformed("a claim-checked value of " + size + " bytes (the bound, "
                    + ClaimCheckConfig.MAX_BYTES + ", is " + cfg.maxBytes + ")");
        }
        if (!CODEC_ZSTD.equals(codec)) {
            throw new Malformed("codec \"" + codec + "\"");
        }
        if (data.length == 0) {
            throw new Malformed("corrupt zstd data: no data");
        }
        byte[] out = new byte[(int) size];
        try (ZstdInputStreamNoFinalizer in = new ZstdInputStreamNoFinalizer(new ByteArrayInputStream(data))) {
            int n = in.readNBytes(out, 0, out.length);
            if (n != out.length) {
                throw new Malformed(n + " bytes inflated, the record says " + size);
            }
            if (in.read() != -1) {
                throw new Malformed("the data inflates to more than the record's " + size + " bytes");
            }
        } catch (IOException e) {
            throw new Malformed("corrupt zstd data: " + e.getMessage());
        }
        return out;
    }

    /** The first header called key (as Tidemark's Go reader takes it), or null. */
    static String header(Headers headers, String key) {
        if (headers == null) {
            return null;
        }
        for (Header h : headers.headers(key)) {
            return h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
        }
        return null;
    }

    /** A record that is not what its headers say. */
    static final class Malformed extends Exception {
        private static final long serialVersionUID = 1L;

        Malformed(String msg) { super(msg); }
    }

    /** Reads the Avro binary of the claim-check wrappers after their Confluent frame. */
    private static final class AvroReader {
        private final byte[] b;
        private int pos;

        AvroReader(byte[] b) throws Malformed {
            if (b.length < 5 || b[0] != 0) {
                throw new Malformed("not a Confluent-framed Avro value (magic byte 0, 4-byte schema id)");
            }
            this.b = b;
            this.pos = 5;
        }

        long varlong() throws Malformed {
            long raw = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= b.length) {
                    throw new Malformed("truncated claim-check wrapper");
                }
                int c = b[pos++] & 0xff;
                raw |= (long) (c & 0x7f) << shift;
                if ((c & 0x80) == 0) {
                    return (raw >>> 1) ^ -(raw & 1);
                }
            }
            throw new Malformed("claim-check wrapper: an Avro long over 10 bytes");
        }

        byte[] bytes() throws Malformed {
            long n = varlong();
            if (n < 0 || n > b.length - pos) {
                throw new Malformed("truncated claim-check wrapper: " + n + " bytes claimed, " + (b.length - pos) + " left");
            }
            byte[] out = java.util.Arrays.copyOfRange(b, pos, pos + (int) n);
            pos += (int) n;
            return out;
        }

        String string() throws Malformed {
            return new String(bytes(), StandardCharsets.UTF_8);
        }

        void end(String type) throws Malformed {
            if (pos != b.length) {
                throw new Malformed("the value is not a " + type + " (" + (b.length - pos) + " bytes left over)");
            }
        }
    }
}
