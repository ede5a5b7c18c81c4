"""The paper's model comparison, reproduced: CNN (imbalanced / balanced) and CNN-LSTM under every protocol.

``load_comparison_config(path, overrides)`` reads the YAML; ``run_comparison(cfg, out_dir)``
runs every model under module1 (LEAKY), module2 and cv through ``mammokit.protocols`` and
writes the table (CSV, JSON, Markdown) and the charts with the paper's claims beside the
measured figures; ``refresh_docs`` puts the Markdown table into a docs page.
"""
from ._charts import accuracy_figure, f1_auc_figure, write_charts
from ._config import DEFAULTS, PROTOCOL_ORDER, load_comparison_config, validate_comparison
from ._docs import BEGIN, END, refresh_docs
from ._run import TABLE_METRICS, Comparison, provenance, run_comparison, select_patients
from ._table import markdown_table, rich_table, table_cells, write_tables

__all__ = [
    "BEGIN",
    "DEFAULTS",
    "END",
    "PROTOCOL_ORDER",
    "TABLE_METRICS",
    "Comparison",
    "accuracy_figure",
    "f1_auc_figure",
    "load_comparison_config",
    "markdown_table",
    "provenance",
    "refresh_docs",
    "rich_table",
    "run_comparison",
    "select_patients",
    "table_cells",
    "validate_comparison",
    "write_charts",
    "write_tables",
]
