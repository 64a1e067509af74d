"""docker/compose.yaml and docker/Dockerfile stay a real, loadable Compose setup for the same five processes the
launcher runs (Docker's engine cannot run here, so the file is checked against the Compose Specification's JSON
Schema and against the launcher's documented defaults). Reads files only: no cluster, no network.

The schema comes from $SWITCHBOARD_SHARED_DIR/schemas/compose-spec.json, else <repo>/../shared/schemas/.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "docker" / "compose.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
PACKAGE = REPO_ROOT / "Package.swift"

# The launcher's defaults: service name -> (executable product, port variable, port).
GRPC_SERVICES = {
    "contacts": ("contacts-service", "SWITCHBOARD_CONTACTS_PORT", 7101),
    "conversations": ("conversations-service", "SWITCHBOARD_CONVERSATIONS_PORT", 7102),
    "messaging": ("messaging-service", "SWITCHBOARD_MESSAGING_PORT", 7103),
    "analytics": ("analytics-service", "SWITCHBOARD_ANALYTICS_PORT", 7104),
}
HTTP_PORT = 8080
TOKEN_VARIABLE = re.compile(r"^\$\{SWITCHBOARD_INTERNAL_TOKEN(:?[?-].*)?\}$")


@pytest.fixture(autouse=True)
def _never_a_server_error():
    """Overrides the conftest's autouse fixture of the same name: this module needs no running cluster."""
    yield


@pytest.fixture(scope="module")
def compose() -> dict:
    doc = yaml.safe_load(COMPOSE.read_text())  # SafeLoader resolves the `<<: *anchor` merge keys
    assert isinstance(doc, dict), f"{COMPOSE} is not a YAML mapping"
    return doc


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def products() -> set[str]:
    names = set(re.findall(r'\.executable\(\s*name:\s*"([^"]+)"', PACKAGE.read_text()))
    assert names, f"no .executable(name: …) products found in {PACKAGE}"
    return names


def schema_path() -> Path:
    configured = os.environ.get("SWITCHBOARD_SHARED_DIR")
    shared = Path(configured) if configured else REPO_ROOT.parent / "shared"
    path = shared / "schemas" / "compose-spec.json"
    if not path.is_file():
        if configured:
            pytest.fail(f"SWITCHBOARD_SHARED_DIR={configured} holds no schemas/compose-spec.json")
        pytest.skip(f"no Compose Specification schema at {path} (set SWITCHBOARD_SHARED_DIR)")
    return path


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


# ---------------------------------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification(compose):
    schema = json.loads(schema_path().read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)


def test_the_five_processes_are_services(services):
    assert set(services) == {*GRPC_SERVICES, "edge"}


@pytest.mark.parametrize("name", sorted(GRPC_SERVICES))
def test_grpc_service_matches_the_launcher_defaults(services, name):
    executable, port_variable, port = GRPC_SERVICES[name]
    service = services[name]
    env = environment(service)
    assert service.get("command") == [executable]
    assert env.get(port_variable) == str(port), f"{name}: {port_variable}"
    assert env.get("SWITCHBOARD_BIND_HOST") == "0.0.0.0", f"{name} must listen beyond loopback in its container"
    assert env.get("SWITCHBOARD_DATA_DIR") == "/data"
    assert str(port) in [str(p) for p in service.get("expose", [])], f"{name} must expose {port}"
    assert "ports" not in service, f"{name} is internal: expose it, do not publish it"
    assert f"/dev/tcp/127.0.0.1/{port}" in healthcheck_command(service)


