"""The HTTP server: JSON endpoints under /api, HTTP basic auth, body limits, and the Gradio page at /."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from qa.web.engine import Engine
from qa.web.errors import RequestError, explain
from qa.web.page import CSS_PATH, THEME_FONTS, build_ui, head
from qa.web.request import Query, parse_query
from qa.web.views import answer_json, search_json

MAX_BODY_BYTES = 64 * 1024
# Any request to the server, Gradio's own routes included.
MAX_ANY_BODY_BYTES = 1024 * 1024
# Gradio routes that store uploads, serve files from disk, fetch URLs or hold a connection open for
# development reloads. The page has no file inputs or outputs and needs none of them: they are
# refused before Gradio sees the request.
BLOCKED_ROUTES = (
    "/gradio_api/upload", "/gradio_api/file=", "/gradio_api/file/", "/gradio_api/proxy=", "/gradio_api/stream/",
    "/gradio_api/process_recording", "/gradio_api/custom_component/", "/gradio_api/dev/", "/file=", "/file/", "/proxy=",
)


def create_app(engine: Engine, *, auth: tuple[str, str] | None = None, examples: Sequence[str] | None = None) -> FastAPI:
    """The FastAPI server: JSON endpoints under /api, the Gradio page at /.

    JSON endpoints (UTF-8 JSON bodies of at most 64 KiB; with `auth`, HTTP basic auth):

        POST /api/search  {"question": str, "k": 1..20 = 5, "mode": "hybrid"|"dense"|"lexical",
                           "filters": {"sources": [str], "categories": [str], "since": "YYYY-MM-DD",
                                       "until": "YYYY-MM-DD", "keep_undated": bool}}
                       -> {"question", "mode", "k", "hits": [Hit], "took_ms"}
        POST /api/ask     the same fields, plus "history": [{"question": str, "answer": str}] (at most 10),
                          "stream": bool = false, "now": "YYYY-MM-DD" (the day the question's time words count
                          from; default: the newest article's) and "timeline": bool | null (null: the question decides)
                       -> {"question", "answer", "abstained", "language", "search_query",
                           "citations": [Citation], "answerer": "extractive"|"llm", "note": str,
                           "removed": [{"sentence", "cited", "support", "reason"}], "short", "figures",
                           "searched": str, "searched_since"/"searched_until": "YYYY-MM-DD" | null (the days a
                           dated question was answered from), "as_of": str (a latest-state answer's date and
                           site), "timeline": [TimelineEntry], "hits": [Hit], "took_ms"}
                          With "stream": true, server-sent events (text/event-stream): `event: delta` with
                          {"text"} for each piece a generating answerer writes (not yet verified), then one
                          `event: answer` with the object above (verified), or `event: error` with {"error"}.
        GET  /api/health -> {"status": "ok"|"unavailable", "message"?, "index", "generation", "articles",
                             "passages", "model", "created", "reload_problem"?}

    Hit is {"rank", **qa.Hit}; Citation is qa's Citation record. Errors: {"error": {"type", "message"}}
    with 400 (bad request or question), 401, 404, 405, 413 (body too large), 415 (not JSON), 503 (index
    unavailable, or server busy: more than concurrency + backlog questions already waiting; with
    Retry-After), 500. The Gradio API has the named endpoints /ask and /search (the page's "Use via API" link).
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, limit=MAX_ANY_BODY_BYTES, blocked=BLOCKED_ROUTES)

    def failure(exc: BaseException) -> JSONResponse:
        problem = explain(exc)
        headers = {"Retry-After": "1"} if problem.status == 503 else None
        return JSONResponse({"error": {"type": problem.kind, "message": problem.detail}}, problem.status, headers=headers)

    def authorized(request: Request) -> bool:
        if auth is None:
            return True
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user.encode(), auth[0].encode()) & secrets.compare_digest(password.encode(), auth[1].encode())

    def unauthorized() -> JSONResponse:
        return JSONResponse(
            {"error": {"type": "unauthorized", "message": "this server needs a user name and password (HTTP basic auth)"}},
            401, headers={"WWW-Authenticate": 'Basic realm="qa"'},
        )

    # JSON questions wait here for their turn (the engine runs `slots` at once, the Gradio queue's first);
    # at most `slots + backlog` are admitted, the rest are refused at once with 503 and Retry-After.
    pool = ThreadPoolExecutor(max_workers=engine.slots, thread_name_prefix="qa-api")

    async def handle(request: Request, work: Callable[[Query], dict[str, Any]], *, with_history: bool) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        try:
            query = parse_query(await read_json(request), with_history=with_history)
            with engine.admit():
                return JSONResponse(await asyncio.get_running_loop().run_in_executor(pool, work, query))
        except Exception as exc:  # noqa: BLE001 - clients get a message, the log gets the trace
            return failure(exc)

    def do_search(query: Query) -> dict[str, Any]:
        started = time.perf_counter()
        hits = engine.search(query, lane="api")
        return search_json(query, hits, (time.perf_counter() - started) * 1000)

    def do_ask(query: Query) -> dict[str, Any]:
        started = time.perf_counter()
        answer, _ = engine.ask(query, lane="api")
        return answer_json(answer, (time.perf_counter() - started) * 1000)

    @app.post("/api/search")
    async def search(request: Request) -> JSONResponse:
        return await handle(request, do_search, with_history=False)

    async def ask_events(query: Query) -> Response:
        # Counted as admitted until the stream ends; the first event is awaited here, so a busy server or a
        # missing index is still a JSON error with its status, not an event.
        admitted = engine.admit()
        try:
            admitted.__enter__()
        except Exception as exc:  # noqa: BLE001 - busy
            return failure(exc)
        started = time.perf_counter()
        events = engine.ask_stream(query, lane="api")
        loop = asyncio.get_running_loop()
        try:
            first = await loop.run_in_executor(pool, next, events, None)
        except Exception as exc:  # noqa: BLE001
            admitted.__exit__(None, None, None)
            return failure(exc)

        def sse(event: Any) -> str:
            if isinstance(event, str):
                name, payload = "delta", {"text": event}
            else:
                name, payload = "answer", answer_json(event[0], (time.perf_counter() - started) * 1000)
            return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"

        async def body() -> Any:
            pending = None
            try:
                event = first
                while event is not None:
                    yield sse(event)
                    pending = loop.run_in_executor(None, next, events, None)
                    event = await pending
                    pending = None
            except Exception as exc:  # noqa: BLE001 - the status is sent already: the error is the last event
                problem = explain(exc)
                yield f"event: error\ndata: {json.dumps({'error': {'type': problem.kind, 'message': problem.detail}}, ensure_ascii=False)}\n\n"
            finally:
                # A client gone midway: the generator (and its engine slot) closes once its running step ends.
                if pending is not None and not pending.done():
                    pending.add_done_callback(lambda _: events.close())
                else:
                    events.close()
                admitted.__exit__(None, None, None)

        return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/api/ask")
    async def ask(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        try:
            query = parse_query(await read_json(request), with_history=True)
        except Exception as exc:  # noqa: BLE001
            return failure(exc)
        if query.stream:
            return await ask_events(query)
        try:
            with engine.admit():
                return JSONResponse(await asyncio.get_running_loop().run_in_executor(pool, do_ask, query))
        except Exception as exc:  # noqa: BLE001
            return failure(exc)

    @app.get("/api/health")
    async def health(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        payload = engine.health()
        return JSONResponse(payload, 200 if payload["status"] == "ok" else 503)

    demo = build_ui(engine, examples=examples)
    return gr.mount_gradio_app(
        app, demo, path="/", auth=auth, allowed_paths=[], show_error=False, ssr_mode=False, run_history=False,
        mcp_server=False, footer_links=["api"], theme=gr.themes.Soft(font=THEME_FONTS, font_mono=["DejaVu Sans Mono", "monospace"]),
        css_paths=[CSS_PATH], head=head(),
    )


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON body, refusing a wrong content type, a body over `limit` bytes or bad JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestError("send the request as JSON (Content-Type: application/json)", 415, "unsupported_media_type")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestError(f"the request body is over the limit of {limit:,} bytes", 413, "too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(f"the request body is over the limit of {limit:,} bytes", 413, "too_large")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"the request body is not valid UTF-8 JSON ({exc})") from None


class Guard:
    """ASGI middleware: 404 for the `blocked` route prefixes; 413 for any body over `limit` bytes, declared or streamed."""

    def __init__(self, app: Any, limit: int, blocked: Sequence[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.blocked = tuple(blocked)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # scope["path"] is percent-decoded, as the router sees it: an encoded name cannot slip through.
        if scope["path"].startswith(self.blocked):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await JSONResponse({"error": {"type": "not_found", "message": "no such page"}}, 404)(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = JSONResponse(
                {"error": {"type": "too_large", "message": f"the request body is over the limit of {self.limit:,} bytes"}}, 413
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited, send)
