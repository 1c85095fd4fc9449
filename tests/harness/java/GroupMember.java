// One Java KafkaConsumer group member, for the integration tests (run by `harness.group_member --client java`).
//
//   java -cp <kafka libs> GroupMember.java --bootstrap B --group G --topic T [--client-id C]
//        [--instance-id I] [--group-protocol classic|consumer] [--assignor uniform|range] [--max-records N]
//
// Prints the same JSON lines as harness/group_member.py, one per event:
//     {"event": "assigned", "partitions": [0, 3]}      the member's whole assignment after each change
//     {"event": "record", "topic": "t", "partition": 0, "offset": 7, "value": "..."}
//     {"event": "closed"}
// Each record is committed (commitSync, offset + 1) before its line is printed. A topic starting
// with "^" is a regular expression: with group.protocol=consumer it goes to the coordinator as a
// SubscriptionPattern (KIP-848's server-side regex). SIGTERM (or --max-records) closes the consumer
// cleanly, which leaves the group; SIGKILL is a crash.

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

public final class GroupMember {
    private static volatile boolean stopping = false;

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        String protocol = args.getOrDefault("group-protocol", "consumer");
        Properties props = new Properties();
        props.put("bootstrap.servers", args.get("bootstrap"));
        props.put("group.id", args.get("group"));
        props.put("group.protocol", protocol);
        props.put("client.id", args.getOrDefault("client-id", "member"));
        props.put("enable.auto.commit", "false");
        props.put("auto.offset.reset", "earliest");
        props.put("key.deserializer", StringDeserializer.class.getName());
        props.put("value.deserializer", StringDeserializer.class.getName());
        if (args.containsKey("instance-id")) {
            props.put("group.instance.id", args.get("instance-id"));
        }
        String assignor = args.get("assignor");
        if (protocol.equals("consumer") && (("uniform").equals(assignor) || ("range").equals(assignor))) {
            props.put("group.remote.assignor", assignor);
        } else if (protocol.equals("classic")) {
            // Client-side assignors, named as the Python members name them.
            Map<String, String> assignors = Map.of(
                "range", "org.apache.kafka.clients.consumer.RangeAssignor",
                "roundrobin", "org.apache.kafka.clients.consumer.RoundRobinAssignor",
                "sticky", "org.apache.kafka.clients.consumer.StickyAssignor",
                "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
            props.put("partition.assignment.strategy", assignors.getOrDefault(assignor, assignors.get("range")));
            int sessionMs = Integer.parseInt(args.getOrDefault("session-ms", "10000"));
            props.put("session.timeout.ms", Integer.toString(sessionMs));
            props.put("heartbeat.interval.ms", Integer.toString(Math.min(1000, sessionMs / 3)));
        }
        long maxRecords = Long.parseLong(args.getOrDefault("max-records", "-1"));
        String topic = args.get("topic");

        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);
        CountDownLatch closed = new CountDownLatch(1);
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping = true;
            consumer.wakeup();
            try {
                closed.await();
                main.join(10_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }));

        TreeSet<Integer> owned = new TreeSet<>();
        ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                partitions.forEach(p -> owned.remove(p.partition()));
                emitAssigned(owned);
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                // Incremental with the consumer protocol: only what this rebalance added.
                partitions.forEach(p -> owned.add(p.partition()));
                emitAssigned(owned);
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                onPartitionsRevoked(partitions);
            }
        };
        if (topic.startsWith("^")) {
            consumer.subscribe(new SubscriptionPattern(topic.substring(1)), listener);
        } else {
            consumer.subscribe(List.of(topic), listener);
        }

        long count = 0;
        try {
            while (!stopping && (maxRecords < 0 || count < maxRecords)) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    TopicPartition tp = new TopicPartition(record.topic(), record.partition());
                    consumer.commitSync(Map.of(tp, new OffsetAndMetadata(record.offset() + 1)));
                    System.out.println("{\"event\": \"record\", \"topic\": \"" + record.topic() + "\", \"partition\": "
                        + record.partition() + ", \"offset\": " + record.offset() + ", \"value\": \"" + record.value() + "\"}");
                    count++;
                    if (maxRecords >= 0 && count >= maxRecords) {
                        break;
                    }
                }
            }
        } catch (WakeupException ignored) {
            // SIGTERM: close below.
        } finally {
            consumer.close();
            System.out.println("{\"event\": \"closed\"}");
            System.out.flush();
            closed.countDown();
        }
    }

    private static void emitAssigned(TreeSet<Integer> owned) {
        StringBuilder out = new StringBuilder("{\"event\": \"assigned\", \"partitions\": [");
        String separator = "";
        for (int partition : owned) {
            out.append(separator).append(partition);
            separator = ", ";
        }
        System.out.println(out.append("]}"));
        System.out.flush();
    }
}
