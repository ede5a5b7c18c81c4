"""Extraction defaults, chosen by measurement on the 2-core reference machine.

See docs/performance.md (tables from benchmarks/throughput.py and benchmarks/pipeline.py). This module
imports nothing heavy so the CLI can read the defaults without importing torch.
"""
DEFAULT_RUNTIME = "onnx"  # ONNX Runtime: the fastest runtime for every backbone (throughput.py, table 1)
DEFAULT_BATCH_SIZE = 8  # 8 to 32 within noise for the default backbone; 8 holds a quarter of 32's activations
# One model thread: with the decode thread that fills the 2 cores without oversubscribing them. On cores
# shared with other jobs it beat all-cores sessions in throughput.py's thread-settings table and in
# pipeline.py's "ours, all cores" column; None means every core the process may use.
DEFAULT_THREADS: int | None = 1
DEFAULT_DECODE_THREAD = True  # decode/preprocess the next images while the backbone runs (pipeline.py)
