"""The CI recipes in ci/ (and their copies in docs/ci.md) parse and run the suite the documented way."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.baseline import load_baseline
from conformance.cli import cli
from conformance.config import DEFAULT_OTHER_SECRET_ENV, DEFAULT_SECRET_ENV, Overrides, load_settings

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "ci" / "github-actions.yml"
GITLAB = ROOT / "ci" / "gitlab-ci.yml"
DOCS = ROOT / "docs" / "ci.md"
SECRETS = (DEFAULT_SECRET_ENV, DEFAULT_OTHER_SECRET_ENV)
JUNIT = "reports/junit.xml"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def run_options(command: str) -> dict[str, str | None]:
    """The options of an `enrolment-conformance run ...` line, checked against the real command."""
    words = shlex.split(command)
    assert words[:2] == ["enrolment-conformance", "run"], command
    known = {opt: param for param in cli.commands["run"].params for opt in param.opts}
    options: dict[str, str | None] = {}
    rest = words[2:]
    while rest:
        word = rest.pop(0)
        assert word in known, f"{word} is not an option of `enrolment-conformance run`"
        options[word] = None if getattr(known[word], "is_flag", False) else rest.pop(0)
    return options


def assert_runs_the_gate(command: str, job_timeout_s: float) -> None:
    options = run_options(" ".join(command.split()))
    assert options["--env"] == "staging"
    assert options["--config"] and options["--baseline"]
    assert options["--reports"] == "reports"
    assert not {"--api-secret", "--secret", "--client-secret", "--insecure"} & set(options)
    assert "--claim" not in options  # the claim is narrowed in the config (ci/conformance.example.toml)
    # the run ends itself (verdict error, reports written) before CI kills the job
    assert float(options["--max-duration"] or 0) <= job_timeout_s - 120


def test_github_workflow_runs_the_gate_and_publishes_the_reports() -> None:
    workflow = load(GITHUB)
    assert workflow.get("on", workflow.get(True))  # PyYAML reads the key `on` as True
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", use) for use in uses if use), uses

    install = next(step for step in steps if "pip install" in step.get("run", ""))
    run = next(step for step in steps if "enrolment-conformance run" in step.get("run", ""))
    assert steps.index(install) < steps.index(run)
    assert_runs_the_gate(run["run"], job["timeout-minutes"] * 60)
    assert run["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}
    assert "if" not in run  # the run's exit code is the gate

    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "reports/" and upload["if"] == "always()"
    junit = next(step for step in steps if step.get("uses", "").startswith("mikepenz/action-junit-report@"))
    assert junit["with"]["report_paths"] == JUNIT and junit["if"] == "always()"
    assert steps.index(run) < steps.index(upload) and steps.index(run) < steps.index(junit)
    assert workflow["permissions"]["checks"] == "write"


def test_gitlab_job_runs_the_gate_and_publishes_the_reports() -> None:
    pipeline = load(GITLAB)
    job = pipeline["enrolment-conformance"]
    assert job["stage"] in pipeline["stages"]
    assert any("pip install" in line for line in job["before_script"])
    (command,) = [line for line in job["script"] if "enrolment-conformance run" in line]
    minutes = re.fullmatch(r"(\d+) minutes", job["timeout"])
    assert minutes, job["timeout"]
    assert_runs_the_gate(command, int(minutes.group(1)) * 60)
    assert any(f'"${{{DEFAULT_SECRET_ENV}:-}}"' in line for line in job["before_script"])
    assert not set(SECRETS) & set(job.get("variables", {}))  # secrets come from CI/CD variables only
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert "reports/" in artifacts["paths"]
    assert artifacts["reports"]["junit"] == JUNIT


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_recipes_hold_no_secret_literal(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for name in SECRETS:
        for match in re.finditer(rf"\b{name}(?::\s+|=)(\S.*)", text):  # a YAML key or a shell assignment
            assert match.group(1).startswith("${{ secrets."), match.group(0)
    assert not re.search(r"(?i)(password|api[_-]?secret|client[_-]?secret)\s*[:=]\s*['\"]?\w", text)
    assert "Authorization" not in text and "Basic " not in text


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_docs_carry_the_recipes_verbatim(path: Path) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"`ci/{path.name}`" in docs
    blocks = re.findall(r"```yaml\n(.*?)```", docs, flags=re.DOTALL)
    assert path.read_text(encoding="utf-8") in blocks


def test_docs_explain_the_digest_check_and_the_example_baseline_loads() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for needle in ("sha256sum results.json", "enrolment-conformance report results.json", "--baseline-write"):
        assert needle in docs
    example = load_baseline(ROOT / "ci" / "conformance-baseline.example.toml")
    assert {entry.requirement for entry in example.entries} == {"AUTH-003", "DATE-009"}


def test_the_example_config_narrows_the_claim_to_a_read_only_run() -> None:
    example = ROOT / "ci" / "conformance.example.toml"
    settings = load_settings(
        example, Overrides(environment="staging"), environ={name: "x" * 16 for name in SECRETS}
    )
    assert settings.claimed_classes() == ("core", "oauth", "isolation", "generated")
    assert settings.claim is not None  # narrowed on purpose: the statement says so
    docs = DOCS.read_text(encoding="utf-8")
    assert (
        "`ci/conformance.example.toml`" in docs
        and 'claim = ["core", "oauth", "isolation", "generated"]' in docs
    )
