# syntax=docker/dockerfile:1
# Qasid's image: `docker build -t qasid .` (compose.yaml builds and runs it as the bot and
# the workers). Two stages: the first turns the project and its dependencies into wheels
# (every dependency ships binary wheels for CPython 3.11 on x86-64 and arm64: no compiler),
# the second installs them into a clean python:3.11-slim and runs as an unprivileged user.
# Settings come from the environment (docker run --env-file .env, compose's env_file):
# nothing of the build context but pyproject.toml, README.md and bot/ is copied in.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_PATH=/data/qasid.sqlite3 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080
# The wheels are mounted from the first stage, not copied: no layer keeps them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels qasid \
    && groupadd --system --gid 10001 qasid \
    && useradd --system --uid 10001 --gid qasid --home-dir /home/qasid --create-home \
       --shell /usr/sbin/nologin qasid \
    && mkdir -p /data \
    && chown qasid:qasid /data
WORKDIR /home/qasid
USER 10001:10001
# The SQLite file (DATABASE_PATH) and its backups (/data/backups); with DATABASE_URL
# (PostgreSQL) nothing is written there.
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers 200 when the database, the scheduler and Telegram are up (slim has no
# curl: Python's urllib, which raises, so exits 1, on anything but 2xx or no answer).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=4)"]
# SIGTERM stops it cleanly: imports roll back, sends in flight finish (give it the time:
# docker stop --time 60, compose's stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
