"""Train the reader over the frozen encoder's token vectors: `python -m qa.reader.train` (seeded; prints its curve and dev figures).

Data (../shared/data/train): AAQAD (answerable and unanswerable Arabic questions; 10% of its paragraphs,
chosen by a hash of their text, are held out for the curve and the abstention threshold) and MLQA-ar
dev (never trained on: validation). The encoder's states are computed once and cached (`--cache`).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from qa.reader.data import Encoded, Item, Source, encode_source, load_items, sentence_texts, token_span
from qa.reader.model import ReaderConfig, sentence_features, sha256_of
from qa.reader.span import best_span, f1

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "train"
OUT = Path(__file__).with_name("reader.safetensors")


class Layer(torch.nn.Module):
    def __init__(self, c: ReaderConfig) -> None:
        super().__init__()
        self.heads = c.heads
        self.ln1 = torch.nn.LayerNorm(c.width)
        self.qkv = torch.nn.Linear(c.width, 3 * c.width)
        self.out = torch.nn.Linear(c.width, c.width)
        self.ln2 = torch.nn.LayerNorm(c.width)
        self.ff1 = torch.nn.Linear(c.width, c.feed_forward)
        self.ff2 = torch.nn.Linear(c.feed_forward, c.width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        head = width // self.heads
        qkv = self.qkv(self.ln1(x)).reshape(batch, length, 3, self.heads, head).permute(2, 0, 3, 1, 4)
        attended = torch.nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask[:, None, None, :])
        x = x + self.out(attended.transpose(1, 2).reshape(batch, length, width))
        return x + self.ff2(torch.nn.functional.gelu(self.ff1(self.ln2(x)), approximate="tanh"))


class ReaderNet(torch.nn.Module):
    """The torch twin of `qa.reader.model.Reader` (same names, same arithmetic)."""

    def __init__(self, c: ReaderConfig) -> None:
        super().__init__()
        self.c = c
        setattr(self, "in", torch.nn.Linear(c.dimension, c.width))
        self.cls = torch.nn.Parameter(torch.zeros(c.width))
        self.kind = torch.nn.Parameter(torch.randn(3, c.width) * 0.02)
        self.pos = torch.nn.Parameter(torch.randn(1 + c.max_question, c.width) * 0.02)
        self.spos = torch.nn.Parameter(torch.randn(c.max_sentence, c.width) * 0.02)
        self.feat = torch.nn.Linear(c.features, c.width)
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c.layers))
        self.ln = torch.nn.LayerNorm(c.width)
        self.answer = torch.nn.Linear(c.width, 1)
        self.span = torch.nn.Linear(c.width, 2)

    def forward(self, q: torch.Tensor, qlen: torch.Tensor, s: torch.Tensor, slen: torch.Tensor, feats: torch.Tensor):
        c = self.c
        proj = getattr(self, "in")
        batch, mq, ms = q.shape[0], q.shape[1], s.shape[1]
        head = self.cls + self.kind[0] + self.feat(feats) + self.pos[0]
        qx = proj(q) + self.kind[1] + self.pos[1: 1 + mq]
        sx = proj(s) + self.kind[2] + self.spos[:ms]
        # Laid out [head | question padded to mq | sentence]: positions are added embeddings and
        # padding is masked, so this computes what `Reader.read` does with no gap.
        x = torch.cat([head[:, None], qx, sx], dim=1)
        mask = torch.cat([torch.ones(batch, 1, dtype=torch.bool), torch.arange(mq)[None] < qlen[:, None],
                          torch.arange(ms)[None] < slen[:, None]], dim=1)
        for layer in self.layers:
            x = layer(x, mask)
        x = self.ln(x)
        answer = self.answer(x[:, 0]).squeeze(-1)
        spans = self.span(x)
        return answer, spans


@dataclass(frozen=True)
class Pair:
    source: int
    item: int
    sentence: int  # row in the source's Encoded
    label: float
    span: tuple[int, int] | None  # token span in the sentence


@dataclass
class Data:
    sources: list[Source]
    encoded: list[Encoded]
    where: list[dict[tuple[int, int], int]]
    encoder: str = ""


def build_pairs(data: Data, which: int, split: str, rng: random.Random, negatives: int) -> list[Pair]:
    source, encoded, where = data.sources[which], data.encoded[which], data.where[which]
    total = len(encoded.sentence_index) - 1
    pairs = []
    for i, item in enumerate(source.items):
        if item.split != split:
            continue
        rows = [where[(item.paragraph, k)] for k in range(len(item.sentences))]
        if item.gold is not None:
            gold = rows[item.gold]
            _, offsets = encoded.sentence(gold)
            span = token_span(offsets, *item.answer) if item.answer else None
            if span is not None and span[1] < data_config.max_sentence:
                pairs.append(Pair(which, i, gold, 1.0, span))
            others = [r for r in rows if r != gold]
        else:
            others = rows
        rng.shuffle(others)
        for r in others[:negatives]:
            pairs.append(Pair(which, i, r, 0.0, None))
        pairs.append(Pair(which, i, rng.randrange(total), 0.0, None))
    return pairs


def collate(data: Data, pairs: list[Pair], c: ReaderConfig):
    qs, ss, feats = [], [], []
    for p in pairs:
        e = data.encoded[p.source]
        q = e.question(p.item)[: c.max_question]
        s, _ = e.sentence(p.sentence)
        qs.append(q)
        ss.append(s[: c.max_sentence])
        feats.append(float(e.question_vectors[p.item].astype(np.float32) @ e.sentence_vectors[p.sentence].astype(np.float32)))
    mq, ms = max(len(q) for q in qs), max(max(len(s) for s in ss), 1)
    q = np.zeros((len(pairs), mq, c.dimension), dtype=np.float32)
    s = np.zeros((len(pairs), ms, c.dimension), dtype=np.float32)
    for b, (qq, sq) in enumerate(zip(qs, ss)):
        q[b, : len(qq)] = qq
        s[b, : len(sq)] = sq
    return (torch.from_numpy(q), torch.tensor([len(x) for x in qs]), torch.from_numpy(s), torch.tensor([len(x) for x in ss]),
            torch.from_numpy(sentence_features(np.array(feats))))


def bucketed(data: Data, pairs: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Batches of pairs of like length (less padding: about 3 times fewer tokens a step), in random order."""
    rng.shuffle(pairs)

    def length(p: Pair) -> int:
        e = data.encoded[p.source]
        return int(e.sentence_index[p.sentence + 1] - e.sentence_index[p.sentence])

    batches = []
    pool = size * 50
    for begin in range(0, len(pairs), pool):
        group = sorted(pairs[begin: begin + pool], key=length)
        batches += [group[i: i + size] for i in range(0, len(group), size)]
    rng.shuffle(batches)
    return batches


