"""API Gateway v2 (HTTP API) data plane on top of moto's control plane.

Served at ``/_aws/execute-api/<apiId>/<path>`` and for ``Host: <apiId>.execute-api.localhost.
localstack.cloud`` (LocalStack's conventions). Routes are matched like API Gateway (most
specific path first, then a specific method before ``ANY``, then ``$default``); ``AWS_PROXY``
integrations with payload format 2.0 (and 1.0) invoke the function through the host executor.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from local_aws.lambda_executor import FunctionSpec, LambdaExecutor, TooManyRequests
from local_aws.wsgi import Environ, Response, json_response, read_body

PATH_PREFIX = "/_aws/execute-api/"
HOST_RE = re.compile(
    r"^(?P<api>[a-z0-9]+)\.execute-api\.localhost\.localstack\.cloud(?::\d+)?$", re.I
)
LAMBDA_URI_RE = re.compile(r"functions/(?P<fn>arn:[^/]+)/invocations")
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "date",
    "server",
}
LITERAL, PARAM, GREEDY = 2, 1, 0


@dataclass
class Target:
    api_id: str
    path: str  # the path after the API id (and after a stage name, if any)
    raw_path: str  # the path as API Gateway reports it (with a non-default stage name)
    stage: str


@dataclass
class RouteMatch:
    route: Any
    route_key: str
    path_parameters: dict[str, str]


def target_of(environ: Environ) -> tuple[str, str] | None:
    """(api id, path) when the request is for the HTTP API data plane."""
    path = environ.get("PATH_INFO", "") or "/"
    if path.startswith(PATH_PREFIX):
        rest = path[len(PATH_PREFIX) :]
        api_id, _, tail = rest.partition("/")
        return api_id, "/" + tail
    host = environ.get("HTTP_HOST", "")
    match = HOST_RE.match(host)
    if match:
        return match.group("api"), path
    return None


def find_api(api_id: str) -> tuple[Any, str, str] | None:
    """(Api model, region, account id) of an API id, across moto's backends."""
    from moto.apigatewayv2.models import apigatewayv2_backends

    for account_id, regions in list(apigatewayv2_backends.items()):
        for region, backend in list(regions.items()):
            api = backend.apis.get(api_id)
            if api is not None:
                return api, region, account_id
    return None


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s != ""]


def _match_path(template: str, path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity, path parameters) if ``path`` matches the route's path template."""
    tpl = _segments(template)
    parts = _segments(path)
    score: list[int] = []
    params: dict[str, str] = {}
    for index, seg in enumerate(tpl):
        if seg.startswith("{") and seg.endswith("+}"):
            rest = parts[index:]
            if not rest or index != len(tpl) - 1:
                return None
            params[seg[1:-2]] = "/".join(rest)
            score.append(GREEDY)
            return tuple(score), params
        if index >= len(parts):
            return None
        if seg.startswith("{") and seg.endswith("}"):
            params[seg[1:-1]] = unquote(parts[index])
            score.append(PARAM)
        elif seg != parts[index]:
            return None
        else:
            score.append(LITERAL)
    if len(parts) != len(tpl):
        return None
    # A longer match is more specific; pad so tuples compare segment by segment.
    return (*score, 3), params


def match_route(api: Any, method: str, path: str) -> RouteMatch | None:
    best: tuple[tuple[Any, ...], RouteMatch] | None = None
    default: RouteMatch | None = None
    for route in list(api.routes.values()):
        key = str(route.route_key)
        if key == "$default":
            default = RouteMatch(route, key, {})
            continue
        route_method, _, template = key.partition(" ")
        if route_method not in {"ANY", method}:
            continue
        matched = _match_path(template, path)
        if matched is None:
            continue
        score, params = matched
        rank = (score, route_method != "ANY")
        if best is None or rank > best[0]:
            best = (rank, RouteMatch(route, key, params))
    if best is not None:
        return best[1]
    return default


