"""An update model in IBM aihwkit's terms: the parameters of its pulsed devices that give the same steps.

This module does not import aihwkit (it is not one of archsim's dependencies); it writes the keyword
arguments of aihwkit's device dataclasses (``ConstantStepDevice``, ``SoftBoundsDevice``) so that an
aihwkit tile and an archsim tile with the same :class:`~archsim.model.update_laws.UpdateModel` move by
the same pulses.  ``benchmarks/aihwkit_side_by_side.py`` uses it; tests check the mapping against
aihwkit's documented update formulas (Rasch et al., "A flexible and fast PyTorch toolkit for simulating
training and inference on analog crossbar arrays", AICAS 2021; the aihwkit device documentation).

archsim holds a device's state ``x`` in ``[b-, b+]`` (nominal ``[-1, 1]``) and its weight is
``gain * x``; aihwkit holds the weight ``w`` itself in ``[w_min, w_max]``.  So, one to one:

==========================  =====================================================
archsim (``UpdateModel``)   aihwkit (``PulsedDevice`` fields)
==========================  =====================================================
``gain * dw`` (dw = 2/states)  ``dw_min``
``asymmetry`` a               ``up_down`` (up step ``dw (1 + a)``, down ``dw (1 - a)``)
``c2c``                       ``dw_min_std`` (multiplicative: soft bounds ``mult_noise``)
``dw_d2d``                    ``dw_min_dtod``
``asymmetry_d2d``             ``up_down_dtod``
``gain``, ``-gain``           ``w_max``, ``w_min``
``bound_d2d``                 ``w_max_dtod``, ``w_min_dtod``
==========================  =====================================================

Every other aihwkit effect (decay, diffusion, drift, reset spread, corrupt devices, write noise) is set
to zero: archsim's update laws have none of them.  Two differences remain and are stated: archsim clips
a noisy step at zero (``max(1 + c2c z, 0)``) where aihwkit does not (unless the model sets
``c2c_signed``, aihwkit's and Gokmen and Vlasov's uncut step), and aihwkit adds the device-to-device
terms of the step (``1 + up_down + dw_min_dtod xi``) where archsim multiplies them
(``(1 + dw_d2d N)(1 + a)``): equal to first order, and equal exactly when either is zero.
"""
from __future__ import annotations

from archsim.model.errors import ArchsimError
from archsim.model.update_laws import UpdateModel

#: archsim law -> aihwkit device class (the laws aihwkit models with the same formula)
DEVICE_CLASSES = {"constant": "ConstantStepDevice", "soft_bounds": "SoftBoundsDevice"}

#: aihwkit effects archsim's update laws do not have: all set to zero
_OFF = {"lifetime": 0.0, "lifetime_dtod": 0.0, "diffusion": 0.0, "diffusion_dtod": 0.0, "reset": 0.0,
        "reset_dtod": 0.0, "reset_std": 0.0, "corrupt_devices_prob": 0.0, "dw_min_dtod_log_normal": False,
        "perfect_bias": False}


def device_params(model: UpdateModel, gain: float, seed: int = 0) -> tuple[str, dict]:
    """``(class name, keyword arguments)`` of the aihwkit device that steps like ``model`` on weights
    ``gain * x``; ``seed`` (> 0) is aihwkit's ``construction_seed`` of the device-to-device draws."""
    if model.law not in DEVICE_CLASSES:
        raise ArchsimError(f"aihwkit side by side: update law '{model.law}' has no one-to-one aihwkit device; "
                           f"allowed {', '.join(DEVICE_CLASSES)}")
    if model.potentiation_only:
        raise ArchsimError("aihwkit side by side: potentiation-only pairs are not mapped (aihwkit models them "
                           "with a compound device)")
    if not gain > 0:
        raise ArchsimError(f"aihwkit side by side: gain = {gain} is not allowed; allowed a number > 0")
    kw = dict(_OFF)
    kw.update(dw_min=gain * model.dw, up_down=model.asymmetry, dw_min_std=model.c2c, dw_min_dtod=model.dw_d2d,
              up_down_dtod=model.asymmetry_d2d, w_max=gain, w_min=-gain, w_max_dtod=model.bound_d2d,
              w_min_dtod=model.bound_d2d, construction_seed=int(seed))
    if model.law == "soft_bounds":
        kw.update(mult_noise=True, write_noise_std=0.0)
    return DEVICE_CLASSES[model.law], kw

