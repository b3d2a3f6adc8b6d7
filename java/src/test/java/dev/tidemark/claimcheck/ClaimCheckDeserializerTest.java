package dev.tidemark.claimcheck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Against records Tidemark's Go serde wrote (java/fixturegen; TestFixturesUpToDate keeps them
 * current): every form resolves to the serde's input, and a wrong key, a hash mismatch, a missing
 * object or a forged size fail with an error naming the record and the object.
 */
class ClaimCheckDeserializerTest {
    static final String TOPIC = "tidemark.fixture.docs";

    @TempDir
    Path tmp;

    record Fixture(Headers headers, byte[] value, byte[] expected) {}

    static Path fixtures() {
        try {
            return Path.of(ClaimCheckDeserializerTest.class.getResource("/fixtures").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Fixture load(String name) throws IOException {
        Path d = fixtures().resolve(name);
        RecordHeaders h = new RecordHeaders();
        for (String line : Files.readAllLines(d.resolve("headers"), StandardCharsets.UTF_8)) {
            String[] kv = line.split("\t", 2);
            h.add(kv[0], Base64.getDecoder().decode(kv[1]));
        }
        return new Fixture(h, Files.readAllBytes(d.resolve("value")), Files.readAllBytes(d.resolve("expected")));
    }

    static Map<String, Object> config(Path objects) {
        Map<String, Object> c = new HashMap<>();
        c.put(ClaimCheckConfig.FILE_DIR, objects.toString());
        return c;
    }

    static ClaimCheckDeserializer<byte[]> deserializer(Map<String, Object> c) {
        ClaimCheckDeserializer<byte[]> d = new ClaimCheckDeserializer<>();
        d.configure(c, false);
        return d;
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain", "compressed", "offloaded", "offloaded-gtid"})
    void resolvesWhatTheGoSerdeWrote(String name) throws IOException {
        Fixture f = load(name);
        try (ClaimCheckDeserializer<byte[]> d = deserializer(config(fixtures().resolve("objects")))) {
            assertArrayEquals(f.expected(), d.deserialize(TOPIC, f.headers(), f.value()));
            assertArrayEquals(f.expected(), d.deserialize(TOPIC, f.headers(), ByteBuffer.wrap(f.value())));
        }
        if (!name.equals("plain")) {
            assertTrue(f.value().length < f.expected().length, "the record in Kafka is the smaller one");
        }
    }

    @Test
    void innerDeserializerReceivesTheResolvedValue() throws IOException {
        Fixture f = load("compressed");
        Map<String, Object> c = config(fixtures().resolve("objects"));
        c.put(ClaimCheckConfig.INNER_DESERIALIZER, StringDeserializer.class.getName());
        try (ClaimCheckDeserializer<String> d = new ClaimCheckDeserializer<>()) {
            d.configure(c, false);
            assertEquals(new String(f.expected(), StandardCharsets.UTF_8), d.deserialize(TOPIC, f.headers(), f.value()));
            assertNull(d.deserialize(TOPIC, f.headers(), (byte[]) null));
        }
    }

    @Test
    void keysAndUnawareCallsPassThrough() throws IOException {
        Fixture f = load("offloaded");
        try (ClaimCheckDeserializer<byte[]> d = new ClaimCheckDeserializer<>()) {
            d.configure(config(tmp), true);
            assertArrayEquals(f.value(), d.deserialize(TOPIC, f.headers(), f.value()));
        }
    }

    static ClaimCheckException fails(Map<String, Object> c, Fixture f) {
        try (ClaimCheckDeserializer<byte[]> d = deserializer(c)) {
            return assertThrows(ClaimCheckException.class, () -> d.deserialize(TOPIC, f.headers(), f.value()));
        }
    }

    static void assertNames(ClaimCheckException e, Fixture f, String what) {
        String object = ClaimCheckResolver.header(f.headers(), ClaimCheckResolver.HEADER_OBJECT);
        String msg = e.getMessage();
        assertTrue(msg.contains(what), msg);
        assertTrue(msg.contains("topic " + TOPIC), msg);
        assertTrue(msg.contains("tidemark.id shard1/0-1-43/1/1"), msg);
        assertTrue(msg.contains("object " + object), msg);
        assertEquals(object, e.object());
        assertEquals(TOPIC, e.topic());
        String key = ClaimCheckResolver.header(f.headers(), ClaimCheckResolver.HEADER_KEY);
        assertTrue(!msg.contains(key), "the key is never in an error");
    }

    @Test
    void wrongKey() throws IOException {
        Fixture f = load("offloaded");
        f.headers().remove(ClaimCheckResolver.HEADER_KEY);
        f.headers().add(ClaimCheckResolver.HEADER_KEY, Base64.getEncoder().encode(new byte[32]));
        assertNames(fails(config(fixtures().resolve("objects")), f), f, "wrong key");
    }

    @Test
    void alteredObject() throws IOException {
        Fixture f = load("offloaded");
        String object = ClaimCheckResolver.header(f.headers(), ClaimCheckResolver.HEADER_OBJECT);
        String name = object.substring(object.indexOf("tidemark.fixture.docs/"));
        Path copy = tmp.resolve(name);
        Files.createDirectories(copy.getParent());
        byte[] b = Files.readAllBytes(fixtures().resolve("objects").resolve(name));
        b[b.length / 2] ^= 1;
        Files.write(copy, b);
        assertNames(fails(config(tmp), f), f, "wrong key");
    }

    @Test
    void hashMismatch() throws IOException {
        Fixture f = load("offloaded");
        String sha = ClaimCheckResolver.header(f.headers(), ClaimCheckResolver.HEADER_SHA256);
        String forged = (sha.charAt(0) == '0' ? "1" : "0") + sha.substring(1);
        // The same forgery in the pointer and its header: only the content's hash can tell.
        String value = new String(f.value(), StandardCharsets.ISO_8859_1).replace(sha, forged);
        f.headers().remove(ClaimCheckResolver.HEADER_SHA256);
        f.headers().add(ClaimCheckResolver.HEADER_SHA256, forged.getBytes(StandardCharsets.UTF_8));
        Fixture forgedF = new Fixture(f.headers(), value.getBytes(StandardCharsets.ISO_8859_1), f.expected());
        ClaimCheckException e = fails(config(fixtures().resolve("objects")), forgedF);
        assertNames(e, forgedF, "hash mismatch");
        assertTrue(e.getMessage().contains("the pointer says " + forged), e.getMessage());
    }

    @Test
    void missingObject() throws IOException {
        Fixture f = load("offloaded");
        assertNames(fails(config(tmp), f), f, "object not found");
    }

    @Test
    void sizeOverTheBound() throws IOException {
        Fixture f = load("offloaded");
        Map<String, Object> c = config(fixtures().resolve("objects"));
        c.put(ClaimCheckConfig.MAX_BYTES, "1000");
        assertNames(fails(c, f), f, "the bound");
    }

    @Test
    void headerDiffersFromPointer() throws IOException {
        Fixture f = load("offloaded");
        f.headers().remove(ClaimCheckResolver.HEADER_OBJECT);
        f.headers().add(ClaimCheckResolver.HEADER_OBJECT, "gs://elsewhere/a/b/c/d".getBytes(StandardCharsets.UTF_8));
        ClaimCheckException e = fails(config(fixtures().resolve("objects")), f);
        assertTrue(e.getMessage().contains("differs from the pointer's object"), e.getMessage());
    }

    @Test
    void corruptCompressed() throws IOException {
        Fixture f = load("compressed");
        byte[] v = f.value().clone();
        v[v.length - 3] ^= 0x55; // inside the zstd frame's checksum or data
        ClaimCheckException e = fails(config(tmp), new Fixture(f.headers(), v, f.expected()));
        assertTrue(e.getMessage().contains("topic " + TOPIC) && e.getMessage().contains("zstd"), e.getMessage());
    }

    @Test
    void unknownForm() throws IOException {
        Fixture f = load("compressed");
        f.headers().remove(ClaimCheckResolver.HEADER_CLAIM_CHECK);
        f.headers().add(ClaimCheckResolver.HEADER_CLAIM_CHECK, "sharded".getBytes(StandardCharsets.UTF_8));
        ClaimCheckException e = fails(config(tmp), f);
        assertTrue(e.getMessage().contains("a newer Tidemark?"), e.getMessage());
    }

    @Test
    void partitionAndOffsetWhenKnown() throws IOException {
        Fixture f = load("offloaded");
        ClaimCheckResolver r = new ClaimCheckResolver(ClaimCheckConfig.from(config(tmp)));
        ClaimCheckException e = assertThrows(ClaimCheckException.class, () -> r.resolve(TOPIC, 2, 1234, f.headers(), f.value()));
        assertTrue(e.getMessage().contains("partition 2 offset 1234"), e.getMessage());
    }

    @Test
    void emulatorHostFromTheEnvironment() {
        ClaimCheckConfig c = ClaimCheckConfig.from(Map.of(), Map.of("STORAGE_EMULATOR_HOST", "127.0.0.1:4443"));
        assertEquals("http://127.0.0.1:4443", c.gcsEndpoint);
        assertEquals("anonymous", c.gcsAuth);
        ClaimCheckConfig prod = ClaimCheckConfig.from(Map.of(), Map.of());
        assertEquals("https://storage.googleapis.com", prod.gcsEndpoint);
        assertEquals("metadata", prod.gcsAuth);
        assertEquals("a%2Fb%3A23%25", ObjectFetcher.escape("a/b:23%"));
    }
}
