"""optbench: experiments on neural-network optimizers and weight initialisation."""

import os

# One BLAS thread per process: matrix products then sum in the same order whether a run executes in
# the main process or in one of N workers, so results do not depend on --jobs. The variables only take
# effect if they are set before NumPy is first imported; a user who sets them keeps their choice.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
