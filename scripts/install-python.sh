#!/usr/bin/env bash
# Creates the in-repo virtualenv and installs the project (editable) with its dev tools.
# Re-installs only when pyproject.toml changed; pip's own cache keeps re-installs fast.
source "$(dirname "$0")/common.sh"

stamp="$VENV/.lemo-pyproject-sha"
sha="$(sha256sum "$LEMO_ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ]; then
  log "python environment up to date"
else
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3.11}" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$LEMO_ROOT[dev]"
  # MovieLens-100k ships inside recbole; its own dependencies are heavy and unused (DESIGN.md section 8).
  "$VENV/bin/pip" install -q --no-deps recbole==1.2.1
  echo "$sha" > "$stamp"
fi
# The public gRPC API's Python code is generated from proto/ by every install (it is not committed).
(cd "$LEMO_ROOT" && "$VENV/bin/python" -m grpc_tools.protoc -I proto --python_out=. --grpc_python_out=. --pyi_out=. \
  proto/lemoproto/v1/api.proto)
