"""Explanations a radiologist can follow (issue 12.5): every decision sentence names its
rule id, and none claims a rating the reader did not record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from criteria.bench import synthetic_batch_json
from criteria.evaluate import evaluate
from criteria.parse import load_json, parse_payload
from criteria.types import CRITERIA, NonTargetStatus, Subject

ROOT = Path(__file__).resolve().parents[2]
#: A rule id of criteria-rules.md (R11-*, IR-*, IM-*, FAQ-*, T3-*, AO-*), an ambiguity
#: (A1-A17, E1-E5) or a RECIST 1.1 response table.
RULE_ID = re.compile(r"\b(?:R11|IR|IM|FAQ|T3|AO)-[A-Z0-9]+(?:-[A-Z0-9]+)*|\b[AE]\d{1,2}\b|\bTable [123]\b")
NT_ID = re.compile(r"\bNT\d+\b")


def _subjects(seed: int, count: int) -> list[Subject]:
    payload = parse_payload(load_json(synthetic_batch_json(count, seed=seed)))
    assert isinstance(payload, list)
    examples = [ROOT / "docs" / "contract" / "examples" / "measurement-level.json"]
    for path in examples:
        parsed = parse_payload(json.loads(path.read_text(encoding="utf-8")))
        payload.extend(parsed if isinstance(parsed, list) else [parsed])
    return payload


@pytest.mark.parametrize("seed", [3, 20241121])
def test_every_sentence_names_its_rule(seed: int) -> None:
    missing: dict[str, int] = {}
    for subject in _subjects(seed, 400):
        for criterion, result in evaluate(subject, CRITERIA).results.items():
            sentences = [*result.why, *(w for tp in result.timepoints for w in tp.why)]
            for sentence in sentences:
                if not RULE_ID.search(sentence):
                    key = f"{criterion}: {re.sub(r'[0-9][0-9.,%-]*', '#', sentence)}"
                    missing[key] = missing.get(key, 0) + 1
    assert not missing, sorted(missing.items(), key=lambda kv: -kv[1])[:20]


def test_no_sentence_claims_unequivocal_progression_the_reader_did_not_record() -> None:
    wrong = []
    for subject in _subjects(5, 400):
        by_date = {tp.date: tp for tp in subject.timepoints}
        for criterion, result in evaluate(subject, CRITERIA).results.items():
            for tp_result in result.timepoints:
                rated = by_date[tp_result.date].non_targets
                for sentence in tp_result.why:
                    negated = re.search(r"(no|without) unequivocal", sentence)
                    if "unequivocal progression" not in sentence or negated:
                        continue
                    for lesion in NT_ID.findall(sentence):
                        if rated.get(lesion) is not NonTargetStatus.UNEQUIVOCAL_PROGRESSION:
                            wrong.append((subject.subject, criterion, tp_result.date, sentence))
    assert not wrong, wrong[:5]
