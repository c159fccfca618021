"""`from myproject.data import make_train_loader` in docs/integrations.md, made real: examples/classic.py's loaders.

`make_train_loader` is the label-sorted loader: the doc shows the failure it produces.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[3] / "examples" / "classic.py"
_spec = importlib.util.spec_from_file_location("_loadercheck_example_classic", _path)
_classic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_classic)

make_train_loader = _classic.sorted_loader
make_shuffled_loader = _classic.shuffled_loader
