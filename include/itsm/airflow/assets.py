"""Airflow Assets the DAGs share: the sweep emits `P0_CLASSIFIED`, the bridge is scheduled on it."""

from airflow.sdk import Asset

P0_CLASSIFIED = Asset("itsm://p0-classified")  # a P0 does not wait for the daily bridge run
