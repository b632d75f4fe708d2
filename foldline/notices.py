"""Notifications: what foldline tells people, as SNS messages readable as e-mail.

A :class:`Notice` is plain data (subject under 100 characters, a plain-text body, SNS
message attributes for subscription filters); :func:`publish` sends one. Builders for
each kind of notice live here so the start path, the analysis path and the notify path
speak with one voice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SUBJECT_LIMIT = 100  # SNS rejects longer e-mail subjects


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str
    status: str  # "rejected", "succeeded", "failed", "stopped", "analysis-failed"
    target: str
    run_id: str | None = None
    extra_attributes: dict[str, str] = field(default_factory=dict)

    def attributes(self) -> dict[str, dict[str, str]]:
        attrs = {"status": self.status, "target": self.target or "-", **self.extra_attributes}
        if self.run_id:
            attrs["run_id"] = self.run_id
        return {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}


def clip_subject(text: str) -> str:
    """SNS subjects: printable ASCII-ish, one line, under 100 characters."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) < SUBJECT_LIMIT else one_line[: SUBJECT_LIMIT - 2] + "…"


def publish(sns: Any, topic_arn: str, notice: Notice) -> str:
    """Publish a notice; returns the SNS message id."""
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=clip_subject(notice.subject),
        Message=notice.body,
        MessageAttributes=notice.attributes(),
    )
    return response["MessageId"]


def rejected_notice(
    *, bucket: str, key: str, reason: str, code: str, kept_at: str, run_id: str | None
) -> Notice:
    from foldline.layout import target_name

    target = target_name(key)
    body = "\n".join(
        [
            f"foldline did not start a run for s3://{bucket}/{key}.",
            "",
            f"Reason: {reason}",
            "",
            f"The file is kept, as uploaded, at s3://{bucket}/{kept_at}",
            f"with the reason beside it in s3://{bucket}/{kept_at}.reason.json.",
            "Fix the file and upload it to inputs/ again to start a run.",
        ]
    )
    return Notice(
        subject=clip_subject(f"foldline: {target} rejected: {reason}"),
        body=body,
        status="rejected",
        target=target,
        run_id=run_id,
        extra_attributes={"code": code},
    )


def to_json(notice: Notice) -> str:
    """A notice as JSON (for logs and the local outbox)."""
    return json.dumps(
        {"subject": notice.subject, "body": notice.body, "attributes": notice.attributes()}
    )
