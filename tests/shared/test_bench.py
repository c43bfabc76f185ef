"""shared.bench's case filter (``--cases``) and its --modes / --kinds parsing; no timing here."""
import pytest
import torch

from shared import bench


def _case(paper, name):
    m = torch.nn.Identity()
    return bench.Case(paper=paper, name=name, oracle="o", ours=m, theirs=m, inputs=(), forward_ours=None,
                      forward_theirs=None, loss=None, optimizer=None)


def test_select_keeps_cases_whose_name_contains_a_given_substring():
    cases = [_case("resnet", "ResNet-50, 224 x 224, batch 4"), _case("resnet", "CIFAR ResNet-20, batch 128"),
             _case("gpt", "6 x 384, context 256, batch 8")]
    assert bench.select(cases, None) == cases
    assert [c.name for c in bench.select(cases, ["resnet-20"])] == ["CIFAR ResNet-20, batch 128"]
    assert [c.paper for c in bench.select(cases, ["gpt/", " ResNet-50 "])] == ["resnet", "gpt"]
    assert bench.select(cases, ["nothing"]) == []


def test_modes_and_kinds_are_checked():
    assert bench._choices("bf16", bench.MODES, "--modes") == ("bf16",)
    assert bench._choices("infer,train", bench.KINDS, "--kinds") == ("train", "infer")
    with pytest.raises(SystemExit):
        bench._choices("fp16", bench.MODES, "--modes")
