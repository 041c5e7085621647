"""Build the deployable template: Chalice's sam.json merged with infra/resources.yaml.

    python -m infra.build --stage prod --out build/prod

Chalice cannot set `FunctionResponseTypes` on an SQS event source, and without
`ReportBatchItemFailures` Lambda ignores the partial batch response and deletes every
message of a batch that returned normally. So the build runs `chalice package` twice: the
first pass shows which functions read which queues, the second merges a generated template
that turns partial batch responses on and adds the resources of `infra/resources.yaml`.
Chalice's merge is a deep merge: dicts merge key by key, lists and scalars are replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESOURCES_FILE = Path(__file__).resolve().with_name("resources.yaml")
TEMPLATE_NAME = "sam.json"
MERGE_TEMPLATE_NAME = "merge-template.json"

SQS_RESPONSE_TYPES = ["ReportBatchItemFailures"]
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SQS_QUEUE = "AWS::SQS::Queue"

# `chalice package` makes no AWS calls, but botocore needs a region to build its session.
DEFAULT_REGION = "eu-central-1"


class BuildError(RuntimeError):
    """Packaging failed, or the packaged template does not match infra/resources.yaml."""


def load_resources(path: Path = RESOURCES_FILE) -> dict[str, Any]:
    """Load infra/resources.yaml; it uses long-form intrinsics, so plain YAML suffices."""
    with path.open(encoding="utf-8") as stream:
        template = yaml.safe_load(stream)

    if not isinstance(template, dict) or not template.get("Resources"):
        raise BuildError(f"{path}: no Resources section; is this a CloudFormation template?")
    return template


def package(stage: str, out_dir: Path | str, project_dir: Path = PROJECT_DIR) -> Path:
    """Package the Chalice app for `stage` into `out_dir`; return the merged sam.json path."""
    out_dir = Path(out_dir).resolve()
    resources = load_resources()

    with tempfile.TemporaryDirectory(prefix="chalice-package-") as scratch:
        first_pass = Path(scratch) / "first-pass"
        chalice_template = _read_json(run_chalice_package(stage, first_pass, project_dir))

        merge_template = build_merge_template(chalice_template, resources, stage)
        merge_path = Path(scratch) / MERGE_TEMPLATE_NAME
        merge_path.write_text(json.dumps(merge_template, indent=2), encoding="utf-8")

        template_path = run_chalice_package(stage, out_dir, project_dir, merge_path)

    # Kept beside sam.json so a reviewer sees exactly what was merged over Chalice's output.
    (out_dir / MERGE_TEMPLATE_NAME).write_text(
        json.dumps(merge_template, indent=2), encoding="utf-8"
    )
    check_sqs_events(_read_json(template_path))
    return template_path


def run_chalice_package(
    stage: str, out_dir: Path, project_dir: Path, merge_template: Path | None = None
) -> Path:
    """Run `chalice package` in a child process; return the sam.json it wrote."""
    command = [
        sys.executable,
        "-c",
        "import sys; from chalice.cli import main; sys.exit(main())",
        "--project-dir",
        str(project_dir),
        "package",
        "--stage",
        stage,
    ]
    if merge_template is not None:
        command += ["--merge-template", str(merge_template)]
    command.append(str(out_dir))

    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", DEFAULT_REGION))
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(
            f"chalice package --stage {stage} failed with exit code {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return out_dir / TEMPLATE_NAME


def build_merge_template(
    chalice_template: dict[str, Any], resources: dict[str, Any], stage: str
) -> dict[str, Any]:
    """Generate the file merged over Chalice's template: SQS overrides plus our resources."""
    chalice_ids = set(chalice_template.get("Resources", {}))
    clashes = sorted(chalice_ids & set(resources["Resources"]))
    if clashes:
        raise BuildError(
            f"{RESOURCES_FILE.name} reuses logical ids that Chalice generates: {clashes}; "
            "rename them in resources.yaml"
        )

    parameters = json.loads(json.dumps(resources.get("Parameters", {})))
    if "Stage" in parameters:
        # The packaged template is per stage, so its default must be that stage.
        parameters["Stage"]["Default"] = stage

    merged_resources = dict(resources["Resources"])
    merged_resources.update(sqs_event_overrides(chalice_template, resources))

    merge_template: dict[str, Any] = {
        "Parameters": parameters,
        "Resources": merged_resources,
        "Outputs": resources.get("Outputs", {}),
    }
    if resources.get("Conditions"):
        merge_template["Conditions"] = resources["Conditions"]
    return merge_template


