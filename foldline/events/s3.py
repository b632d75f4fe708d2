"""Turning S3 "Object Created" events (EventBridge, possibly wrapped in SQS) into Uploads."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from foldline.intake.start import Upload

OBJECT_CREATED = "Object Created"


def upload_from_eventbridge(event: dict) -> Upload | None:
    """The Upload an EventBridge S3 event describes; None for other S3 event types.

    moto (and S3 itself, with tagging) also emits "Object Tags Added" and others:
    only "Object Created" starts anything.
    """
    notification = S3EventBridgeNotificationEvent(event)
    if notification.detail_type != OBJECT_CREATED or notification.source != "aws.s3":
        return None
    obj = notification.detail.object
    return Upload(
        bucket=notification.detail.bucket.name,
        # the key as the event carries it: S3 URL-encodes it, moto does not, so the start
        # path tries it as is and then decoded (Powertools' ``.key`` always decodes)
        key=obj["key"],
        size=obj.size,
        version_id=obj.get("version-id"),
        etag=obj.etag,
        event_time=notification.time,
    )
