"""Property tests: random operation sequences and random tail damage against a simple model of the log."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from log_testkit import TP, FakeClock, make_batch

from brook_broker.config.log_config import LogConfig
from brook_broker.log.unified_log import UnifiedLog
from brook_broker.protocol.records import iter_batches, read_header, validate_batches

#: Small limits so that short runs roll segments by size and by full indexes.
CONFIG = LogConfig(segment_bytes=1200, index_interval_bytes=64, segment_index_bytes=96)
PID = 99
EPOCH = 3


def stored(batch: bytes, base_offset: int) -> bytes:
    """The bytes the leader writes: the client's batch with its offset and epoch rewritten."""
    return struct.pack(">qii", base_offset, read_header(batch).batch_length, EPOCH) + batch[16:]


def contents(log: UnifiedLog) -> bytes:
    return b"".join(
        log.read(segment.base_offset, max_bytes=1 << 30).records.read_bytes()
        for segment in log.local_log.segments
    )


def load(directory: Path, clock: FakeClock, **kwargs: object) -> UnifiedLog:
    return UnifiedLog.load(dir=directory, topic_partition=TP, config=CONFIG, time=clock, **kwargs)  # type: ignore[arg-type]


def crash(log: UnifiedLog) -> None:
    for segment in log.local_log.segments:
        segment.close_handlers()


operation = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 6), st.integers(0, 120), st.booleans()),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("reopen"), st.booleans()),
)


class Model:
    """The batches the log should hold, as stored, and the producer's client batches."""

    def __init__(self) -> None:
        self.batches: list[bytes] = []
        #: (client batch, base offset) of idempotent appends still in the log.
        self.idempotent: list[tuple[bytes, int]] = []

    @property
    def log_end_offset(self) -> int:
        return read_header(self.batches[-1]).next_offset if self.batches else 0

    def next_sequence(self) -> int:
        if not self.idempotent:
            return 0
        batch, _ = self.idempotent[-1]
        return read_header(batch).last_sequence + 1

    def truncate(self, offset: int) -> None:
        self.batches = [b for b in self.batches if read_header(b).last_offset < offset]
        self.idempotent = [(b, base) for b, base in self.idempotent if base < self.log_end_offset]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=25))
def test_random_operations_then_reopen_preserve_the_log(operations: list[tuple[object, ...]]) -> None:
    clock = FakeClock()
    model = Model()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / str(TP)
        log = load(directory, clock, clean_shutdown=True)
        for op in operations:
            if op[0] == "append":
                _, count, value_size, idempotent = op
                assert isinstance(count, int) and isinstance(value_size, int)
                if idempotent:
                    seq = model.next_sequence()
                    batch = make_batch(
                        count, value_size=value_size, producer_id=PID, producer_epoch=0, base_sequence=seq
                    )
                else:
                    batch = make_batch(count, value_size=value_size)
                info = log.append_as_leader(batch, leader_epoch=EPOCH)
                assert info.first_offset == model.log_end_offset
                model.batches.append(stored(batch, info.first_offset))
                if idempotent:
                    model.idempotent.append((batch, info.first_offset))
            elif op[0] == "truncate":
                target = int(op[1] * model.log_end_offset)  # type: ignore[operator]
                log.truncate_to(target)
                model.truncate(target)
            elif op[0] == "flush":
                log.flush()
            else:
                recovery_point = log.recovery_point
                if op[1]:
                    log.flush()
                    log.close()
                    log = load(directory, clock, clean_shutdown=True, recovery_point=log.recovery_point)
                else:
                    crash(log)
                    log = load(directory, clock, clean_shutdown=False, recovery_point=recovery_point)
            assert log.log_end_offset == model.log_end_offset
            assert contents(log) == b"".join(model.batches)
        # The producer's last batch is still recognised as a duplicate, even across reopens.
        if model.idempotent:
            batch, base = model.idempotent[-1]
            retry = log.append_as_leader(batch, leader_epoch=EPOCH)
            assert retry.duplicate and retry.first_offset == base
        log.close()


#: Bytes of a batch outside the CRC: baseOffset (0-8) and partitionLeaderEpoch (12-16).
_UNCHECKED = set(range(8)) | set(range(12, 16))


@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 80)), min_size=1, max_size=8),
    damage=st.sampled_from(["flip", "truncate", "garbage"]),
    where=st.floats(0, 1, exclude_max=True),
    payload=st.binary(min_size=1, max_size=64),
)
def test_random_tail_damage_never_keeps_a_bad_batch(
    batches: list[tuple[int, int]], damage: str, where: float, payload: bytes
) -> None:
    clock = FakeClock()
    config = LogConfig(index_interval_bytes=64)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / str(TP)
        log = UnifiedLog.load(dir=directory, topic_partition=TP, config=config, time=clock)
        originals = []
        for count, size in batches:
            info = log.append_as_leader(make_batch(count, value_size=size), leader_epoch=EPOCH)
            originals.append(log.read(info.first_offset, max_bytes=1 << 20).records.read_bytes())
        originals = [data[: read_header(data).batch_length + 12] for data in originals]
        crash(log)
        path = directory / "00000000000000000000.log"
        data = bytearray(path.read_bytes())
        # Damage somewhere in the last two batches (the unflushed tail).
        tail_start = sum(len(b) for b in originals[:-2])
        position = tail_start + int(where * (len(data) - tail_start))
        if damage == "flip":
            for i in range(position, min(len(data), position + len(payload))):
                data[i] ^= payload[i - position]
        elif damage == "truncate":
            del data[position:]
        else:
            data += payload
        path.write_bytes(bytes(data))

        recovered = UnifiedLog.load(
            dir=directory, topic_partition=TP, config=config, time=clock, clean_shutdown=False
        )
        kept = contents(recovered)
        headers = [h for _, h in iter_batches(kept)] if kept else []
        if kept:
            validate_batches(kept)  # every kept batch is whole, magic 2 and passes its CRC
        assert len(headers) <= len(originals)
        expected_offset = 0
        for (position, header), original in zip(iter_batches(kept), originals, strict=False):
            batch = kept[position : position + header.size]
            differing = {i for i, (a, b) in enumerate(zip(batch, original, strict=True)) if a != b}
            assert len(batch) == len(original) and differing <= _UNCHECKED
            assert header.base_offset >= expected_offset
            expected_offset = header.next_offset
        assert recovered.log_end_offset == (headers[-1].next_offset if headers else 0)
        recovered.append_as_leader(make_batch(1), leader_epoch=EPOCH)  # and the log is writable again
        recovered.close()
