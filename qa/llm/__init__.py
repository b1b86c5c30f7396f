"""Generated answers from any server with the OpenAI Chat Completions API, every sentence verified (see `qa.llm.verify`)."""

from __future__ import annotations

from qa.llm.answerer import LLMAnswerer, llm_answerer
from qa.llm.client import ChatClient, LLMConfig
from qa.llm.prompt import Claim, build_messages, parse_claims

__all__ = ["ChatClient", "Claim", "LLMAnswerer", "LLMConfig", "build_messages", "llm_answerer", "parse_claims"]
