"""The HTTP face of the simulator: AMC's routes, Login with Amazon, downloads, and /_sim."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from recomamp_pipelines.simulator.config import SimulatorConfig
from recomamp_pipelines.simulator.faults import FaultSettingError
from recomamp_pipelines.simulator.lifecycle import Lifecycle
from recomamp_pipelines.simulator.requests import ApiError, flag, parse_json_body
from recomamp_pipelines.simulator.service import Simulator

TICK_SECONDS = 0.1
CLIENT_ID_HEADER = "Amazon-Advertising-API-ClientId"
ADVERTISER_HEADER = "Amazon-Advertising-API-AdvertiserId"
MARKETPLACE_HEADER = "Amazon-Advertising-API-MarketplaceId"

Handler = Callable[[Request, dict[str, Any]], Awaitable[Any]]


_VERSIONED_MEDIA_TYPE = re.compile(r"^application/vnd\.amc[a-z]+\.v\d+\+json$")


def answer_media_type(request: Request) -> str:
    """The versioned media type the client asked for (`application/vnd.amcworkflows.v1+json`
    and its kind), else plain JSON, which AMC answers too."""
    for media_type in (request.headers.get("accept", ""), request.headers.get("content-type", "")):
        for candidate in media_type.split(","):
            value = candidate.split(";")[0].strip().lower()
            if _VERSIONED_MEDIA_TYPE.match(value):
                return value
    return "application/json"


def _unauthorized() -> JSONResponse:
    return JSONResponse({"message": "Unauthorized"}, status_code=401)


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def create_app(config: SimulatorConfig, base_url: str) -> Starlette:
    """The ASGI app of one simulator; its state lives as long as the app."""
    sim = Simulator(config, base_url)
    lifecycle = Lifecycle(sim, workers=config.engine_threads)

    async def tick() -> None:
        await run_in_threadpool(lifecycle.tick)

    def count(request: Request, status: int) -> None:
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path)
        sim.counters.request(f"{request.method} {template}", status)

    def amc(
        handler: Handler,
        needs_advertiser: bool = True,
    ) -> Callable[[Request], Awaitable[Response]]:
        """An AMC endpoint: faults, latency, headers, token, instance, then the handler."""

        async def endpoint(request: Request) -> Response:
            response = await guarded(request)
            count(request, response.status_code)
            return response

        async def guarded(request: Request) -> Response:
            faults = sim.faults.current
            if faults.latency_seconds > 0:
                await asyncio.sleep(faults.latency_seconds)
            fault = sim.faults.api_fault(request.method, request.url.path)
            if fault is not None:
                headers = {}
                if fault.status == 429 and fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                details = "Too Many Requests" if fault.status == 429 else "Service Unavailable"
                return JSONResponse(
                    {"code": str(fault.status), "details": details},
                    status_code=fault.status,
                    headers=headers,
                )
            authorization = request.headers.get("authorization", "")
            scheme, _, token = authorization.partition(" ")
            valid = (
                scheme.lower() == "bearer"
                and token
                and await run_in_threadpool(sim.tokens.is_valid, token.strip())
            )
            if not valid:
                return _unauthorized()
            if request.headers.get(CLIENT_ID_HEADER) != sim.config.client_id:
                return _unauthorized()
            required = [MARKETPLACE_HEADER] + ([ADVERTISER_HEADER] if needs_advertiser else [])
            for name in required:
                if not request.headers.get(name, "").strip():
                    return JSONResponse(
                        {"code": "400", "details": f"Missing required header {name}."},
                        status_code=400,
                    )
            if sim.faults.take_unauthorized(request.method, request.url.path):
                # The token is valid, but AMC no longer lets its user reach this account.
                return _unauthorized()
            if sim.faults.count_authorized_call():
                await run_in_threadpool(sim.tokens.revoke_all)
            context: dict[str, Any] = {
                "advertiser_id": request.headers.get(ADVERTISER_HEADER, "").strip()
            }
            try:
                instance_id = request.path_params.get("instanceId")
                if instance_id is not None and request.url.path.startswith("/amc/reporting/"):
                    sim.instance(instance_id, context["advertiser_id"])
                    context["instance_id"] = instance_id
                await tick()
                result = await handler(request, context)
            except ApiError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            if isinstance(result, Response):
                return result
            return JSONResponse(result, media_type=answer_media_type(request))

        return endpoint

    async def body_of(request: Request, required: bool = True) -> dict[str, Any]:
        return parse_json_body(await request.body(), required)

    # --- Login with Amazon -----------------------------------------------------------------

    async def token_endpoint(request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", errors="replace")
        fault = sim.faults.token_fault()
        if fault is not None:
            sim.counters.token_request()
            count(request, fault.status)
            headers = {"Cache-Control": "no-store"}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return JSONResponse(fault.body, status_code=fault.status, headers=headers)
        form: dict[str, str] = {}
        if raw.lstrip().startswith("{"):
            # Login with Amazon takes a form; some clients send the same fields as JSON.
            with contextlib.suppress(json.JSONDecodeError):
                loaded = json.loads(raw)
                if isinstance(loaded, dict):
                    form = {str(k): str(v) for k, v in loaded.items()}
        else:
            form = dict(parse_qsl(raw, keep_blank_values=True))
        status, body = await run_in_threadpool(sim.issue_token, form)
        count(request, status)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    # --- AMC -------------------------------------------------------------------------------

    async def accounts(request: Request, ctx: dict[str, Any]) -> Any:
        return sim.accounts()

    async def instances(request: Request, ctx: dict[str, Any]) -> Any:
        return sim.instances(ctx["advertiser_id"] or None, _params(request))

    async def instance_details(request: Request, ctx: dict[str, Any]) -> Any:
        return sim.instance_details(request.path_params["instanceId"])

    async def workflows(request: Request, ctx: dict[str, Any]) -> Any:
        if request.method == "POST":
            body = await body_of(request)
            return await run_in_threadpool(sim.create_workflow, ctx["instance_id"], body)
        return await run_in_threadpool(sim.list_workflows, ctx["instance_id"], _params(request))

    async def workflow(request: Request, ctx: dict[str, Any]) -> Any:
        workflow_id = request.path_params["workflowId"]
        if request.method == "PUT":
            body = await body_of(request)
            return await run_in_threadpool(
                sim.update_workflow, ctx["instance_id"], workflow_id, body
            )
        if request.method == "DELETE":
            return await run_in_threadpool(sim.delete_workflow, ctx["instance_id"], workflow_id)
        return await run_in_threadpool(sim.get_workflow, ctx["instance_id"], workflow_id)

    async def executions(request: Request, ctx: dict[str, Any]) -> Any:
        if request.method == "POST":
            body = await body_of(request)
            created = await run_in_threadpool(sim.create_execution, ctx["instance_id"], body)
            hold = sim.faults.current.hold_create_response_seconds
            if hold > 0:
                # The execution exists; the answer is late, as if the network dropped it.
                await asyncio.sleep(hold)
            return created
        return await run_in_threadpool(sim.list_executions, ctx["instance_id"], _params(request))

    async def execution(request: Request, ctx: dict[str, Any]) -> Any:
        execution_id = request.path_params["executionId"]
        if request.method == "PUT":
            body = await body_of(request)
            return await run_in_threadpool(
                sim.cancel_execution, ctx["instance_id"], execution_id, body
            )
        include = flag(request.query_params.get("includeWorkflow"), "includeWorkflow")
        return await run_in_threadpool(sim.get_execution, ctx["instance_id"], execution_id, include)

    async def download_urls(request: Request, ctx: dict[str, Any]) -> Any:
        return await run_in_threadpool(
            sim.download_urls, ctx["instance_id"], request.path_params["executionId"]
        )

    async def schedules(request: Request, ctx: dict[str, Any]) -> Any:
        if request.method == "POST":
            body = await body_of(request)
            return await run_in_threadpool(sim.create_schedule, ctx["instance_id"], body)
        return await run_in_threadpool(sim.list_schedules, ctx["instance_id"], _params(request))

    async def schedule(request: Request, ctx: dict[str, Any]) -> Any:
        schedule_id = request.path_params["scheduleId"]
        if request.method == "PUT":
            body = await body_of(request)
            return await run_in_threadpool(
                sim.update_schedule, ctx["instance_id"], schedule_id, body
            )
        if request.method == "DELETE":
            return await run_in_threadpool(sim.delete_schedule, ctx["instance_id"], schedule_id)
        return await run_in_threadpool(sim.get_schedule, ctx["instance_id"], schedule_id)

    async def data_sources(request: Request, ctx: dict[str, Any]) -> Any:
        return sim.data_sources(ctx["instance_id"], _params(request))

    async def data_source(request: Request, ctx: dict[str, Any]) -> Any:
        return sim.data_source(ctx["instance_id"], request.path_params["dataSourceId"])

    # --- pre-signed downloads --------------------------------------------------------------

    async def download(request: Request) -> Response:
        p = request.path_params
        target, error = await run_in_threadpool(
            sim.resolve_download, p["instanceId"], p["executionId"], p["fileName"], _params(request)
        )
        count(request, 200 if target is not None else 404 if error == "NoSuchKey" else 403)
        if target is None:
            message = {
                "AccessDenied": "Request has expired",
                "SignatureDoesNotMatch": "The request signature we calculated does not match.",
                "NoSuchKey": "The specified key does not exist.",
            }.get(error or "", "Query-string authentication requires the X-Amz parameters.")
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{error}</Code><Message>{message}</Message></Error>"
            )
            status = 404 if error == "NoSuchKey" else 403
            return Response(xml, status_code=status, media_type="application/xml")
        media = "application/json" if target.suffix == ".json" else "text/csv"
        if target.suffix == ".csv" and sim.faults.take_truncated_download():
            return _TruncatedFile(target, media)
        return FileResponse(target, media_type=media)

    # --- test controls ---------------------------------------------------------------------

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            return JSONResponse(sim.faults.clear().as_dict())
        if request.method == "POST":
            try:
                body = await body_of(request)
                if flag(body.pop("invalidate_tokens", None), "invalidate_tokens"):
                    await run_in_threadpool(sim.tokens.revoke_all)
                return JSONResponse(sim.faults.update(body).as_dict())
            except FaultSettingError as exc:
                return JSONResponse({"code": "400", "details": str(exc)}, status_code=400)
            except ApiError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
        return JSONResponse(sim.faults.current.as_dict())

    async def counters(request: Request) -> Response:
        await tick()
        return JSONResponse(await run_in_threadpool(sim.counter_snapshot))

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                snapshot = sim.set_clock(await body_of(request))
            except ApiError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            await tick()
            return JSONResponse(snapshot)
        return JSONResponse(sim.clock.snapshot())

    async def reset(request: Request) -> Response:
        await run_in_threadpool(sim.reset)
        lifecycle.forget_all()
        return JSONResponse({"reset": True})

    async def invalidate_tokens(request: Request) -> Response:
        revoked = await run_in_threadpool(sim.tokens.revoke_all)
        return JSONResponse({"revoked": revoked})

    async def tick_now(request: Request) -> Response:
        await tick()
        return JSONResponse({"now": sim.clock.snapshot()["now"]})

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "base_url": sim.base_url,
                "instance_ids": [i.instance_id for i in sim.config.instances],
                "account_ids": [a.account_id for a in sim.config.accounts],
            }
        )

    reporting = "/amc/reporting/{instanceId}"
    routes = [
        Route("/auth/o2/token", token_endpoint, methods=["POST"]),
        Route("/amc/accounts", amc(accounts, needs_advertiser=False), methods=["GET"]),
        Route("/amc/instances", amc(instances, needs_advertiser=False), methods=["GET"]),
        Route(
            "/amc/instances/{instanceId}",
            amc(instance_details, needs_advertiser=False),
            methods=["GET"],
        ),
        Route(f"{reporting}/workflows", amc(workflows), methods=["GET", "POST"]),
        Route(
            f"{reporting}/workflows/{{workflowId}}", amc(workflow), methods=["GET", "PUT", "DELETE"]
        ),
        Route(f"{reporting}/workflowExecutions", amc(executions), methods=["GET", "POST"]),
        Route(
            f"{reporting}/workflowExecutions/{{executionId}}",
            amc(execution),
            methods=["GET", "PUT"],
        ),
        Route(
            f"{reporting}/workflowExecutions/{{executionId}}/downloadUrls",
            amc(download_urls),
            methods=["GET"],
        ),
        Route(f"{reporting}/schedules", amc(schedules), methods=["GET", "POST"]),
        Route(
            f"{reporting}/schedules/{{scheduleId}}", amc(schedule), methods=["GET", "PUT", "DELETE"]
        ),
        Route(f"{reporting}/dataSources", amc(data_sources), methods=["GET"]),
        Route(f"{reporting}/dataSources/{{dataSourceId}}", amc(data_source), methods=["GET"]),
        Route("/s3/amc-results/{instanceId}/{executionId}/{fileName}", download, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/counters", counters, methods=["GET"]),
        Route("/_sim/clock", clock, methods=["GET", "POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/tokens/invalidate", invalidate_tokens, methods=["POST"]),
        Route("/_sim/tick", tick_now, methods=["POST"]),
        Route("/_sim/health", health, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def ticker() -> None:
            while True:
                await tick()
                await asyncio.sleep(TICK_SECONDS)

        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            lifecycle.close()
            sim.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        details = exc.detail if isinstance(exc, HTTPException) else "Internal error"
        return JSONResponse({"code": str(status), "details": details}, status_code=status)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error},
    )
    app.state.simulator = sim
    return app


class _TruncatedFile(Response):
    """A response that promises more bytes than it sends, then ends: a cut download."""

    def __init__(self, path: Path, media_type: str) -> None:
        super().__init__(media_type=media_type)
        self._path = path
        self._content_type = media_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        data = self._path.read_bytes()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", self._content_type.encode()),
                    (b"content-length", str(len(data) + 4096).encode()),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": data[: len(data) // 2], "more_body": False}
        )