def sqs_event_overrides(
    chalice_template: dict[str, Any], resources: dict[str, Any]
) -> dict[str, Any]:
    """Turn on ReportBatchItemFailures and order each SQS consumer after its queue.

    Chalice names the queue through a Fn::Sub ARN, not a Ref, so CloudFormation would not
    know that the event source mapping needs the queue: DependsOn on the function adds it.
    """
    queue_ids = _queue_ids_by_name(resources)
    overrides: dict[str, Any] = {}

    for function_id, event_id, event in iter_sqs_events(chalice_template):
        queue_name = queue_name_of(event, f"{function_id}.{event_id}")
        if queue_name not in queue_ids:
            raise BuildError(
                f"{function_id} reads SQS queue {queue_name!r}, which {RESOURCES_FILE.name} "
                f"does not define; defined queues: {sorted(queue_ids)}"
            )

        override = overrides.setdefault(
            function_id, {"DependsOn": [], "Properties": {"Events": {}}}
        )
        override["DependsOn"].append(queue_ids[queue_name])
        override["Properties"]["Events"][event_id] = {
            "Properties": {"FunctionResponseTypes": list(SQS_RESPONSE_TYPES)}
        }
    return overrides


def iter_sqs_events(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield (function id, event id, event) for every SQS event of a serverless function."""
    for function_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        events = resource.get("Properties", {}).get("Events", {})
        for event_id, event in events.items():
            if event.get("Type") == "SQS":
                yield function_id, event_id, event


def queue_name_of(event: dict[str, Any], where: str) -> str:
    """Read the queue name from the `Fn::Sub` ARN that Chalice writes for an SQS event."""
    queue = event.get("Properties", {}).get("Queue")
    arn = queue.get("Fn::Sub") if isinstance(queue, dict) else queue
    if not isinstance(arn, str) or ":sqs:" not in arn:
        raise BuildError(f"{where}: expected an SQS ARN string or Fn::Sub, got {queue!r}")
    return arn.rsplit(":", 1)[-1]


def check_sqs_events(template: dict[str, Any]) -> None:
    """Raise BuildError unless every SQS event reports partial batch failures."""
    for function_id, event_id, event in iter_sqs_events(template):
        response_types = event.get("Properties", {}).get("FunctionResponseTypes")
        if response_types != SQS_RESPONSE_TYPES:
            raise BuildError(
                f"{function_id}.{event_id}: FunctionResponseTypes is {response_types!r}, "
                f"expected {SQS_RESPONSE_TYPES}; failed messages would be deleted"
            )


def _queue_ids_by_name(resources: dict[str, Any]) -> dict[str, str]:
    return {
        resource["Properties"]["QueueName"]: logical_id
        for logical_id, resource in resources["Resources"].items()
        if resource.get("Type") == SQS_QUEUE and "QueueName" in resource.get("Properties", {})
    }


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        return json.load(stream)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stage", required=True, help="Chalice stage from .chalice/config.json")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output directory; sam.json and deployment.zip are overwritten",
    )
    args = parser.parse_args(argv)

    try:
        template_path = package(args.stage, args.out)
    except BuildError as error:
        print(f"infra.build: {error}", file=sys.stderr)
        return 1
    print(template_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
