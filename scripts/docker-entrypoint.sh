#!/bin/sh
# Container entry point: create the node on first start, then run "motcua serve" (gunicorn with
# threads, one process on SQLite and several on PostgreSQL, the background sync in one of them
# only; an enrolled node serves https with its certificate, which a bare gunicorn line would not).
#
# First start: when $MOTCUA_DATA_DIR (/data) holds no node.json and MOTCUA_ROLE, MOTCUA_UNIT and
# MOTCUA_NAME are set, "motcua init" creates the node (key, node.json, database) in the volume.
# With arguments, runs them instead of the server, e.g. "docker run … IMAGE motcua doctor".
set -eu

DATA_DIR="${MOTCUA_DATA_DIR:-/data}"

if [ ! -f "$DATA_DIR/node.json" ]; then
    if [ -n "${MOTCUA_ROLE:-}" ] && [ -n "${MOTCUA_UNIT:-}" ] && [ -n "${MOTCUA_NAME:-}" ]; then
        if [ -n "${MOTCUA_PARENT_URL:-}" ]; then
            motcua init --role "$MOTCUA_ROLE" --unit "$MOTCUA_UNIT" --name "$MOTCUA_NAME" \
                --parent-url "$MOTCUA_PARENT_URL"
        else
            motcua init --role "$MOTCUA_ROLE" --unit "$MOTCUA_UNIT" --name "$MOTCUA_NAME"
        fi
    elif [ "$#" -eq 0 ]; then
        echo "motcua: no node in $DATA_DIR; set MOTCUA_ROLE, MOTCUA_UNIT and MOTCUA_NAME for the first start" >&2
        echo "        (e.g. -e MOTCUA_ROLE=district -e MOTCUA_UNIT=40 -e MOTCUA_NAME='Nghệ An')" >&2
        exit 1
    fi
fi

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

exec motcua serve --host "${MOTCUA_HOST:-0.0.0.0}" --port "${MOTCUA_PORT:-8750}"
