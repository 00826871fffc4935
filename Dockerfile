# The image docker-compose.yaml runs (the same image serves the KubernetesExecutor or the official Helm
# chart): Airflow 3.3.2 with this project installed from its wheel, on the production lock file
# (requirements-prod.txt: runtime dependencies only, no test or devstack tools). No code is bind-mounted.

# Stage 1: build the wheel (`make wheel` does the same on a workstation).
FROM python:3.11-slim AS wheel
COPY pyproject.toml README.md /src/
COPY include /src/include
RUN pip install --no-cache-dir --quiet build==1.6.1 && python -m build --wheel --outdir /dist /src

# Stage 2: Airflow plus the wheel.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements-prod.txt /tmp/requirements-prod.txt
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir -r /tmp/requirements-prod.txt /tmp/dist/itsm_lifecycle-*.whl \
    && rm -rf /tmp/dist /tmp/requirements-prod.txt
# The DAG files and the plugin are thin wiring over the installed package (`from include.itsm ...`), so
# they are copied into Airflow's DAG and plugin folders rather than shipped in the wheel: a platform
# team serving dags/ by git-sync or a DAG bundle uses the same files over the same installed package.
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
# The configuration is the deployment's own file (docker-compose.yaml mounts deploy/compose/itsm.yaml
# here as a compose config; Kubernetes: a ConfigMap). Without it every command fails naming the path.
ENV ITSM_CONFIG=/opt/airflow/config/itsm.yaml
