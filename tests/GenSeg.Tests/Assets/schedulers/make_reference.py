#!/usr/bin/env python3
"""Reference vectors for GenSeg's schedulers, computed by diffusers' own scheduler modules.

Writes <kind>.json (ddim, dpm++2m, euler, dpm++2m-inverse) beside this script: for Stable Diffusion's scheduler config
in several forms, both prediction types and several step counts, the timesteps, the sigmas and a short deterministic
sampling trajectory under a fake model (out = 0.8 * model_input + 0.1 * sin(t / 100), in float32), recorded per step
as the model input and the sample after the step. SchedulerParityTests replays the trajectories in C#.

Only the scheduler modules are imported: this script stubs diffusers' package __init__, configuration_utils, utils
and huggingface_hub, so nothing but torch and numpy is needed (Debian: apt-get install python3-torch python3-numpy).

How to run (from the repository root; the checkout is not committed):
    fetch github:huggingface/diffusers (or git clone it) and extract its src/ to e.g. /tmp/diffusers-src:
        git --git-dir=<mirror> archive HEAD src/diffusers | tar -x -C /tmp/diffusers-src
    /usr/bin/python3 tests/GenSeg.Tests/Assets/schedulers/make_reference.py --diffusers /tmp/diffusers-src/src \
        [--commit <diffusers commit, recorded in the files>]
"""
import argparse
import dataclasses
import functools
import importlib
import inspect
import json
import math
import os
import re
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# Stable Diffusion 1.x's scheduler_config.json (a PNDM config; every scheduler reads the keys it has).
SD_FILE = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
           "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}
SHAPE = (2, 1, 2, 2)
STEPS = (5, 10, 20)


def stub_modules(src):
    """Registers diffusers (as a bare namespace over src/diffusers) and the few helpers the scheduler modules import."""
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    root = os.path.join(src, "diffusers")
    if not os.path.isfile(os.path.join(root, "schedulers", "scheduling_dpmsolver_multistep.py")):
        sys.exit(f"{src}: no diffusers/schedulers/scheduling_dpmsolver_multistep.py (expected diffusers' src folder)")
    module("diffusers", __path__=[root])
    module("diffusers.schedulers", __path__=[os.path.join(root, "schedulers")])

    class Config(dict):
        __getattr__ = dict.__getitem__

    class ConfigMixin:
        @property
        def config(self):
            return self._internal_dict

        def register_to_config(self, **kwargs):
            self._internal_dict.update(kwargs)

        @classmethod
        def from_config(cls, config):
            """diffusers' from_config: the keys __init__ takes; the others are ignored."""
            names = inspect.signature(cls.__init__).parameters
            return cls(**{k: v for k, v in config.items() if k in names})

    def register_to_config(init):
        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            bound = inspect.signature(init).bind(self, *args, **kwargs)
            bound.apply_defaults()
            self._internal_dict = Config({k: v for k, v in bound.arguments.items() if k != "self"})
            init(self, *args, **kwargs)
        return wrapper

    class BaseOutput:
        pass

    class Logger:
        def warning(self, *a, **k):
            pass

    def randn_tensor(shape, generator=None, device=None, dtype=None, **_):
        return torch.randn(shape, generator=generator, dtype=dtype)

    module("diffusers.configuration_utils", ConfigMixin=ConfigMixin, register_to_config=register_to_config)
    module("diffusers.utils", __path__=[], BaseOutput=BaseOutput, PushToHubMixin=object, deprecate=lambda *a, **k: None,
           is_scipy_available=lambda: False, logging=types.SimpleNamespace(get_logger=lambda *_: Logger()))
    module("diffusers.utils.torch_utils", randn_tensor=randn_tensor)
    module("huggingface_hub", __path__=[])
    module("huggingface_hub.utils", validate_hf_hub_args=lambda f: f)
    with open(os.path.join(root, "__init__.py")) as f:
        return re.search(r'__version__ = "([^"]+)"', f.read()).group(1)


def scheduler_class(kind):
    name = {"ddim": ("scheduling_ddim", "DDIMScheduler"),
            "dpm++2m": ("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler"),
            "euler": ("scheduling_euler_discrete", "EulerDiscreteScheduler"),
            "dpm++2m-inverse": ("scheduling_dpmsolver_multistep_inverse", "DPMSolverMultistepInverseScheduler")}[kind]
    return getattr(importlib.import_module("diffusers.schedulers." + name[0]), name[1])


def fake_model(x, t):
    """The fake model: out = 0.8 x + 0.1 sin(t / 100), float32 (SchedulerParityTests.FakeModel)."""
    return x * 0.8 + float(np.float32(0.1 * math.sin(float(t) / 100.0)))


