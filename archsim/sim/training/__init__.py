"""Training on the arrays: device update laws applied by pulses, with the forward and backward reads
through converters, and the update algorithms users compare.

- :mod:`.tile`: a layer's devices (state, device-to-device draws, counters) and its pulse updates;
- :mod:`.kernels`: Numba pulse kernels with numpy twins, counter-based random numbers;
- :mod:`.network`: the dense chain and the converter model of a training read;
- :mod:`.learners`: plain SGD, mixed precision, Tiki-Taka, periodic carry (and the exact float update);
- :mod:`.trainer`: epochs, evaluation, trials.

The float reference trainer stays :mod:`archsim.sim.train`; ``algorithm="float"`` here runs the same
loop as the analog algorithms with exact reads and updates (archsim's own float training of the network).
"""
from archsim.sim.training.trainer import (ALGORITHMS, AnalogTrainConfig, TrainResult, TrialSummary, fit,
                                          run_trials, summarize, trainable_devices)

__all__ = ["ALGORITHMS", "AnalogTrainConfig", "TrainResult", "TrialSummary", "fit", "run_trials", "summarize",
           "trainable_devices"]
