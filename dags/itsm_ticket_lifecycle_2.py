"""Per-ticket lifecycle DAG pairs, file 3 of 4: see add_manifest_dags in include/itsm/airflow/lifecycle_dags.py."""

from include.itsm.airflow.lifecycle_dags import add_manifest_dags

add_manifest_dags(globals(), file_index=2)
