"""Values from a delivery that go into an outbound URL stay one path segment (DESIGN.md, ingest:
"wherever one goes into a URL it is encoded as a single path segment"; issue 16)."""

from __future__ import annotations

import pytest

HOSTILE_IDS = [
    ("../../admin?x=", "%2E%2E%2F%2E%2E%2Fadmin%3Fx%3D"),
    ("..", "%2E%2E"),
    ("a/b#c d", "a%2Fb%23c%20d"),
    ("%2e%2e", "%252e%252e"),
]


@pytest.mark.parametrize(("playback_id", "segment"), HOSTILE_IDS)
def test_a_delivered_playback_id_is_one_segment_of_the_cdn_url(make, fake, playback_id, segment):
    """The hls check asks the configured CDN for /hls/<id>/index.m3u8 with the delivery's
    playbackId as one encoded segment: it can neither climb the path nor start a query."""
    h = make(api=False)  # no playback info: the URL is built from LIVEPEER_PLAYBACK_URL
    h.deliver("stream.started", "out-pb", stream={"playbackId": playback_id})
    fake.fail("/", 404, "Stream not found", content_type="text/plain")  # no redirect to follow
    h.check("out-pb", "hls")
    asked = [r.path for r in fake.requests if r.server == "cdn"]
    assert asked == [f"/hls/{segment}/index.m3u8"]
