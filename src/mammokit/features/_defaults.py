"""Extraction defaults, chosen by measurement on the 2-core reference machine.

See docs/performance.md (tables from benchmarks/throughput.py and benchmarks/pipeline.py). This module
imports nothing heavy so the CLI can read the defaults without importing torch.
"""
DEFAULT_RUNTIME = "onnx"  # ONNX Runtime: fastest at every batch size measured (throughput.py)
DEFAULT_BATCH_SIZE = 8  # throughput flat from 8 to 32; 8 keeps peak memory low (throughput.py)
DEFAULT_THREADS = None  # None: every core the process may use (throughput.py: 2 threads > 1 on 2 cores)
DEFAULT_DECODE_THREAD = True  # decode/preprocess the next images while the backbone runs (pipeline.py)
