"""Screening mode: one drop of a multi-FASTA of monomers, one run per sequence (a campaign).

The user asks for it with an object tag on the upload, ``Mode=screen`` (``foldline submit
--screen`` and ``foldline local run --screen`` set it). The campaign's id is the run id
the upload itself would have had (:func:`foldline.intake.run_identity.run_id_for`), so a
redelivered event names the same campaign, and a new version of the file a new one.

>>> campaign_item_key("proteome-0123")
'#campaign#proteome-0123'
>>> campaign_id_of_item_key("#campaign#proteome-0123")
'proteome-0123'
"""

#: the object tag that chooses how an upload is read, and its one value besides the default
MODE_TAG = "Mode"
SCREEN_MODE = "screen"
MODES = (SCREEN_MODE,)

#: the message attribute (the campaign's id) on a screening-drop member's own notice. The
#: e-mail subscription's filter policy (template.yaml) leaves those out, so a drop of N
#: records e-mails one summary, not N + 1 messages; every other subscriber of the topic
#: still gets each run's notice, and can filter on this attribute too
CAMPAIGN_MEMBER_ATTRIBUTE = "campaign_member"
#: that filter policy: notices without the attribute (single runs, campaign summaries)
EMAIL_FILTER_POLICY = {CAMPAIGN_MEMBER_ATTRIBUTE: [{"exists": False}]}

#: the runs-table key of a campaign's item (``#`` first: no run id starts so, and the
#: runs listing skips such keys)
CAMPAIGN_KEY_PREFIX = "#campaign#"


def campaign_item_key(campaign_id: str) -> str:
    return CAMPAIGN_KEY_PREFIX + campaign_id


def campaign_id_of_item_key(key: str) -> str | None:
    return key[len(CAMPAIGN_KEY_PREFIX) :] if key.startswith(CAMPAIGN_KEY_PREFIX) else None
