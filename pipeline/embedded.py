"""The pipeline definition as template.yaml carries it, read without the sagemaker SDK.

``template.yaml`` holds the rendered definition as the first argument of the
``FoldPipeline`` resource's ``Fn::Sub`` (between the markers below), so the deployed
definition is exactly the one in the repository. The local mode and the tests read it
from there with :func:`load_definition`, substituting their own values for the stack's
``${...}`` placeholders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from foldline.local import template as cfn_template

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
PIPELINE_RESOURCE = "FoldPipeline"
BEGIN_MARKER = "# BEGIN rendered pipeline definition"
END_MARKER = "# END rendered pipeline definition"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as a dict, short tags (``!Sub``) in their long form (``Fn::Sub``): the
    one CloudFormation reader, :func:`foldline.local.template.load_template`."""
    return cfn_template.load_template(path)


def definition_text(template: Mapping[str, Any] | None = None) -> str:
    """The embedded definition JSON, placeholders and all."""
    template = load_template() if template is None else template
    body = template["Resources"][PIPELINE_RESOURCE]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]
    sub = body["Fn::Sub"]
    return sub[0] if isinstance(sub, list) else sub


def placeholders(text: str) -> set[str]:
    """The ``${Name}`` placeholders in a definition text."""
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Fill the placeholders as Fn::Sub would; a list joins as the template joins it (``","``).

    Every placeholder must have a value: a missing one raises KeyError naming it.
    """
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for placeholder(s): {', '.join(sorted(missing))}")

    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return value if isinstance(value, str) else '","'.join(value)

    return _PLACEHOLDER.sub(fill, text)


def load_definition(
    values: Mapping[str, str | Sequence[str]] | None = None, *, template: Path = TEMPLATE
) -> dict[str, Any]:
    """The pipeline definition from template.yaml as a dict.

    With ``values`` (placeholder name -> value), the placeholders are filled in first,
    e.g. ``{"FoldlineBucket": "my-bucket", "SubnetsJson": ["subnet-1"], ...}``; without,
    they stay in the strings (the JSON is valid either way).
    """
    text = definition_text(load_template(template))
    if values is not None:
        text = substitute(text, values)
    return json.loads(text)