def _cors_headers(api: Any, origin: str, preflight: bool) -> dict[str, str]:
    cors = api.cors_configuration or {}
    if not cors or not origin:
        return {}
    origins = [str(o) for o in cors.get("allowOrigins") or []]
    if "*" in origins:
        allow_origin = "*"
    elif origin in origins:
        allow_origin = origin
    else:
        return {}
    headers = {"Access-Control-Allow-Origin": allow_origin}
    if allow_origin != "*":
        headers["Vary"] = "Origin"
    if cors.get("allowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    if preflight:
        if cors.get("allowMethods"):
            headers["Access-Control-Allow-Methods"] = ",".join(cors["allowMethods"])
        if cors.get("allowHeaders"):
            headers["Access-Control-Allow-Headers"] = ",".join(cors["allowHeaders"])
        if cors.get("maxAge") is not None:
            headers["Access-Control-Max-Age"] = str(cors["maxAge"])
    elif cors.get("exposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ",".join(cors["exposeHeaders"])
    return headers


def _request_headers(environ: Environ) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
    if environ.get("CONTENT_TYPE"):
        headers.append(("content-type", environ["CONTENT_TYPE"]))
    if environ.get("CONTENT_LENGTH"):
        headers.append(("content-length", environ["CONTENT_LENGTH"]))
    return headers


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return lowered.startswith(TEXT_TYPES) or "+json" in lowered or "+xml" in lowered


def _jwt_claims(token: str) -> dict[str, Any] | None:
    """Claims of a JWT, decoded WITHOUT signature verification (local emulation only)."""
    token = token.removeprefix("Bearer ").removeprefix("bearer ").strip()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _authorize(route: Any, environ: Environ) -> dict[str, Any] | Response | None:
    """A JWT route's authorizer context (claims NOT verified), or a 401 response."""
    if str(route.authorization_type or "NONE").upper() != "JWT":
        return None
    token = environ.get("HTTP_AUTHORIZATION", "")
    claims = _jwt_claims(token) if token else None
    if claims is None:
        return json_response(401, {"message": "Unauthorized"}, {"www-authenticate": "Bearer"})
    scope = claims.get("scope") or claims.get("scp") or ""
    scopes = scope.split() if isinstance(scope, str) else list(scope)
    return {"jwt": {"claims": claims, "scopes": scopes or None}}


def _response_headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in HOP_HEADERS:
            headers.append((str(name), str(value)))
            seen.add(name.lower())
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name.lower() not in HOP_HEADERS and name.lower() not in seen:
            headers.extend((str(name), str(v)) for v in values or [])
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    return headers


class HttpApiDataPlane:
    def __init__(self, executor: LambdaExecutor) -> None:
        self.executor = executor

    def __call__(self, environ: Environ, api_id: str, path: str) -> Response:
        request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode("ascii").rstrip("=")
        base = {"apigw-requestid": request_id}
        found = find_api(api_id)
        if found is None:
            return json_response(404, {"message": "Not Found"}, base)
        api, region, account_id = found
        method = environ.get("REQUEST_METHOD", "GET").upper()
        origin = environ.get("HTTP_ORIGIN", "")

        stage = "$default"
        raw_path = path
        first = _segments(path)[:1]
        if first and first[0] != "$default" and first[0] in api.stages:
            stage = first[0]
            path = "/" + "/".join(_segments(path)[1:])

        if (
            method == "OPTIONS"
            and api.cors_configuration
            and origin
            and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        ):
            return Response(204, b"", {**base, **_cors_headers(api, origin, preflight=True)})

        match = match_route(api, method, path)
        if match is None:
            return json_response(
                404, {"message": "Not Found"}, {**base, **_cors_headers(api, origin, False)}
            )
        target = Target(api_id, path, raw_path, stage)
        response = self._dispatch(environ, api, region, account_id, match, target, request_id)
        if isinstance(response.headers, dict):
            response.headers = list(response.headers.items())
        cors = _cors_headers(api, origin, preflight=False)
        if cors:
            names = {name.lower() for name in cors}
            response.headers = [(k, v) for k, v in response.headers if k.lower() not in names]
            response.headers.extend(cors.items())
        response.headers.append(("apigw-requestid", request_id))
        return response

    def _dispatch(
        self,
        environ: Environ,
        api: Any,
        region: str,
        account_id: str,
        match: RouteMatch,
        target: Target,
        request_id: str,
    ) -> Response:
        authorizer = _authorize(match.route, environ)
        if isinstance(authorizer, Response):
            return authorizer
        integration = api.integrations.get(
            str(match.route.target or "").removeprefix("integrations/")
        )
        if integration is None or str(integration.integration_type).upper() != "AWS_PROXY":
            kind = None if integration is None else integration.integration_type
            return json_response(500, {"message": f"Internal Server Error (integration {kind})"})
        fn = self._function(str(integration.integration_uri or ""), region, account_id)
        if fn is None:
            return json_response(500, {"message": "Internal Server Error"})

        body = read_body(environ)
        version = str(integration.payload_format_version or "2.0")
        if version == "1.0":
            event = self._event_v1(environ, api, account_id, match, target, request_id, body)
        else:
            event = self._event_v2(environ, api, account_id, match, target, request_id, body)
            if authorizer:
                event["requestContext"]["authorizer"] = authorizer
        try:
            result = self.executor.invoke(
                FunctionSpec.from_moto(fn), json.dumps(event).encode("utf-8")
            )
        except TooManyRequests:
            return json_response(429, {"message": "Too Many Requests"})
        if result.function_error:
            return json_response(500, {"message": "Internal Server Error"})
        return self._response(result.payload, version)

    @staticmethod
    def _function(uri: str, region: str, account_id: str) -> Any:
        from moto.awslambda.utils import get_backend

        match = LAMBDA_URI_RE.search(uri)
        name = match.group("fn") if match else uri
        if name.startswith("arn:"):
            parts = name.split(":")
            if len(parts) >= 5:
                region, account_id = parts[3] or region, parts[4] or account_id
        try:
            return get_backend(account_id, region).get_function(name)
        except Exception:
            return None

    @staticmethod
    def _context_common(
        environ: Environ, api: Any, account_id: str, route_key: str, stage: str, request_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        host = environ.get("HTTP_HOST", "").split(":")[0]
        domain = (
            host
            if HOST_RE.match(environ.get("HTTP_HOST", ""))
            else f"{api.api_id}.execute-api.localhost.localstack.cloud"
        )
        return {
            "accountId": account_id,
            "apiId": api.api_id,
            "domainName": domain,
            "domainPrefix": api.api_id,
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }

    def _body_fields(self, environ: Environ, body: bytes) -> tuple[str | None, bool]:
        if not body:
            return None, False
        if _is_text(environ.get("CONTENT_TYPE", "")):
            try:
                return body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(body).decode("ascii"), True

    def _event_v2(
        self,
        environ: Environ,
        api: Any,
        account_id: str,
        match: RouteMatch,
        target: Target,
        request_id: str,
        body: bytes,
    ) -> dict[str, Any]:
        raw_query = environ.get("QUERY_STRING", "")
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in _request_headers(environ):
            if name == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        headers.setdefault("x-forwarded-for", environ.get("REMOTE_ADDR", "127.0.0.1"))
        headers.setdefault("x-forwarded-port", str(environ.get("SERVER_PORT", "")))
        headers.setdefault("x-forwarded-proto", environ.get("wsgi.url_scheme", "http"))
        headers.setdefault(
            "x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        )
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        context = self._context_common(
            environ, api, account_id, match.route_key, target.stage, request_id
        )
        context["http"] = {
            "method": environ.get("REQUEST_METHOD", "GET").upper(),
            "path": target.raw_path,
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
            "userAgent": environ.get("HTTP_USER_AGENT", ""),
        }
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": match.route_key,
            "rawPath": target.raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if match.path_parameters:
            event["pathParameters"] = match.path_parameters
        stage = api.stages.get(target.stage)
        if stage is not None and getattr(stage, "stage_variables", None):
            event["stageVariables"] = dict(stage.stage_variables)
        text, is_b64 = self._body_fields(environ, body)
        if text is not None:
            event["body"] = text
            event["isBase64Encoded"] = is_b64
        return event

    def _event_v1(
        self,
        environ: Environ,
        api: Any,
        account_id: str,
        match: RouteMatch,
        target: Target,
        request_id: str,
        body: bytes,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in _request_headers(environ):
            headers[name] = value
            multi.setdefault(name, []).append(value)
        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            query[key] = value
            multi_query.setdefault(key, []).append(value)
        context = self._context_common(
            environ, api, account_id, match.route_key, target.stage, request_id
        )
        context.update(
            {
                "httpMethod": environ.get("REQUEST_METHOD", "GET").upper(),
                "path": target.raw_path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "resourcePath": match.route_key.partition(" ")[2] or "$default",
                "identity": {
                    "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                    "userAgent": environ.get("HTTP_USER_AGENT", ""),
                },
            }
        )
        text, is_b64 = self._body_fields(environ, body)
        return {
            "version": "1.0",
            "resource": match.route_key.partition(" ")[2] or "$default",
            "path": target.raw_path,
            "httpMethod": environ.get("REQUEST_METHOD", "GET").upper(),
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": match.path_parameters or None,
            "stageVariables": None,
            "requestContext": context,
            "body": text,
            "isBase64Encoded": is_b64,
        }

    @staticmethod
    def _response(payload: bytes, version: str) -> Response:
        try:
            result = json.loads(payload) if payload else None
        except ValueError:
            return Response(200, payload, [("Content-Type", "application/json")])
        if not isinstance(result, dict) or ("statusCode" not in result and version != "1.0"):
            # Payload 2.0 without statusCode: 200, JSON, the function's response as the body.
            return Response(200, payload, [("Content-Type", "application/json")])
        if not isinstance(result, dict) or "statusCode" not in result:
            return json_response(502, {"message": "Internal Server Error"})
        try:
            status = int(result.get("statusCode") or 200)
        except (TypeError, ValueError):
            return json_response(500, {"message": "Internal Server Error"})
        headers = _response_headers(result)
        body = result.get("body")
        if body is None:
            raw = b""
        elif result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(str(body))
            except (ValueError, binascii.Error):
                return json_response(500, {"message": "Internal Server Error"})
        else:
            raw = (
                body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            )
        if not any(name.lower() == "content-type" for name, _ in headers) and raw:
            headers.append(("Content-Type", "application/json"))
        return Response(status, raw, headers)
