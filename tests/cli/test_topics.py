"""`brook topics ...` against a real broker: lifecycle, output shapes, errors and exit codes.

Most cases run the CLI in-process (`cli.main.main`, output through capsys) to keep the
suite fast; the one-line-error and exit-code contracts are also checked on real
subprocesses, where a traceback or a stray log line would show.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brook_broker.cli.main import main
from harness.brook import BrookProcess, start_brook

#: ``(code, stdout, stderr)`` of one in-process run; `Cli` returns conftest's `Run`.
Main = Callable[..., tuple[int, str, str]]
Cli = Callable[..., Any]


@pytest.fixture
def brook_main(shared_brook: BrookProcess, capsys: pytest.CaptureFixture[str]) -> Main:
    """``brook_main("topics", "list") -> (code, stdout, stderr)``, in-process."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, "--bootstrap-server", shared_brook.bootstrap, "--command-timeout", "20"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _topic_names(stdout: str) -> list[str]:
    return stdout.splitlines()


def test_create_describe_alter_delete(brook_main: Main, unique_topic: str) -> None:
    code, out, err = brook_main(
        "topics", "create", unique_topic, "--partitions", "2",
        "--config", "retention.ms=3600000", "--config", "cleanup.policy=compact",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"Created topic {unique_topic} (2 partitions, replication factor 1).\n"

    code, out, _ = brook_main("topics", "list")
    assert code == 0 and unique_topic in _topic_names(out)

    code, out, err = brook_main("topics", "describe", unique_topic)
    assert (code, err) == (0, "")
    header = re.search(
        r"Topic: (\S+)\s+TopicId: (\S+)\s+PartitionCount: (\d+)\s+ReplicationFactor: (\d+)", out
    )
    assert header is not None, out
    assert header.group(1) == unique_topic
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", header.group(2)), "Kafka's base64 topic id"
    assert header.group(3, 4) == ("2", "1")
    configs = re.search(r"Configs: (.*)", out)
    assert configs is not None
    assert set(configs.group(1).split(",")) == {"cleanup.policy=compact", "retention.ms=3600000"}
    assert re.search(r"PARTITION\W+LEADER\W+REPLICAS\W+ISR", out)
    rows = re.findall(r"^\W*(\d+)\W+(\d+)\W+([\d,]+)\W+([\d,]+)\W*$", out, re.MULTILINE)
    assert [r[0] for r in rows] == ["0", "1"]
    assert all(r[1:] == ("1", "1", "1") for r in rows)

    code, out, err = brook_main(
        "topics", "alter", unique_topic, "--partitions", "4",
        "--config", "retention.ms=1000", "--delete-config", "cleanup.policy",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith(f"Altered topic {unique_topic}:")

    _, out, _ = brook_main("topics", "describe", unique_topic)
    assert "PartitionCount: 4" in out
    assert re.search(r"Configs: retention\.ms=1000\s*$", out, re.MULTILINE), out

    code, out, err = brook_main("topics", "delete", unique_topic)
    assert (code, out, err) == (0, f"Deleted topic {unique_topic}.\n", "")
    _, out, _ = brook_main("topics", "list")
    assert unique_topic not in _topic_names(out)


def test_create_uses_broker_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # kafka-topics.sh sends -1 for both; the broker's num.partitions / default.replication.factor apply.
    with start_brook(tmp_path / "brook", num_partitions="4") as brook:
        assert main(["topics", "create", "defaults", "--bootstrap-server", brook.bootstrap]) == 0
    assert capsys.readouterr().out == "Created topic defaults (4 partitions, replication factor 1).\n"


def test_describe_several_and_all(brook_main: Main, unique_topic: str) -> None:
    first, second = f"{unique_topic}-a", f"{unique_topic}-b"
    for name in (first, second):
        assert brook_main("topics", "create", name, "--partitions", "1")[0] == 0
    _, out, _ = brook_main("topics", "describe", second, first)
    assert re.findall(r"Topic: (\S+)", out) == [first, second]
    # No names: every topic, like kafka-topics.sh --describe without --topic.
    _, out, _ = brook_main("topics", "describe")
    assert {first, second} <= set(re.findall(r"Topic: (\S+)", out))
    assert "Configs: \n" in out, "no overridden configs: Kafka prints the label alone"


def test_list_excludes_internal(brook_main: Main, unique_topic: str) -> None:
    assert brook_main("topics", "create", unique_topic)[0] == 0
    code, out, _ = brook_main("topics", "list", "--exclude-internal")
    assert code == 0
    names = _topic_names(out)
    assert unique_topic in names
    assert not any(name.startswith("__") for name in names)
    assert names == sorted(names)


def test_existing_topic(brook_main: Main, unique_topic: str) -> None:
    assert brook_main("topics", "create", unique_topic)[0] == 0
    code, out, err = brook_main("topics", "create", unique_topic)
    assert (code, out) == (1, "")
    assert err == f"error: topic '{unique_topic}' already exists (TOPIC_ALREADY_EXISTS)\n"
    code, out, err = brook_main("topics", "create", unique_topic, "--if-not-exists")
    assert (code, out) == (0, "")


@pytest.mark.parametrize(
    "action",
    [
        ["describe"],
        ["alter", "--config", "retention.ms=1000"],
        ["alter", "--partitions", "5"],
        ["delete"],
    ],
    ids=" ".join,
)
def test_unknown_topic(brook_main: Main, unique_topic: str, action: list[str]) -> None:
    verb, *flags = action
    code, out, err = brook_main("topics", verb, unique_topic, *flags)
    assert (code, out) == (1, "")
    assert err == f"error: topic '{unique_topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)\n"


def test_delete_if_exists(brook_main: Main, unique_topic: str) -> None:
    code, out, err = brook_main("topics", "delete", unique_topic, "--if-exists")
    assert (code, out) == (0, "")
    assert "does not exist" in err


def test_delete_several_reports_each(brook_main: Main, unique_topic: str) -> None:
    assert brook_main("topics", "create", unique_topic)[0] == 0
    missing = f"{unique_topic}-missing"
    code, out, err = brook_main("topics", "delete", unique_topic, missing)
    assert code == 1
    assert out == f"Deleted topic {unique_topic}.\n"
    assert err == f"error: topic '{missing}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)\n"


def test_delete_config_checks_the_name(brook_main: Main, unique_topic: str) -> None:
    # The broker ignores a DELETE of a name it does not know; kafka-configs.sh refuses it first.
    assert brook_main("topics", "create", unique_topic)[0] == 0
    code, out, err = brook_main("topics", "alter", unique_topic, "--delete-config", "retention.msec")
    assert (code, out) == (1, "")
    assert err == f"error: topic '{unique_topic}' has no config named retention.msec\n"


def test_set_and_delete_the_same_config(brook_main: Main, unique_topic: str) -> None:
    assert brook_main("topics", "create", unique_topic)[0] == 0
    code, _, err = brook_main(
        "topics", "alter", unique_topic, "--config", "retention.ms=5", "--delete-config", "retention.ms"
    )
    assert code == 1 and err.endswith("(INVALID_REQUEST)\n")


@pytest.mark.parametrize("create", [True, False], ids=["create", "alter"])
def test_invalid_config_value(brook_main: Main, unique_topic: str, create: bool) -> None:
    if create:
        code, out, err = brook_main("topics", "create", unique_topic, "--config", "retention.ms=abc")
    else:
        assert brook_main("topics", "create", unique_topic)[0] == 0
        code, out, err = brook_main("topics", "alter", unique_topic, "--config", "retention.ms=abc")
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: topic '{unique_topic}': ")
    assert "retention.ms" in err and err.endswith("(INVALID_CONFIG)\n")


def test_unknown_config_name(brook_main: Main, unique_topic: str) -> None:
    code, _, err = brook_main("topics", "create", unique_topic, "--config", "no.such.config=1")
    assert code == 1 and err.endswith("(INVALID_CONFIG)\n") and "no.such.config" in err


def test_partitions_never_shrink(brook_main: Main, unique_topic: str) -> None:
    assert brook_main("topics", "create", unique_topic, "--partitions", "3")[0] == 0
    code, _, err = brook_main("topics", "alter", unique_topic, "--partitions", "2")
    assert code == 1 and err.endswith("(INVALID_PARTITIONS)\n") and len(err.splitlines()) == 1


def test_replication_factor_above_brokers(brook_main: Main, unique_topic: str) -> None:
    code, _, err = brook_main("topics", "create", unique_topic, "--replication-factor", "3")
    assert code == 1 and err.endswith("(INVALID_REPLICATION_FACTOR)\n")


def test_illegal_topic_name(brook_main: Main) -> None:
    code, _, err = brook_main("topics", "create", "no spaces allowed")
    assert code == 1 and err.endswith("(INVALID_TOPIC_EXCEPTION)\n")


# --- exit codes on real processes ----------------------------------------------------------


def test_errors_are_one_line_in_a_subprocess(brook_cli: Cli, unique_topic: str) -> None:
    assert brook_cli("topics", "create", unique_topic).code == 0
    again = brook_cli("topics", "create", unique_topic)
    assert again.code == 1
    assert again.stderr_lines == [f"error: topic '{unique_topic}' already exists (TOPIC_ALREADY_EXISTS)"]
    unknown = brook_cli("topics", "describe", f"{unique_topic}-nope")
    assert unknown.code == 1
    assert unknown.stderr_lines == [
        f"error: topic '{unique_topic}-nope' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    ]
    bad = brook_cli("topics", "create", f"{unique_topic}-bad", "--config", "retention.ms=abc")
    assert bad.code == 1 and len(bad.stderr_lines) == 1 and "(INVALID_CONFIG)" in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["topics", "list"],
        ["topics", "create", "t"],
        ["topics", "describe"],
        ["topics", "delete", "t"],
        ["produce", "t"],
        ["consume", "t"],
    ],
    ids=" ".join,
)
def test_unreachable_broker(run_cli: Cli, closed_port: int, args: list[str]) -> None:
    started = time.monotonic()
    result = run_cli(*args, "--bootstrap-server", f"127.0.0.1:{closed_port}", stdin="x\n")
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr_lines == [f"error: cannot reach 127.0.0.1:{closed_port} (connection refused)"]
    # Interpreter start-up dominates; the connection attempt itself is checked in-process below.
    assert elapsed < 60


def test_unreachable_broker_fails_fast(closed_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = main(["topics", "list", "--bootstrap-server", f"127.0.0.1:{closed_port}"])
    assert time.monotonic() - started < 3
    assert code == 1
    assert capsys.readouterr().err == f"error: cannot reach 127.0.0.1:{closed_port} (connection refused)\n"


def test_bootstrap_from_environment(run_cli: Cli, closed_port: int) -> None:
    result = run_cli("topics", "list", env={"BROOK_BOOTSTRAP_SERVER": f"127.0.0.1:{closed_port}"})
    assert result.code == 1
    assert result.stderr_lines == [f"error: cannot reach 127.0.0.1:{closed_port} (connection refused)"]


@pytest.mark.parametrize(
    "args",
    [
        ["topics"],
        ["topics", "create"],
        ["topics", "create", "t", "--config", "no-equals-sign"],
        ["topics", "create", "t", "--partitions", "0"],
        ["topics", "create", "t", "--replication-factor", "x"],
        ["topics", "alter", "t"],
        ["topics", "list", "--bootstrap-server", "no-port"],
        ["topics", "list", "--command-timeout", "0"],
        ["produce", "t", "--acks", "2"],
        ["produce", "t", "--compression", "brotli"],
        ["produce", "t", "--key-separator", ""],
        ["consume", "t", "--offset", "5"],
        ["consume", "t", "--offset", "soon", "--partition", "0"],
        ["consume", "t", "--offset", "earliest", "--from-beginning"],
        ["consume", "t", "--max-messages", "0"],
    ],
    ids=" ".join,
)
def test_bad_usage_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # No broker needed: every one of these is refused before connecting.
    with pytest.raises(SystemExit) as exited:
        code = main(
            [*args, "--bootstrap-server", "127.0.0.1:1"] if "--bootstrap-server" not in args else args
        )
        raise SystemExit(code)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err
