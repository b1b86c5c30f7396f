"""The Gradio chat page, with the named API endpoints `ask` and `search`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from qa.config import MODES
from qa.records import Turn
from qa.web.engine import Engine
from qa.web.errors import explain
from qa.web.render import (
    EMPTY_PANEL,
    PENDING,
    answer_message,
    error_message,
    sources_panel,
    sources_section,
    streaming_message,
    user_message,
)
from qa.web.request import (
    DEFAULT_K,
    MAX_FILTER_ITEMS,
    MAX_HISTORY_TURNS,
    MAX_K,
    parse_query,
    source_names,
)
from qa.web.startup import index_examples
from qa.web.views import answer_json, search_json

logger = logging.getLogger("qa.app")

STATIC = Path(__file__).resolve().parent / "static"
CSS_PATH = STATIC / "app.css"
SCRIPT_PATH = STATIC / "app.js"
THEME_FONTS = ["Noto Sans Arabic", "Noto Naskh Arabic", "DejaVu Sans", "Tahoma", "system-ui", "sans-serif"]

# Answers whose sources the panel keeps, newest first.
MAX_PANEL_TURNS = 20
# Sessions whose state Gradio keeps, least recently used dropped first. Each costs about 60 KB here
# (measured), and a Gradio API call without a session of its own (POST /gradio_api/call/ask) makes a
# new one: Gradio's default of 10,000 let the server grow by about 600 MB under such calls, 2,000
# bound it to about 120 MB. A chat idle for longer than 2,000 such calls loses its earlier turns.
STATE_SESSIONS = 2000
NEW_SESSION: dict[str, Any] = {"turns": [], "sections": [], "count": 0}

# The timeline switch: the question decides (a "what happened" question gets one), always, never.
TIMELINE_CHOICES = {"حسب السؤال": None, "دائما": True, "أبدا": False}


def head() -> str:
    """The page's <head> addition: the script of static/app.js."""
    return f"<script>\n{SCRIPT_PATH.read_text(encoding='utf-8')}</script>"


def examples_for(engine: Engine, examples: Sequence[str] | None = None) -> list[str]:
    """The chat's example questions: `examples` when given (`--examples FILE`), else from the index served
    (its newest titles as questions; the seed article's on the seed index), none without an index."""
    if examples is not None:
        return list(examples)
    with engine.live.use() as retriever:
        if retriever is None:
            return []
        try:
            return index_examples(retriever)
        except Exception as exc:  # noqa: BLE001 - the page serves without examples rather than not at all
            logger.warning("the chat's examples could not be read from the index (%s); none are shown", exc)
            return []


