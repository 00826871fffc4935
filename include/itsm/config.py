"""Load and validate the one configuration file (YAML) an organisation tunes.

`ITSM_CONFIG` names the file (default `config/itsm.yaml` in the repository). Policy
(taxonomy, SLAs, approvers, ...) has the seed's values as defaults in
`include.itsm.domain.policy`; runtime settings (connections, evidence root, schedules) and
customers live here. A bad file fails at start with the file, the key and the reason.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from include.itsm.domain.policy import Policy
from include.itsm.domain.scrub import ScrubConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "itsm.yaml"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names file, key and reason."""


class Customer(BaseModel):
    """One customer (tenant) of the platform: its connections and AWS organisation facts."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    jira_conn_id: str = "jira_default"
    aws_conn_id: str = "aws_default"
    aws_operations_conn_id: str = "aws_operations"
    jira_project: str = "OPS"
    aggregator_name: str = "org-aggregator"
    member_role_name: str = "OrganizationAccountAccessRole"
    regions: list[str] = Field(default_factory=lambda: ["ap-southeast-2"])
    time_zone: str = "UTC"
    env_tag_key: str = "env"
    # Env tag values the customer's tooling (e.g. the instance scheduler) recognises; others are a tag gap.
    standard_env_values: list[str] = Field(default_factory=lambda: ["prod", "staging", "dev", "dr", "preprod", "sit"])
    scrub: ScrubConfig = Field(default_factory=ScrubConfig)  # this customer's registers for PII scrubbing


class Runtime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence_root: str = f"file://{REPO_ROOT / 'evidence'}"
    manifest_path: str = str(REPO_ROOT / "dags" / "itsm_manifest.json")
    sweep_schedule: str | None = "0 13 * * *"  # 02:00 in Auckland (NZDT), UTC cron; null: manual only
    sweep_batch_size: int = Field(default=20, ge=1, le=500)
    annotations_enabled: bool = False  # the nightly discovery comment on each ticket
    snapshot_max_age_hours: float = Field(default=24, gt=0)  # on-demand steps reuse a younger org snapshot
    gate_timeout_hours: float = Field(default=168, gt=0)  # how long a lifecycle waits for a human gate


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runtime: Runtime = Field(default_factory=Runtime)
    customers: list[Customer] = Field(default_factory=lambda: [Customer(id="default", name="default")])
    policy: Policy = Field(default_factory=Policy)

    def customer(self, customer_id: str | None = None) -> Customer:
        if customer_id is None:
            return self.customers[0]
        for customer in self.customers:
            if customer.id == customer_id:
                return customer
        raise ConfigError(f"no customer {customer_id!r} in the configuration")


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the file; a missing default file means all defaults."""
    chosen = Path(path or os.environ.get("ITSM_CONFIG") or DEFAULT_CONFIG_PATH)
    if not chosen.exists():
        if path or os.environ.get("ITSM_CONFIG"):
            raise ConfigError(f"{chosen}: configuration file not found")
        return Settings()
    try:
        raw = yaml.safe_load(chosen.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{chosen}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{chosen}: (top level): expected a mapping, got {type(raw).__name__}")
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(chosen, error)) from error


@lru_cache(maxsize=4)
def settings(path: str | None = None) -> Settings:
    """Process-wide cached settings (tasks and CLI read the file once)."""
    return load_settings(path)
