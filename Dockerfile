# The user-code image: the pipeline's code location, and the same image runs the webserver and
# the daemon (docker-compose.yml) or each run's Kubernetes job (deploy/helm/values.yaml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    RECOMAMP_HOME=/opt/recomamp

WORKDIR /opt/recomamp-pipelines

# Exactly the versions CI tested, with their hashes.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY recomamp_pipelines ./recomamp_pipelines
COPY sql ./sql
COPY dbt_like_views ./dbt_like_views
# Editable, as `make venv` does: the migrations (sql/) and the analyst views (dbt_like_views/)
# are read beside the package.
RUN pip install --no-deps -e .

COPY deploy/dagster.yaml /opt/dagster/dagster_home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml

RUN useradd --system --uid 10001 --home-dir /opt/recomamp recomamp \
    && mkdir -p /opt/recomamp \
    && chown recomamp /opt/recomamp /opt/dagster/dagster_home
USER recomamp

EXPOSE 4266
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4266", \
     "-m", "recomamp_pipelines.definitions", "-a", "defs", \
     "--location-name", "recomamp-pipelines"]
