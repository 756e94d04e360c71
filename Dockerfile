# Tandem: one image for the web process, the job worker and the migration step.
#
#   docker build -t tandem .
#   docker compose up -d            (see docker-compose.yml and the README)
#
# The builder installs the package and its dependencies into a virtualenv; the
# runtime stage copies only that virtualenv and the data folders the application
# reads at run time (migrations/, tenants/, themes/), and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# pyproject.toml names README.md as the long description, so the build needs it.
COPY pyproject.toml README.md ./
COPY core/ core/
COPY plugins/ plugins/
# A regular (non-editable) install: core/ and plugins/ with their templates, static
# files and catalogues land in the virtualenv's site-packages, compiled to bytecode.
RUN pip install .

FROM ${PYTHON_IMAGE} AS runtime
# TANDEM_ROOT: the package lives in site-packages, so tell the settings where the
# data folders are. The runtime never writes bytecode (its files are read-only).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TANDEM_ENV=production \
    TANDEM_ROOT=/app \
    TANDEM_PORT=8000
# WeasyPrint (certificates) renders with Pango; DejaVu is the fallback typeface.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 tandem \
    && useradd --system --uid 10001 --gid tandem --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin tandem
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY migrations/ migrations/
COPY tenants/ tenants/
COPY themes/ themes/
# var/ is only written by the embedded SQLite default; production uses PostgreSQL.
RUN mkdir var && chown tandem:tandem var
USER 10001:10001
EXPOSE 8000
# Liveness only (/readyz also checks the database and the broker). The slim image
# has no curl; urlopen raises, and so fails the check, on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TANDEM_PORT', '8000'), timeout=4)"]
CMD ["tandem", "serve", "--host", "0.0.0.0"]
