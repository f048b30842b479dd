"""results.jsonl rows as typed records: the runner's rows load, old rows are upgraded."""

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from parlantish.eval import read_results
from parlantish.eval.records import ArmGroup, BlueprintRef, SampleRecord, load_record

from .test_runner import evaluator


def _record(**fields):
    base = dict(
        key="refund|blueprint|0",
        suite="s",
        scenario="refund",
        arm="blueprint",
        arm_kind="blueprint",
        sample=0,
        seed=1,
        temperature=0.7,
        max_tokens=64,
        messages_hash="m",
        plan_key="p",
        blueprint=BlueprintRef(name="b", hash="h"),
        backend="scripted",
    )
    return SampleRecord(**(base | fields))


def test_a_record_round_trips_through_json_with_every_field_written():
    record = _record(finished_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    data = record.model_dump(mode="json")
    assert list(data)[:3] == ["schema_version", "key", "suite"]
    assert data["schema_version"] == 1 and data["finished_at"] == "2026-01-02T03:04:05Z"
    assert data["execution"] is None and data["attempts"] == 1
    assert SampleRecord.model_validate_json(record.model_dump_json()) == record


def test_unknown_fields_and_a_passed_sample_with_an_error_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        SampleRecord.model_validate(_record().model_dump() | {"surprise": 1})
    with pytest.raises(ValidationError, match="no error"):
        _record(passed=True, error_kind="backend", error="down")
    with pytest.raises(ValidationError):
        _record(error_kind="output")  # the old name: now cut or malformed


def test_the_arm_group_is_a_pair_and_its_label_is_for_display():
    assert _record(length=256).group == ArmGroup(arm="blueprint", length=256)
    assert ArmGroup(arm="blueprint", length=256).label == "blueprint@256"
    assert ArmGroup(arm="direct").label == "direct"
    assert len({ArmGroup(arm="a", length=1), ArmGroup(arm="a", length=1)}) == 1


def test_rows_without_a_schema_version_are_upgraded():
    old = _record().model_dump(mode="json")
    del old["schema_version"], old["execution"], old["attempts"]
    cut = load_record(
        old
        | {"arm": "blueprint@64", "length": 64, "error_kind": "output", "finish_reason": "length"}
    )
    assert (cut.arm, cut.length, cut.error_kind) == ("blueprint", 64, "cut")
    malformed = load_record(old | {"error_kind": "output", "finish_reason": "stop"})
    assert malformed.error_kind == "malformed"
    assert load_record(old).error_kind == "checks"  # not passed, no error: a check failed
    assert load_record(old | {"passed": True}).error_kind is None


def test_the_runners_rows_load_as_records(suite_file, tmp_path):
    evaluator(suite_file, tmp_path, samples=1).run()
    records = [load_record(r) for r in read_results(tmp_path / "results.jsonl")]
    assert len(records) == 6
    assert {r.group for r in records} == {ArmGroup(arm=a) for a in ("direct", "cot", "blueprint")}
    assert all(r.finished_at is not None and r.usage.total_tokens > 0 for r in records)
