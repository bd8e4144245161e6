"""deploy/ read as data: its paths, its files parsed, and what the tests ask of them.

Shared by the pure checks (tests/unit/test_deploy.py: every file parsed and cross-checked
against the code) and the ones that start processes (tests/e2e/test_deploy_commands.py: the
celery CLI asked about every command line, the compose files validated by check-jsonschema,
the trial's SQS queue created against a real moto server). Nothing here starts or connects
to anything.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
PROM = DEPLOY / "prometheus"
COMPOSE = DEPLOY / "docker-compose.yml"
TRIAL = DEPLOY / "docker-compose.trial.yml"

IMAGES = {"spsync:local": None, "spsync:trial": "trial"}  # compose image -> Dockerfile target

# Compose services that run the spsync image without a celery command: the trial's stand-in
# for AWS SQS (moto's server, a dependency of spsync) and the one-shot that creates its queue.
NOT_CELERY = {"sqs": ["python", "-m", "moto.server"], "sqs-queue": ["python", "-c"]}


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = read_yaml(COMPOSE)
    return doc


@cache
def trial() -> dict[str, Any]:
    doc: dict[str, Any] = read_yaml(TRIAL)
    return doc


@cache
def k8s_docs() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file name, object) for every Kubernetes object under deploy/k8s/."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return tuple(docs)


def k8s(kind: str, name: str) -> dict[str, Any]:
    found = [d for _, d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name} under deploy/k8s/, found {len(found)}"
    return found[0]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    """(Kind/name, pod spec) of every workload."""
    for _, doc in k8s_docs():
        if doc["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"}:
            template = doc["spec"]["template"] if doc["kind"] != "CronJob" else \
                doc["spec"]["jobTemplate"]["spec"]["template"]
            yield f"{doc['kind']}/{doc['metadata']['name']}", template["spec"]


def container(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return dict(found)


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def spsync_services(services: dict[str, Any]) -> dict[str, Any]:
    """The compose services that run a spsync image (not postgres, redis, prometheus...): the
    default target, or the trial's (the same plus the demo extra)."""
    return {n: s for n, s in services.items() if s.get("image") in IMAGES}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def with_trial(name: str) -> dict[str, str]:
    """A service's environment with docker-compose.trial.yml applied (compose merges keys)."""
    overlay = trial()["services"].get(name, {})
    return environment(compose()["services"][name]) | environment(overlay)


_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with VAR unset; a variable with no default must not remain."""
    def default(match: re.Match[str]) -> str:
        assert match[2] is not None, f"{match[0]} has no default: compose would need it set"
        return match[2]

    return _INTERPOLATION.sub(default, value)


def option(args: list[str], name: str, default: str | None = None) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in a command line."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_cmd() -> list[str]:
    cmds = [rest for word, rest in dockerfile() if word == "CMD"]
    assert cmds, "deploy/Dockerfile has no CMD"
    return [str(a) for a in json.loads(cmds[-1])]  # exec form: no shell in between


def command_lines() -> dict[tuple[str, ...], list[str]]:
    """Every command line a container runs -> where it is written."""
    lines: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for name, service in spsync_services(compose()["services"]).items():
        if name not in NOT_CELERY:  # see test_trial_sqs_is_created_where_the_consumer_reads
            lines[tuple(argv(service["command"]))].append(f"docker-compose.yml {name}")
    for name, service in trial()["services"].items():
        if "command" in service:
            lines[tuple(argv(service["command"]))].append(f"docker-compose.trial.yml {name}")
    for where, spec in pod_specs():
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            lines[(*c.get("command", []), *c.get("args", []))].append(f"k8s {where}")
    lines[tuple(dockerfile_cmd())].append("Dockerfile CMD")
    return lines
