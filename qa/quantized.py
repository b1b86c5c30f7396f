"""The int8 engine: the model exported once to ONNX, its matrix products quantized to int8, run by ONNX Runtime."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime

from qa.errors import ModelError
from qa.model import read_json, write_folder_once

__all__ = ["INT8_FORMAT", "Int8Model", "export_int8", "int8_layout"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

# Bumped whenever the export or the quantization changes, so a cached file from an older qa is not reused.
INT8_FORMAT = "onnx-int8-v2"
_FILE = "model.int8.onnx"


@dataclass(frozen=True)
class Layout:
    """What the int8 engine needs to know of a sentence-transformers folder: pooling and dimension."""

    pooling: str
    dimension: int


def int8_layout(path: Path) -> Layout:
    """The pooling and dimension of a folder whose modules are Transformer, Pooling and Normalize only.

    Raises:
        ModelError: the folder has other modules (a Dense layer, a router...) or a pooling
            the int8 engine does not compute: such a model runs in float32 or bfloat16.
    """
    modules = read_json(path / "modules.json", missing=[])
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ModelError(
            f"precision int8 runs models made of Transformer, Pooling and Normalize modules; "
            f"{path} has {', '.join(kinds) or 'no modules.json'}: use --precision float32 or bfloat16"
        )
    pooling_dir = next(module["path"] for module in modules if module["type"].endswith("Pooling"))
    config = read_json(path / pooling_dir / "config.json", missing={})
    modes = [key for key, on in config.items() if key.startswith("pooling_mode_") and on]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
        raise ModelError(
            f"precision int8 computes mean or CLS pooling; {path} asks for {', '.join(modes) or 'none'}: "
            "use --precision float32 or bfloat16"
        )
    return Layout("mean" if modes == ["pooling_mode_mean_tokens"] else "cls", int(config["word_embedding_dimension"]))


def export_int8(path: Path, fingerprint: str, models_root: Path) -> Path:
    """The int8 ONNX file of the model in `path`, exported and quantized on first use, then cached.

    The transformer is exported with torch's ONNX exporter, then every MatMul weight is
    quantized to int8 per output channel by ONNX Runtime (dynamic quantization: activations
    are quantized per batch at run time). Embeddings and layer norms stay float32. Written
    into a temporary folder and renamed into place, so concurrent builds never see half a file.

    Raises:
        ModelError: the export or the quantization failed, or the cache cannot be written.
    """
    target = models_root / INT8_FORMAT / fingerprint[:32]
    if (target / _FILE).is_file():
        return target / _FILE
    logger.info("exporting %s to ONNX int8 under %s (once)", path, target)

    def write(staging: Path) -> None:
        _export(path, staging / "model.onnx")
        _quantize(staging / "model.onnx", staging / _FILE)
        (staging / "model.onnx").unlink()

    write_folder_once(target, _FILE, write, "int8 model")
    return target / _FILE


def _export(path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(str(path), dtype=torch.float32, local_files_only=True).eval()
    except Exception as exc:
        raise ModelError(f"cannot load {path} to export it to ONNX: {exc}") from exc

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    dynamic = {0: "batch", 1: "tokens"}
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    try:
        with torch.inference_mode():
            torch.onnx.export(
                Encoder(), example, str(out), input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
            )
    except Exception as exc:
        raise ModelError(f"cannot export {path} to ONNX: {exc}") from exc


def _quantize(source: Path, out: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelError(f"precision int8 needs the onnx package to quantize the model: pip install onnx ({exc})") from exc
    # Per-channel scales on the MatMuls only: per-tensor scales, or quantizing the embedding
    # table too, moved e5-small's vectors to a cosine of 0.978 with float32's; this keeps >= 0.99.
    quantize_dynamic(
        str(source), str(out), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
        extra_options={"DefaultTensorType": 1},
    )
    _halve_embedding_tables(out)


def _halve_embedding_tables(file: Path) -> None:
    """Store the large embedding tables in float16, cast back to float32 after the lookup.

    e5-small's word table (250k x 384) is 384 MB of its 407 MB file in float32; a float16
    copy halves that in memory and on disk, and moves a vector's entries by ~1e-3 relative.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(file))
    graph = model.graph
    tables = {init.name: init for init in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    for position, node in reversed(list(enumerate(graph.node))):
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or table.data_type != TensorProto.FLOAT or uses[table.name] != 1:
            continue
        values = numpy_helper.to_array(table)
        if values.size < 1_000_000:
            continue
        half = numpy_helper.from_array(values.astype(np.float16), f"{table.name}.float16")
        graph.initializer.remove(table)
        graph.initializer.append(half)
        looked_up = node.output[0]
        node.input[0] = half.name
        node.output[0] = f"{looked_up}.float16"
        graph.node.insert(position + 1, helper.make_node("Cast", [node.output[0]], [looked_up], to=TensorProto.FLOAT))
    onnx.save(model, str(file))


class Int8Model:
    """An ONNX Runtime session over the int8 file: token ids in, pooled float32 vectors out.

    Args:
        file: the int8 ONNX file (`export_int8`).
        layout: the folder's pooling and dimension (`int8_layout`).
        threads: ONNX Runtime's threads for one call (the cores this process may use).
    """

    def __init__(self, file: Path, layout: Layout, threads: int) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"cannot load the int8 model {file}: {exc}; delete it and it is exported again") from exc
        self.layout = layout
        # A session runs calls concurrently, but one call already uses every core.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[Sequence[int]]) -> np.ndarray:
        """Pool each text's token ids (special tokens included) into an unnormalized float32 vector.

        One text per run: activations are quantized per run, so in a batch a text's vector would
        depend on its neighbours and their padding; alone it is the same in every build. On 2 cores
        this was also the fastest (XQuAD-ar paragraphs: 6,561 tokens/s alone, 5,693 in sorted batches
        of 4, 4,594 of 8).
        """
        out = np.empty((len(texts), self.layout.dimension), dtype=np.float32)
        for row, ids in enumerate(texts):
            out[row] = self.pool(self.states(ids))
        return out

    def states(self, ids: Sequence[int]) -> np.ndarray:
        """One text's last hidden states, a row per token id: (tokens, dimension) float32."""
        input_ids = np.asarray([ids], dtype=np.int64)
        with self._lock:
            (states,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)})
        return states[0]

    def pool(self, states: np.ndarray) -> np.ndarray:
        """A text's unnormalized vector from its `states`, as the model pools them."""
        return states[0] if self.layout.pooling == "cls" else states.mean(axis=0)
