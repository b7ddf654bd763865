"""The local stack deployed with a Gemini key (what `make demo` does with GEMINI_API_KEY set):
the key goes to SSM, triage-run reads it there and asks Gemini through the real SDK, photos
inline. Gemini here is tests/support/fake_gemini.py on loopback, named by ``gemini_base_url``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support import triage_images as ti
from support.fake_gemini import FakeGemini
from support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "AIza-fake-key-for-the-local-stack"
PARAM = "/media-triage/local/gemini-api-key"


@pytest.fixture
def gemini(stack: Stack) -> Iterator[FakeGemini]:
    with FakeGemini(api_key=KEY) as fake:
        stack.apply(f"-var=gemini_api_key={KEY}", f"-var=gemini_base_url={fake.base_url}")
        try:
            yield fake
        finally:
            stack.apply()  # back to the local analyzer for the other tests


def test_with_a_key_triage_asks_gemini_with_the_key_from_ssm(
    stack: Stack, gemini: FakeGemini
) -> None:
    batch = {
        "beach.jpg": ti.jpeg(ti.scene(201)),
        "night dark.jpg": ti.jpeg(ti.dark(ti.scene(202))),
        "broken.jpg": b"\xff\xd8\xff\xe0 not really a jpeg " * 20,
    }
    specs = [{"filename": n, "contentType": "image/jpeg", "size": len(b)} for n, b in batch.items()]
    init = stack.init(len(batch), specs)
    for target in init["uploads"]:
        stack.upload(target, batch[target["filename"]])
    job = stack.wait_job(init["sessionId"], init["jobId"], {"complete", "failed"}, timeout=180)
    assert job["status"] == "complete", job
    assert job["summary"]["analyzer"] == "gemini"

    # the key lives in SSM only, never in the function's configuration
    ssm = stack.client("ssm").get_parameter(Name=PARAM, WithDecryption=True)["Parameter"]
    assert (ssm["Type"], ssm["Value"]) == ("SecureString", KEY)
    config = stack.client("lambda").get_function_configuration(
        FunctionName=stack.functions["triage_run"]
    )
    assert KEY not in json.dumps(config["Environment"])
    assert config["Environment"]["Variables"]["GEMINI_API_KEY_PARAM"] == PARAM

    # one call (the fake rejects any other key), both valid photos inline, the corrupt one not sent
    ids = {u["filename"]: u["fileId"] for u in init["uploads"]}
    sent = [fid for call in gemini.calls for fid in call.file_ids]
    assert sorted(sent) == sorted([ids["beach.jpg"], ids["night dark.jpg"]])
    media = [m for call in gemini.calls for m in call.media]
    assert [(m["kind"], m["mime"]) for m in media] == [("inline", "image/jpeg")] * 2

    # the page sees Gemini's verdicts (the fake's wording) and who judged
    resp = stack.api("GET", f"/api/triage/{init['jobId']}/results", token=init["sessionToken"])
    results = resp.json()
    assert (results["analyzer"], results["model"]) == ("gemini", "gemini-2.5-flash")
    keep, discard = results["verdicts"]["keep"], results["verdicts"]["discard"]
    assert [(v["filename"], v["reason"]) for v in keep] == [("beach.jpg", "Sharp and well lit.")]
    assert [(v["filename"], v["reason"]) for v in discard] == [
        ("night dark.jpg", "The shot is dark.")
    ]
