"""The rendered start.sh starts a real Brook broker, and probe.py reports it ready only once it serves."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from brook_operator.api.kafkacluster import parse_spec
from brook_operator.model import config, naming
from harness.processes import free_ports

IDENTITY = naming.ClusterIdentity(name="demo", namespace="kafka", uid="u")


def _render(tmp_path: Path, port: int) -> Path:
    spec = parse_spec({"listeners": {"internal": {"port": port}}, "config": {"num.partitions": 2}})
    data = config.build_config_map(IDENTITY, spec, external_addresses={})["data"]
    etc = tmp_path / "etc"
    etc.mkdir()
    for name, text in data.items():
        # The pod paths, moved under tmp_path.
        moved = text.replace(config.CONFIG_DIR, str(etc)).replace(config.DATA_DIR, str(tmp_path / "data"))
        # The pod's DNS name does not resolve here: advertise loopback so a client can connect.
        moved = moved.replace(IDENTITY.pod_host(0), "127.0.0.1")
        (etc / name).write_text(moved)
    return etc


async def _broker_config(port: int) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "0")])
    finally:
        await admin.close()
    wanted = {"node.id", "broker.rack", "num.partitions"}
    return {entry[0]: entry[1] for entry in response.resources[0][4] if entry[0] in wanted}


def _probe(etc: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(etc / "probe.py"), str(port)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_start_script_runs_brook_with_the_per_broker_config(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    etc = _render(tmp_path, port)
    assert _probe(etc, port).returncode != 0, "nothing listens yet: not ready"
    env = {
        **os.environ,
        "POD_NAME": "demo-broker-0",
        "BROKER_RACK": "zone-a",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    log = (tmp_path / "broker.log").open("wb")
    proc = subprocess.Popen(["/bin/sh", str(etc / "start.sh")], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while (result := _probe(etc, port)).returncode != 0:
            assert proc.poll() is None, (tmp_path / "broker.log").read_text()
            assert time.monotonic() < deadline, result.stderr
            time.sleep(0.5)
        assert (tmp_path / "data" / "data").is_dir(), "log.dirs is the data volume's subdirectory"
        assert asyncio.run(_broker_config(port)) == {
            "node.id": "0",
            "broker.rack": "zone-a",
            "num.partitions": "2",
        }
        # SIGTERM reaches the broker itself (start.sh execs it), which shuts down cleanly.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_start_script_refuses_an_ordinal_without_config(tmp_path: Path) -> None:
    etc = _render(tmp_path, free_ports(1)[0])
    result = subprocess.run(
        ["/bin/sh", str(etc / "start.sh")],
        env={**os.environ, "POD_NAME": "demo-broker-3"},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 1
    assert "no broker config for ordinal 3" in result.stderr
