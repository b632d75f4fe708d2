"""Render the pipeline definition, offline, and keep template.yaml's copy in step.

Usage (from the repository root, with the SDK's own virtualenv)::

    .venv-sdk/bin/python -m pipeline.render                    # JSON to stdout
    .venv-sdk/bin/python -m pipeline.render --out build/pipeline.json
    .venv-sdk/bin/python -m pipeline.render --update-template  # rewrite template.yaml's copy
    .venv-sdk/bin/python -m pipeline.render --check            # exit 1 if the copy is stale

No network: any socket connection or DNS lookup during the render is refused and fails
the command (an audit hook), so an SDK that starts phoning home again is caught here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path

from pipeline import embedded

_NETWORK_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname"}


class NetworkUsed(RuntimeError):
    """Something tried to reach the network while rendering."""


_attempts: list[str] = []


def forbid_network() -> None:
    """Refuse every connection and name lookup in this process from now on."""

    def hook(event: str, args: tuple) -> None:
        if event in _NETWORK_EVENTS:
            _attempts.append(f"{event}{args!r}"[:200])
            raise NetworkUsed(f"network use while rendering the pipeline: {event} {args!r}")

    sys.addaudithook(hook)


def canonical(definition_json: str) -> str:
    """The form the definition is stored in: SDK key order, one-space indent."""
    return json.dumps(json.loads(definition_json), indent=1, ensure_ascii=False)


def render() -> str:
    # The SDK narrates every step at INFO and warns that a PipelineSession starts no job.
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    from pipeline.definition import render_definition

    return canonical(render_definition())


def embed(template_text: str, definition: str) -> str:
    """template.yaml's text with ``definition`` between the markers, as a literal block."""
    lines = template_text.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.strip().startswith(embedded.BEGIN_MARKER)]
    end = [i for i, line in enumerate(lines) if line.strip().startswith(embedded.END_MARKER)]
    if len(begin) != 1 or len(end) != 1 or end[0] <= begin[0]:
        raise ValueError(
            f"template needs exactly one {embedded.BEGIN_MARKER!r} line followed by one "
            f"{embedded.END_MARKER!r} line"
        )
    marker = lines[begin[0]]
    indent = marker[: len(marker) - len(marker.lstrip())]
    body = [f"{indent}- |-\n"] + [f"{indent}  {line}\n" for line in definition.splitlines()]
    return "".join(lines[: begin[0] + 1] + body + lines[end[0] :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.render", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, help="write the definition JSON here instead of stdout")
    parser.add_argument(
        "--update-template",
        action="store_true",
        help="write the definition into template.yaml (FoldPipeline)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if template.yaml's definition differs from a fresh render",
    )
    parser.add_argument("--template", type=Path, default=embedded.TEMPLATE)
    args = parser.parse_args(argv)

    forbid_network()
    started = time.perf_counter()
    try:
        definition = render()
    except NetworkUsed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    if _attempts:  # refused inside the SDK, which may have swallowed the error
        print("error: network use while rendering:\n  " + "\n  ".join(_attempts), file=sys.stderr)
        return 2
    print(
        f"rendered {len(json.loads(definition)['Steps'])} steps in {elapsed:.1f} s, no network",
        file=sys.stderr,
    )

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(definition + "\n", encoding="utf-8")
    if args.update_template:
        text = args.template.read_text(encoding="utf-8")
        updated = embed(text, definition)
        if updated != text:
            args.template.write_text(updated, encoding="utf-8")
            print(f"updated {args.template}", file=sys.stderr)
        else:
            print(f"{args.template} already up to date", file=sys.stderr)
    if args.check:
        current = embedded.definition_text(embedded.load_template(args.template))
        if json.loads(current) != json.loads(definition):
            print(
                f"{args.template} holds a stale pipeline definition: run "
                "python -m pipeline.render --update-template",
                file=sys.stderr,
            )
            return 1
    if not (args.out or args.update_template or args.check):
        sys.stdout.write(definition + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
