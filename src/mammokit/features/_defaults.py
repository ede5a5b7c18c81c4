"""Extraction defaults, chosen by measurement on the 2-core reference machine.

See docs/performance.md (tables from benchmarks/throughput.py and benchmarks/pipeline.py). This module
imports nothing heavy so the CLI can read the defaults without importing torch.
"""
DEFAULT_RUNTIME = "onnx"  # ONNX Runtime: the fastest runtime for every backbone (throughput.py, table 1)
DEFAULT_BATCH_SIZE = 8  # 8 to 32 within noise for the default backbone; 8 holds a quarter of 32's activations
# None = every core the process may use. pipeline.py times it against one model thread (which with the
# decode thread also fills 2 cores): on quiet cores all-cores won; on cores busy with other jobs one thread
# did (earlier runs in the git history of benchmarks/results/). The published tables decide.
DEFAULT_THREADS: int | None = None
DEFAULT_DECODE_THREAD = True  # decode/preprocess the next images while the backbone runs (pipeline.py)
