# One motcua node per container (a district hub, typically). Data, key and SQLite database live
# in the /data volume; set DATABASE_URL (district role) to use PostgreSQL instead.
# Needs BuildKit (the default builder since Docker 23) for RUN --mount and COPY --chmod.
#
#   docker build -t motcua .
#   docker run -d --name motcua-district -p 8750:8750 -v motcua-district:/data \
#     -e MOTCUA_ROLE=district -e MOTCUA_UNIT=40 -e MOTCUA_NAME="Nghệ An" motcua

# --- build: wheels for motcua and all its dependencies --------------------------------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY setup.cfg pyproject.toml README.md ./
COPY node/ node/
COPY sync/ sync/
COPY web/ web/
COPY certs/ certs/
RUN pip wheel --wheel-dir /wheels .

# --- runtime --------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels motcua \
    && groupadd --system --gid 10001 motcua \
    && useradd --system --uid 10001 --gid motcua --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin motcua \
    && mkdir -p /data \
    && chown motcua:motcua /data \
    && chmod 0700 /data
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

ENV MOTCUA_DATA_DIR=/data MOTCUA_HOST=0.0.0.0 MOTCUA_PORT=8750
VOLUME /data
USER motcua:motcua
EXPOSE 8750
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MOTCUA_PORT', '8750'), timeout=4)"]
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
