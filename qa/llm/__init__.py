"""Generated answers from any server with the OpenAI Chat Completions API, every sentence verified (see `qa.llm.verify`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.llm.answerer import LLMAnswerer, llm_answerer
from qa.llm.client import ChatClient, LLMConfig
from qa.llm.prompt import Claim, build_messages, parse_claims

if TYPE_CHECKING:
    from qa.answer_base import Encoder

__all__ = ["ChatClient", "Claim", "LLMAnswerer", "LLMConfig", "build_answerer", "build_messages", "llm_answerer", "parse_claims"]


def build_answerer(embedder: Encoder) -> LLMAnswerer:
    """The "llm" answerer of `qa.config.ANSWERERS` (`qa.answer.answerer_factory`). By name alone it knows no server:
    every answer is the extractive one, with a note saying so; a configured one comes from
    `qa.llm.llm_answerer(LLMConfig(url=...))`."""
    return LLMAnswerer(embedder)
