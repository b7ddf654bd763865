"""Multipart part URLs on demand (issue 13 item 3, ADR 0013): the plan comes without URLs, the
CLI asks ``/multipart/parts`` in batches shortly before sending the parts, and asks again for
URLs that expired."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.cli.fake_api import State, serve
from support.cli.helpers import blob, run

from media_triage_cli.api import (
    ApiClient,
    FileSpec,
    MultipartPart,
    MultipartPlan,
    PartUrls,
    plan_fits,
)
from media_triage_cli.uploader import PART_URL_BATCH, PartUrlCache


def test_part_urls_are_asked_for_in_batches_shortly_before_use(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=100)) as api:
        big = blob(tmp_path / "clip.mp4", 4950)  # 50 parts

        result = run(api, [big], concurrency=2)

        assert result.code == 0, result.err
        assert api.file_by_name("clip.mp4").data == big.read_bytes()
        asked = api.parts_requests
        assert 1 < len(asked) <= 50
        assert all(len(batch) <= PART_URL_BATCH for batch in asked)
        assert sorted(n for batch in asked for n in batch) == list(range(1, 51))  # each once
        assert asked[0][0] == 1  # starting where the upload starts


def test_a_resumed_part_asks_for_a_fresh_url_after_its_url_expired(tmp_path: Path) -> None:
    """Two parts in, the server's clock jumps two hours: every URL the CLI holds has expired
    (S3 answers 403), so it asks for fresh ones and the upload finishes."""
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        big = blob(tmp_path / "clip.mp4", 2500)  # 4 parts, all in the first batch
        api.clock = lambda: time.time() + (7200 if sum(api.part_attempts.values()) >= 2 else 0)

        result = run(api, [big], concurrency=1)

        assert result.code == 0, result.err
        assert api.file_by_name("clip.mp4").data == big.read_bytes()
        # part 3 was refused; it and part 4 (same answer, same expiry) were asked for again
        assert api.expired_puts == 1
        assert api.parts_requests == [[1, 2, 3, 4], [3, 4]]


def test_init_answers_plans_without_urls(tmp_path: Path) -> None:
    with serve(State(multipart_threshold=1000, part_size=700)) as api:
        client = ApiClient(api.base)
        spec = FileSpec(filename="v.mp4", content_type="video/mp4", size=2500)

        init = client.init([spec], idempotency_key="k" * 20)
        (target,) = init.uploads
        assert target.multipart == MultipartPlan(
            upload_id="mpu-" + target.file_id, part_size=700, part_count=4
        )
        assert target.url is None
        plan = target.multipart
        got = client.multipart_parts(init.job_id, target.file_id, plan.upload_id, [4])
        assert got.parts[0].size == 2500 - 3 * 700


# ---------------------------------------------------------------------------- the cache alone


@dataclass
class FakeParts:
    now: list[float]
    ttl: float = 3600
    calls: list[list[int]] = field(default_factory=list)

    def multipart_parts(
        self, job_id: str, file_id: str, upload_id: str, part_numbers: list[int]
    ) -> PartUrls:
        self.calls.append(list(part_numbers))
        n = len(self.calls)
        return PartUrls(
            expires_at=self.now[0] + self.ttl,
            parts=tuple(
                MultipartPart(part_number=p, url=f"https://s3/{p}?v={n}", size=1)
                for p in part_numbers
            ),
        )


def _cache(fake: FakeParts, todo: list[int], **kw: float) -> PartUrlCache:
    plan = MultipartPlan(upload_id="u", part_size=1, part_count=max(todo))
    return PartUrlCache(
        fake,  # type: ignore[arg-type]
        "job",
        "file",
        plan,
        todo,
        clock=lambda: fake.now[0],
        **kw,  # type: ignore[arg-type]
    )


def test_the_cache_asks_ahead_reuses_and_renews_before_expiry() -> None:
    fake = FakeParts(now=[1000.0])
    cache = _cache(fake, list(range(1, 31)), batch=8)
    assert cache.get(1) == "https://s3/1?v=1"
    assert fake.calls == [[1, 2, 3, 4, 5, 6, 7, 8]]
    for n in (2, 3):
        cache.get(n)
        cache.sent(n)
    assert len(fake.calls) == 1  # from the batch
    fake.now[0] += 3600 - 60  # within the margin of expiry: asked again, with what is next
    assert cache.get(4) == "https://s3/4?v=2"
    assert fake.calls[1] == [4, 5, 6, 7, 8, 9, 10, 11]
    cache.expire(5)  # S3 refused it: its whole answer is stale
    assert cache.get(5) == "https://s3/5?v=3"
    assert fake.calls[2] == [5, 6, 7, 8, 9, 10, 11, 12]


def test_the_cache_skips_parts_already_sent() -> None:
    fake = FakeParts(now=[0.0])
    cache = _cache(fake, [2, 5, 6, 9], batch=3)
    cache.get(2)
    assert fake.calls == [[2, 5, 6]]
    cache.sent(5)
    fake.now[0] += 7200
    cache.get(6)
    assert fake.calls[1] == [6, 9]


def test_a_fresh_url_is_used_even_when_it_expires_soon() -> None:
    fake = FakeParts(now=[0.0], ttl=30)  # shorter than the margin
    cache = _cache(fake, [1, 2])
    assert cache.get(1) == "https://s3/1?v=1"
    assert len(fake.calls) == 1


@pytest.mark.parametrize(("size", "fits"), [(2100, True), (2101, False), (1400, False), (0, False)])
def test_a_plan_fits_only_the_size_it_was_made_for(size: int, fits: bool) -> None:
    assert plan_fits(MultipartPlan(upload_id="u", part_size=700, part_count=3), size) is fits
