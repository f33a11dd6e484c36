#!/usr/bin/env bash
# Regenerate the two hashed locks from pyproject.toml (pip-tools, in the dev extra):
#   requirements-test.lock  production + [test] + [dev]: what ./run installs (--require-hashes)
#   requirements.lock       production alone, at exactly the versions of the test lock: what a server
#                           installs next to the wheel (deploy/README.md)
# Pins already in requirements-test.lock are kept; to move one: scripts/lock.sh --upgrade-package NAME.
# Hashes cover every file of each pinned release on the index, so the locks hold on any platform.
set -euo pipefail
cd "$(dirname "$0")/.."
# (not PIP_COMPILE: pip reads every PIP_* variable as one of its own options)
LOCK_TOOL=${LOCK_TOOL:-.venv/bin/pip-compile}
common=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-header --no-emit-index-url
        --no-emit-find-links)

"$LOCK_TOOL" "${common[@]}" --extra test --extra dev -o requirements-test.lock "$@" pyproject.toml
pins=$(mktemp)
trap 'rm -f "$pins"' EXIT
grep -E '^[A-Za-z0-9]' requirements-test.lock | sed 's/ *\\$//' > "$pins"
"$LOCK_TOOL" "${common[@]}" -c "$pins" -o requirements.lock pyproject.toml
# The temporary constraints file is how the versions agree, not a reason a package is there.
sed -i '/^    #   -c \//d' requirements.lock requirements-test.lock
# pip-compile read the metadata through an in-tree build: its leftover would shadow the installed one.
rm -rf lianluo.egg-info
