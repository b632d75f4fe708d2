"""The local outbox: every SNS message, written as an e-mail file and echoed.

The runtime subscribes a queue of its own to each topic of the template (the way a
test would read SNS in AWS); each message becomes ``<workdir>/outbox/<n>-<subject>.eml``,
addressed to the topic's e-mail subscriptions (or to the topic itself where it has
none), with the SNS message attributes as ``X-Foldline-*`` headers.
"""

from __future__ import annotations

import email.message
import email.utils
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from foldline.local.cloud import STACK_NAME, LocalCloud, queued_messages


@dataclass(frozen=True)
class Notice:
    """One delivered SNS message."""

    path: Path
    subject: str
    body: str
    topic_arn: str
    attributes: dict[str, str]

    @property
    def run_id(self) -> str | None:
        return self.attributes.get("run_id")

    @property
    def status(self) -> str | None:
        return self.attributes.get("status")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "notice"


class Outbox:
    def __init__(
        self, cloud: LocalCloud, folder: Path, on_notice: Callable[[Notice], None] | None = None
    ):
        self.cloud = cloud
        self.folder = Path(folder)
        self.on_notice = on_notice
        self.notices: list[Notice] = []
        self._sqs = cloud.client("sqs")
        self._queues: list[tuple[str, str, tuple[str, ...]]] = []  # (url, topic arn, to)
        self._lock = threading.Lock()
        self._count = len(list(self.folder.glob("*.eml"))) if self.folder.is_dir() else 0

    def subscribe(self) -> None:
        sns = self.cloud.client("sns")
        for topic in self.cloud.stack.topics():
            url = self._sqs.create_queue(QueueName=f"{STACK_NAME}-outbox-{topic.logical_id}")[
                "QueueUrl"
            ]
            arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            sns.subscribe(
                TopicArn=topic.arn, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"]
            )
            to = tuple(e for p, e in topic.subscriptions if p == "email" and e)
            self._queues.append((url, topic.arn, to or (topic.name,)))

    def poll_once(self) -> int:
        handled = 0
        for url, topic_arn, to in self._queues:
            messages = self._sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            for message in messages:
                self._write(json.loads(message["Body"]), topic_arn, to)
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        return handled

    def pending(self) -> int:
        """Messages published and not yet written (or being written)."""
        return queued_messages(self._sqs, (url for url, _topic, _to in self._queues))

    def drain(self) -> int:
        """Write every message still queued (a stopping runtime: what the functions
        published before they ended is not lost with moto's queues)."""
        handled = 0
        while count := self.poll_once():
            handled += count
        return handled

    def _write(self, envelope: dict, topic_arn: str, to: tuple[str, ...]) -> None:
        subject = envelope.get("Subject") or "(no subject)"
        body = envelope.get("Message", "")
        attributes = {
            k: v.get("Value", "") for k, v in (envelope.get("MessageAttributes") or {}).items()
        }
        mail = email.message.EmailMessage()
        mail["From"] = f"{topic_arn.rsplit(':', 1)[-1]} <no-reply@sns.amazonaws.com>"
        mail["To"] = ", ".join(to)
        mail["Subject"] = subject
        mail["Date"] = email.utils.formatdate(localtime=True)
        mail["Message-ID"] = f"<{envelope.get('MessageId', 'local')}@foldline.local>"
        mail["X-SNS-Topic-Arn"] = topic_arn
        for key, value in sorted(attributes.items()):
            mail[f"X-Foldline-{re.sub(r'[^A-Za-z0-9_-]', '-', key)}"] = value
        mail.set_content(body, cte="8bit")  # readable as a text file, no quoted-printable
        with self._lock:
            self._count += 1
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{self._count:04d}-{_slug(subject)}.eml"
            path.write_bytes(bytes(mail))
            notice = Notice(path, subject, body, topic_arn, attributes)
            self.notices.append(notice)
        if self.on_notice is not None:
            self.on_notice(notice)


def read_notice(path: Path) -> Notice:
    """An outbox file back as a :class:`Notice` (for tests and ``foldline local`` output)."""
    import email.parser
    import email.policy

    mail = email.parser.BytesParser(policy=email.policy.default).parse(path.open("rb"))
    attributes = {
        k[len("X-Foldline-") :]: str(v) for k, v in mail.items() if k.startswith("X-Foldline-")
    }
    body = mail.get_body(preferencelist=("plain",))
    return Notice(
        path,
        str(mail["Subject"]),
        body.get_content() if body else "",
        str(mail["X-SNS-Topic-Arn"]),
        attributes,
    )