def initial_sample():
    """A fixed start in [-2, 2]: x_i = 2 sin(1.7 i + 0.3), i = 0..7, in float32."""
    n = int(np.prod(SHAPE))
    return torch.tensor([2 * math.sin(1.7 * i + 0.3) for i in range(n)], dtype=torch.float32).reshape(SHAPE)


def floats(t):
    """float32 values, written in their shortest round-tripping form."""
    return [float(repr(np.float32(v))) for v in t.detach().flatten().to(torch.float32).tolist()]


def run(scheduler, steps, kind):
    scheduler.set_timesteps(steps)
    init_sigma = float(getattr(scheduler, "init_noise_sigma", 1.0))
    x = initial_sample() * init_sigma
    trace = []
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(x, t) if kind == "euler" else x
        out = fake_model(model_input, t)
        x = scheduler.step(out, t, x).prev_sample
        # The model input differs from the previous sample only where the scheduler scales it (Euler).
        trace.append({"model_input": floats(model_input), "sample": floats(x)} if kind == "euler" else {"sample": floats(x)})
    case = {"steps": steps, "timesteps": [float(v) for v in scheduler.timesteps.tolist()], "init_noise_sigma": init_sigma,
            "start": floats(initial_sample()), "trace": trace}
    if hasattr(scheduler, "sigmas") and kind != "ddim":
        case["sigmas"] = floats(scheduler.sigmas)
    return case


def configs(kind):
    """(name, config) pairs: SD's file read directly (its own defaults for missing keys), the kit's DDIM config passed
    through from_config (leading spacing, offset 1: what a pipeline built on the kit's scheduler/ does), and variants."""
    ddim = scheduler_class("ddim")
    out = []
    for pred in ("epsilon", "v_prediction"):
        sd = dict(SD_FILE, prediction_type=pred)
        out.append((f"sd-file.{pred}", sd))
        out.append((f"sd-from-ddim.{pred}", dict(ddim(**{k: v for k, v in sd.items() if k in inspect.signature(ddim.__init__).parameters}).config)))
        out.append((f"sd-trailing.{pred}", dict(sd, timestep_spacing="trailing")))
    if kind.startswith("dpm"):
        out += [("sd-heun.epsilon", dict(SD_FILE, solver_type="heun")),
                ("sd-order1.epsilon", dict(SD_FILE, solver_order=1)),
                ("sd-no-lower-order-final.epsilon", dict(SD_FILE, lower_order_final=False)),
                ("cosine-clipped.epsilon", dict(SD_FILE, beta_schedule="squaredcos_cap_v2", lambda_min_clipped=-5.1)),
                ("sd-sample.sample", dict(SD_FILE, prediction_type="sample"))]
    if kind == "dpm++2m":
        out += [("sd-sigma-min.epsilon", dict(SD_FILE, final_sigmas_type="sigma_min")),
                ("sd-euler-at-final.epsilon", dict(SD_FILE, euler_at_final=True)),
                ("sd-zero-snr.v_prediction", dict(SD_FILE, prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing"))]
    if kind == "euler":
        out += [("sd-sigma-min.epsilon", dict(SD_FILE, final_sigmas_type="sigma_min")),
                ("sd-zero-snr.v_prediction", dict(SD_FILE, prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing")),
                ("linear-default.epsilon", {})]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--diffusers", required=True, help="diffusers' src folder (holding diffusers/schedulers)")
    p.add_argument("--commit", default="", help="the diffusers commit, recorded in the files")
    p.add_argument("--out", default=HERE)
    a = p.parse_args()
    version = stub_modules(os.path.abspath(a.diffusers))
    torch.set_num_threads(1)
    for kind in ("ddim", "dpm++2m", "euler", "dpm++2m-inverse"):
        cls = scheduler_class(kind)
        cases, files = [], {}
        for name, config in configs(kind):
            for steps in STEPS if name.startswith(("sd-file", "sd-from-ddim", "sd-trailing")) else STEPS[:2]:
                scheduler = cls.from_config(config)
                case = run(scheduler, steps, kind)
                case["config"] = name
                cases.append(case)
            # The config as diffusers writes scheduler_config.json (json.dumps: a bare -Infinity for lambda_min_clipped).
            files[name] = json.dumps({k: v for k, v in scheduler.config.items() if not k.startswith("_")}, sort_keys=True)
        doc = {"generator": "tests/GenSeg.Tests/Assets/schedulers/make_reference.py", "diffusers": version, "commit": a.commit,
               "torch": torch.__version__, "class": cls.__name__, "shape": list(SHAPE),
               "configs": files, "cases": cases}
        path = os.path.join(a.out, f"{kind}.json")
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"), allow_nan=False)
            f.write("\n")
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
