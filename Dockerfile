# The image docker-compose.yaml runs: Airflow 3.3.2 plus this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
