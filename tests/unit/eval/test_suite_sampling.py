"""A suite's ``sampling`` reaches every request, its ``max_tokens`` bounds the visible reply
(the checkpoints' budget on top), and a bad setting is a located error."""

import pytest

from parlantish.backends import ScriptedBackend
from parlantish.eval import Evaluator, load_suite
from parlantish.eval.ruler import TokenRuler
from parlantish.eval.suite import SuiteError

from .conftest import SUITE, comma_sometimes, plan_shaped

SAMPLING = """sampling:
  temperature: 0.5
  top_p: 0.9
  top_k: 40
  min_p: 0.05
  repetition_penalty: 1.1
  frequency_penalty: 0.3
  presence_penalty: -0.2
  stop: ["\\u0001"]
  min_tokens: 1
  max_tokens: 120
"""


def test_every_sampling_setting_of_a_suite_reaches_the_backend(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.replace("seed: 1\n", "seed: 1\n" + SAMPLING))
    evaluator = Evaluator(load_suite(path), ScriptedBackend(), tmp_path, ruler=TokenRuler())
    evaluator.backend = backend = plan_shaped(evaluator, comma_sometimes)
    budgets = {item.plan.key: item.plan.budget(120) for item in evaluator.plan()}
    evaluator.run()
    assert backend.requests
    for request in backend.requests:
        s = request.sampling
        assert (s.temperature, s.top_p, s.top_k, s.min_p) == (0.5, 0.9, 40, 0.05)
        assert (s.repetition_penalty, s.frequency_penalty, s.presence_penalty) == (1.1, 0.3, -0.2)
        assert s.stop == ("\u0001",) and s.min_tokens == 1
    assert sorted(r.sampling.max_tokens for r in backend.requests) == sorted(
        budgets[item.plan.key] for item in evaluator.plan()
    )
    assert min(budgets.values()) >= 120


@pytest.mark.parametrize(
    ("setting", "message"),
    [("top_kk: 3", "top_kk"), ("min_p: 2", "min_p"), ("stop: [a, b, c, d, e]", "stop")],
)
def test_a_bad_sampling_setting_is_located(tmp_path, setting, message):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.replace("seed: 1\n", f"seed: 1\nsampling:\n  {setting}\n"))
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    assert message in str(error.value) and error.value.location.line == 7  # the setting's own line
