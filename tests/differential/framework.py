"""The differential suite's machinery: targets, scenarios, normalisation and the side-by-side comparison.

A *scenario* is a plain function ``(target) -> observation``: it performs client actions against
one broker and returns what a user would observe there as plain data (dicts, lists, strings,
ints), already stripped of what legitimately differs between two brokers (ids, timestamps,
hosts and ports, cluster ids). `check()` runs a scenario once against Apache Kafka and once
against Brook and asserts the two observations are equal; on failure it prints both sides and a
unified diff. Real Kafka is the specification: a difference is a Brook bug unless the scenario
is marked `@differs_on_purpose(reason, brook=...)`, which documents the difference, still runs
both sides, and asserts that Brook differs exactly as described.

Test modules (``test_*.py`` here) define scenarios with `@scenario` and one
``test_same_as_kafka(scenario, targets)`` function; conftest.py parametrizes it with every
scenario of the module. See docs/differential.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import enum
import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.kafka_wire import KafkaWire

#: Order matters: Kafka (the specification) runs first, so its observation is on the left of a diff.
TARGETS = ("kafka", "brook")

Observation = Any
"""What a scenario returns: JSON-like data (dict, list, str, int, float, bool, None)."""


@dataclass(frozen=True)
class Target:
    """One broker under test, as a scenario sees it.

    ``run_id`` is shared by both targets of one comparison, so `topic()` gives the *same* names
    on Kafka and on Brook (names are part of what is compared, and need no normalising).
    """

    name: str
    bootstrap: str
    node_id: int
    run_id: str

    def topic(self, label: str = "t") -> str:
        return f"diff-{self.run_id}-{label}"

    @contextmanager
    def wire(self) -> Iterator[KafkaWire]:
        """A raw kio connection (harness.kafka_wire), closed when the block ends."""
        with KafkaWire.connect(self.bootstrap) as wire:
            yield wire

    def call(self, request: Any) -> Any:
        """Send one kio request on a fresh connection and return the response body."""
        with self.wire() as wire:
            return wire.request(request)

    def node(self, node_id: int) -> str:
        """A broker id as an observation: this broker is "self", anything else is kept as a number."""
        return "self" if node_id == self.node_id else str(node_id)

    def scrub(self, text: str | None) -> str | None:
        """Replace this target's address in a message (error texts may quote it)."""
        if text is None:
            return None
        port = self.bootstrap.rsplit(":", 1)[1]
        return text.replace(self.bootstrap, "<bootstrap>").replace(f":{port}", ":<port>")


def plain(value: Any) -> Observation:
    """A kio entity (or anything nested in one) as JSON-like data.

    Error codes become their names (``topic_already_exists``), durations milliseconds, UUIDs
    ``"<uuid>"`` (or ``"<zero-uuid>"`` for the all-zero "none" id), bytes a latin-1 string.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bool | str | float) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, datetime.timedelta):
        return int(value / datetime.timedelta(milliseconds=1))
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, uuid.UUID):
        return "<zero-uuid>" if value.int == 0 else "<uuid>"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    raise TypeError(f"cannot make {type(value).__name__} plain: {value!r}")


def without(data: Observation, *keys: str) -> Observation:
    """``data`` with the given keys removed from every dict at any depth (throttle times, say)."""
    if isinstance(data, dict):
        return {k: without(v, *keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [without(v, *keys) for v in data]
    return data


def wait_for(
    probe: Callable[[], Observation],
    done: Callable[[Observation], bool],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
) -> Observation:
    """Call ``probe`` until ``done(result)`` or the timeout; returns the last result either way.

    Kafka applies a controller change to the broker's metadata a moment after acknowledging it;
    scenarios wait for the *state* they want to observe, and the comparison shows what was seen.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(interval_s)


# --- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A documented, intentional difference: what Brook observes, computed from Kafka's observation."""

    reason: str
    brook: Callable[[Observation], Observation]


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Target], Observation]
    doc: str
    difference: Difference | None = field(default=None)

    def __str__(self) -> str:
        return self.name

    def check(self, observations: Mapping[str, Observation]) -> None:
        """Assert the observations agree (or differ exactly as documented); fail with both sides."""
        if set(observations) != set(TARGETS):
            return  # one target only (BROOK_DIFFERENTIAL_TARGETS): nothing to compare
        kafka, brook = observations["kafka"], observations["brook"]
        expected = kafka if self.difference is None else self.difference.brook(kafka)
        if brook == expected:
            return
        title = (
            f"{self.name}: Brook differs from Apache Kafka"
            if self.difference is None
            else f"{self.name}: Brook does not differ as documented ({self.difference.reason})"
        )
        raise AssertionError(render_difference(title, expected=expected, brook=brook, doc=self.doc))


def scenario(run: Callable[[Target], Observation]) -> Scenario:
    """Declare a scenario; its docstring says what it proves (and is printed when it fails)."""
    doc = " ".join((run.__doc__ or "").split())
    assert doc, f"scenario {run.__name__} needs a docstring saying what it proves"
    return Scenario(name=run.__name__, run=run, doc=doc)


def differs_on_purpose(
    reason: str, *, brook: Callable[[Observation], Observation]
) -> Callable[[Scenario], Scenario]:
    """Mark a scenario whose Brook observation differs from Kafka's on purpose.

    ``brook`` maps Kafka's observation to the one Brook must produce, so the difference is
    asserted, not skipped. The reason shows up in the test report (``differs_on_purpose``
    marker and the terminal summary) and belongs in docs/compatibility.md.
    """

    def mark(declared: Scenario) -> Scenario:
        return dataclasses.replace(declared, difference=Difference(reason=reason, brook=brook))

    return mark


def render(observation: Observation) -> list[str]:
    return json.dumps(observation, indent=2, sort_keys=True, default=repr).splitlines()


def render_difference(title: str, *, expected: Observation, brook: Observation, doc: str) -> str:
    left, right = render(expected), render(brook)
    diff = difflib.unified_diff(left, right, "kafka (expected)", "brook", n=4, lineterm="")
    return "\n".join(
        [
            title,
            f"  scenario: {doc}",
            "--- diff (kafka -> brook) ---",
            *diff,
            "--- kafka (expected) ---",
            *left,
            "--- brook ---",
            *right,
        ]
    )


class IntentionalDifference(UserWarning):
    """Warned by scenarios marked differs_on_purpose, so the report's warnings summary lists them."""


def run_scenario(scenario: Scenario, targets: Mapping[str, Target]) -> None:
    """Run ``scenario`` on each target (Kafka first) and compare: the body of every conformance test."""
    observations: dict[str, Observation] = {}
    for name, target in targets.items():
        try:
            observations[name] = scenario.run(target)
        except Exception as error:
            error.add_note(f"(scenario {scenario.name} failed against {name} at {target.bootstrap})")
            raise
    if len(observations) == 1:
        [(name, seen)] = observations.items()
        print(f"{scenario.name} on {name}:", *render(seen), sep="\n")
    if scenario.difference is not None:
        warnings.warn(IntentionalDifference(f"{scenario.name}: {scenario.difference.reason}"), stacklevel=2)
    scenario.check(observations)
