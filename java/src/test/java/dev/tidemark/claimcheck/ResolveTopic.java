package dev.tidemark.claimcheck;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * The integration test's Java consumer (integration/java_claimcheck_test.go): reads a topic
 * read_committed from the start to its end with {@link ClaimCheckDeserializer} as the value
 * deserializer, whose inner deserializer decodes the Confluent Avro with the writer's schema from
 * the registry, and prints per record:
 *
 * <pre>RECORD partition offset form sha256(resolved value) id sha256(after.body) sha256(after.note)</pre>
 *
 * A value that fails to deserialize prints {@code ERROR partition offset message} (the consumer's
 * RecordDeserializationException and its cause) and ends the run.
 *
 * <p>Usage: ResolveTopic bootstrap topic registry-url [key=value ...] (extra consumer config).
 */
public final class ResolveTopic {
    /** A decoded value and the SHA-256 of the bytes the inner deserializer was handed. */
    public record Decoded(String payloadSha256, GenericRecord envelope) {}

    /** Confluent-framed Avro to a GenericRecord, the writer's schema from the registry. */
    public static final class RegistryAvroDeserializer implements Deserializer<Decoded> {
        private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();
        private final HttpClient http = HttpClient.newHttpClient();
        private final ObjectMapper json = new ObjectMapper();
        private String registry;

        @Override
        public void configure(Map<String, ?> configs, boolean isKey) {
            registry = configs.get("schema.registry.url").toString().replaceAll("/+$", "");
        }

        @Override
        public Decoded deserialize(String topic, byte[] data) {
            if (data == null) {
                return null;
            }
            ByteBuffer b = ByteBuffer.wrap(data);
            if (data.length < 5 || b.get() != 0) {
                throw new SerializationException("not Confluent-framed Avro");
            }
            int id = b.getInt();
            try {
                GenericDatumReader<GenericRecord> r = new GenericDatumReader<>(schema(id));
                GenericRecord rec = r.read(null, DecoderFactory.get().binaryDecoder(data, 5, data.length - 5, null));
                return new Decoded(sha256(data), rec);
            } catch (IOException | InterruptedException e) {
                throw new SerializationException("decode schema " + id + ": " + e, e);
            }
        }

        private Schema schema(int id) throws IOException, InterruptedException {
            Schema s = schemas.get(id);
            if (s == null) {
                HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id))
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() != 200) {
                    throw new IOException("registry: HTTP " + resp.statusCode() + " for schema " + id);
                }
                s = new Schema.Parser().parse(json.readTree(resp.body()).get("schema").asText());
                schemas.put(id, s);
            }
            return s;
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String fieldSha(GenericRecord after, String field) {
        Object v = after.get(field);
        if (v == null) {
            return "null";
        }
        if (v instanceof ByteBuffer bb) {
            byte[] b = new byte[bb.remaining()];
            bb.duplicate().get(b);
            return sha256(b);
        }
        return sha256(v.toString().getBytes(StandardCharsets.UTF_8));
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ClaimCheckDeserializer.class.getName());
        p.put(ClaimCheckConfig.INNER_DESERIALIZER, RegistryAvroDeserializer.class.getName());
        p.put("schema.registry.url", args[2]);
        for (int i = 3; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            p.put(kv[0], kv[1]);
        }
        String topic = args[1];
        try (KafkaConsumer<byte[], Decoded> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30))) {
                parts.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = new HashMap<>(c.endOffsets(parts)); // the LSO under read_committed
            long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the topic's end was not reached in 3 minutes");
                }
                try {
                    for (ConsumerRecord<byte[], Decoded> r : c.poll(Duration.ofSeconds(1))) {
                        if (r.value() == null) {
                            continue; // a tombstone
                        }
                        GenericRecord after = (GenericRecord) r.value().envelope().get("after");
                        System.out.printf("RECORD %d %d %s %s %s %s %s%n", r.partition(), r.offset(),
                                orDash(ClaimCheckResolver.form(r.headers())), r.value().payloadSha256(),
                                after.get("id"), fieldSha(after, "body"), fieldSha(after, "note"));
                    }
                } catch (RecordDeserializationException e) {
                    String cause = e.getCause() == null ? "" : e.getCause().getMessage();
                    System.out.printf("ERROR %d %d %s | %s%n", e.topicPartition().partition(), e.offset(),
                            e.getMessage().replace('\n', ' '), cause.replace('\n', ' '));
                    return;
                }
            }
        }
        System.out.println("END");
    }

    private static String orDash(String s) {
        return s.isEmpty() ? "-" : s;
    }
}
