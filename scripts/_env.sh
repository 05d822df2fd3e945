# Shared by scripts/test and scripts/demo (sourced, not run): makes sure .venv exists and holds
# an up-to-date editable install of dtf with its dev extras.
#
# After sourcing: DTF_ROOT is the repository root, DTF_VENV_PY the venv's python.
# The install is redone when .venv is new or when pyproject.toml or setup.py changed since the
# last successful install (their sha256 is kept in .venv/.dtf-install-stamp).
# DTF_PYTHON picks the interpreter that creates .venv (default: the first Python >= 3.11 found).

DTF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DTF_VENV="$DTF_ROOT/.venv"
DTF_VENV_PY="$DTF_VENV/bin/python"
DTF_STAMP="$DTF_VENV/.dtf-install-stamp"

_dtf_is_py311() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

_dtf_find_python() {
    if [ -n "${DTF_PYTHON:-}" ]; then
        echo "$DTF_PYTHON"
        return
    fi
    local candidate
    for candidate in python3 python3.11 python3.12 python3.13 python; do
        if command -v "$candidate" >/dev/null 2>&1 && _dtf_is_py311 "$candidate"; then
            echo "$candidate"
            return
        fi
    done
    echo "dtf: no Python >= 3.11 found (set DTF_PYTHON to one)" >&2
    return 1
}

_dtf_install_hash() {
    # Hashes with the venv's own Python so no sha256sum/shasum binary is needed.
    (cd "$DTF_ROOT" && "$DTF_VENV_PY" -c '
import hashlib, sys
h = hashlib.sha256()
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        h.update(f.read())
print(h.hexdigest())' pyproject.toml setup.py)
}

dtf_ensure_venv() {
    # A .venv whose python no longer runs (moved, or its base interpreter gone) is rebuilt.
    if [ -d "$DTF_VENV" ] && ! "$DTF_VENV_PY" -c '' >/dev/null 2>&1; then
        echo "dtf: .venv is broken, recreating it"
        rm -rf "$DTF_VENV"
    fi
    if [ ! -d "$DTF_VENV" ]; then
        local python
        python=$(_dtf_find_python)
        echo "dtf: creating .venv (with $python)"
        "$python" -m venv "$DTF_VENV"
    fi

    local want have=""
    want=$(_dtf_install_hash)
    [ -f "$DTF_STAMP" ] && have=$(cat "$DTF_STAMP")
    if [ "$want" != "$have" ]; then
        echo "dtf: installing (pip install -e \".[dev]\")"
        "$DTF_VENV_PY" -m pip install --quiet --disable-pip-version-check \
            -e "$DTF_ROOT[dev]"
        # Written only after a successful install, so a failed one is retried next time.
        echo "$want" >"$DTF_STAMP"
    fi
}
