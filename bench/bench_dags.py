"""Per-ticket DAG generation: parse time of the lifecycle DAG files (dags/itsm_ticket_lifecycle_<n>.py)
with a generated manifest.

A fresh interpreter per file (as the DAG processor's parse of one file): imports are timed apart
from the file's own work. Three parses: an empty manifest (imports and settings only, the
baseline), a 1,000-ticket manifest (quick: 200) as the DAG processor sees it, every file, summed,
and the same manifest as a worker sees it when running one task (`get_parsing_context().dag_id`
set: only that ticket's pair is built). The DAG processor then serializes each DAG within the
same per-file timeout (`dag_file_processor_timeout`, 50 s): timed too, for the slowest file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench._common import Result
from include.itsm.airflow.lifecycle_dags import LIFECYCLE_FILES, file_of

REPO = Path(__file__).resolve().parents[1]
TYPES = [
    ("incident", None),
    ("problem", None),
    ("change", "normal"),
    ("change", "standard"),
    ("change", "emergency"),
    ("service_request", None),
]
PARSE = r"""
import json, sys, time, importlib.util
t0 = time.perf_counter()
import airflow.sdk, include.itsm.airflow.lifecycle_dags, include.itsm.lifecycle.plan  # imports, timed apart
t1 = time.perf_counter()
spec = importlib.util.spec_from_file_location("itsm_ticket_lifecycle", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t2 = time.perf_counter()
from airflow.sdk import DAG
from airflow.serialization.serialized_objects import DagSerialization
dags = [v for v in vars(module).values() if isinstance(v, DAG)]
for dag in dags if sys.argv[2] == "serialize" else ():
    DagSerialization.to_dict(dag)
t3 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "parse_s": t2 - t1, "serialize_s": t3 - t2, "dags": len(dags),
                  "tasks": sum(len(d.tasks) for d in dags)}))
"""


def write_manifest(path: Path, count: int) -> None:
    now = datetime.now(UTC).isoformat()
    tickets = {}
    for i in range(count):
        ticket_type, change_type = TYPES[i % len(TYPES)]
        key = f"OPS-{20000 + i}"
        tickets[key] = {
            "key": key,
            "ticket_type": ticket_type,
            "change_type": change_type,
            "priority": "P3",
            "summary": f"generated ticket {i}",
            "updated": now,
        }
    path.write_text(json.dumps({"generated": now, "tickets": tickets}))


def parse(directory: Path, count: int, wanted: str | None = None, serialize: bool = False) -> dict:
    """Parse (and optionally serialize) every lifecycle DAG file, or only the file holding
    `wanted`'s pair; figures summed over files, `slowest_file_s` the worst parse + serialization."""
    manifest = directory / f"manifest-{count}.json"
    write_manifest(manifest, count)
    config = yaml.safe_load((REPO / "config" / "itsm.yaml").read_text())
    config["runtime"].update({"manifest_path": str(manifest), "evidence_root": f"file://{directory / 'evidence'}"})
    config_path = directory / f"itsm-{count}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")} | {
        "ITSM_CONFIG": str(config_path),
        "PYTHONPATH": str(REPO),
        "AIRFLOW_HOME": str(directory / "airflow"),
    }
    if wanted:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = wanted
    files = [file_of(wanted.split("__", 1)[1])] if wanted else range(LIFECYCLE_FILES)
    results = []
    for index in files:
        path = REPO / "dags" / f"itsm_ticket_lifecycle_{index}.py"
        out = subprocess.run(
            [sys.executable, "-c", PARSE, str(path), "serialize" if serialize else "-"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    total = {name: sum(r[name] for r in results) for name in ("parse_s", "serialize_s", "dags", "tasks")}
    return total | {
        "imports_s": max(r["imports_s"] for r in results),
        "slowest_file_s": max(r["parse_s"] + r["serialize_s"] for r in results),
    }


def run(quick: bool) -> Result:
    count = 200 if quick else 1_000
    with tempfile.TemporaryDirectory(prefix="bench-dags-") as tmp:
        directory = Path(tmp)
        empty = parse(directory, 0)
        full = min((parse(directory, count) for _ in range(2)), key=lambda r: r["parse_s"])
        processed = parse(directory, count, serialize=True)
        single = parse(directory, count, wanted=f"itsm_lifecycle__OPS-{20000 + 2}")
    result = Result(
        name=f"lifecycle DAG generation ({count:,} tickets)",
        target=f"full parse <= {5.0 * count / 1_000:g} s; slowest file parse + serialization < 50 s",
        ratio_label="full parse / single-pair parse",
    )
    result.figures["full parse (DAG processor)"] = (
        f"{full['parse_s']:.2f} s over {LIFECYCLE_FILES} files: {full['dags']} DAGs, "
        f"{full['tasks']:,} tasks, {full['tasks'] / count:.1f} tasks/ticket, "
        f"{full['parse_s'] / count * 1e3:.2f} ms/ticket"
    )
    result.figures["serialization (DAG processor)"] = (
        f"{processed['serialize_s']:.1f} s for {processed['dags']} DAGs; slowest file "
        f"parse + serialization {processed['slowest_file_s']:.1f} s (timeout 50 s)"
    )
    result.figures["single pair (get_parsing_context)"] = (
        f"{single['parse_s']:.3f} s: {single['dags']} DAGs, {single['tasks']} tasks"
    )
    result.figures["empty manifest / imports"] = f"{empty['parse_s']:.3f} s / imports {full['imports_s']:.2f} s"
    result.ratio = full["parse_s"] / max(single["parse_s"], 1e-6)
    result.passed = full["parse_s"] <= 5.0 * count / 1_000 and single["dags"] == 2 and processed["slowest_file_s"] < 50
    return result
