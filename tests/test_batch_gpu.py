"""Which batch stages count as GPU work: the providers' `uses_gpu()` capability, never their parameter names. The
diffusers image provider says no when told `device: cpu` or `mps`; the Ray engine asks `may_use_gpu(plan)`."""

from __future__ import annotations

import pytest

from pipeline.batch import may_use_gpu
from pipeline.jobs import MakeOptions
from pipeline.providers.image.diffusers import DiffusersImage
from tests.helpers import TEST_PROVIDERS


@pytest.mark.parametrize(("device", "gpu"), [("auto", True), ("cuda", True), ("cpu", False), ("mps", False)])
def test_diffusers_uses_a_cuda_gpu_unless_told_cpu_or_mps(device, gpu):
    assert DiffusersImage({"device": device}).uses_gpu() is gpu


@pytest.mark.parametrize(("device", "gpu"), [("auto", True), ("cpu", False)])
def test_a_plan_may_use_a_gpu_only_through_a_provider_that_says_so(test_plugin, isolated_config, device, gpu):
    with_diffusers = MakeOptions(
        headline="Storm Hits Coast",
        providers={**TEST_PROVIDERS, "image": "diffusers"},
        params={"image": {"device": device}},
    )
    assert may_use_gpu(with_diffusers.plan()) is gpu
    test_providers_only = MakeOptions(headline="Storm Hits Coast", providers=TEST_PROVIDERS)  # none declares a GPU
    assert may_use_gpu(test_providers_only.plan()) is False