def test_edge_reaches_every_service_by_name_and_publishes_http(services):
    edge = services["edge"]
    env = environment(edge)
    assert edge.get("command") == ["edge"]
    assert env.get("SWITCHBOARD_HTTP_HOST") == "0.0.0.0"
    assert env.get("SWITCHBOARD_HTTP_PORT", str(HTTP_PORT)) == str(HTTP_PORT)
    assert env.get("SWITCHBOARD_DATA_DIR") == "/data"
    for name, (_, port_variable, port) in GRPC_SERVICES.items():
        assert env.get(f"SWITCHBOARD_{name.upper()}_HOST") == name
        assert env.get(port_variable, str(port)) == str(port), port_variable
    published = [str(p) if not isinstance(p, dict) else f"{p.get('published')}:{p.get('target')}"
                 for p in edge.get("ports", [])]
    assert any(p.split(":")[-1].split("/")[0] == str(HTTP_PORT) for p in published), published
    check = healthcheck_command(edge)
    assert f"/dev/tcp/127.0.0.1/{HTTP_PORT}" in check and "/healthz" in check and "200" in check


def test_edge_starts_after_every_service_is_healthy(services):
    depends = services["edge"].get("depends_on")
    assert isinstance(depends, dict), "edge needs depends_on with conditions"
    for name in GRPC_SERVICES:
        assert depends.get(name, {}).get("condition") == "service_healthy", name


def test_every_service_shares_the_internal_token_and_has_a_healthcheck_and_its_own_volume(compose, services):
    tokens = {name: environment(s).get("SWITCHBOARD_INTERNAL_TOKEN") for name, s in services.items()}
    assert all(t and TOKEN_VARIABLE.match(t) for t in tokens.values()), f"token must come from the shell: {tokens}"
    assert len(set(tokens.values())) == 1, tokens

    volumes_used = {}
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        mounts = [v for v in service.get("volumes", [])]
        data = [m for m in mounts
                if (m.split(":")[1] if isinstance(m, str) else m.get("target")) == "/data"]
        assert len(data) == 1, f"{name} must mount exactly one volume at /data: {mounts}"
        source = data[0].split(":")[0] if isinstance(data[0], str) else data[0].get("source")
        assert source in (compose.get("volumes") or {}), f"{name}: {source} is not a named volume"
        volumes_used[name] = source
    assert len(set(volumes_used.values())) == len(volumes_used), f"services share a volume: {volumes_used}"


def test_every_command_is_an_executable_product(services, products):
    for name, service in services.items():
        command = service.get("command")
        assert isinstance(command, list) and command, f"{name}: command must be an exec-form list"
        assert command[0] in products, f"{name} runs {command[0]!r}, not a product of Package.swift ({products})"


def test_dockerfile_builds_and_installs_every_product(products):
    text = DOCKERFILE.read_text()
    stages = re.split(r"(?im)^FROM\s+", text)[1:]
    assert len(stages) >= 2, "expected a build stage and a runtime stage"
    build, runtime = stages[0], stages[-1]

    assert re.match(r"swift:\S*bookworm\S*\s+AS\s+\w+", build, re.I), "build stage must use a Swift bookworm image"
    assert "libsqlite3-dev" in build
    assert "libsqlite3-0" in runtime

    builds = re.findall(r"swift build\b[^\n&;]*", build)
    assert any("-c release" in b or "--configuration release" in b for b in builds), builds
    targeted = set(re.findall(r"--product[= ]+([\w-]+)", build))
    builds_everything = any("--product" not in b and "--target" not in b and "--show-bin-path" not in b
                            for b in builds)
    assert builds_everything or products <= targeted, f"not built: {products - targeted}"

    # Products reach the runtime image either through a `for product in …` copy loop or by name.
    loop = re.search(r"for\s+\w+\s+in\s+([^;\n]+);", build)
    copied = set(loop.group(1).split()) if loop else set()
    copied |= {p for p in products if re.search(rf"COPY\s+--from=\S+\s+\S*/{re.escape(p)}\s", runtime)}
    assert products <= copied, f"products not copied: {products - copied}"
    assert re.search(r"COPY\s+--from=\S+\s+\S+\s+/usr/local/bin/?", runtime), "binaries go to /usr/local/bin"
    assert re.search(r'CMD\s+\[\s*"switchboard"\s*\]', runtime), "the default command is the launcher"


def test_dockerignore_keeps_build_folders_and_data_out_of_the_context():
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for required in (".build*", "data", ".venv"):
        assert required in patterns, f".dockerignore lacks {required}"
