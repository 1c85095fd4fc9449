"""`brook-operator`: render the CRDs, or run the operator (kopf) with Brook's settings.

    brook-operator crds [--output crds/] [--check]
    brook-operator run [--namespace NS ...] [--bootstrap-override SPEC ...] [--standalone] [--peering NAME]

`run` maps its flags to BROOK_OPERATOR_* variables (read by `settings.from_env` when the handlers are
imported) and starts kopf with the handlers module; the Helm chart uses the same command.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from brook_operator.api import crds


def _crds(args: argparse.Namespace) -> int:
    output: Path = args.output
    rendered = crds.render_all()
    if args.check:
        stale = [
            name
            for name, text in rendered.items()
            if not (output / name).is_file() or (output / name).read_text() != text
        ]
        extra = (
            sorted(p.name for p in output.glob("*.yaml") if p.name not in rendered) if output.is_dir() else []
        )
        if stale or extra:
            print(
                f"{output}: stale {stale or ''} unexpected {extra or ''}; run `brook-operator crds`",
                file=sys.stderr,
            )
            return 1
        return 0
    output.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (output / name).write_text(text)
        print(output / name)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.namespace:
        os.environ["BROOK_OPERATOR_NAMESPACES"] = ",".join(args.namespace)
    if args.bootstrap_override:
        os.environ["BROOK_OPERATOR_BOOTSTRAP_OVERRIDE"] = ";".join(args.bootstrap_override)
    # Imported here: the handlers read the settings at import time (timer intervals are decorator arguments).
    import kopf

    import brook_operator.handlers

    kopf.configure(verbose=args.verbose)
    kopf.run(
        registry=kopf.get_default_registry(),
        clusterwide=not brook_operator.handlers.SETTINGS.namespaces,
        namespaces=list(brook_operator.handlers.SETTINGS.namespaces),
        standalone=args.standalone,
        peering_name=None if args.standalone else args.peering,
        # kopf pauses *every* replica when peers share a priority; distinct ones make the highest live
        # replica active and the others standbys that take over when it stops renewing its peering record.
        priority=args.priority if args.priority is not None else secrets.randbelow(2**31 - 1) + 1,
        liveness_endpoint=args.liveness,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="brook-operator", description="Brook's Kubernetes operator")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("crds", help="render the CustomResourceDefinitions from the API models")
    render.add_argument("--output", type=Path, default=Path("crds"), help="directory (default: crds)")
    render.add_argument("--check", action="store_true", help="exit 1 if the files in --output are stale")
    render.set_defaults(func=_crds)
    run = commands.add_parser("run", help="run the operator against the current Kubernetes context")
    run.add_argument("--namespace", action="append", default=[], help="watch this namespace (repeatable)")
    run.add_argument(
        "--bootstrap-override",
        action="append",
        default=[],
        metavar="[NS/NAME=]HOST:PORT[,...]",
        help="Kafka bootstrap servers to use instead of a cluster's bootstrap Service (repeatable)",
    )
    run.add_argument("--standalone", action="store_true", help="no peering: the only operator instance")
    run.add_argument(
        "--peering", default="brook-operator", help="kopf peering name for HA (default: brook-operator)"
    )
    run.add_argument(
        "--priority",
        type=int,
        default=None,
        help="kopf peering priority (default: random, distinct per replica)",
    )
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--verbose", action="store_true")
    run.set_defaults(func=_run)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
