# Shared set-up of the notebook tooling, sourced by scripts/notebooks,
# scripts/test, .ci/run and binder/postBuild. Every `ensure_*` step is
# idempotent: it checks what is there and installs only what is missing.
#
#   ensure_rust        cargo and rustc on PATH (rustup's ~/.cargo/bin added)
#   ensure_evcxr       evcxr_jupyter at the version pinned in scripts/requirements-cargo.txt
#   ensure_venv        .venv with the Python packages pinned in scripts/requirements.txt
#   ensure_kernelspec  the `rust` kernelspec, in the Python environment, running
#                      crates/dlkit-kernel (one evcxr build slot per kernel)
#   ensure_warm        dlkit and its dependencies compiled in a kernel slot
#
# Settings (environment):
#   DLKIT_PYTHON       Python that creates .venv (default: python3)
#   DLKIT_CARGO_ROOT   `cargo install --root` for evcxr_jupyter (default: cargo's, ~/.cargo)
#   DLKIT_SYSTEM_PYTHON=1  use the current Python environment instead of .venv (Binder)

DLKIT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DLKIT_VENV=$DLKIT_REPO/.venv
# The venv's kernelspec must win over a user-wide `rust` kernel.
export JUPYTER_PREFER_ENV_PATH=1

now() { date +%s.%N; }

# step "what it does" command... : prints the step, runs it, prints how long it took.
step() {
    local what=$1
    shift
    local t0 t1
    t0=$(now)
    echo "==> $what"
    local status=0
    "$@" || status=$?
    t1=$(now)
    local took
    took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ "$status" -eq 0 ]; then
        echo "<== $what: done in ${took} s"
        DLKIT_TIMINGS+=("$(printf '%8s s  %s' "$took" "$what")")
    else
        echo "<== $what: FAILED (exit $status) after ${took} s" >&2
        DLKIT_TIMINGS+=("$(printf '%8s s  %s (FAILED)' "$took" "$what")")
    fi
    return "$status"
}
# Timings of an outer script (.ci/run) that exec'd this one, one per line.
DLKIT_TIMINGS=()
if [ -n "${DLKIT_TIMINGS_CARRY:-}" ]; then
    mapfile -t DLKIT_TIMINGS <<<"$DLKIT_TIMINGS_CARRY"
fi

print_timings() {
    echo "---- timings ----"
    local line
    for line in "${DLKIT_TIMINGS[@]}"; do
        echo "$line"
    done
}

die() {
    echo "error: $*" >&2
    exit 1
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH=$HOME/.cargo/bin:$PATH
    fi
    command -v cargo >/dev/null 2>&1 && command -v rustc >/dev/null 2>&1 ||
        die "Rust is not installed: install it with rustup (https://rustup.rs), then run this again"
    # evcxr's rust-analyzer reads the standard library's source when it is
    # there (better inferred types); evcxr runs without it, as on this machine
    if command -v rustup >/dev/null 2>&1 &&
        ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
        echo "    adding the rust-src component (optional: evcxr infers std types better with it)"
        rustup component add rust-src ||
            echo "    note: rustup could not add rust-src; the notebooks run without it" >&2
    fi
    echo "    $(rustc --version), $(cargo --version)"
}

evcxr_version() {
    awk '$1 == "evcxr_jupyter" { print $2 }' "$DLKIT_REPO/scripts/requirements-cargo.txt"
}

# Sets DLKIT_EVCXR to the evcxr_jupyter binary of the pinned version.
ensure_evcxr() {
    local version root_args=() bin_dir
    version=$(evcxr_version)
    [ -n "$version" ] || die "scripts/requirements-cargo.txt pins no evcxr_jupyter version"
    if [ -n "${DLKIT_CARGO_ROOT:-}" ]; then
        root_args=(--root "$DLKIT_CARGO_ROOT")
        bin_dir=$DLKIT_CARGO_ROOT/bin
    else
        bin_dir=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin
    fi
    if cargo install --list "${root_args[@]}" 2>/dev/null | grep -qx "evcxr_jupyter v$version:" &&
        [ -x "$bin_dir/evcxr_jupyter" ]; then
        echo "    evcxr_jupyter $version already installed in $bin_dir"
    else
        echo "    building evcxr_jupyter $version (about 14 minutes on 2 cores)"
        # A shared CARGO_TARGET_DIR would keep evcxr's build products around for nothing.
        env -u CARGO_TARGET_DIR cargo install --locked "${root_args[@]}" \
            evcxr_jupyter --version "$version" ||
            die "cargo install evcxr_jupyter $version failed"
    fi
    DLKIT_EVCXR=$bin_dir/evcxr_jupyter
    export DLKIT_EVCXR
}

