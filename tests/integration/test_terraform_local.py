"""terraform/envs/local as applied by the test stack: applying converges (a second plan is
empty), so the emulator reports back what the provider wrote and the config has no drift."""

from __future__ import annotations

import json
import subprocess

import pytest
from support.stack import ENV_DIR, TF_ENV, Stack

pytestmark = pytest.mark.integration


def test_a_second_plan_after_apply_shows_no_changes(stack: Stack) -> None:
    done = subprocess.run(
        [
            *("terraform", f"-chdir={ENV_DIR}", "plan", "-detailed-exitcode", "-input=false"),
            *(
                "-no-color",
                "-lock=false",
                f"-state={stack.state}",
                f"-var=endpoint={stack.endpoint}",
            ),
        ],
        env=TF_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # -detailed-exitcode: 0 = no changes, 1 = error, 2 = changes
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert "No changes." in done.stdout


def test_the_page_is_deployed_with_the_config_and_headers_terraform_wrote(stack: Stack) -> None:
    """The built page, config.json (the functions' own limits) and _site/headers.json are in
    the page's bucket; the media bucket lets exactly the page's origin upload."""
    port = stack.endpoint.rsplit(":", 1)[1]
    bucket = stack.outputs["web_bucket_name"]
    assert stack.outputs["web_url"] == f"http://localhost:{port}/_aws/site/{bucket}/"
    s3 = stack.client("s3")
    index = s3.head_object(Bucket=bucket, Key="index.html")
    assert (index["ContentType"], index["CacheControl"]) == ("text/html; charset=utf-8", "no-cache")

    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    assert config["apiBase"] == f"/_aws/execute-api/{stack.outputs['api_id']}"
    functions = stack.client("lambda")

    def env(role: str) -> dict[str, str]:
        name = stack.functions[role]
        variables = functions.get_function_configuration(FunctionName=name)["Environment"]
        return dict(variables["Variables"])

    api, media = env("init_session"), env("media_process")
    assert config["maxFileBytes"] == int(api["MAX_FILE_BYTES"])
    assert config["multipartThresholdBytes"] == int(api["MULTIPART_THRESHOLD_BYTES"])
    assert config["maxPhotoBytes"] == int(media["MAX_PHOTO_BYTES"])
    assert config["maxVideoBytes"] == int(media["MAX_VIDEO_BYTES"])

    headers = json.loads(s3.get_object(Bucket=bucket, Key="_site/headers.json")["Body"].read())
    assert f"connect-src 'self' {stack.endpoint}" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    (rule,) = s3.get_bucket_cors(Bucket=stack.bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == [f"http://localhost:{port}"]
    assert rule["ExposeHeaders"] == ["ETag"]
