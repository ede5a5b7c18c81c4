"""Extraction defaults, chosen by measurement on the 2-core reference machine.

See docs/performance.md (tables from benchmarks/throughput.py and benchmarks/pipeline.py). This module
imports nothing heavy so the CLI can read the defaults without importing torch.
"""
DEFAULT_RUNTIME = "onnx"  # ONNX Runtime: the fastest runtime for every backbone (throughput.py, table 1)
DEFAULT_BATCH_SIZE = 8  # 8 to 32 within noise for the default backbone; 8 holds a quarter of 32's activations
# None = every core the process may use. pipeline.py times it against one model thread (which with the
# decode thread also fills 2 cores): on quiet cores all-cores won, on busy ones one thread did; in the
# published table the two are within the noise (docs/performance.md, "Threads and decode thread").
DEFAULT_THREADS: int | None = None
DEFAULT_DECODE_THREAD = True  # overlap decode/preprocess with the model; within noise of off (pipeline.py)
