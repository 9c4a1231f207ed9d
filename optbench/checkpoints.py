"""Checkpoints of a dataset run: everything needed to continue it bit for bit, as `.npz` bytes.

A checkpoint holds arrays only (written by `np.savez`, read back with `allow_pickle=False`): the step
reached, the parameters, what the layers keep besides them (running statistics) and the states of the
generators they draw from (dropout masks), the optimizer's update count and state buffers, the minibatch
sampler's order, position and count and its generator's state (JSON text: its integers are wider than 64
bits), the last training losses that the final loss averages, and the last evaluation. The training loop
fills and reads it; the runner writes it into the run folder and hands it back to the run that resumes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.errors import OptbenchError

Checkpoint = dict[str, NDArray[Any]]


def pack(checkpoint: Mapping[str, NDArray[Any]]) -> bytes:
    """A checkpoint as the bytes of an `.npz` file."""
    buffer = io.BytesIO()
    arrays: dict[str, Any] = dict(checkpoint)  # typed loosely: savez's own keywords share the namespace
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def unpack(data: bytes) -> Checkpoint:
    """The arrays of `.npz` bytes written by `pack`; OptbenchError if they are not a checkpoint."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, KeyError) as exc:
        raise OptbenchError(f"not a readable checkpoint: {exc}") from None


def text(value: Any) -> NDArray[Any]:
    """Plain data (a generator's state) as a 0-d string array, for a checkpoint."""
    return np.array(json.dumps(value))


def from_text(array: NDArray[Any]) -> Any:
    return json.loads(str(array[()]))


def step_of(data: bytes) -> int:
    """The step a checkpoint was taken at."""
    return int(unpack(data)["step"])
