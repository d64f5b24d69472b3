# One motcua node per container (a district hub, typically), on Debian 12 with Debian's python3
# and a venv. motcua and its dependencies come as wheels built on the host by
# scripts/offline-bundle, so pip needs no network inside the build; only apt reaches Debian's
# packages. Classic builder syntax only (no BuildKit-only features).
#
#   scripts/offline-bundle dist/offline-bundle
#   docker build --network host -t motcua .
#   docker run -d --name motcua-district --network host \
#     -v motcua-data:/data -v motcua-state:/state \
#     -e MOTCUA_ROLE=district -e MOTCUA_UNIT=40 -e MOTCUA_NAME="Nghệ An" \
#     -e MOTCUA_HOST=127.0.0.1 -e MOTCUA_PORT=8750 motcua
#
# /data holds the node (key, node.json, SQLite database, certificates); /state holds the write
# gate's record of this node's feed heads and must NOT be restored with /data (docs/operations.md).
# /backups is where a volume for "motcua backup --to /backups" goes (owned by the motcua user).
# scripts/image-check builds and runs this image in CI.
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
# postgresql-client: pg_dump/pg_restore for "motcua backup"/"restore" of a PostgreSQL district.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 motcua \
    && useradd --system --uid 10001 --gid motcua --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin motcua \
    && mkdir -p /data /state /backups \
    && chown motcua:motcua /data /state /backups \
    && chmod 0700 /data /state /backups

COPY dist/offline-bundle/ /tmp/motcua-bundle/
RUN sh /tmp/motcua-bundle/install.sh --prefix /opt/motcua && rm -rf /tmp/motcua-bundle
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY scripts/docker-healthcheck /usr/local/bin/docker-healthcheck
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh /usr/local/bin/docker-healthcheck

LABEL org.opencontainers.image.title="motcua"
ENV PATH=/opt/motcua/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MOTCUA_DATA_DIR=/data MOTCUA_STATE_DIR=/state MOTCUA_HOST=0.0.0.0 MOTCUA_PORT=8750
VOLUME ["/data", "/state"]
USER motcua:motcua
WORKDIR /data
EXPOSE 8750
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["docker-healthcheck"]
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
