package dev.tidemark.claimcheck;

import org.apache.kafka.common.errors.SerializationException;

/**
 * A claim-checked record that could not be resolved: the object is missing, fails its hash or
 * does not open with the record's key, or the record is malformed. The message names the topic,
 * the partition and offset when known (a {@code Deserializer} is not told them: the consumer's
 * {@code RecordDeserializationException} and Kafka Streams' {@code ErrorHandlerContext} add
 * them), the record's {@code tidemark.id} and the object; it never contains the key.
 */
public class ClaimCheckException extends SerializationException {
    private static final long serialVersionUID = 1L;

    private final String topic;
    private final int partition;
    private final long offset;
    private final String recordId;
    private final String object;

    public ClaimCheckException(String topic, int partition, long offset, String recordId, String object, String reason,
            Throwable cause) {
        super(describe(topic, partition, offset, recordId, object) + ": " + reason, cause);
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.recordId = recordId;
        this.object = object;
    }

    static String describe(String topic, int partition, long offset, String recordId, String object) {
        StringBuilder b = new StringBuilder("resolve the claim-checked record at topic ").append(topic);
        if (partition >= 0) {
            b.append(" partition ").append(partition).append(" offset ").append(offset);
        }
        if (recordId != null) {
            b.append(" (tidemark.id ").append(recordId).append(')');
        }
        if (object != null && !object.isEmpty()) {
            b.append(" object ").append(object);
        }
        return b.toString();
    }

    /** The record's topic. */
    public String topic() { return topic; }

    /** The record's partition, or -1 where the caller did not know it (a Deserializer). */
    public int partition() { return partition; }

    /** The record's offset, or -1 where the caller did not know it. */
    public long offset() { return offset; }

    /** The record's tidemark.id header (shard/event/row/part), or null. */
    public String recordId() { return recordId; }

    /** The offloaded object's URI, or null for a compressed record or a malformed pointer. */
    public String object() { return object; }
}