def loss_of(net: ReaderNet, data: Data, pairs: list[Pair]) -> torch.Tensor:
    q, qlen, s, slen, feats = collate(data, pairs, net.c)
    answer, spans = net(q, qlen, s, slen, feats)
    labels = torch.tensor([p.label for p in pairs])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(answer, labels)
    positive = torch.tensor([b for b, p in enumerate(pairs) if p.span is not None], dtype=torch.long)
    if len(positive):
        mq = q.shape[1]
        logits = spans[positive, 1 + mq:]
        logits = logits.masked_fill(~(torch.arange(logits.shape[1])[None] < slen[positive][:, None])[..., None], -1e4)
        starts = torch.tensor([pairs[b].span[0] for b in positive.tolist()])
        ends = torch.tensor([pairs[b].span[1] for b in positive.tolist()])
        loss = loss + 0.5 * (torch.nn.functional.cross_entropy(logits[..., 0], starts)
                             + torch.nn.functional.cross_entropy(logits[..., 1], ends))
    return loss


@torch.no_grad()
def evaluate(net: ReaderNet, data: Data, which: int, split: str | None) -> dict[str, float]:
    """Per question, its paragraph's sentences read: best sentence right, span F1/EM on the best sentence, mean P(answer) of unanswerable ones."""
    net.eval()
    source, encoded, where = data.sources[which], data.encoded[which], data.where[which]
    right = total = 0
    f1s: list[float] = []
    exact = 0
    impossible: list[float] = []
    possible: list[float] = []
    for i, item in enumerate(source.items):
        if split is not None and item.split != split:
            continue
        rows = [where[(item.paragraph, k)] for k in range(len(item.sentences))]
        pairs = [Pair(which, i, r, 0.0, None) for r in rows]
        q, qlen, s, slen, feats = collate(data, pairs, net.c)
        answer, spans = net(q, qlen, s, slen, feats)
        best = int(answer.argmax())
        top = float(torch.sigmoid(answer.max()))
        if item.gold is None:
            impossible.append(top)
            continue
        possible.append(top)
        total += 1
        right += best == item.gold
        begin, n = 1 + q.shape[1], int(slen[best])
        _, offsets = encoded.sentence(rows[best])
        span = best_span(spans[best, begin: begin + n, 0].numpy(), spans[best, begin: begin + n, 1].numpy())
        context = source.paragraphs[item.paragraph]
        a, b = item.sentences[best]
        sentence = context[a:b]
        predicted = sentence[offsets[span[0]][0]: offsets[span[1]][1]] if span else ""
        f1s.append(f1(predicted, item.answer_text))
        exact += f1s[-1] == 1.0
    net.train()
    out = {"questions": total, "best_sentence": right / max(total, 1), "span_f1": float(np.mean(f1s)) if f1s else 0.0,
           "span_em": exact / max(total, 1)}
    if impossible:
        out["p_answer_unanswerable"] = float(np.mean(impossible))
        out["p_answer_answerable"] = float(np.mean(possible))
    return out