def build_ui(engine: Engine, *, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The chat page, plus the named API endpoints `ask` and `search`; `examples` replace those drawn from the index."""

    def site_choices(shown: str | None) -> tuple[Any, str | None]:
        """New choices for the sources filter when the served generation is not the one `shown`."""
        if engine.live.generation == shown and shown is not None:
            return gr.update(), shown
        generation, sites = engine.sites()
        return gr.update(choices=sites), generation

    def respond(question: str, chat: list[dict[str, Any]], state: dict[str, Any], k: float, mode: str,
                sources: list[str] | str | None, since: str, until: str, timeline: str | None,
                shown: str | None) -> Iterator[tuple[Any, ...]]:
        chat = list(chat or [])
        state = {"turns": list(state.get("turns", [])), "sections": list(state.get("sections", [])), "count": state.get("count", 0)}
        try:
            query = parse_query(
                {"question": question or "", "k": int(k), "mode": mode,
                 "filters": {"sources": source_names(sources), "since": since or None, "until": until or None},
                 "timeline": TIMELINE_CHOICES.get(timeline or "")},
                with_history=True,  # an ask's fields (the timeline switch); the turns come from the session below
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the chat
            chat.append({"role": "assistant", "content": error_message(explain(exc))})
            yield chat, gr.update(), gr.update(), state, gr.update(), shown
            return
        history = tuple(Turn(question=t["question"], answer=t["answer"]) for t in state["turns"])
        query = replace(query, history=history)
        chat.append({"role": "user", "content": user_message(query.question)})
        chat.append({"role": "assistant", "content": PENDING})
        yield chat, "", gr.update(), state, gr.update(), shown
        try:
            # A generating answerer's text is shown as it comes (marked unverified), then replaced by the checked answer.
            written = ""
            for event in engine.ask_stream(query, with_articles=True):
                if isinstance(event, str):
                    written += event
                    chat[-1] = {"role": "assistant", "content": streaming_message(written)}
                    yield chat, gr.update(), gr.update(), state, gr.update(), shown
                else:
                    answer, articles = event
        except Exception as exc:  # noqa: BLE001
            chat[-1] = {"role": "assistant", "content": error_message(explain(exc))}
            yield chat, gr.update(), gr.update(), state, gr.update(), shown
            return
        turn = state["count"] = state["count"] + 1
        chat[-1] = {"role": "assistant", "content": answer_message(answer, turn)}
        state["turns"] = [*state["turns"], {"question": answer.question, "answer": answer.text}][-MAX_HISTORY_TURNS:]
        state["sections"] = [*state["sections"], sources_section(turn, answer, articles)][-MAX_PANEL_TURNS:]
        yield chat, gr.update(), sources_panel(state["sections"]), state, *site_choices(shown)

    def clear() -> tuple[Any, ...]:
        return [], "", EMPTY_PANEL, NEW_SESSION

    def api_ask(question: str, k: int = DEFAULT_K, mode: str = "hybrid", sources: list[str] | None = None,
                since: str | None = None, until: str | None = None, history: list[dict] | None = None) -> dict:
        """Answer a question with cited sentences. `history` lists earlier turns as {"question", "answer"}.

        A timeline comes when the question asks how a story went (the JSON API's "timeline" forces it either way):
        a Gradio call sends every argument by position, so a new one would break the callers that send seven."""
        started = time.perf_counter()
        try:
            query = parse_query(
                {"question": question, "k": k, "mode": mode, "history": history,
                 "filters": {"sources": sources or [], "since": since, "until": until}},
                with_history=True,
            )
            answer, _ = engine.ask(query)
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(explain(exc).detail) from None
        return answer_json(answer, (time.perf_counter() - started) * 1000)

    def api_search(question: str, k: int = DEFAULT_K, mode: str = "hybrid", sources: list[str] | None = None,
                   since: str | None = None, until: str | None = None) -> dict:
        """The k passages that best answer a question, best first."""
        started = time.perf_counter()
        try:
            query = parse_query(
                {"question": question, "k": k, "mode": mode, "filters": {"sources": sources or [], "since": since, "until": until}},
                with_history=False,
            )
            hits = engine.search(query)
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(explain(exc).detail) from None
        return search_json(query, hits, (time.perf_counter() - started) * 1000)

    with gr.Blocks(title="أسئلة الأخبار — qa", analytics_enabled=False) as demo:
        gr.HTML(
            '<div dir="rtl" class="qa-header"><h2 style="margin:0">اسأل الأخبار</h2>'
            "<p style=\"margin:4px 0\">إجابات من المقالات المفهرسة، كل جملة بمصدرها. انقر على رقم المصدر لترى المقطع.</p></div>",
            js_on_load=None,
        )
        state = gr.State(NEW_SESSION)
        # The generation whose sites fill the sources filter; a newer one refreshes it after an answer.
        shown = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="المحادثة", elem_id="qa-chat", height=520, latex_delimiters=[],
                    sanitize_html=True, render_markdown=True, line_breaks=False, feedback_options=None, buttons=[],
                    placeholder='<div dir="rtl">اكتب سؤالا عن الأخبار، بالعربية أو بالإنجليزية أو بالفرنسية.</div>',
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False, placeholder="اكتب سؤالك هنا…", elem_id="qa-question", rtl=True,
                        lines=1, max_lines=6, scale=6, autofocus=True,
                    )
                    send = gr.Button("اسأل", variant="primary", elem_id="qa-send", scale=1, min_width=80)
                    new = gr.Button("محادثة جديدة", elem_id="qa-new", scale=1, min_width=150)
                shown_examples = examples_for(engine, examples)
                if shown_examples:
                    gr.Examples(examples=[[q] for q in shown_examples], inputs=[question], label="أمثلة")
                with gr.Accordion("الإعدادات", open=False):
                    with gr.Row():
                        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="عدد المقاطع")
                        mode = gr.Radio(list(MODES), value="hybrid", label="طريقة البحث")
                    with gr.Row():
                        # Filled with the index's sites when the page loads; a site typed in is kept too.
                        sources = gr.Dropdown(
                            [], value=[], multiselect=True, allow_custom_value=True, max_choices=MAX_FILTER_ITEMS,
                            label="المصادر", info="اختر موقعا أو أكثر؛ بلا اختيار تُبحث كل المصادر", elem_id="qa-sources-filter",
                        )
                        since = gr.Textbox(label="من تاريخ", placeholder="2015-11-01")
                        until = gr.Textbox(label="إلى تاريخ", placeholder="2015-11-30")
                    timeline = gr.Radio(list(TIMELINE_CHOICES), value=next(iter(TIMELINE_CHOICES)), label="خط زمني",
                                        info="قائمة مؤرخة بأحداث القصة، الأقدم أولا", elem_id="qa-timeline-switch")
            with gr.Column(scale=2):
                panel = gr.HTML(EMPTY_PANEL, elem_id="qa-sources-panel", js_on_load=None)

        inputs = [question, chatbot, state, k, mode, sources, since, until, timeline, shown]
        outputs = [chatbot, question, panel, state, sources, shown]
        for trigger in (question.submit, send.click):
            trigger(respond, inputs, outputs, api_visibility="private", show_progress="hidden", concurrency_id="engine")
        cleared = [chatbot, question, panel, state]
        new.click(clear, None, cleared, api_visibility="private", queue=False)
        chatbot.clear(clear, None, cleared, api_visibility="private", queue=False)
        demo.load(lambda: site_choices(None), None, [sources, shown], api_visibility="private", queue=False)
        gr.api(api_ask, api_name="ask", concurrency_id="engine")
        gr.api(api_search, api_name="search", concurrency_id="engine")
    demo.queue(default_concurrency_limit=engine.ui_concurrency, max_size=engine.backlog)
    demo.state_session_capacity = STATE_SESSIONS
    return demo

