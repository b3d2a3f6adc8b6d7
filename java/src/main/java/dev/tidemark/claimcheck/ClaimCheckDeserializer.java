package dev.tidemark.claimcheck;

import java.nio.ByteBuffer;
import java.util.Map;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.utils.Utils;

/**
 * A Kafka value {@code Deserializer} for Tidemark's topics: it resolves claim-checked records
 * (compressed inline, or offloaded encrypted to GCS; docs/claim-check.md) and hands the record's
 * Confluent-framed Avro value to the job's own deserializer, {@value ClaimCheckConfig#INNER_DESERIALIZER}
 * (default: the bytes as they are). Plain records go to it untouched.
 *
 * <pre>
 * value.deserializer=dev.tidemark.claimcheck.ClaimCheckDeserializer
 * tidemark.claimcheck.inner.deserializer=io.confluent.kafka.serializers.KafkaAvroDeserializer
 * </pre>
 *
 * The inner deserializer is configured with the same properties. Errors are {@link
 * ClaimCheckException}s (a {@code SerializationException}), which the consumer wraps with the
 * record's partition and offset and Kafka Streams hands to its deserialization exception handler.
 * Used as a key deserializer it only delegates: Tidemark claim-checks values only.
 */
public class ClaimCheckDeserializer<T> implements Deserializer<T> {
    private Deserializer<T> inner;
    private ClaimCheckResolver resolver;
    private boolean isKey;

    public ClaimCheckDeserializer() {}

    /** A deserializer with its inner deserializer given, for code that builds its serdes (Kafka Streams). */
    public ClaimCheckDeserializer(Deserializer<T> inner) {
        this.inner = inner;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs, boolean isKey) {
        this.isKey = isKey;
        this.resolver = new ClaimCheckResolver(ClaimCheckConfig.from(configs));
        if (inner == null) {
            Object cls = configs.get(ClaimCheckConfig.INNER_DESERIALIZER);
            try {
                if (cls == null || cls.toString().isBlank()) {
                    inner = (Deserializer<T>) new ByteArrayDeserializer();
                } else if (cls instanceof Class<?> c) {
                    inner = (Deserializer<T>) Utils.newInstance(c);
                } else {
                    inner = Utils.newInstance(cls.toString().trim(), Deserializer.class);
                }
            } catch (ClassNotFoundException | KafkaException e) {
                throw new KafkaException(ClaimCheckConfig.INNER_DESERIALIZER + " " + cls + ": " + e.getMessage(), e);
            }
        }
        inner.configure(configs, isKey);
    }

    private ClaimCheckResolver resolver() {
        if (resolver == null) { // used without configure (a serde built in code)
            resolver = new ClaimCheckResolver(ClaimCheckConfig.from(Map.of()));
        }
        return resolver;
    }

    private Deserializer<T> inner() {
        if (inner == null) {
            throw new IllegalStateException("ClaimCheckDeserializer used before configure()");
        }
        return inner;
    }

    /** Without headers a claim-checked record cannot be told apart: the value goes to the inner deserializer as it is. */
    @Override
    public T deserialize(String topic, byte[] data) {
        return inner().deserialize(topic, data);
    }

    @Override
    public T deserialize(String topic, Headers headers, byte[] data) {
        if (isKey || data == null || ClaimCheckResolver.form(headers).isEmpty()) {
            return inner().deserialize(topic, headers, data);
        }
        return inner().deserialize(topic, headers, resolver().resolve(topic, -1, -1, headers, data));
    }

    @Override
    public T deserialize(String topic, Headers headers, ByteBuffer data) {
        if (isKey || data == null || ClaimCheckResolver.form(headers).isEmpty()) {
            return inner().deserialize(topic, headers, data);
        }
        return inner().deserialize(topic, headers, resolver().resolve(topic, -1, -1, headers, Utils.toArray(data)));
    }

    @Override
    public void close() {
        if (inner != null) {
            inner.close();
        }
    }
}
