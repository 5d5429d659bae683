"""Conventions of the TF training code's arrays, shared by :mod:`~snnval.loaders.tf_pickle` and
:mod:`~snnval.loaders.desplit_h5` (GLIF3_SEMANTICS.md sections 1-2; TF ``models.py`` class ``BillehColumn``).

* a sparse row is ``R * target + receptor`` (0-based receptor, R receptors);
* a recurrent column is ``src + N * (delay_steps - 1)`` (the delay encoded in the column, in steps of dt);
* background weights (``rest_of_brain_weights``, desplit ``bkg_weights``) are ``bkg_pA / vsc * 10``, stored
  (N, R) or flat (N * R,);
* inputs and background enter with one step of delay (the spec's smallest), because TF ignores input delays.
"""

from __future__ import annotations

import numpy as np

from snnval.errors import SpecError
from snnval.spec import Synapses

__all__ = [
    "background_matrix",
    "decode_tf_columns",
    "input_delay_note",
    "split_tf_rows",
    "tf_input_synapses",
]


def split_tf_rows(rows: np.ndarray, n_receptors: int) -> tuple[np.ndarray, np.ndarray]:
    """(target neuron, 0-based receptor) of TF sparse rows ``R * target + receptor``."""
    return rows // n_receptors, rows % n_receptors


def decode_tf_columns(cols: np.ndarray, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
    """(source neuron, delay in steps) of TF recurrent columns ``src + N * (delay_steps - 1)``."""
    return cols % n_neurons, cols // n_neurons + 1


def background_matrix(values: np.ndarray, n: int, n_receptors: int, source: str, field_name: str) -> np.ndarray:
    """Background weights (TF units) as an (N, R) array; (N, R) and flat (N * R,) are accepted."""
    if values.shape not in ((n, n_receptors), (n * n_receptors,)):
        raise SpecError(source, field_name, f"shape ({n}, {n_receptors}) or ({n * n_receptors},), got {values.shape}")
    return values.reshape(n, n_receptors)


def input_delay_note(dt_ms: float) -> str:
    """The report note every TF-layout loader adds: input delays are one step."""
    return f"input and background delays set to one step ({dt_ms} ms): TF ignores input delays"


def tf_input_synapses(
    pre: np.ndarray,
    post: np.ndarray,
    receptor: np.ndarray,
    weight_pA: np.ndarray,
    n_lgn: int,
    bkg_pA: np.ndarray | None,
    dt_ms: float,
) -> tuple[Synapses, tuple[str, ...], int]:
    """LGN synapses plus one background source ``"bkg"`` (index ``n_lgn``) -> (inputs, source names, n_bkg).

    ``bkg_pA`` (N, R) is the background weight per neuron and receptor in pA; only non-zero entries are
    connected (see :mod:`snnval.loaders.tf_pickle`). Every input delay is one step, ``dt_ms``.
    """
    names = [f"lgn_{i}" for i in range(n_lgn)]
    parts = [(pre, post, receptor, weight_pA)]
    if bkg_pA is not None:
        b_post, b_rec = np.nonzero(bkg_pA)
        parts.append((np.full(b_post.size, n_lgn), b_post, b_rec, bkg_pA[b_post, b_rec]))
        names.append("bkg")
    pre, post, receptor, weight = (np.concatenate(c) for c in zip(*parts, strict=True))
    n_bkg = int(pre.size - parts[0][0].size)
    return Synapses(pre, post, receptor, weight, np.full(pre.size, float(dt_ms))), tuple(names), n_bkg