data_config = ReaderConfig()


def export(net: ReaderNet, path: Path, extra: dict[str, str]) -> str:
    tensors = {name: value.detach().to(torch.float16).contiguous() for name, value in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"config": json.dumps(asdict(net.c)), **extra})
    return sha256_of(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.reader.train", description=__doc__)
    parser.add_argument("--aaqad", type=Path, default=SHARED / "aaqad.json")
    parser.add_argument("--mlqa", type=Path, default=SHARED / "mlqa.ar-dev.json")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "qa" / "reader-train")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--negatives", type=int, default=3)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N AAQAD questions only (smoke test)")
    args = parser.parse_args(argv)
    global data_config
    started = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    data_config = ReaderConfig(width=args.width, layers=args.layers, feed_forward=2 * args.width)
    data = load_data(args, print)
    net = ReaderNet(data_config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(build_pairs(data, 0, "train", random.Random(0), args.negatives)) / args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                   pct_start=0.1)
    print(f"reader: {sum(p.numel() for p in net.parameters()):,} parameters, {steps_per_epoch} steps an epoch", flush=True)
    for epoch in range(1, args.epochs + 1):
        batches = bucketed(data, build_pairs(data, 0, "train", rng, args.negatives), args.batch, rng)
        running = []
        for step, batch in enumerate(batches):
            loss = loss_of(net, data, batch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            running.append(loss.item())
            if (step + 1) % 100 == 0:
                print(f"epoch {epoch} step {step + 1}/{steps_per_epoch} loss {np.mean(running[-100:]):.4f} "
                      f"({time.time() - started:.0f} s)", flush=True)
        held = evaluate(net, data, 0, "held-out")
        mlqa = evaluate(net, data, 1, None) if len(data.sources) > 1 else {}
        print(f"epoch {epoch}: loss {np.mean(running):.4f}; AAQAD held-out {json.dumps(held)}; MLQA-ar {json.dumps(mlqa)}", flush=True)
    sha = export(net, args.out, {"trained_on": "AAQAD v1.0 (train split of paragraphs)", "seed": str(args.seed),
                                 "encoder": data.encoder})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"saved {args.out} sha256 {sha}; wall {time.time() - started:.0f} s, peak RSS {peak:.0f} MiB", flush=True)
    return 0


def load_data(args: argparse.Namespace, log) -> Data:
    from qa.config import Settings
    from qa.embed import Embedder

    embedder = Embedder.from_settings(Settings())
    sources, encoded, where = [], [], []
    for name, path in (("aaqad", args.aaqad), ("mlqa", args.mlqa)):
        source = load_items(path, name)
        if args.limit is not None:
            source = Source(source.name, source.paragraphs, source.items[: args.limit])
        folder = args.cache / f"{name}-{embedder.fingerprint[:12]}-{embedder.precision}-{args.limit or 'all'}"
        if (folder / "question_index.npy").exists():
            found = Encoded.load(folder)
        else:
            found = encode_source(source, embedder, log=log)
            found.save(folder)
        log(f"{name}: {len(source.items)} questions, {len(found.sentence_index) - 1} sentences ({folder})")
        sources.append(source)
        encoded.append(found)
        where.append(sentence_texts(source)[1])
    return Data(sources, encoded, where, embedder.fingerprint)


if __name__ == "__main__":
    sys.exit(main())
