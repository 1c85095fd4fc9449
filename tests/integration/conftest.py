"""Fixtures of the integration suite beyond `harness.brook_fixtures` (``brook``, ``shared_brook``).

``tuned_brook`` is one broker per xdist worker with the overrides that retention and
bad-input tests need: retention checked every 200 ms instead of every 5 minutes, and a
small ``socket.request.max.bytes`` so an oversized request is cheap to send (and a
one-partition ``__consumer_offsets``, which is quicker to create). Tests that use
it share ``@pytest.mark.xdist_group("tuned_brook")`` so only one worker starts it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.brook import BrookProcess, start_brook

#: socket.request.max.bytes of `tuned_brook` (client produce requests stay under 1 MiB).
TUNED_MAX_REQUEST_BYTES = 4 * 1024 * 1024


@pytest.fixture(scope="session")
def tuned_brook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrookProcess]:
    with start_brook(
        tmp_path_factory.mktemp("tuned-brook"),
        log_retention_check_interval_ms="200",
        socket_request_max_bytes=str(TUNED_MAX_REQUEST_BYTES),
        # librdkafka consumers make the group coordinator create __consumer_offsets: one
        # partition instead of 50 saves seconds of directory fsyncs.
        offsets_topic_num_partitions="1",
    ) as process:
        yield process
