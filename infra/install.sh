#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine; safe to run again.
#   - .venv with the pinned Python packages (the project itself, editable); with
#     --python-only, nothing else (what lint, typecheck and the unit tier need)
#   - the Kafka broker's jars and the S3 server (S3Proxy), resolved from Maven Central by mvn
#   - with --browser, Debian's Chromium (/usr/bin/chromium), which the console's browser
#     tests drive through Playwright, where it is missing and apt can install it
#   - with TRACES=1, Jaeger (the trace backend), built once from its Go module; with
#     --for-tests, that build started in the background (the trace tests wait for it)
#   - with --for-tests, the `docker compose` plugin, only where the machine has none: built
#     from its Go module (a few minutes, once), so a test can check docker-compose.yml with
#     `docker compose config` without a Docker engine, and `make compose-check` can run it.
#   - with --containers (`make compose-check`), Debian's podman with runc, netavark,
#     aardvark-dns and iptables, and mmdebstrap, which makes the stand-in images' Debian
#     base; and podman's settings for this kind of machine (docs/compose.md).
set -euo pipefail
cd "$(dirname "$0")/.."

browser=false
for_tests=false
containers=false
python_only=false
for option in "$@"; do
  case "$option" in
    --browser) browser=true ;;
    --for-tests) for_tests=true ;;
    --containers) containers=true ;;
    --python-only) python_only=true ;;
    *) echo "install: unknown option $option (use --browser, --for-tests, --containers, --python-only)" >&2; exit 2 ;;
  esac
done

# podman's settings, where runc is the runtime that works (crun fails on hybrid cgroups) and
# the default rlimits are refused; netavark named, or the CNI file Debian's podman ships is
# read (and warned about) on every command.
PODMAN_CONF=/etc/containers/containers.conf.d/50-kafka-billing.conf
PODMAN_SETTINGS='[containers]
default_ulimits = []

[engine]
runtime = "runc"

