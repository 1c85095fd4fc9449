# Brook images: `docker build --target broker -t brook:0.1.0 .` and `--target operator -t brook-operator:0.1.0 .`
# One build stage makes a virtualenv from the locked dependencies; the runtime stages copy only that
# virtualenv onto the same slim Python base (no compilers, no uv, no pip cache) and run as uid 1000.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/brook \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies first (a layer that survives source edits), then the project itself, non-editable.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3.11
COPY operator ./operator
COPY broker ./broker
RUN uv sync --frozen --no-dev --no-editable --python /usr/local/bin/python3.11

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 1000 brook \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin brook
COPY --from=build /opt/brook /opt/brook
ENV PATH=/opt/brook/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 1000:1000

# The broker: the operator's StatefulSet runs /etc/brook/start.sh (from its ConfigMap) instead of CMD.
FROM runtime AS broker
WORKDIR /var/lib/brook
EXPOSE 9092
ENTRYPOINT ["brook"]
CMD ["broker", "start", "--override", "log.dirs=/var/lib/brook/data", "--override", "listeners=PLAINTEXT://:9092"]

# The operator (last stage: the default target).
FROM runtime AS operator
ENTRYPOINT ["brook-operator"]
CMD ["run"]