# Sets DLKIT_PY to the Python that runs Jupyter and the tests.
ensure_venv() {
    if [ "${DLKIT_SYSTEM_PYTHON:-0}" = 1 ]; then
        DLKIT_PY=$(command -v python3 || command -v python) || die "no python on PATH"
        echo "    using the current Python environment: $DLKIT_PY"
        export DLKIT_PY
        return 0
    fi
    local python=${DLKIT_PYTHON:-python3}
    command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.9 or newer"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
        die "$python is $("$python" --version 2>&1); Python 3.9 or newer is needed"
    if [ ! -x "$DLKIT_VENV/bin/python" ]; then
        echo "    creating $DLKIT_VENV"
        "$python" -m venv "$DLKIT_VENV" ||
            die "python -m venv failed (on Debian: apt-get install python3-venv)"
    fi
    DLKIT_PY=$DLKIT_VENV/bin/python
    export DLKIT_PY
    local want have stamp=$DLKIT_VENV/.dlkit-requirements.sha256
    want=$(sha256sum "$DLKIT_REPO/scripts/requirements.txt" | cut -d' ' -f1)
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ "$want" = "$have" ]; then
        echo "    $DLKIT_VENV has the pinned packages"
        return 0
    fi
    echo "    installing scripts/requirements.txt into $DLKIT_VENV"
    "$DLKIT_PY" -m pip install --quiet --disable-pip-version-check \
        -r "$DLKIT_REPO/scripts/requirements.txt" || die "pip install failed"
    echo "$want" >"$stamp.tmp" && mv "$stamp.tmp" "$stamp"
}

# Builds the kernel's launcher (crates/dlkit-kernel) and installs it as
# .evcxr/bin/dlkit-kernel, where the kernelspec runs it (a copy: `cargo clean`
# must not break the kernel).
ensure_kernel_launcher() {
    local bin=$DLKIT_REPO/.evcxr/bin/dlkit-kernel
    (cd "$DLKIT_REPO" && cargo build --quiet --release -p dlkit-kernel) ||
        die "could not build the kernel launcher (crates/dlkit-kernel)"
    mkdir -p "$(dirname "$bin")"
    if ! cmp -s "$DLKIT_REPO/target/release/dlkit-kernel" "$bin"; then
        cp "$DLKIT_REPO/target/release/dlkit-kernel" "$bin.tmp.$$" && mv "$bin.tmp.$$" "$bin" ||
            die "could not install $bin"
    fi
}

# Installs the `rust` kernelspec into the Python environment's share/jupyter:
# evcxr's own files (logos, kernel.js, version.txt — evcxr reinstalls itself
# over a kernelspec whose version.txt differs), with argv running our launcher.
ensure_kernelspec() {
    ensure_kernel_launcher
    local tmp
    tmp=$(mktemp -d)
    JUPYTER_PATH=$tmp "$DLKIT_EVCXR" --install >/dev/null || {
        rm -rf "$tmp"
        die "evcxr_jupyter --install failed"
    }
    "$DLKIT_PY" - "$tmp/kernels/rust/kernel.json" "$DLKIT_REPO/.evcxr/bin/dlkit-kernel" \
        "$DLKIT_REPO" "$DLKIT_EVCXR" <<'EOF' || { rm -rf "$tmp"; die "could not write kernel.json"; }
import json, sys
path, launcher, repo, evcxr = sys.argv[1:]
with open(path) as f:
    spec = json.load(f)
spec["argv"] = [launcher, "--repo", repo, evcxr, "{connection_file}"]
# Interrupt as SIGINT to the kernel's process group (not evcxr's control
# message, which kills the process that holds the notebook's variables): the
# launcher passes it on to the process running the cells, where dlkit stops a
# running fit on it.
spec["interrupt_mode"] = "signal"
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF
    "$DLKIT_PY" -m jupyter kernelspec install --sys-prefix --name rust \
        "$tmp/kernels/rust" >/dev/null 2>&1 || {
        rm -rf "$tmp"
        die "jupyter kernelspec install failed"
    }
    rm -rf "$tmp"
    "$DLKIT_PY" -m jupyter kernelspec list 2>/dev/null | grep -E '^\s+rust\s' ||
        die "the rust kernelspec is not visible to jupyter"
}

# Compiles dlkit and its dependencies in a kernel slot, unless nothing they are
# built from changed since the last warm-up.
ensure_warm() {
    local stamp=$DLKIT_REPO/.evcxr/warm.stamp key changed
    key=$(
        {
            cat "$DLKIT_REPO/Cargo.lock" "$DLKIT_REPO/crates/dlkit/Cargo.toml" "$DLKIT_REPO/crates/dlkit-dylib/Cargo.toml" \
                "$DLKIT_REPO/scripts/lib/evcxr-cargo-config.toml" 2>/dev/null
            rustc -vV
            echo "$DLKIT_EVCXR"
        } | sha256sum | cut -d' ' -f1
    )
    changed=$(find "$DLKIT_REPO/crates/dlkit" "$DLKIT_REPO/crates/dlkit-dylib" -type f -newer "$stamp" 2>/dev/null | head -1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ -z "$changed" ] &&
        [ -d "$DLKIT_REPO/.evcxr/slot-1/target" ]; then
        echo "    kernel slot already warm (dlkit unchanged since $(date -r "$stamp" '+%F %T'))"
        return 0
    fi
    local started
    started=$(date +%s)
    (cd "$DLKIT_REPO" && "$DLKIT_PY" scripts/lib/nbtool.py warmup) || return 1
    mkdir -p "$(dirname "$stamp")"
    # dated at the start, so a file edited during the warm-up counts as changed
    echo "$key" >"$stamp.tmp" && touch -d "@$started" "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
}

# The whole set-up, each step timed.
setup_all() {
    step "Rust toolchain" ensure_rust
    step "evcxr_jupyter $(evcxr_version)" ensure_evcxr
    step "Python environment" ensure_venv
    step "Jupyter kernelspec 'rust'" ensure_kernelspec
}