[network]
network_backend = "netavark"'
install_containers() {
  local packages=(podman runc netavark aardvark-dns iptables mmdebstrap)
  local commands=(podman runc /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns iptables mmdebstrap)
  local missing=false
  for command in "${commands[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing=true
  done
  if $missing || [ "$(cat "$PODMAN_CONF" 2>/dev/null)" != "$PODMAN_SETTINGS" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "install: the compose check needs root: podman, runc, mmdebstrap and $PODMAN_CONF" >&2
      exit 1
    fi
  fi
  if $missing; then
    echo "install: podman, runc and mmdebstrap (Debian's), for the compose check"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null; then
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
    fi
  fi
  if [ "$(cat "$PODMAN_CONF" 2>/dev/null)" != "$PODMAN_SETTINGS" ]; then
    mkdir -p "$(dirname "$PODMAN_CONF")"
    printf '%s\n' "$PODMAN_SETTINGS" > "$PODMAN_CONF"
    echo "install: podman's settings in $PODMAN_CONF"
  fi
}

PYTHON="${PYTHON:-python3}"
VENV=.venv
TOOLS="${KAFKA_CACHE_DIR:-$HOME/.cache/kafka-billing}/tools"
COMPOSE_VERSION=v2.40.3

# The `docker compose` plugin, only where the machine has none, built once from its Go module.
has_compose_plugin() {
  docker compose version >/dev/null 2>&1 || [ -x "$TOOLS/cli-plugins/docker-compose" ]
}
build_compose_plugin() {
  local module=github.com/docker/compose/v2@$COMPOSE_VERSION source_dir
  # One build at a time: an install run beside this one waits, then finds the plugin.
  exec 9>"$TOOLS/compose-plugin.lock"
  flock 9
  if has_compose_plugin; then
    return 0
  fi
  source_dir=$(go mod download -json "$module" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$TOOLS/cli-plugins"
  # Built aside and moved: a build cut short leaves no plugin that looks installed.
  (cd "$source_dir" && GOFLAGS=-mod=mod go build -trimpath -o "$TOOLS/cli-plugins/docker-compose.partial" ./cmd)
  mv "$TOOLS/cli-plugins/docker-compose.partial" "$TOOLS/cli-plugins/docker-compose"
  echo "install: compose plugin in $TOOLS/cli-plugins"
}

# Begun first, beside the Python packages and the jars (which wait on the network more than
# on the CPU: 150 to 200 CPU-seconds of compiling overlap 30 to 40 s of downloads), in a
# session of its own; waited for at the end, and stopped if the install fails before.
compose_build=""
stop_compose_build() {
  if [ -n "$compose_build" ] && kill -0 "$compose_build" 2>/dev/null; then
    kill -- "-$compose_build" 2>/dev/null || true
    echo "install: stopped the compose plugin's build (its log: $compose_log)" >&2
  fi
}
if ($containers || $for_tests) && ! $python_only && ! has_compose_plugin; then
  if ! command -v go >/dev/null 2>&1; then
    echo "install: no 'docker compose' and no Go to build it; the compose tests will fail" >&2
  else
    mkdir -p "$TOOLS"
    compose_log="$TOOLS/compose-plugin-$COMPOSE_VERSION.$$.log"
    echo "install: building the docker compose plugin $COMPOSE_VERSION in the background (a few minutes, once; $compose_log)"
    export TOOLS COMPOSE_VERSION PYTHON
    setsid bash -euo pipefail -c "$(declare -f has_compose_plugin build_compose_plugin); build_compose_plugin" \
      > "$compose_log" 2>&1 &
    compose_build=$!
    trap stop_compose_build EXIT
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "install: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install: Python packages"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
if $python_only; then
  exit 0
fi

echo "install: Kafka broker jars and the S3 server (S3Proxy)"
"$VENV/bin/python" -c 'from infra.broker import resolve_jars; from runtime.config import StackSettings; print("install: jars in", resolve_jars(StackSettings.from_env()))'
"$VENV/bin/python" -c 'from infra.s3server import resolve_jar; from runtime.config import StackSettings; print("install: S3 server", resolve_jar(StackSettings.from_env()))'

install_chromium() {
  local apt=(apt-get)
  if [ "$(id -u)" != 0 ]; then
    if ! sudo -n true 2>/dev/null; then
      echo "install: no /usr/bin/chromium, and apt needs root: run 'sudo apt-get install chromium'" >&2
      return 0
    fi
    apt=(sudo -n apt-get)
  fi
  echo "install: Chromium (Debian's chromium), for the console's browser tests"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${apt[@]}" install -y -q --no-install-recommends chromium >/dev/null; then
    "${apt[@]}" update -q >/dev/null
    "${apt[@]}" install -y -q --no-install-recommends chromium >/dev/null
  fi
}
if $browser && [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    install_chromium
  else
    echo "install: no /usr/bin/chromium and no apt-get; set CHROMIUM to a Chromium binary" >&2
  fi
fi


# The trace backend of `make up TRACES=1` and of the trace tests, built once from its Go
# module (about 6.5 CPU-minutes). `make up TRACES=1` waits for it; for the tests it builds in
# the background, niced, while the tiers before the trace tests run, and they wait for it.
if [ "${TRACES:-0}" != 0 ]; then
  echo "install: Jaeger, the trace backend (built from its Go module the first time: minutes)"
  "$VENV/bin/python" -m infra.traces
elif $for_tests; then
  "$VENV/bin/python" -m infra.traces --background
fi

if $containers; then
  install_containers
fi
if [ -n "$compose_build" ]; then
  if ! wait "$compose_build"; then
    compose_build=""
    cat "$compose_log" >&2
    echo "install: building the docker compose plugin failed (log above: $compose_log)" >&2
    exit 1
  fi
  compose_build=""
  cat "$compose_log"
  rm -f "$compose_log"
fi
